"""Acting for an organization through the client API: the checks and records the resource modules
(statuses, status_actions, accounts) add to their handlers when a token acts for an organization.

    role = await require_permission(request, viewer, Permission.FOLLOW)   # api/auth.py: 403 if not
    await check_status_change(request, viewer, status_id, deleting=False) # own post or EDIT_OTHERS
    await record(request, viewer, "follow", target=acct)                  # the audit log

Tokens that act for the user's own account pass every check and leave no audit entry.
The entry is written right after the action committed, in its own statement: the domain functions
keep their one transaction each, and an action never fails because its record did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from fediverse_biz.api.auth import ROLE_FORBIDDEN, Viewer, org_role
from fediverse_biz.api.errors import NOT_FOUND, ApiError
from fediverse_biz.business import approvals, audit, roles
from fediverse_biz.core.wording import with_article
from fediverse_biz.services import services


async def record(
    request: Request,
    viewer: Viewer,
    action: str,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Write `action` to the organization's audit log when the token acts for one."""
    if viewer.user_id is None or viewer.actor_id is None or await org_role(request, viewer) is None:
        return
    await audit.record(services(request).pool, viewer.actor_id, viewer.user_id, action, target, details)


async def hold_for_review(request: Request, viewer: Viewer) -> bool:
    """Whether a post written with this token waits for an owner's or manager's approval."""
    return roles.needs_review(await org_role(request, viewer))


async def check_status_change(request: Request, viewer: Viewer, status_id: int, *, deleting: bool) -> None:
    """Before an edit or a delete as the organization: anyone may change their own post (a
    contributor only while it is held: a published post changed without review would bypass it);
    someone else's needs EDIT_OTHERS. A held post others may not see stays "not found"."""
    role = await org_role(request, viewer)
    if role is None:
        return
    row = await services(request).pool.fetchrow(
        "SELECT id, actor_id, created_by_user_id, approval_state FROM statuses WHERE id = $1", status_id
    )
    if row is None or row["actor_id"] != viewer.actor_id:
        return  # not the organization's: core answers 404 or 403 as for anyone
    if row["approval_state"] != "published" and not await approvals.may_view_held(
        services(request).pool, row, viewer.user_id
    ):
        raise ApiError(404, NOT_FOUND)
    if row["created_by_user_id"] == viewer.user_id:
        if not deleting and roles.needs_review(role) and row["approval_state"] != "pending":
            raise ApiError(403, ROLE_FORBIDDEN, "A contributor may edit a post only while it awaits review")
        return
    if not roles.allows(role, roles.Permission.EDIT_OTHERS):
        who = with_article(role, capital=True)
        raise ApiError(403, ROLE_FORBIDDEN, f"{who} may not change posts other team members wrote")
