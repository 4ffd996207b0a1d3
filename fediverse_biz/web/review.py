"""The team's web pages: the review queue of held posts, and invitation links.

    GET  /review                              the organizations the signed-in user reviews for
    GET  /review/{org}                        the queue: each held post with Approve / Reject forms
    POST /review/{org}/{status_id}/approve    publish (refused if the post changed since the page loaded)
    POST /review/{org}/{status_id}/reject     refuse, with a reason the author is told
    GET  /invitations/{token}                 what the invitation offers; Accept when signed in
    POST /invitations/{token}                 join

Server-rendered, no JavaScript: a browser session (web/session.py) and a CSRF token on every form.
The decisions themselves are business.approvals / business.teams, the same as the JSON endpoints.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import asyncpg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.business import approvals, roles, teams
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.ids import parse_id
from fediverse_biz.core.paging import Page
from fediverse_biz.core.wording import with_article
from fediverse_biz.services import services
from fediverse_biz.web.inputs import page_form, page_query
from fediverse_biz.web.session import PAGE_HEADERS, csrf_ok, csrf_token, current_user, login_redirect
from fediverse_biz.web.team_page import page

QUEUE_PAGE = 40
OUTCOMES = {"approved": "The post is published.", "rejected": "The post was rejected; its author has been told."}


async def _message(request: Request, status: int, heading: str, message: str) -> Response:
    return await page(request, status, page="message", heading=heading, message=message)


async def _reviewed_organization(
    request: Request, user: asyncpg.Record
) -> tuple[asyncpg.Record | None, Response | None]:
    """The organization named in the path, if the user reviews for it; otherwise the page to show."""
    pool = services(request).pool
    organization = await pool.fetchrow(
        """SELECT * FROM actors WHERE lower(username) = lower($1) AND domain IS NULL
              AND actor_type = 'Organization' AND suspended_at IS NULL""",
        request.path_params["org"],
    )
    if organization is None:
        return None, await _message(request, 404, "Not found", "There is no such organization here.")
    role = await teams.member_role(pool, organization["id"], user["id"])
    if not roles.member_may(role, roles.Permission.REVIEW):
        return None, await _message(
            request, 403, "Not allowed", "Only owners and managers review this organization's posts."
        )
    return organization, None


async def overview(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    pool = services(request).pool
    reviewed = [
        o
        for o in await teams.organizations_of(pool, user["id"])
        if roles.member_may(o["role"], roles.Permission.REVIEW)
    ]
    counts = {
        r["actor_id"]: r["n"]
        for r in await pool.fetch(
            """SELECT actor_id, count(*) AS n FROM statuses
                WHERE actor_id = ANY($1::bigint[]) AND approval_state = 'pending' GROUP BY actor_id""",
            [o["id"] for o in reviewed],
        )
    }
    items = [
        {"username": o["username"], "name": o["display_name"] or o["username"], "pending": counts.get(o["id"], 0)}
        for o in reviewed
    ]
    return await page(
        request, page="organizations", user=user, organizations=items, csrf_token=csrf_token(request, user)
    )


async def _held_posts(pool: asyncpg.Pool, organization_id: int, user_id: int) -> list[dict[str, Any]]:
    ids = await approvals.queue(pool, organization_id, user_id, Page(limit=QUEUE_PAGE))
    rows = await pool.fetch(
        """SELECT s.*, a.username AS written_by, r.username || '@' || r.domain AS submitted_by,
                  coalesce(sub.object_url, sub.object_uri) AS submitted_from,
                  (SELECT array_agg(coalesce(nullif(m.description, ''), m.media_type) ORDER BY m.position)
                     FROM media_attachments m WHERE m.status_id = s.id) AS media
             FROM statuses s LEFT JOIN users u ON u.id = s.created_by_user_id LEFT JOIN actors a ON a.id = u.actor_id
                  LEFT JOIN organization_submissions sub ON sub.status_id = s.id
                  LEFT JOIN actors r ON r.id = sub.actor_id
            WHERE s.id = ANY($1::bigint[]) ORDER BY s.id DESC""",
        ids,
    )
    return [
        {
            "id": r["id"],
            # a remote contributor's submission (business/submissions.py) names its author as name@host
            "written_by": r["submitted_by"] or r["written_by"] or "a former member",
            "submitted_from": r["submitted_from"],
            "written_at": r["created_at"].strftime("%d %b %Y, %H:%M UTC"),
            "edited": r["edited_at"] is not None,
            "visibility": r["visibility"],
            "spoiler_text": r["spoiler_text"],
            "content": r["content"],  # rendered by text.content from the member's text: escaped, links only
            "media": r["media"] or [],
            "version": approvals.version(r),
        }
        for r in rows
    ]


async def queue_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    organization, refusal = await _reviewed_organization(request, user)
    if organization is None:
        assert refusal is not None
        return refusal
    posts = await _held_posts(services(request).pool, organization["id"], user["id"])
    return await page(
        request,
        page="queue",
        user=user,
        organization=organization,
        posts=posts,
        outcome=OUTCOMES.get(page_query(request).get("done") or ""),
        csrf_token=csrf_token(request, user),
    )


async def approve(request: Request) -> Response:
    return await _decide(request, "approve")


async def reject(request: Request) -> Response:
    return await _decide(request, "reject")


async def _decide(request: Request, decision: str) -> Response:
    """POST approve / reject: the same checks and effects as the JSON endpoints, then back to the queue."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await page_form(request)  # a value that is not storable text: the 400 page (web/inputs.py)
    token, version, reason = form.get("csrf_token") or "", form.get("version") or "", form.get("reason") or ""
    if not csrf_ok(request, user, token):
        return await _message(request, 403, "Form expired", "This form has expired. Reload the queue and try again.")
    organization, refusal = await _reviewed_organization(request, user)
    if organization is None:
        assert refusal is not None
        return refusal
    status_id = parse_id(request.path_params["status_id"])
    if status_id is None:
        return await _message(request, 404, "Not found", "There is no such post in the queue.")
    state = services(request)
    try:
        if decision == "approve":
            await approvals.approve(
                state.pool, state.urls, organization["id"], status_id, user["id"], seen_version=version
            )
            done = "approved"
        else:
            await approvals.reject(state.pool, organization["id"], status_id, user["id"], reason, urls=state.urls)
            done = "rejected"
    except DomainError as exc:
        return await _message(request, exc.status, "Not done", str(exc))
    return RedirectResponse(f"/review/{organization['username']}?done={done}", status_code=303, headers=PAGE_HEADERS)


