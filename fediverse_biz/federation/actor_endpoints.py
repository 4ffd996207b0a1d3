"""Door 3, read side: actor documents and their collections (followers, following, featured, and the
instance actor's empty outbox).

`/users/{name}` (people, organizations), `/c/{name}` (community groups) and `/actor` (the instance
actor) answer ActivityPub JSON when the Accept header asks for it and a small HTML page otherwise.
Actor documents stay readable without a signature even once authorized fetch is verified: peers
need our keys before they can sign anything to us (https://docs.joinmastodon.org/spec/activitypub/,
"Secure mode"). A Signature header on these GETs never decides the answer; once the response is sent,
federation/fetch_reach.py verifies it only to note which server fetched the actor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Final
from urllib.parse import quote

import asyncpg
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.activitypub.actors import actor_to_ap
from fediverse_biz.activitypub.context import CONTEXT
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.core.ids import parse_id
from fediverse_biz.federation import fetch_reach
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls

__all__ = [
    "AP_CONTENT_TYPE",
    "PAGE_SIZE",
    "activity_json",
    "prefers_activity_json",
    "routes",
]

AP_CONTENT_TYPE: Final = "application/activity+json; charset=utf-8"
PAGE_SIZE: Final = 40
# Types that get the AS2 document. application/json too: Mastodon registers it as the same format
# (config/initializers/mime_types.rb), and nothing that asks for JSON wants our HTML.
_AS2_TYPES: Final = frozenset({"application/activity+json", "application/ld+json", "application/json"})
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml", "text/*", "*/*"})
_PEOPLE: Final = ("Person", "Organization", "Application", "Service")
_GROUPS: Final = ("Group",)
_HEADERS: Final = {"Vary": "Accept", "Access-Control-Allow-Origin": "*"}


# ---- content negotiation -----------------------------------------------------------------------


def prefers_activity_json(accept: str | None) -> bool:
    """Whether an Accept header asks for ActivityStreams rather than HTML.

    Proper parsing: media ranges with parameters (`profile="…"`) and q-values. AS2 wins when its best
    q is positive and at least the best q of anything HTML would satisfy; wildcards alone mean a
    browser or curl, which get HTML (as Rails' respond_to does for Mastodon).
    """
    best_as2 = best_html = 0.0
    for media_range in _split_unquoted(accept or "", ","):
        media_type, *params = _split_unquoted(media_range, ";")
        media_type = media_type.strip().lower()
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    quality = 0.0  # RFC 9110 qvalue grammar: an unparsable weight is no weight
        if media_type in _AS2_TYPES:
            best_as2 = max(best_as2, quality)
        elif media_type in _HTML_TYPES:
            best_html = max(best_html, quality)
    return best_as2 > 0 and best_as2 >= best_html


def _split_unquoted(text: str, separator: str) -> list[str]:
    """Split at `separator` outside double quotes (a profile URI list may be quoted)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()] or [""]


def activity_json(doc: Mapping[str, Any], status_code: int = 200) -> JSONResponse:
    """An AS2 response: `application/activity+json`, the type Mastodon requires of what it fetches
    (`JsonLdHelper#valid_activitypub_content_type?`, Mastodon's `app/helpers/jsonld_helper.rb`)."""
    return JSONResponse(doc, status_code=status_code, media_type=AP_CONTENT_TYPE, headers=_HEADERS)


def _failure(request: Request, status_code: int, message: str) -> Response:
    if prefers_activity_json(request.headers.get("accept")):
        return JSONResponse({"error": message}, status_code=status_code, headers=_HEADERS)
    return PlainTextResponse(message, status_code=status_code, headers=_HEADERS)


# ---- lookups -----------------------------------------------------------------------------------


async def _actor_or_failure(request: Request, types: Sequence[str]) -> asyncpg.Record | Response:
    row = await accounts.find_published_actor(services(request).pool, request.path_params["username"], types=types)
    if row is None:
        return _failure(request, 404, "no such actor")
    if row["suspended_at"] is not None:
        return _failure(request, 410, "actor suspended")
    return row


# ---- actor documents ---------------------------------------------------------------------------


