"""An account's own data: export (JSON archive, Mastodon CSVs) and deletion, for the token's actor.

    GET  /api/v1/fediverse_biz/export                 read:accounts + read:statuses   JSON archive
    GET  /api/v1/fediverse_biz/export/following.csv   read:accounts                   Mastodon's follows CSV
    GET  /api/v1/fediverse_biz/export/followers.csv   read:accounts                   one column
    POST /api/v1/fediverse_biz/delete_account         write:accounts, `password`      Delete(actor), data removed

Mastodon has no API for either (its web settings do both), hence our own namespace. A token acting
for an organization exports or deletes the organization: export needs an owner or manager (the
archive holds held posts and the whole follower list), deletion an owner. Deletion asks for the
member's password even with a valid token: a stolen token must not be enough to destroy an account.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api.auth import Viewer, require, require_permission
from fediverse_biz.api.errors import ApiError, domain_errors
from fediverse_biz.api.params import read_params
from fediverse_biz.business import organizations, roles
from fediverse_biz.core import account_deletion, export
from fediverse_biz.core.passwords import verify_password
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

INVALID_PASSWORD = "Validation failed: the password is not correct"
_NO_STORE = {"Cache-Control": "no-store"}


async def _exported_actor(request: Request, viewer: Viewer) -> int:
    """The actor whose data the token may export: its own, or an organization it manages."""
    assert viewer.actor_id is not None
    await require_permission(request, viewer, roles.Permission.PROFILE)  # personal tokens always pass
    return viewer.actor_id


async def _company(request: Request, actor_id: int) -> dict[str, Any] | None:
    profile = await organizations.get_profile(services(request).pool, actor_id)
    return profile.values() if profile is not None else None


async def export_archive(request: Request) -> Response:
    viewer = await require(request, "read:accounts")
    await require(request, "read:statuses")  # the archive holds every post, direct ones included
    actor_id = await _exported_actor(request, viewer)
    settings = services(request).settings
    with domain_errors():
        body = await export.archive(
            services(request).pool,
            actor_id,
            services(request).urls,
            settings.domain,
            company=await _company(request, actor_id),
        )
    disposition = f'attachment; filename="{body["profile"]["username"]}-archive.json"'
    return JSONResponse(body, headers={**_NO_STORE, "Content-Disposition": disposition})


async def _csv_response(request: Request, kind: str) -> Response:
    viewer = await require(request, "read:accounts")
    actor_id = await _exported_actor(request, viewer)
    pool, domain = services(request).pool, services(request).settings.domain
    with domain_errors():
        text = await (export.following_csv if kind == "following" else export.followers_csv)(pool, actor_id, domain)
    headers = {**_NO_STORE, "Content-Disposition": f'attachment; filename="{kind}.csv"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


async def export_following(request: Request) -> Response:
    return await _csv_response(request, "following")


async def export_followers(request: Request) -> Response:
    return await _csv_response(request, "followers")


async def delete_account(request: Request) -> Response:
    viewer = await require(request, "write:accounts")
    assert viewer.actor_id is not None and viewer.user_id is not None
    await require_permission(request, viewer, roles.Permission.OWNERS)  # an organization: its owners only
    params = await read_params(request)
    password = params.get("password") or ""
    pool = services(request).pool
    password_hash = await pool.fetchval("SELECT password_hash FROM users WHERE id = $1", viewer.user_id)
    # 422, not 401/403: clients log out on 401, and the token itself is fine.
    if not password or password_hash is None or not await asyncio.to_thread(verify_password, password_hash, password):
        raise ApiError(422, INVALID_PASSWORD)
    with domain_errors():
        deleted = await account_deletion.delete_account(
            pool,
            services(request).urls,
            viewer.actor_id,
            viewer.user_id,
            media_root=services(request).settings.media_path,
        )
    return JSONResponse(
        {"id": str(deleted.actor_id), "deleted": True, "deliveries": deleted.deliveries, "statuses": deleted.statuses},
        headers=_NO_STORE,
    )


_PREFIX = "/api/v1/fediverse_biz"
routes: list[BaseRoute] = [
    Route(f"{_PREFIX}/export", export_archive, methods=["GET"]),
    Route(f"{_PREFIX}/export/following.csv", export_following, methods=["GET"]),
    Route(f"{_PREFIX}/export/followers.csv", export_followers, methods=["GET"]),
    Route(f"{_PREFIX}/delete_account", delete_account, methods=["POST"]),
]
