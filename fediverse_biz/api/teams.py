"""Teams: members, contributors on other servers, invitations, the review queue and the audit log of an
organization (docs/teams.md).

`{id}` is the organization's account id. What counts is the calling user's role in that
organization (organization_members, read on every request), whichever account the token acts as:
a manager reviews the queue from their personal app as well as from the company's. OAuth scopes
follow Mastodon's families: the team and its log are account data (read:accounts /
write:accounts), reviewing posts is write:statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import entities
from fediverse_biz.api.auth import ROLE_FORBIDDEN, Viewer, require
from fediverse_biz.api.errors import NOT_FOUND, ApiError, domain_errors
from fediverse_biz.api.pagination import page_params, paginated
from fediverse_biz.api.params import query_params, read_params
from fediverse_biz.api.statuses import path_id, render
from fediverse_biz.business import approvals, audit, remote_contributors, roles, submissions, teams
from fediverse_biz.core.paging import Page
from fediverse_biz.core.wording import with_article
from fediverse_biz.federation.remote_actors import RemoteActorError, instance_signer, resolve_actor, resolve_handle
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

NOT_A_MEMBER = "You are not a member of this organization"


@dataclass(frozen=True)
class TeamCall:
    viewer: Viewer
    user_id: int
    organization_id: int
    role: str  # the calling user's role in the organization


async def _team_call(request: Request, scope: str, permission: roles.Permission | None) -> TeamCall:
    """Who calls about which organization: 404 for no such organization, 403 for a non-member or
    a role without `permission`."""
    viewer = await require(request, scope)
    assert viewer.user_id is not None  # require() refuses app tokens
    organization = await teams.organization(services(request).pool, path_id(request))
    if organization is None:
        raise ApiError(404, NOT_FOUND)
    role = await teams.member_role(services(request).pool, organization["id"], viewer.user_id)
    if role is None:
        raise ApiError(403, NOT_A_MEMBER)
    if permission is not None and not roles.member_may(role, permission):
        who = with_article(role, capital=True)
        raise ApiError(403, ROLE_FORBIDDEN, f"{who} of this organization may not do this ({permission.value})")
    return TeamCall(viewer, viewer.user_id, int(organization["id"]), role)


# ---- members -----------------------------------------------------------------------------------
async def _member_entities(request: Request, rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    pool, urls = services(request).pool, services(request).urls
    accounts = {a["id"]: a for a in await entities.accounts_by_id(pool, [r["actor_id"] for r in rows], urls)}
    return [
        {
            "user_id": str(r["user_id"]),
            "role": r["role"],
            "created_at": entities.iso(r["created_at"]),
            "account": accounts.get(str(r["actor_id"])),
        }
        for r in rows
    ]


async def _one_member(request: Request, organization_id: int, user_id: int) -> dict[str, Any]:
    row = await teams.member(services(request).pool, organization_id, user_id)
    if row is None:
        raise ApiError(404, NOT_FOUND)
    return (await _member_entities(request, [row]))[0]


async def list_members(request: Request) -> Response:
    call = await _team_call(request, "read:accounts", None)
    return JSONResponse(
        await _member_entities(request, await teams.members(services(request).pool, call.organization_id))
    )


async def add_member(request: Request) -> Response:
    call = await _team_call(request, "write:accounts", roles.Permission.MEMBERS)
    async with await read_params(request) as params:
        username, role = params.get("username") or "", params.get("role") or "contributor"
    with domain_errors():
        user_id = await teams.add_member(services(request).pool, call.organization_id, call.user_id, username, role)
    return JSONResponse(await _one_member(request, call.organization_id, user_id))


async def change_member(request: Request) -> Response:
    call = await _team_call(request, "write:accounts", roles.Permission.MEMBERS)
    user_id = path_id(request, "user_id")
    async with await read_params(request) as params:
        role = params.get("role") or ""
    with domain_errors():
        await teams.change_role(services(request).pool, call.organization_id, call.user_id, user_id, role)
    return JSONResponse(await _one_member(request, call.organization_id, user_id))


async def remove_member(request: Request) -> Response:
    """Remove a member (owners and managers), or leave (anyone, with their own user id)."""
    call = await _team_call(request, "write:accounts", None)
    user_id = path_id(request, "user_id")
    if user_id != call.user_id and not roles.member_may(call.role, roles.Permission.MEMBERS):
        who = with_article(call.role, capital=True)
        raise ApiError(403, ROLE_FORBIDDEN, f"{who} of this organization may not remove members")
    with domain_errors():
        await teams.remove_member(services(request).pool, call.organization_id, call.user_id, user_id)
    return JSONResponse({})


# ---- contributors on other servers ---------------------------------------------------------------
async def _remote_entities(request: Request, rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    pool, urls = services(request).pool, services(request).urls
    accounts = {a["id"]: a for a in await entities.accounts_by_id(pool, [r["id"] for r in rows], urls)}
    return [
        {
            "account": accounts.get(str(r["id"])),
            "visibility": r["visibility"],
            "created_at": entities.iso(r["accepted_at"]),
        }
        for r in rows
    ]


async def _remote_account(request: Request, text: str) -> asyncpg.Record:
    """The account named by `@name@host` (WebFinger) or by its actor URI, fetched if we do not know it."""
    text = text.strip()
    if not text:
        raise ApiError(422, "Validation failed: account must be a handle (@name@host) or an actor URI")
    state = services(request)
    signer = instance_signer(state.instance_actor)
    scheme = state.settings.scheme if state.settings.is_local_development else "https"
    try:
        if text.startswith(("https://", "http://")):
            row: asyncpg.Record = await resolve_actor(state.pool, state.http, text, signer=signer)
        else:
            row = await resolve_handle(state.pool, state.http, text, signer=signer, scheme=scheme)
    except (RemoteActorError, ValueError) as exc:
        raise ApiError(422, f"Validation failed: no account found for {text!r}", str(exc)) from None
    return row


async def list_remote_contributors(request: Request) -> Response:
    call = await _team_call(request, "read:accounts", None)
    rows = await remote_contributors.contributors(services(request).pool, call.organization_id)
    return JSONResponse(await _remote_entities(request, rows))


async def add_remote_contributor(request: Request) -> Response:
    """Accept an account on another server as a contributor: owners and managers, as for inviting one."""
    call = await _team_call(request, "write:accounts", roles.Permission.MEMBERS)
    async with await read_params(request) as params:
        text, visibility = params.get("account") or "", params.get("visibility")
    actor = await _remote_account(request, text)
    pool = services(request).pool
    with domain_errors():
        await remote_contributors.add(pool, call.organization_id, call.user_id, actor, visibility)
    row = await remote_contributors.contributor(pool, call.organization_id, actor["id"])
    if row is None:  # removed again in between
        raise ApiError(404, NOT_FOUND)
    return JSONResponse((await _remote_entities(request, [row]))[0])


async def remove_remote_contributor(request: Request) -> Response:
    call = await _team_call(request, "write:accounts", roles.Permission.MEMBERS)
    with domain_errors():
        await remote_contributors.remove(
            services(request).pool, call.organization_id, call.user_id, path_id(request, "account_id")
        )
    return JSONResponse({})


# ---- invitations -------------------------------------------------------------------------------
def _invitation_entity(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "role": row["role"],
        "created_at": entities.iso(row["created_at"]),
        "expires_at": entities.iso(row["expires_at"]),
    }


async def list_invitations(request: Request) -> Response:
    call = await _team_call(request, "read:accounts", roles.Permission.MEMBERS)
    rows = await teams.open_invitations(services(request).pool, call.organization_id)
    return JSONResponse([_invitation_entity(r) for r in rows])


async def create_invitation(request: Request) -> Response:
    """{token, url, expires_at}: the token is shown this once; the server keeps only its hash."""
    call = await _team_call(request, "write:accounts", roles.Permission.MEMBERS)
    async with await read_params(request) as params:
        role = params.get("role") or "contributor"
        lifetime = params.get_int("expires_in", teams.INVITATION_LIFETIME)
    with domain_errors():
        made = await teams.create_invitation(services(request).pool, call.organization_id, call.user_id, role, lifetime)
    return JSONResponse(
        {
            "id": str(made.id),
            "token": made.token,
            "url": f"{services(request).urls.base}/invitations/{made.token}",
            "role": made.role,
            "expires_at": entities.iso(made.expires_at),
        }
    )


async def revoke_invitation(request: Request) -> Response:
    call = await _team_call(request, "write:accounts", roles.Permission.MEMBERS)
    with domain_errors():
        await teams.revoke_invitation(
            services(request).pool, call.organization_id, call.user_id, path_id(request, "invitation_id")
        )
    return JSONResponse({})


async def accept_invitation(request: Request) -> Response:
    """The signed-in user joins; answers the organization's account and the role it gave."""
    viewer = await require(request, "write:accounts")
    assert viewer.user_id is not None
    pool = services(request).pool
    with domain_errors():
        organization_id, role = await teams.accept_invitation(pool, request.path_params["token"], viewer.user_id)
    [organization] = await entities.accounts_by_id(pool, [organization_id], services(request).urls)
    return JSONResponse({"organization": organization, "role": role})