# ---- invitations -------------------------------------------------------------------------------
async def invitation_page(request: Request) -> Response:
    invitation = await teams.find_invitation(services(request).pool, request.path_params["token"])
    if invitation is None:
        return await _message(request, 404, "Invitation not found", "This invitation link is not valid.")
    user = await current_user(request)
    return await page(
        request,
        page="invitation",
        invitation=invitation,
        invitation_token=request.path_params["token"],
        user=user,
        csrf_token=csrf_token(request, user) if user is not None else None,
        login_url=f"/session/login?next={quote(request.url.path)}",
    )


async def accept_invitation(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    token = (await page_form(request)).get("csrf_token") or ""
    if not csrf_ok(request, user, token):
        return await _message(request, 403, "Form expired", "This form has expired. Open the invitation link again.")
    try:
        organization_id, role = await teams.accept_invitation(
            services(request).pool, request.path_params["token"], user["id"]
        )
    except DomainError as exc:
        return await _message(request, exc.status, "Invitation not accepted", str(exc))
    name = await services(request).pool.fetchval("SELECT username FROM actors WHERE id = $1", organization_id)
    return await _message(request, 200, "Welcome to the team", f"You are now {with_article(role)} of @{name}.")


routes: list[BaseRoute] = [
    Route("/review", overview, methods=["GET"]),
    Route("/review/{org}", queue_page, methods=["GET"]),
    Route("/review/{org}/{status_id}/approve", approve, methods=["POST"]),
    Route("/review/{org}/{status_id}/reject", reject, methods=["POST"]),
    Route("/invitations/{token}", invitation_page, methods=["GET"]),
    Route("/invitations/{token}", accept_invitation, methods=["POST"]),
]
