"""Timelines (https://docs.joinmastodon.org/methods/timelines/), the viewer's bookmarks and favourites,
and hashtags.

Each handler is one core.timelines query over an index, the page rendered in a batch, and Mastodon's
Link header (docs/architecture.md, "A client reads a timeline"); each waits its turn in api/read_slots.py.
Favourites and bookmarks page by the favourite/bookmark row id, not the status id, as Mastodon does
(https://docs.joinmastodon.org/api/guidelines/: ids "not publicly exposed" appear only in Link). The tag
timeline's `any[]`, `all[]` and `none[]` are not supported and are ignored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api.auth import optional, require
from fediverse_biz.api.errors import ApiError
from fediverse_biz.api.pagination import page_params, paginated
from fediverse_biz.api.params import query_params
from fediverse_biz.api.read_slots import queued
from fediverse_biz.api.statuses import own_id, render, viewer_actor_id
from fediverse_biz.core import timelines
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services
from fediverse_biz.text.content import extract_hashtags

TAG_UNSUPPORTED = "Following hashtags is not supported yet"


async def home_timeline(request: Request) -> Response:
    viewer = await require(request, "read:statuses")
    page = page_params(request)
    ids = await timelines.home(services(request).pool, own_id(viewer), page)
    return paginated(request, await render(request, ids, viewer.actor_id), ids, page)


async def public_timeline(request: Request) -> Response:
    viewer = await optional(request, "read:statuses")
    params = query_params(request)
    page = page_params(request)
    viewer_id = viewer_actor_id(viewer)
    ids = await timelines.public(
        services(request).pool,
        viewer_id,
        page,
        local=params.get_bool("local"),
        remote=params.get_bool("remote"),
        only_media=params.get_bool("only_media"),
    )
    return paginated(request, await render(request, ids, viewer_id), ids, page)


async def tag_timeline(request: Request) -> Response:
    viewer = await optional(request, "read:statuses")
    params = query_params(request)
    page = page_params(request)
    viewer_id = viewer_actor_id(viewer)
    ids = await timelines.tag(
        services(request).pool,
        viewer_id,
        tag_name(request),
        page,
        local=params.get_bool("local"),
        only_media=params.get_bool("only_media"),
    )
    return paginated(request, await render(request, ids, viewer_id), ids, page)


def _marked(table: str, scope: str) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        viewer = await require(request, scope)
        page = page_params(request)
        rows = await timelines.marked(services(request).pool, table, own_id(viewer), page)
        items = await render(request, [status_id for _, status_id in rows], viewer.actor_id)
        return paginated(request, items, [row_id for row_id, _ in rows], page)

    return handler


def tag_name(request: Request) -> str:
    """The hashtag in the path, without '#'; a name that could never be a hashtag is 404."""
    raw = str(request.path_params["hashtag"]).lstrip("#")
    found = extract_hashtags(f"#{raw}")
    if not found or found[0].lower() != raw.lower():
        raise ApiError(404, "Record not found")
    return raw


async def show_tag(request: Request) -> Response:
    """The Tag entity: no usage history is kept yet, so `history` is empty; following is unsupported."""
    await optional(request)
    name = tag_name(request)
    row = await services(request).pool.fetchrow("SELECT id, name FROM tags WHERE lower(name) = lower($1)", name)
    return JSONResponse(tag_entity(request, row["name"] if row else name, row["id"] if row else None))


def tag_entity(request: Request, name: str, tag_id: int | None) -> dict[str, object]:
    entity: dict[str, object] = {
        "name": name,
        "url": services(request).urls.tag(name),
        "history": [],
        "following": False,
    }
    if tag_id is not None:
        entity = {"id": str(tag_id), **entity}
    return entity


async def follow_tag(request: Request) -> Response:
    await require(request, "write:follows")
    tag_name(request)
    raise ApiError(422, TAG_UNSUPPORTED)


routes: list[BaseRoute] = [
    Route("/api/v1/timelines/home", queued(home_timeline), methods=["GET"]),
    Route("/api/v1/timelines/public", queued(public_timeline), methods=["GET"]),
    Route("/api/v1/timelines/tag/{hashtag}", queued(tag_timeline), methods=["GET"]),
    Route("/api/v1/bookmarks", queued(_marked("bookmarks", "read:bookmarks")), methods=["GET"]),
    Route("/api/v1/favourites", queued(_marked("favourites", "read:favourites")), methods=["GET"]),
    Route("/api/v1/tags/{hashtag}", show_tag, methods=["GET"]),
    Route("/api/v1/tags/{hashtag}/follow", follow_tag, methods=["POST"]),
    Route("/api/v1/tags/{hashtag}/unfollow", follow_tag, methods=["POST"]),
]
