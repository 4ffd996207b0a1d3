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
from fediverse_biz.core import tag_follows, timelines
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services
from fediverse_biz.text.content import extract_hashtags


async def home_timeline(request: Request) -> Response:
    viewer = await require(request, "read:statuses")
    page = page_params(request)
    ids = await timelines.home(services(request).pool, own_id(viewer), page)
    return paginated(request, await render(request, ids, viewer.actor_id, filter_context="home"), ids, page)


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
    return paginated(request, await render(request, ids, viewer_id, filter_context="public"), ids, page)


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
    return paginated(request, await render(request, ids, viewer_id, filter_context="public"), ids, page)


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
    """The Tag entity: no usage history is kept yet, so `history` is empty; `following` for the viewer."""
    viewer = await optional(request)
    name = tag_name(request)
    pool = services(request).pool
    row = await pool.fetchrow("SELECT id, name FROM tags WHERE lower(name) = lower($1)", name)
    tag_id = row["id"] if row else None
    following = await tag_follows.following(pool, viewer_actor_id(viewer), tag_id)
    return JSONResponse(tag_entity(request, row["name"] if row else name, tag_id, following))


def tag_entity(request: Request, name: str, tag_id: int | None, following: bool = False) -> dict[str, object]:
    entity: dict[str, object] = {
        "name": name,
        "url": services(request).urls.tag(name),
        "history": [],
        "following": following,
    }
    if tag_id is not None:
        entity = {"id": str(tag_id), **entity}
    return entity


async def follow_tag(request: Request) -> Response:
    actor_id = own_id(await require(request, "write:follows"))
    tag = await tag_follows.follow(services(request).pool, actor_id, tag_name(request))
    return JSONResponse(tag_entity(request, tag["name"], tag["id"], True))


async def unfollow_tag(request: Request) -> Response:
    actor_id = own_id(await require(request, "write:follows"))
    name = tag_name(request)
    tag = await tag_follows.unfollow(services(request).pool, actor_id, name)
    return JSONResponse(tag_entity(request, tag["name"] if tag else name, tag["id"] if tag else None, False))


async def followed_tags(request: Request) -> Response:
    """Paged by the follow, latest first, 100 a page by default (Mastodon's FollowedTagsController)."""
    actor_id = own_id(await require(request, "read:follows"))
    page = page_params(request, default=100, maximum=200)
    rows = await tag_follows.followed(services(request).pool, actor_id, page)
    items = [tag_entity(request, r["name"], r["tag_id"], True) for r in rows]
    return paginated(request, items, [r["id"] for r in rows], page)


routes: list[BaseRoute] = [
    Route("/api/v1/timelines/home", queued(home_timeline), methods=["GET"]),
    Route("/api/v1/timelines/public", queued(public_timeline), methods=["GET"]),
    Route("/api/v1/timelines/tag/{hashtag}", queued(tag_timeline), methods=["GET"]),
    Route("/api/v1/bookmarks", queued(_marked("bookmarks", "read:bookmarks")), methods=["GET"]),
    Route("/api/v1/favourites", queued(_marked("favourites", "read:favourites")), methods=["GET"]),
    Route("/api/v1/tags/{hashtag}", show_tag, methods=["GET"]),
    Route("/api/v1/tags/{hashtag}/follow", follow_tag, methods=["POST"]),
    Route("/api/v1/tags/{hashtag}/unfollow", unfollow_tag, methods=["POST"]),
    Route("/api/v1/followed_tags", followed_tags, methods=["GET"]),
]