async def show_person(request: Request) -> Response:
    if not prefers_activity_json(request.headers.get("accept")):  # browsers, feed readers: web/pages.py, web/feeds.py
        page = services(request).urls.profile_page(quote(request.path_params["username"]))
        return RedirectResponse(page, 302, _HEADERS)  # /users/x.atom -> /@x.atom too; 404/410 pages are the booth's
    row = await _actor_or_failure(request, _PEOPLE)
    if isinstance(row, Response):
        return row
    # A server that fetched the account holds it: its deletion must reach that server (core/reach.py).
    return fetch_reach.note_fetch(request, await _render_actor(request, row), row)


async def show_group(request: Request) -> Response:
    """The Group's AS2 document; app.py's `/c/{name}` route sends everyone else to the community page."""
    row = await _actor_or_failure(request, _GROUPS)
    return row if isinstance(row, Response) else await _render_actor(request, row)


async def show_instance_actor(request: Request) -> Response:
    row = await services(request).pool.fetchrow("SELECT * FROM actors WHERE is_instance_actor")
    if row is None:  # the lifespan creates it; only a broken database gets here
        return _failure(request, 404, "no instance actor")
    return await _render_actor(request, row)


async def _render_actor(request: Request, row: asyncpg.Record) -> Response:
    urls: LocalUrls = services(request).urls
    if not prefers_activity_json(request.headers.get("accept")):
        return HTMLResponse(_profile_html(row, services(request).settings), headers=_HEADERS)
    moved_to = None
    if row["moved_to_actor_id"] is not None:
        moved_to = await services(request).pool.fetchval(
            "SELECT uri FROM actors WHERE id = $1", row["moved_to_actor_id"]
        )
    return activity_json(actor_to_ap(row, urls, moved_to=moved_to))


def _profile_html(row: asyncpg.Record, settings: Settings) -> str:
    """A stand-in profile page until web/ renders real ones: valid HTML5 that points at the AS2 document.

    `note` of a local actor is HTML we rendered ourselves, so it goes in as is; everything else is escaped.
    """
    name = escape(row["display_name"] or row["username"])
    handle = escape(f"@{row['username']}@{settings.domain}")
    uri = escape(row["uri"], quote=True)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{name} ({handle})</title>\n"
        f'<link rel="alternate" type="application/activity+json" href="{uri}">\n'
        "</head>\n<body>\n<main>\n"
        f"<h1>{name}</h1>\n<p>{handle}</p>\n<div>{row['note']}</div>\n"
        "</main>\n</body>\n</html>\n"
    )


# ---- collections -------------------------------------------------------------------------------

# follower -> followed; suspended accounts are left out of both the count and the pages.
_FOLLOWERS_SQL: Final = (
    "FROM follows f JOIN actors a ON a.id = f.actor_id WHERE f.target_actor_id = $1 AND a.suspended_at IS NULL"
)
_FOLLOWING_SQL: Final = (
    "FROM follows f JOIN actors a ON a.id = f.target_actor_id WHERE f.actor_id = $1 AND a.suspended_at IS NULL"
)


async def followers(request: Request) -> Response:
    # A hall's members in the shape Lemmy reads a community's followers: a `Collection` with
    # `totalItems` and an `items` array, which Lemmy requires and wants empty (GroupFollowers, LemmyNet/lemmy
    # crates/apub/apub/src/protocol/collections/group_followers.rs; assets/lemmy/collections/
    # group_followers.json). Lemmy takes the member count from it; an OrderedCollection it refuses.
    group = request.url.path.startswith("/c/")
    return await _graph_collection(request, "followers_url", _FOLLOWERS_SQL, lemmy_shape=group)


async def following(request: Request) -> Response:
    return await _graph_collection(request, "following_url", _FOLLOWING_SQL)


