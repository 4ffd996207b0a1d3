"""`DELETE /api/v1/profile/avatar` and `DELETE /api/v1/profile/header`
(https://docs.joinmastodon.org/methods/profile/): the image goes, the CredentialAccount shows the default,
and followers' servers get the profile Update (core/profiles.remove_image)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import acting, entities
from fediverse_biz.api.auth import require, require_permission
from fediverse_biz.api.errors import domain_errors
from fediverse_biz.business.roles import Permission
from fediverse_biz.core import profiles
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services


def _remover(kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        viewer = await require(request, "write:accounts")
        assert viewer.actor_id is not None and viewer.user_id is not None
        await require_permission(request, viewer, Permission.PROFILE)  # as update_credentials
        svc = services(request)
        with domain_errors():
            actor = await profiles.remove_image(svc.pool, svc.settings, svc.urls, viewer.actor_id, viewer.user_id, kind)
        await acting.record(request, viewer, "profile_update", actor["uri"], {"fields": [f"{kind}_url"]})
        user = await svc.pool.fetchrow("SELECT * FROM users WHERE id = $1", viewer.user_id)
        return JSONResponse(await entities.credential_account(svc.pool, actor, svc.urls, user))

    return handler


routes: list[BaseRoute] = [
    Route("/api/v1/profile/avatar", _remover("avatar"), methods=["DELETE"]),
    Route("/api/v1/profile/header", _remover("header"), methods=["DELETE"]),
]
