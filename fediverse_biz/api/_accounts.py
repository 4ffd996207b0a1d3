"""Helpers shared by the account endpoints (accounts.py, account_lists.py)."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request

from fediverse_biz.api.auth import Viewer
from fediverse_biz.api.errors import NOT_FOUND, ApiError
from fediverse_biz.core import accounts, follows, profiles
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.ids import parse_id
from fediverse_biz.services import services


def local_domains(request: Request) -> tuple[str, ...]:
    """What `user@domain` handles of our own accounts may carry: the domain with and without its port."""
    settings = services(request).settings
    return (settings.domain.lower(), settings.hostname.lower())


async def account_or_404(request: Request, text: str | None) -> asyncpg.Record:
    """The visible account whose id is `text` (a path segment); 404 for junk, unknown or suspended ids."""
    actor = await profiles.visible_account(services(request).pool, parse_id(text))
    if actor is None:
        raise ApiError(404, NOT_FOUND)
    return actor


async def acting_actor(request: Request, viewer: Viewer) -> asyncpg.Record:
    """The actor the token acts as: the member's own account or the organization they act for."""
    try:
        return await accounts.acting_actor(services(request).pool, viewer.actor_id)
    except DomainError as exc:
        raise ApiError(exc.status, str(exc)) from None


async def relationship(request: Request, viewer: Viewer, account_id: int) -> dict[str, Any]:
    assert viewer.actor_id is not None
    [entity] = await follows.relationships(services(request).pool, viewer.actor_id, [account_id])
    return entity
