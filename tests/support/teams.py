"""An organization with one member per role, built through the real code paths, for the team tests.

team = await make_team(db, urls)          # acme: owner alice, manager mia, editor eddie, contributor carl
team["carl"].as_org                       # headers of a token acting as acme
team["carl"].personal                     # headers of a token acting as carl himself
team.of_role("editor")                    # the editor
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from fediverse_biz.business import teams
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD, api_headers

ALL_SCOPES = "read write follow push"
STAFF = {"alice": "owner", "mia": "manager", "eddie": "editor", "carl": "contributor"}


@dataclass(frozen=True)
class TeamMember:
    username: str
    role: str
    user: accounts.NewUser
    actor: asyncpg.Record  # the member's own Person actor
    as_org: dict[str, str]
    personal: dict[str, str]

    @property
    def user_id(self) -> int:
        return self.user.user_id


@dataclass(frozen=True)
class Team:
    org: asyncpg.Record
    members: dict[str, TeamMember]

    def __getitem__(self, username: str) -> TeamMember:
        return self.members[username]

    def of_role(self, role: str) -> TeamMember:
        return next(m for m in self.members.values() if m.role == role)

    @property
    def id(self) -> int:
        return int(self.org["id"])

    def path(self, tail: str = "") -> str:
        return f"/api/v1/organizations/{self.id}{tail}"


async def person(db: Database, urls: LocalUrls, username: str) -> tuple[accounts.NewUser, asyncpg.Record]:
    user = await accounts.create_user(db.pool, urls, username, f"{username}@example.com", PASSWORD)
    return user, await db.pool.fetchrow("SELECT * FROM actors WHERE id = $1", user.actor_id)


async def make_team(
    db: Database, urls: LocalUrls, name: str = "acme", staff: dict[str, str] | None = None, scopes: str = ALL_SCOPES
) -> Team:
    staff = staff or STAFF
    users = {username: await person(db, urls, username) for username in staff}
    owner = next(u for u, r in staff.items() if r == "owner")
    org = await accounts.create_organization(db.pool, urls, name, owner, display_name=name.upper())
    for username, role in staff.items():
        if username != owner:
            await teams.add_member(db.pool, org["id"], users[owner][0].user_id, username, role)
    members = {}
    for username, role in staff.items():
        user, actor = users[username]
        members[username] = TeamMember(
            username,
            role,
            user,
            actor,
            await api_headers(db.pool, user, scopes, actor_id=org["id"]),
            await api_headers(db.pool, user, scopes),
        )
    return Team(org, members)
