"""Door 3, read side: statuses at their URIs, their Create/Announce activities, and the outbox.

- `/users/{name}/statuses/{id}`: the Note (or Article); `/activity` after it: the Create, or the
  Announce for a boost (whose own uri ends in `/activity`).
- `/users/{name}/outbox`: an OrderedCollection of public and unlisted activities, paged by id.
- `/users/{name}/statuses/{id}/replies`: the status's `replies` Collection (Mastodon's shape and
  paging, federation/replies.py), as readable as the status itself; public and unlisted replies only.
- Followers-only and direct statuses are served only to a request signed by an actor allowed to
  see them (an accepted follower, or an addressee) — never to an anonymous fetch, so a private
  post cannot leak through a guessed URL (docs/architecture.md, "Security invariants"). Others get 404, as if
  the status did not exist; deleted statuses answer 410 Gone with a Tombstone.
- Browsers asking for HTML are sent to the public permalink page.
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.activitypub import activities, notes
from fediverse_biz.activitypub.context import CONTEXT
from fediverse_biz.core.accounts import find_published_actor
from fediverse_biz.core.hydrate import StatusBundle, load_status, load_statuses
from fediverse_biz.core.ids import parse_cursor, parse_id
from fediverse_biz.core.visibility import can_see, is_public
from fediverse_biz.federation import fetch_reach, replies, signed_requests
from fediverse_biz.federation.actor_endpoints import activity_json, prefers_activity_json
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls

PAGE_SIZE: Final = 20


def _not_found() -> JSONResponse:
    return JSONResponse({"error": "Record not found"}, status_code=404, headers={"Vary": "Accept, Signature"})


async def _viewer_id(request: Request) -> int | None:
    """The actor that signed this GET, if any and if verifiable; anonymous otherwise."""
    if "signature" not in request.headers and "signature-input" not in request.headers:
        return None
    try:
        actor = await signed_requests.signing_actor(request, b"")
    except signed_requests.NotVerified:
        return None
    return int(actor["id"])


async def _local_status(request: Request) -> tuple[asyncpg.Record | None, Response | None]:
    """The status addressed by the path, if it is a local one of that actor; or a 404/410 answer."""
    pool: asyncpg.Pool = services(request).pool
    username = request.path_params["username"]
    status_id = parse_id(request.path_params["status_id"])
    if status_id is None:
        return None, _not_found()
    actor = await find_published_actor(pool, username)
    if actor is None:
        return None, _not_found()
    row = await pool.fetchrow(
        "SELECT * FROM statuses WHERE id = $1 AND actor_id = $2 AND local", status_id, actor["id"]
    )
    if row is None:
        uri = f"{actor['uri']}/statuses/{status_id}"
        if await pool.fetchval("SELECT 1 FROM tombstones WHERE uri = $1 OR uri = $2", uri, uri + "/activity"):
            tombstone = {"@context": CONTEXT, "id": uri, "type": "Tombstone"}
            return None, activity_json(tombstone, status_code=410)
        return None, _not_found()
    return row, None


async def _may_view(request: Request, row: asyncpg.Record) -> bool:
    if is_public(row):
        return True
    viewer = await _viewer_id(request)
    if viewer is None or row["approval_state"] != "published":
        return False
    return await can_see(services(request).pool, row, viewer)


async def _visible_bundle(request: Request, row: asyncpg.Record) -> StatusBundle | None:
    if not await _may_view(request, row):
        return None
    return await load_status(services(request).pool, row["id"])


async def status_object(request: Request) -> Response:
    row, answer = await _local_status(request)
    if answer is not None:
        return answer
    assert row is not None
    if not prefers_activity_json(request.headers.get("accept")):
        if row["reblog_of_id"] is None and is_public(row):
            return RedirectResponse(row["url"] or row["uri"], status_code=302)
        return _not_found()
    bundle = await _visible_bundle(request, row)
    if bundle is None or bundle.reblog is not None:
        return _not_found()
    urls: LocalUrls = services(request).urls
    own_replies = (await replies.self_replies(services(request).pool, [bundle.id]))[bundle.id]
    # A server that fetched the post holds it: the author's deletion must reach it (core/reach.py).
    note = activity_json({"@context": CONTEXT, **notes.status_to_ap(bundle, urls, self_replies=own_replies)})
    return fetch_reach.note_fetch(request, note, bundle.author)


async def status_activity(request: Request) -> Response:
    row, answer = await _local_status(request)
    if answer is not None:
        return answer
    assert row is not None
    bundle = await _visible_bundle(request, row)
    if bundle is None:
        return _not_found()
    own_replies = await replies.self_replies(services(request).pool, [bundle.id] if bundle.reblog is None else [])
    activity = activity_json(_activity_of(bundle, services(request).urls, own_replies))
    return fetch_reach.note_fetch(request, activity, bundle.author)


def _activity_of(
    bundle: StatusBundle, urls: LocalUrls, self_replies: dict[int, list[tuple[int, str]]]
) -> dict[str, Any]:
    if bundle.reblog is not None:
        return notes.announce_to_ap(bundle, urls)
    note = notes.status_to_ap(bundle, urls, self_replies=self_replies.get(bundle.id, []))
    return activities.create(note, bundle.author["uri"])


def _truthy(value: str | None) -> bool:
    """Rails' `truthy_param?` (ActiveModel::Type::Boolean), which Mastodon's page parameters go through."""
    return value is not None and value.strip().lower() not in ("", "0", "f", "false", "off")


async def status_replies(request: Request) -> Response:
    """The `replies` Collection of a status: its first page inline, then `CollectionPage`s of URIs
    (Mastodon's ActivityPub::RepliesController; federation/replies.py says which replies). Mastodon
    embeds its local replies whole; we list URIs only, which Mastodon's FetchRepliesService takes too."""
    row, answer = await _local_status(request)
    if answer is not None:
        return answer
    assert row is not None
    if row["reblog_of_id"] is not None or not await _may_view(request, row):
        return _not_found()
    params = request.query_params
    only_other_accounts = _truthy(params.get("only_other_accounts"))
    min_id = None
    if params.get("min_id"):
        min_id = parse_cursor(params["min_id"])
        if min_id is None:
            raise HTTPException(400, "min_id must be an id")
    uri, collection = row["uri"], notes.replies_uri(row["uri"])
    listed = await replies.page_of_replies(
        services(request).pool, row, only_other_accounts=only_other_accounts, min_id=min_id
    )
    page: dict[str, Any] = {
        "id": notes.replies_page_uri(uri, min_id=min_id, only_other_accounts=only_other_accounts),
        "type": "CollectionPage",
    }
    if len(listed) == replies.PAGE_SIZE:  # more of the same kind may follow
        page["next"] = notes.replies_page_uri(uri, min_id=listed[-1][0], only_other_accounts=only_other_accounts)
    elif not only_other_accounts:  # the author's own replies are done: everyone else's come next
        page["next"] = notes.replies_page_uri(uri, only_other_accounts=True)
    page["partOf"] = collection
    page["items"] = [reply_uri for _, reply_uri in listed]
    if _truthy(params.get("page")):
        return activity_json({"@context": CONTEXT, **page})
    return activity_json({"@context": CONTEXT, "id": collection, "type": "Collection", "first": page})


async def outbox(request: Request) -> Response:
    pool: asyncpg.Pool = services(request).pool
    actor = await find_published_actor(pool, request.path_params["username"])
    if actor is None:
        return _not_found()
    outbox_uri = actor["outbox_url"] or f"{actor['uri']}/outbox"
    public_only = """actor_id = $1 AND local AND approval_state = 'published'
                     AND visibility IN ('public', 'unlisted')"""
    if wants_outbox_head(request):
        total = await pool.fetchval(f"SELECT count(*) FROM statuses WHERE {public_only}", actor["id"])
        return activity_json(outbox_head(outbox_uri, total, last=True))
    cursor = outbox_cursor(request)
    ids = [
        r["id"]
        for r in await pool.fetch(
            f"""SELECT id FROM statuses WHERE {public_only} AND ($2::bigint IS NULL OR id < $2)
                 ORDER BY id DESC LIMIT $3""",
            actor["id"],
            cursor,
            PAGE_SIZE,
        )
    ]
    bundles = await load_statuses(pool, ids)
    urls: LocalUrls = services(request).urls
    own_replies = await replies.self_replies(pool, [i for i in ids if i in bundles and bundles[i].reblog is None])
    items = [_activity_of(bundles[i], urls, own_replies) for i in ids if i in bundles]
    for item in items:
        item.pop("@context", None)
    return activity_json(outbox_page(outbox_uri, cursor, items, ids))


def wants_outbox_head(request: Request) -> bool:
    """A request for the outbox collection itself rather than one of its pages."""
    return "page" not in request.query_params and "max_id" not in request.query_params


def outbox_head(outbox_uri: str, total: int, *, last: bool) -> dict[str, Any]:
    """The OrderedCollection of an outbox: its size and a link to its first page (and, with `last`, to
    its last, as Mastodon's actor outboxes have)."""
    head: dict[str, Any] = {
        "@context": CONTEXT,
        "id": outbox_uri,
        "type": "OrderedCollection",
        "totalItems": int(total),
        "first": f"{outbox_uri}?page=true",
    }
    if last:
        head["last"] = f"{outbox_uri}?min_id=0&page=true"
    return head


def outbox_cursor(request: Request) -> int | None:
    """The `max_id` of an outbox page request (None: the first page); one that is not an id is a 400."""
    text = request.query_params.get("max_id")
    if not text:
        return None
    max_id = parse_cursor(text)
    if max_id is None:
        raise HTTPException(400, "max_id must be an id")
    return max_id


def outbox_page(outbox_uri: str, cursor: int | None, items: list[dict[str, Any]], ids: list[int]) -> dict[str, Any]:
    """An OrderedCollectionPage of an outbox, newest first; `ids` are the row ids the items came from
    (a full page links to the next one)."""
    page: dict[str, Any] = {
        "@context": CONTEXT,
        "id": f"{outbox_uri}?page=true" + (f"&max_id={cursor}" if cursor else ""),
        "type": "OrderedCollectionPage",
        "partOf": outbox_uri,
        "orderedItems": items,
    }
    if len(ids) == PAGE_SIZE:
        page["next"] = f"{outbox_uri}?max_id={ids[-1]}&page=true"
    return page


routes: list[BaseRoute] = [
    Route("/users/{username}/statuses/{status_id}", status_object, methods=["GET", "HEAD"]),
    Route("/users/{username}/statuses/{status_id}/activity", status_activity, methods=["GET", "HEAD"]),
    Route("/users/{username}/statuses/{status_id}/replies", status_replies, methods=["GET", "HEAD"]),
    Route("/users/{username}/outbox", outbox, methods=["GET", "HEAD"]),
]