async def _graph_collection(request: Request, url_column: str, from_sql: str, *, lemmy_shape: bool = False) -> Response:
    """Mastodon's shape: the collection names its size and its first page; pages list actor URIs.
    `lemmy_shape`: an unordered `Collection` with an empty `items` (see `followers`), its pages
    `CollectionPage`s of `items`."""
    types = _GROUPS if request.url.path.startswith("/c/") else _PEOPLE
    row = await _actor_or_failure(request, types)
    if isinstance(row, Response):
        return row
    pool: asyncpg.Pool = services(request).pool
    collection_id: str = row[url_column]
    total: int = await pool.fetchval(f"SELECT count(*) {from_sql}", row["id"])
    kind, items_key = ("Collection", "items") if lemmy_shape else ("OrderedCollection", "orderedItems")
    page_param = request.query_params.get("page")
    if page_param is None:
        head: dict[str, Any] = {"@context": CONTEXT, "id": collection_id, "type": kind, "totalItems": total}
        if lemmy_shape:
            head["items"] = []
        head["first"] = f"{collection_id}?page=1"
        return activity_json(head)
    # A page number is spelled as an id is (core.ids), so '²' and '007' are refused like '0' and '-1'.
    page = parse_id(page_param)
    if page is None or page > 1_000_000:
        return _failure(request, 400, "page must be a positive whole number")
    uris = await pool.fetch(
        f"SELECT a.uri {from_sql} ORDER BY f.id DESC LIMIT {PAGE_SIZE} OFFSET $2",
        row["id"],
        (page - 1) * PAGE_SIZE,
    )
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "id": f"{collection_id}?page={page}",
        "type": f"{kind}Page",
        "totalItems": total,
        "partOf": collection_id,
        items_key: [r["uri"] for r in uris],
    }
    if page * PAGE_SIZE < total:
        doc["next"] = f"{collection_id}?page={page + 1}"
    if page > 1:
        doc["prev"] = f"{collection_id}?page={page - 1}"
    return activity_json(doc)


async def instance_outbox(request: Request) -> Response:
    """The instance actor advertises an outbox and posts nothing: an empty OrderedCollection, the shape
    of Lemmy's empty outboxes (LemmyNet/lemmy crates/apub/apub/assets/lemmy/collections/person_outbox.json), rather
    than a 404 for a URL our own actor document names."""
    row = await services(request).pool.fetchrow("SELECT uri, outbox_url FROM actors WHERE is_instance_actor")
    if row is None:  # the lifespan creates it; only a broken database gets here
        return _failure(request, 404, "no instance actor")
    outbox_uri = row["outbox_url"] or f"{row['uri']}/outbox"
    return activity_json(
        {"@context": CONTEXT, "id": outbox_uri, "type": "OrderedCollection", "totalItems": 0, "orderedItems": []}
    )


async def featured(request: Request) -> Response:
    """Pinned posts (toot:featured). Only public and unlisted ones: a followers-only post must not
    reach anyone through this unauthenticated collection (docs/architecture.md, "Security invariants")."""
    types = _GROUPS if request.url.path.startswith("/c/") else _PEOPLE
    row = await _actor_or_failure(request, types)
    if isinstance(row, Response):
        return row
    # A hall pins its members' posts (business/hall_moderation.py pin), not its own.
    uris = await services(request).pool.fetch(
        """SELECT s.uri FROM pinned_statuses p JOIN statuses s ON s.id = p.status_id
            WHERE p.actor_id = $1 AND (s.actor_id = $1 OR ($2 AND s.community_id = $1))
              AND s.visibility IN ('public', 'unlisted')
              AND s.approval_state = 'published' AND s.reblog_of_id IS NULL
            ORDER BY p.id DESC""",
        row["id"],
        types == _GROUPS,
    )
    return activity_json(
        {
            "@context": CONTEXT,
            "id": row["featured_url"],
            "type": "OrderedCollection",
            "totalItems": len(uris),
            "orderedItems": [r["uri"] for r in uris],
        }
    )


_READ = ["GET", "HEAD"]
routes: list[BaseRoute] = [
    Route("/actor", show_instance_actor, methods=_READ),
    Route("/actor/outbox", instance_outbox, methods=_READ),
    Route("/users/{username}", show_person, methods=_READ),
    Route("/users/{username}/followers", followers, methods=_READ),
    Route("/users/{username}/following", following, methods=_READ),
    Route("/users/{username}/collections/featured", featured, methods=_READ),
    Route("/c/{username}/followers", followers, methods=_READ),
    Route("/c/{username}/following", following, methods=_READ),
    Route("/c/{username}/collections/featured", featured, methods=_READ),
]