# ---- the review queue --------------------------------------------------------------------------
async def _held_entities(request: Request, ids: list[int], viewer: Viewer) -> list[dict[str, Any]]:
    """Status entities with what a reviewer needs: who wrote it, the version seen, the review."""
    pool = services(request).pool
    rendered = await render(request, ids, viewer.actor_id)
    rows = {
        r["id"]: r
        for r in await pool.fetch(
            """SELECT s.*, a.username AS written_by FROM statuses s
                 LEFT JOIN users u ON u.id = s.created_by_user_id LEFT JOIN actors a ON a.id = u.actor_id
                WHERE s.id = ANY($1::bigint[])""",
            ids,
        )
    }
    sent = await submissions.of_statuses(pool, ids)
    senders = {
        a["id"]: a
        for a in await entities.accounts_by_id(pool, [r["actor_id"] for r in sent.values()], services(request).urls)
    }
    for entity in rendered:
        row = rows[int(entity["id"])]
        submission = sent.get(row["id"])
        entity.setdefault("fediverse_biz", {}).update(
            approval_state=row["approval_state"],
            # A remote contributor's submission has no member as its writer: `submitted_by` names its author.
            written_by=None
            if submission is not None
            else {"user_id": str(row["created_by_user_id"]), "username": row["written_by"]},
            version=approvals.version(row),
            rejection_reason=row["rejection_reason"],
            reviewed_at=entities.iso(row["reviewed_at"]),
        )
        if submission is not None:
            entity["fediverse_biz"]["submitted_by"] = {
                "account": senders.get(str(submission["actor_id"])),
                "uri": submission["object_uri"],
                "url": submission["object_url"],
            }
    return rendered


