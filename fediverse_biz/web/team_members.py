"""The team page of the back office: the members of an organization and their roles, invitation links,
and the way to its review queue and audit log.

    GET  /team                                   the team of the organization the browser acts as
    GET  /team/{org}                             members (any member); invitations and forms (MEMBERS)
    POST /team/{org}/invitations                 a new invitation link (`role`, `expires_in` days)
    POST /team/{org}/invitations/{id}/revoke     revoke an open invitation
    POST /team/{org}/members/{user_id}/role      change a member's role (`role`)
    POST /team/{org}/members/{user_id}/remove    remove a member, or leave (one's own user id)

Each change is business.teams' function, called as the API calls it (api/teams.py), after the same
permission check (web/team_access.py). The invitation's token is shown once, on the page that answers
the form, as the API returns it once: the server keeps only its hash, so there is no page to come back to.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.business import approvals, roles, teams
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.ids import parse_id
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.acting import acting_as
from fediverse_biz.web.inputs import page_form, page_query
from fediverse_biz.web.rendering import NO_STORE, Meta, error_page, render
from fediverse_biz.web.session import csrf_ok, current_user, login_redirect
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL
from fediverse_biz.web.team_access import TeamVisit, refused, visit

DAY: Final = 24 * 3600
# The link's lifetime, in days: within business.teams' bounds (five minutes to thirty days).
LIFETIMES: Final = {"1": "1 day", "7": "7 days", "30": "30 days"}
ROLE_WORDS: Final = "owner, manager, editor or contributor"
OUTCOMES: Final = {
    "role": "The role was changed.",
    "removed": "The member was removed from the team.",
    "revoked": "The invitation was revoked: its link no longer works.",
}


async def acting_team(request: Request) -> Response:
    """/team: the team of whom the browser acts as; acting as oneself, the way to choose an organization."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    acting = await acting_as(request, user)
    if not acting.personal:
        return RedirectResponse(f"/team/{acting.username}", status_code=303, headers=NO_STORE)
    return await error_page(request, 200, "Team", "You act as your own account, which has no team. "
                            "Choose an organization to act as, and its team is shown here.",
                            back="/act-as?next=/team")  # fmt: skip


