"""Halls through the client API (docs/communities.md): `/api/v1/communities…`.

Reading is public, like the hall's page and actor document. Writing acts as the account the token acts
as (a person, or an organization through a team member's token): creating a hall makes that account its
first moderator (setting FEDIVERSE_BIZ_COMMUNITY_CREATION: "any" member, or only "admins"); everything
else needs that account to be one of the hall's listed moderators (or the user to be an instance admin).
A team member acting for an organization also needs the team role to allow it: creating and editing
halls is the company's public profile (Permission.PROFILE), moderating is blocking (Permission.BLOCK).
Joining and leaving are the ordinary follow endpoints: joining a hall is following it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import entities
from fediverse_biz.api.auth import optional, require, require_permission
from fediverse_biz.api.errors import NOT_FOUND, ApiError, domain_errors
from fediverse_biz.api.pagination import page_params, paginated
from fediverse_biz.api.params import query_params, read_params
from fediverse_biz.api.statuses import path_id, render
from fediverse_biz.business import audit, communities, hall_moderation, roles
from fediverse_biz.business.communities import Acting, Hall
from fediverse_biz.business.sectors import SECTORS
from fediverse_biz.core.ids import parse_id
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

__all__ = ["community_entity", "routes"]


async def community_entity(request: Request, hall: Hall) -> dict[str, Any]:
    """The Community entity: the hall's values, its Group account and its moderators' accounts."""
    pool, urls = services(request).pool, services(request).urls
    mods = await communities.moderators(pool, hall.id)
    return {
        "id": str(hall.id),
        "name": hall.name,
        "title": hall.title,
        "description": hall.description,
        "sector": hall.sector,
        "sector_label": SECTORS.get(hall.sector) if hall.sector else None,
        "region": hall.region,
        "rules": list(hall.rules),
        "membership": hall.membership,
        "members_count": await communities.members_count(pool, hall.id),
        "url": hall.actor["url"],
        "uri": hall.actor["uri"],
        "created_at": entities.iso(hall.created_at),
        "account": await entities.account(pool, hall.actor, urls),
        "moderators": await entities.accounts(pool, mods, urls),
    }


async def _acting(request: Request, scope: str, permission: roles.Permission) -> Acting:
    viewer = await require(request, scope)
    assert viewer.user_id is not None and viewer.actor_id is not None  # require() refuses app tokens
    await require_permission(request, viewer, permission)
    return Acting(viewer.actor_id, viewer.user_id, admin=viewer.user_role == "admin")


async def _hall(request: Request) -> Hall:
    hall = await communities.get_hall(services(request).pool, path_id(request))
    if hall is None or hall.actor["suspended_at"] is not None:
        raise ApiError(404, NOT_FOUND)
    return hall


async def _moderating(request: Request, scope: str) -> tuple[Acting, Hall]:
    by = await _acting(request, scope, roles.Permission.BLOCK)
    hall = await _hall(request)
    with domain_errors():
        await communities.require_moderator(services(request).pool, hall.id, by)
    return by, hall


def _account_id(params: Any, name: str = "account_id") -> int:
    text = (params.get(name) or "").strip()
    if not text:
        raise ApiError(422, f"Validation failed: {name} is required")
    value = parse_id(text)
    if value is None:
        raise ApiError(422, f"Validation failed: {name} must be an id")
    return value


# ---- halls ---------------------------------------------------------------------------------------
async def list_communities(request: Request) -> Response:
    await optional(request, "read:accounts")
    params = query_params(request)
    with domain_errors():
        halls = await communities.list_halls(
            services(request).pool,
            sector=params.get("sector") or None,
            q=params.get("q"),
            offset=params.get_int("offset", 0, min=0, max=10_000),
            limit=params.get_int("limit", 40, min=1, max=80),
        )
    return JSONResponse([await community_entity(request, hall) for hall in halls])


async def create_community(request: Request) -> Response:
    by = await _acting(request, "write:accounts", roles.Permission.PROFILE)
    async with await read_params(request) as params:
        values = {k: v for k, v in params.raw.items() if k in communities.EDITABLE}
        if "rules" in params:
            values["rules"] = params.get_list("rules")
        name = params.get("name") or ""
    settings = services(request).settings
    with domain_errors():
        hall = await communities.create_hall(
            services(request).pool,
            services(request).urls,
            settings.domain,
            by,
            name,
            values,
            creation_mode=settings.community_creation,
        )
    return JSONResponse(await community_entity(request, hall))


async def show_community(request: Request) -> Response:
    await optional(request, "read:accounts")
    return JSONResponse(await community_entity(request, await _hall(request)))


async def edit_community(request: Request) -> Response:
    by = await _acting(request, "write:accounts", roles.Permission.PROFILE)
    hall = await _hall(request)
    async with await read_params(request) as params:
        changes = {k: v for k, v in params.raw.items() if k in communities.EDITABLE}
        if "rules" in params:
            changes["rules"] = params.get_list("rules")
    with domain_errors():
        hall = await communities.edit_hall(
            services(request).pool, services(request).urls, services(request).settings.domain, hall.id, by, changes
        )
    return JSONResponse(await community_entity(request, hall))


async def community_statuses(request: Request) -> Response:
    """The hall's threads, newest first: public, published, not replies (Lemmy's post list)."""
    viewer = await optional(request, "read:statuses")
    hall = await _hall(request)
    page = page_params(request)
    ids = await communities.hall_threads(services(request).pool, hall.id, page)
    return paginated(request, await render(request, ids, viewer.actor_id if viewer else None), ids, page)


# ---- moderators and members ----------------------------------------------------------------------
async def list_moderators(request: Request) -> Response:
    await optional(request, "read:accounts")
    hall = await _hall(request)
    pool = services(request).pool
    mods = await communities.moderators(pool, hall.id)
    return JSONResponse(await entities.accounts(pool, mods, services(request).urls))


async def add_moderator(request: Request) -> Response:
    by, hall = await _moderating(request, "write:accounts")
    async with await read_params(request) as params:
        account_id = _account_id(params)
    with domain_errors():
        await hall_moderation.add_moderator(services(request).pool, hall.id, by, account_id)
    return await list_moderators(request)


async def remove_moderator(request: Request) -> Response:
    by, hall = await _moderating(request, "write:accounts")
    with domain_errors():
        await hall_moderation.remove_moderator(services(request).pool, hall.id, by, path_id(request, "account_id"))
    return await list_moderators(request)


async def list_members(request: Request) -> Response:
    await optional(request, "read:accounts")
    hall = await _hall(request)
    page = page_params(request, default=40, maximum=80)
    rows = await hall_moderation.members(services(request).pool, hall.id, page)
    items = await entities.accounts(services(request).pool, rows, services(request).urls)
    return paginated(request, items, [r["follow_id"] for r in rows], page)


async def join_requests(request: Request) -> Response:
    _, hall = await _moderating(request, "read:follows")
    rows = await hall_moderation.join_requests(services(request).pool, hall.id)
    return JSONResponse(await entities.accounts(services(request).pool, rows, services(request).urls))


def _decide(approve: bool) -> Any:
    async def decide(request: Request) -> Response:
        by, hall = await _moderating(request, "write:follows")
        with domain_errors():
            await hall_moderation.decide_join(
                services(request).pool, hall.id, by, path_id(request, "account_id"), approve=approve
            )
        return JSONResponse({})

    return decide


# ---- bans, posts, the log ------------------------------------------------------------------------
async def list_bans(request: Request) -> Response:
    _, hall = await _moderating(request, "read:blocks")
    pool = services(request).pool
    rows = await pool.fetch(
        """SELECT a.*, b.reason, b.created_at AS banned_at FROM community_bans b JOIN actors a ON a.id = b.actor_id
            WHERE b.community_id = $1 ORDER BY b.created_at DESC LIMIT 200""",
        hall.id,
    )
    accounts = await entities.accounts(pool, rows, services(request).urls)
    return JSONResponse(
        [
            {"account": account, "reason": row["reason"], "created_at": entities.iso(row["banned_at"])}
            for account, row in zip(accounts, rows, strict=True)
        ]
    )


async def ban(request: Request) -> Response:
    by, hall = await _moderating(request, "write:blocks")
    async with await read_params(request) as params:
        account_id, reason = _account_id(params), params.get("reason") or ""
    with domain_errors():
        await hall_moderation.ban(services(request).pool, hall.id, by, account_id, reason)
    return JSONResponse({})


async def unban(request: Request) -> Response:
    by, hall = await _moderating(request, "write:blocks")
    with domain_errors():
        await hall_moderation.unban(services(request).pool, hall.id, by, path_id(request, "account_id"))
    return JSONResponse({})


async def remove_post(request: Request) -> Response:
    by, hall = await _moderating(request, "write:statuses")
    async with await read_params(request) as params:
        reason = params.get("reason") or ""
    with domain_errors():
        await hall_moderation.remove_post(
            services(request).pool, services(request).urls, hall.id, by, path_id(request, "status_id"), reason
        )
    return JSONResponse({})


def _pin(on: bool) -> Any:
    async def pin(request: Request) -> Response:
        by, hall = await _moderating(request, "write:statuses")
        status_id = path_id(request, "status_id")
        with domain_errors():
            await hall_moderation.pin(services(request).pool, hall.id, by, status_id, on=on)
        return JSONResponse((await render(request, [status_id], by.actor_id))[0])

    return pin


async def audit_log(request: Request) -> Response:
    _, hall = await _moderating(request, "read:accounts")
    page = page_params(request, default=40, maximum=80)
    rows = await audit.entries(services(request).pool, hall.id, page)
    items = [
        {
            "id": str(r["id"]),
            "action": r["action"],
            "created_at": entities.iso(r["created_at"]),
            "user": {"username": r["username"], "account_id": str(r["user_actor_id"]) if r["user_actor_id"] else None},
            "target": r["target"],
            "details": r["details"],
        }
        for r in rows
    ]
    return paginated(request, items, [r["id"] for r in rows], page)


_HALL = "/api/v1/communities/{id}"
routes: list[BaseRoute] = [
    Route("/api/v1/communities", list_communities, methods=["GET"]),
    Route("/api/v1/communities", create_community, methods=["POST"]),
    Route(_HALL, show_community, methods=["GET"]),
    Route(_HALL, edit_community, methods=["PATCH", "PUT"]),
    Route(f"{_HALL}/statuses", community_statuses, methods=["GET"]),
    Route(f"{_HALL}/moderators", list_moderators, methods=["GET"]),
    Route(f"{_HALL}/moderators", add_moderator, methods=["POST"]),
    Route(f"{_HALL}/moderators/{{account_id}}", remove_moderator, methods=["DELETE"]),
    Route(f"{_HALL}/members", list_members, methods=["GET"]),
    Route(f"{_HALL}/join_requests", join_requests, methods=["GET"]),
    Route(f"{_HALL}/join_requests/{{account_id}}/authorize", _decide(True), methods=["POST"]),
    Route(f"{_HALL}/join_requests/{{account_id}}/reject", _decide(False), methods=["POST"]),
    Route(f"{_HALL}/bans", list_bans, methods=["GET"]),
    Route(f"{_HALL}/bans", ban, methods=["POST"]),
    Route(f"{_HALL}/bans/{{account_id}}", unban, methods=["DELETE"]),
    Route(f"{_HALL}/statuses/{{status_id}}", remove_post, methods=["DELETE"]),
    Route(f"{_HALL}/statuses/{{status_id}}/pin", _pin(True), methods=["POST"]),
    Route(f"{_HALL}/statuses/{{status_id}}/unpin", _pin(False), methods=["POST"]),
    Route(f"{_HALL}/audit_log", audit_log, methods=["GET"]),
]
