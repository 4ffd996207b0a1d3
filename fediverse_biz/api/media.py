"""POST /api/v2/media (and the v1 alias), GET and PUT /api/v1/media/:id
(https://docs.joinmastodon.org/methods/media/).

Images are processed while the client waits, so the upload answers 200 with `url` already set:
Mastodon >= 4.0 does the same for images, and clients that poll (toot, Mastodon.py synchronous=True)
stop at the first GET. Every action needs `write:media`, GET included, as on Mastodon. A body over
the configured cap is refused with 413 by the BodySizeLimit middleware before it reaches us.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api.auth import Viewer, require
from fediverse_biz.api.entities import media_entity
from fediverse_biz.api.errors import ApiError
from fediverse_biz.api.params import path_id, read_params
from fediverse_biz.core import media
from fediverse_biz.core.errors import DomainError
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

SCOPE = "write:media"
NO_FILE = "Validation failed: File can't be blank"


def _actor_id(viewer: Viewer) -> int:
    if viewer.actor_id is None:  # require() demands a user token, and user tokens act as an actor
        raise ApiError(422, "This method requires an authenticated user")
    return viewer.actor_id


def _api_error(exc: DomainError) -> ApiError:
    headers = {"Retry-After": "60"} if exc.status == 503 else None
    return ApiError(exc.status, str(exc), headers=headers)


async def upload_media(request: Request) -> Response:
    viewer = await require(request, SCOPE)
    actor_id = _actor_id(viewer)
    async with await read_params(request) as params:
        upload = params.file("file")
        if upload is None:
            raise ApiError(422, NO_FILE)
        # `thumbnail` is a client-made preview for video and audio; we make our own for images.
        try:
            row = await media.store_upload(
                services(request).pool,
                services(request).settings,
                services(request).urls,
                actor_id,
                upload.file,
                upload.filename,
                description=params.get("description") or "",
                focus=params.get("focus"),
            )
        except DomainError as exc:
            raise _api_error(exc) from None
    return JSONResponse(media_entity(row, services(request).urls))


async def show_media(request: Request) -> Response:
    viewer = await require(request, SCOPE)
    try:
        row = await media.get_media(services(request).pool, _actor_id(viewer), path_id(request))
    except DomainError as exc:
        raise _api_error(exc) from None
    return JSONResponse(media_entity(row, services(request).urls))


async def update_media(request: Request) -> Response:
    viewer = await require(request, SCOPE)
    actor_id, media_id = _actor_id(viewer), path_id(request)
    async with await read_params(request) as params:
        try:
            row = await media.update_media(
                services(request).pool,
                actor_id,
                media_id,
                description=params.get("description"),
                focus=params.get("focus"),
            )
        except DomainError as exc:
            raise _api_error(exc) from None
    return JSONResponse(media_entity(row, services(request).urls))


routes: list[BaseRoute] = [
    Route("/api/v2/media", upload_media, methods=["POST"]),
    Route("/api/v1/media", upload_media, methods=["POST"]),  # Mastodon.py before 3.1.4, older clients
    Route("/api/v1/media/{id}", show_media, methods=["GET"]),
    Route("/api/v1/media/{id}", update_media, methods=["PUT"]),
]
