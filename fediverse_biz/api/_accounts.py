"""Helpers shared by the account endpoints (accounts.py, account_lists.py)."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request

from ..core import follows, profiles
from ..core.ids import parse_id
from .auth import INVALID_TOKEN, Viewer
from .errors import NOT_FOUND, ApiError


def local_domains(request: Request) -> tuple[str, ...]:
    """What `user@domain` handles of our own accounts may carry: the domain with and without its port."""
    settings = request.app.state.settings
    return (settings.domain.lower(), settings.hostname.lower())


async def account_or_404(request: Request, text: str | None) -> asyncpg.Record:
    """The visible account whose id is `text` (a path segment); 404 for junk, unknown or suspended ids."""
    actor = await profiles.visible_account(request.app.state.pool, parse_id(text))
    if actor is None:
        raise ApiError(404, NOT_FOUND)
    return actor


async def acting_actor(request: Request, viewer: Viewer) -> asyncpg.Record:
    """The actor the token acts as: the member's own account or the organization they act for."""
    row = await request.app.state.pool.fetchrow("SELECT * FROM actors WHERE id = $1", viewer.actor_id)
    if row is None:
        raise ApiError(401, INVALID_TOKEN)
    return row


async def relationship(request: Request, viewer: Viewer, account_id: int) -> dict[str, Any]:
    assert viewer.actor_id is not None
    [entity] = await follows.relationships(request.app.state.pool, viewer.actor_id, [account_id])
    return entity