async def pending_statuses(request: Request) -> Response:
    """Owners and managers see every held post; other members their own (?state=rejected: refused ones)."""
    call = await _team_call(request, "read:statuses", None)
    page: Page = page_params(request)
    state = query_params(request).get("state")  # refuses NUL (422), which PostgreSQL text cannot hold
    state = "pending" if state is None else state
    with domain_errors():
        ids = await approvals.queue(services(request).pool, call.organization_id, call.user_id, page, state=state)
    return paginated(request, await _held_entities(request, ids, call.viewer), ids, page)


async def approve_status(request: Request) -> Response:
    """Publish and federate; the answer is the published status, under its new id."""
    call = await _team_call(request, "write:statuses", roles.Permission.REVIEW)
    async with await read_params(request) as params:
        seen = params.get("version")
    state = services(request)
    with domain_errors():
        new_id = await approvals.approve(
            state.pool,
            state.urls,
            call.organization_id,
            path_id(request, "status_id"),
            call.user_id,
            seen_version=seen,
        )
    return JSONResponse((await render(request, [new_id], call.viewer.actor_id))[0])


async def reject_status(request: Request) -> Response:
    call = await _team_call(request, "write:statuses", roles.Permission.REVIEW)
    async with await read_params(request) as params:
        reason = params.get("reason") or ""
    with domain_errors():
        row = await approvals.reject(
            services(request).pool,
            call.organization_id,
            path_id(request, "status_id"),
            call.user_id,
            reason,
            urls=services(request).urls,
        )
    return JSONResponse((await _held_entities(request, [row["id"]], call.viewer))[0])


# ---- the audit log -----------------------------------------------------------------------------
async def audit_log(request: Request) -> Response:
    call = await _team_call(request, "read:accounts", roles.Permission.AUDIT)
    page = page_params(request, default=40, maximum=80)
    action = query_params(request).get("action") or None  # refuses NUL (422), which PostgreSQL text cannot hold
    rows = await audit.entries(services(request).pool, call.organization_id, page, action=action)
    items = [
        {
            "id": str(r["id"]),
            "action": r["action"],
            "created_at": entities.iso(r["created_at"]),
            "user": {
                "id": str(r["user_id"]) if r["user_id"] is not None else None,
                "username": r["username"],
                "account_id": str(r["user_actor_id"]) if r["user_actor_id"] is not None else None,
            },
            "target": r["target"],
            "details": r["details"],
        }
        for r in rows
    ]
    return paginated(request, items, [r["id"] for r in rows], page)


_ORG = "/api/v1/organizations/{id}"
routes: list[BaseRoute] = [
    Route(f"{_ORG}/members", list_members, methods=["GET"]),
    Route(f"{_ORG}/members", add_member, methods=["POST"]),
    Route(f"{_ORG}/members/{{user_id}}", change_member, methods=["PATCH", "PUT"]),
    Route(f"{_ORG}/members/{{user_id}}", remove_member, methods=["DELETE"]),
    Route(f"{_ORG}/remote_contributors", list_remote_contributors, methods=["GET"]),
    Route(f"{_ORG}/remote_contributors", add_remote_contributor, methods=["POST"]),
    Route(f"{_ORG}/remote_contributors/{{account_id}}", remove_remote_contributor, methods=["DELETE"]),
    Route(f"{_ORG}/invitations", list_invitations, methods=["GET"]),
    Route(f"{_ORG}/invitations", create_invitation, methods=["POST"]),
    Route(f"{_ORG}/invitations/{{invitation_id}}", revoke_invitation, methods=["DELETE"]),
    Route("/api/v1/invitations/{token}/accept", accept_invitation, methods=["POST"]),
    Route(f"{_ORG}/pending_statuses", pending_statuses, methods=["GET"]),
    Route(f"{_ORG}/pending_statuses/{{status_id}}/approve", approve_status, methods=["POST"]),
    Route(f"{_ORG}/pending_statuses/{{status_id}}/reject", reject_status, methods=["POST"]),
    Route(f"{_ORG}/audit_log", audit_log, methods=["GET"]),
]
