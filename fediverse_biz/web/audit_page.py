"""The audit log of an organization on a page: who on the team did what, newest first.

    GET /team/{org}/audit    `action` (one of business.audit.ACTIONS), `max_id` (older entries); 40 a page

Read with business.audit.entries, as GET /api/v1/organizations/{id}/audit_log, by the roles with the
AUDIT permission (business/roles.py, checked by web/team_access.py). An action that is not one the log
records is ignored, and the page says so, as the directory does with its filters.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.business import audit, roles
from fediverse_biz.core.paging import Page
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.inputs import page_query
from fediverse_biz.web.rendering import NO_STORE, Meta, max_id_or_error, render
from fediverse_biz.web.session import current_user, login_redirect
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL
from fediverse_biz.web.team_access import TeamVisit, visit

PAGE_SIZE: Final = 40
# The filter offers every action the log records, alphabetically; shown as words ("role change").
ACTION_CHOICES: Final = sorted(audit.ACTIONS)


def _worded(value: object) -> str:
    """A detail as a person reads it: yes/no rather than True/False, a list as its items."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _entry(row: asyncpg.Record) -> dict[str, Any]:
    details = row["details"] or {}
    return {
        "id": row["id"],
        "when": row["created_at"],
        "who": row["username"],
        "action": row["action"],
        "target": row["target"],
        # by name, so that "from" reads before "to" (jsonb keeps its keys in an order of its own)
        "details": [(key, _worded(details[key])) for key in sorted(details)],
    }


async def audit_log(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    team = await visit(request, user, roles.Permission.AUDIT)
    if not isinstance(team, TeamVisit):
        return team
    max_id = await max_id_or_error(request)
    if isinstance(max_id, Response):
        return max_id
    wanted = page_query(request).get("action") or ""
    action = wanted if wanted in audit.ACTIONS else None
    rows = await audit.entries(services(request).pool, team.organization_id, Page(max_id=max_id, limit=PAGE_SIZE),
                               action=action)  # fmt: skip
    path = f"/team/{team.username}/audit"
    older = None
    if len(rows) == PAGE_SIZE:
        older = path + "?" + urlencode({**({"action": action} if action else {}), "max_id": rows[-1]["id"]})
    body = {
        "organization": team.organization,
        "entries": [_entry(r) for r in rows],
        "actions": ACTION_CHOICES,
        "action": action or "",
        "ignored": wanted if wanted and action is None else None,
        "older": older,
        "newest": path + (f"?action={action}" if action else "") if max_id is not None else None,
    }
    urls: LocalUrls = services(request).urls
    title = f"Audit log: {team.organization['display_name'] or team.username}"
    meta = Meta(title=title, description=title, url=urls.base + request.url.path,
                image=urls.static(INSTANCE_THUMBNAIL), noindex=True)  # fmt: skip
    return await render(request, "audit.html", body, meta=meta, headers=NO_STORE)


routes: list[BaseRoute] = [Route("/team/{org}/audit", audit_log, methods=["GET"])]