async def _page(
    request: Request, team: TeamVisit, status: int = 200, *, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, invitation: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    pool = services(request).pool
    may_members = team.may(roles.Permission.MEMBERS)
    members = [
        {
            "user_id": m["user_id"],
            "username": m["username"],
            "role": m["role"],
            "since": m["created_at"],
            "me": m["user_id"] == team.user_id,
            # what the forms offer is what business.teams would allow: only an owner touches an owner
            "may_change": may_members and roles.may_change(team.role, m["role"]),
            "may_remove": m["user_id"] == team.user_id or (may_members and roles.may_change(team.role, m["role"])),
        }
        for m in await teams.members(pool, team.organization_id)
    ]
    body = {
        "organization": team.organization,
        "role": team.role,
        "members": members,
        "assignable": [r for r in roles.ROLES if roles.may_assign(team.role, r)],
        "may_members": may_members,
        "may_audit": team.may(roles.Permission.AUDIT),
        "invitations": await teams.open_invitations(pool, team.organization_id) if may_members else [],
        "waiting": await approvals.waiting(pool, team.organization_id, team.user_id),
        "lifetimes": LIFETIMES,
        "errors": errors or {},
        "values": values or {"role": "contributor", "expires_in": "7"},
        "invitation": invitation,
        "outcome": OUTCOMES.get(page_query(request).get("done") or ""),
    }
    urls: LocalUrls = services(request).urls
    title = f"Team: {team.organization['display_name'] or team.username}"
    meta = Meta(title=title, description=title, url=urls.base + request.url.path,
                image=urls.static(INSTANCE_THUMBNAIL), noindex=True)  # fmt: skip
    return await render(request, "team.html", body, meta=meta, status_code=status, headers=NO_STORE)


async def team_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    team = await visit(request, user)
    if not isinstance(team, TeamVisit):
        return team
    return await _page(request, team)


async def _checked_form(
    request: Request, permission: roles.Permission | None
) -> tuple[TeamVisit, dict[str, str]] | Response:
    """The signed-in visit and its form, once the CSRF token and the permission passed."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await page_form(request)  # a value that is not storable text: the 400 page (web/inputs.py)
    if not csrf_ok(request, user, form.get("csrf_token")):
        return await error_page(request, 403, "Form expired", "This form has expired. Reload the team page and "
                                "try again.", back="/team")  # fmt: skip
    team = await visit(request, user, permission)
    if not isinstance(team, TeamVisit):
        return team
    values = dict(form.pairs)
    values.pop("csrf_token", None)
    return team, values


def _done(team: TeamVisit, outcome: str) -> Response:
    return RedirectResponse(f"/team/{team.username}?done={outcome}", status_code=303, headers=NO_STORE)


async def _not_found(request: Request, team: TeamVisit, message: str) -> Response:
    return await error_page(request, 404, "Not found", message, back=f"/team/{team.username}")


async def _domain_refusal(request: Request, team: TeamVisit, exc: DomainError, field: str) -> Response:
    """What business.teams refused: 403 and 404 as pages; a rule of the team (the last owner) beside the field."""
    if exc.status == 403:
        return await refused(request, "Your role does not allow this change.")
    if exc.status == 404:
        return await _not_found(request, team, "That member or invitation is no longer there.")
    return await _page(request, team, exc.status, errors={field: f"{str(exc).removeprefix('Validation failed: ')}."})


async def invite(request: Request) -> Response:
    checked = await _checked_form(request, roles.Permission.MEMBERS)
    if isinstance(checked, Response):
        return checked
    team, values = checked
    errors: dict[str, str] = {}
    role = roles.valid_role(values.get("role"))
    if role is None:
        errors["role"] = f"The role must be {ROLE_WORDS}."
    days = values.get("expires_in") or ""
    if days not in LIFETIMES:
        errors["expires_in"] = f"The link's lifetime must be {', '.join(LIFETIMES.values())}."
    if errors or role is None:
        return await _page(request, team, 422, errors=errors, values=values)
    state = services(request)
    try:
        made = await teams.create_invitation(state.pool, team.organization_id, team.user_id, role, int(days) * DAY)
    except DomainError as exc:
        return await _domain_refusal(request, team, exc, "role")
    link = {"url": f"{state.urls.base}/invitations/{made.token}", "role": made.role, "expires_at": made.expires_at}
    return await _page(request, team, invitation=link)


async def revoke(request: Request) -> Response:
    checked = await _checked_form(request, roles.Permission.MEMBERS)
    if isinstance(checked, Response):
        return checked
    team, _ = checked
    invitation_id = parse_id(request.path_params["invitation_id"])
    if invitation_id is None:
        return await _not_found(request, team, "There is no such invitation.")
    try:
        await teams.revoke_invitation(services(request).pool, team.organization_id, team.user_id, invitation_id)
    except DomainError as exc:
        return await _domain_refusal(request, team, exc, f"revoke-{invitation_id}")
    return _done(team, "revoked")


async def change_role(request: Request) -> Response:
    checked = await _checked_form(request, roles.Permission.MEMBERS)
    if isinstance(checked, Response):
        return checked
    team, values = checked
    user_id = parse_id(request.path_params["user_id"])
    if user_id is None:
        return await _not_found(request, team, "There is no such member.")
    field = f"role-{user_id}"
    role = roles.valid_role(values.get("role"))
    if role is None:
        return await _page(request, team, 422, errors={field: f"The role must be {ROLE_WORDS}."})
    try:
        await teams.change_role(services(request).pool, team.organization_id, team.user_id, user_id, role)
    except DomainError as exc:
        return await _domain_refusal(request, team, exc, field)
    return _done(team, "role")


async def remove(request: Request) -> Response:
    """Remove a member (MEMBERS), or leave the team (anyone, their own user id) — as the API's DELETE."""
    checked = await _checked_form(request, None)
    if isinstance(checked, Response):
        return checked
    team, _ = checked
    user_id = parse_id(request.path_params["user_id"])
    if user_id is None:
        return await _not_found(request, team, "There is no such member.")
    leaving = user_id == team.user_id
    if not leaving and not team.may(roles.Permission.MEMBERS):
        return await refused(request, f"{team.role.capitalize()}s of this organization may not remove members.")
    try:
        await teams.remove_member(services(request).pool, team.organization_id, team.user_id, user_id)
    except DomainError as exc:
        return await _domain_refusal(request, team, exc, f"remove-{user_id}")
    if leaving:  # no longer on the team: its page would be refused
        return RedirectResponse("/act-as", status_code=303, headers=NO_STORE)
    return _done(team, "removed")


routes: list[BaseRoute] = [
    Route("/team", acting_team, methods=["GET"]),
    Route("/team/{org}", team_page, methods=["GET"]),
    Route("/team/{org}/invitations", invite, methods=["POST"]),
    Route("/team/{org}/invitations/{invitation_id}/revoke", revoke, methods=["POST"]),
    Route("/team/{org}/members/{user_id}/role", change_role, methods=["POST"]),
    Route("/team/{org}/members/{user_id}/remove", remove, methods=["POST"]),
]
