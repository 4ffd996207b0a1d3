"""Who visits which organization's team pages (web/team_members.py, web/audit_page.py), and whether their
role allows what they ask: the web's counterpart of the API's team call (api/teams.py).

The rule is the API's, from the same owner: an unknown organization is 404, a person not on its team 403,
and a role without the permission (business/roles.py) 403, checked before the domain function runs —
which checks again, under the team's lock, what depends on the member touched (only an owner touches an
owner). The organization is named in the path, not taken from the session's choice, so a form shown for
one organization can never act on another after the switcher changed in another tab.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from fediverse_biz.business import roles, teams
from fediverse_biz.core.wording import with_article
from fediverse_biz.services import services
from fediverse_biz.web.rendering import error_page


@dataclass(frozen=True)
class TeamVisit:
    user: asyncpg.Record  # the signed-in person (web/session.py)
    organization: asyncpg.Record
    role: str  # the person's role in the organization, read now

    @property
    def organization_id(self) -> int:
        return int(self.organization["id"])

    @property
    def user_id(self) -> int:
        return int(self.user["id"])

    @property
    def username(self) -> str:
        return str(self.organization["username"])

    def may(self, permission: roles.Permission) -> bool:
        return roles.member_may(self.role, permission)


async def visit(
    request: Request, user: asyncpg.Record, permission: roles.Permission | None = None
) -> TeamVisit | Response:
    """The visit to the organization named by `{org}` in the path, or the refusal page (404 / 403)."""
    pool = services(request).pool
    organization = await pool.fetchrow(
        """SELECT * FROM actors WHERE lower(username) = lower($1) AND domain IS NULL
              AND actor_type = 'Organization' AND suspended_at IS NULL""",
        request.path_params["org"],
    )
    if organization is None:
        return await error_page(request, 404, "Not found", "There is no such organization here.")
    role = await teams.member_role(pool, organization["id"], user["id"])
    if role is None:
        return await refused(request, "You are not on the team of this organization.")
    if permission is not None and not roles.member_may(role, permission):
        return await refused(request, f"{with_article(role, capital=True)} of this organization may not do this.")
    return TeamVisit(user, organization, role)


async def refused(request: Request, message: str) -> Response:
    return await error_page(request, 403, "Not allowed", message, back="/team")
