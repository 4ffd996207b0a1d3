"""Whom a signed-in browser's back-office pages act as: the person's own account, or an organization
whose team they are on — the web's counterpart of a token issued for an organization (api/auth.py).

The choice is kept on the session (core.browser_sessions.act_as), and the role is read from the team
each time it is used, as for a token: a demotion or a removal applies at once, and a choice that is no
longer allowed falls back to the person's own account. What the role allows is business/roles.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import asyncpg
from starlette.requests import Request

from fediverse_biz.business import teams
from fediverse_biz.services import services

_SCOPE_KEY: Final = "fediverse_biz.acting_as"


@dataclass(frozen=True)
class Identity:
    """One account the person may act as; `role` is None for their own."""

    actor: asyncpg.Record
    role: str | None

    @property
    def id(self) -> int:
        return int(self.actor["id"])

    @property
    def username(self) -> str:
        return str(self.actor["username"])

    @property
    def name(self) -> str:
        return str(self.actor["display_name"] or self.actor["username"])

    @property
    def personal(self) -> bool:
        return self.role is None


async def identities(pool: asyncpg.Pool, user: asyncpg.Record) -> list[Identity]:
    """The person's own account first, then each organization whose team they are on, with the role."""
    own = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", user["actor_id"])
    organizations = await teams.organizations_of(pool, user["id"])
    return [Identity(own, None), *(Identity(o, o["role"]) for o in organizations)]


async def acting_as(request: Request, user: asyncpg.Record) -> Identity:
    """Whom this browser acts as now (the session's choice, if the person is still on that team)."""
    cached: Identity | None = request.scope.get(_SCOPE_KEY)
    if cached is not None:
        return cached
    choices = await identities(services(request).pool, user)
    chosen = next((i for i in choices if i.id == user["acting_actor_id"]), choices[0])
    request.scope[_SCOPE_KEY] = chosen
    return chosen
