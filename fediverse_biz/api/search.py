"""GET /api/v2/search (https://docs.joinmastodon.org/methods/search/): accounts, statuses and hashtags.

With `resolve=true` and a user token, a query naming something we do not know yet is looked up on
the network — `user@domain` through WebFinger, an https URL by fetching it (signed by the instance
actor, through the SSRF-safe client) — and stored, so the client can follow or reply at once. A
failed lookup is an empty result, never an error, as on Mastodon.

/api/v1/search is not served: Mastodon removed it in 3.0 and every client we know (Mastodon.py for
servers >= 2.4.1, toot, Tusky, Elk) uses v2.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.activitypub.activities import types
from fediverse_biz.activitypub.actors import ACTOR_TYPES, authority
from fediverse_biz.activitypub.notes import NOTE_TYPES, note_from_ap
from fediverse_biz.api import entities
from fediverse_biz.api.auth import Viewer, optional
from fediverse_biz.api.errors import ApiError
from fediverse_biz.api.params import query_params
from fediverse_biz.api.statuses import ids_of, render, visible_ids
from fediverse_biz.api.timelines import tag_entity
from fediverse_biz.business import offers
from fediverse_biz.core import remote_statuses, search
from fediverse_biz.federation.remote_actors import RemoteActorError, instance_signer, resolve_actor, resolve_handle
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.net.fetch import FetchError, fetch_ap_object
from fediverse_biz.services import services

log = logging.getLogger(__name__)

KINDS = ("accounts", "statuses", "hashtags")
DEFAULT_LIMIT, MAX_LIMIT = 20, 40
MAX_OFFSET = 10_000
RESOLVE_NEEDS_LOGIN = "Search queries that resolve remote resources are not supported without authentication"
OFFSET_NEEDS_LOGIN = "Search queries pagination is not supported without authentication"
_URL_RE = re.compile(r"^https?://\S+$")


async def search_v2(request: Request) -> Response:
    viewer = await optional(request, "read:search")
    signed_in = viewer is not None and viewer.actor_id is not None and viewer.user_id is not None
    params = query_params(request)
    query = (params.get("q") or "").strip()
    kind = params.get("type") or None
    resolve = params.get_bool("resolve")
    limit = _clamp(params.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
    offset = params.get_int("offset", 0, 0, MAX_OFFSET)
    if resolve and not signed_in:
        raise ApiError(401, RESOLVE_NEEDS_LOGIN)
    if offset and not signed_in:
        raise ApiError(401, OFFSET_NEEDS_LOGIN)
    if kind is not None and kind not in KINDS:
        raise ApiError(422, f"Validation failed: type must be one of {', '.join(KINDS)}")
    account = params.get("account_id")
    account_id = ids_of([account], "account_id")[0] if account else None
    viewer_id = viewer.actor_id if signed_in and viewer is not None else None

    found: dict[str, list[Any]] = {"accounts": [], "statuses": [], "hashtags": []}
    if query:
        found = await _find(request, viewer if signed_in else None, query, kind, resolve, limit, offset, account_id)
        found["accounts"] = await entities.accounts(services(request).pool, found["accounts"], services(request).urls)
        visible = await visible_ids(services(request).pool, found["statuses"], viewer_id)
        found["statuses"] = await render(request, [i for i in found["statuses"] if i in visible], viewer_id)
        found["hashtags"] = [tag_entity(request, r["name"], r["id"]) for r in found["hashtags"]]
    return JSONResponse(found)


def _clamp(text: str | None, default: int, maximum: int) -> int:
    try:
        value = int((text or "").strip())
    except ValueError:
        return default
    return min(value, maximum) if value > 0 else default


async def _find(
    request: Request,
    viewer: Viewer | None,
    query: str,
    kind: str | None,
    resolve: bool,
    limit: int,
    offset: int,
    account_id: int | None,
) -> dict[str, list[Any]]:
    """Rows (accounts), ids (statuses) and tag rows (hashtags) for the query."""
    pool = services(request).pool
    viewer_id = viewer.actor_id if viewer is not None else None
    result: dict[str, list[Any]] = {"accounts": [], "statuses": [], "hashtags": []}
    if _URL_RE.match(query):  # a URL names one thing: a status or an account, known or fetched now
        status_id = await search.status_by_url(pool, query, viewer_id)
        actor = await search.actor_by_url(pool, query) if status_id is None else None
        if status_id is None and actor is None and resolve and offset == 0:
            status_id, actor = await _fetch_url(request, query)
        if status_id is not None and kind in (None, "statuses"):
            result["statuses"] = [status_id]
        if actor is not None and kind in (None, "accounts"):
            result["accounts"] = [actor]
        return result

    settings = services(request).settings
    local_domains = tuple({settings.domain.lower(), settings.hostname.lower()})
    has_at = "@" in query.lstrip("@")
    if kind in (None, "accounts") and not query.startswith("#"):
        rows = await search.accounts(
            pool,
            query,
            viewer_id=viewer_id,
            local_domains=local_domains,
            limit=limit,
            offset=offset,
            following=query_params(request).get_bool("following"),
        )
        if resolve and has_at and offset == 0:
            resolved = await _resolve_handle(request, query, local_domains)
            if resolved is not None:
                rows = [resolved, *(r for r in rows if r["id"] != resolved["id"])][:limit]
        result["accounts"] = rows
    if kind in (None, "hashtags") and not has_at:
        result["hashtags"] = await search.hashtags(pool, query, limit=limit, offset=offset)
    if kind in (None, "statuses") and viewer_id is not None and not query.startswith("#") and not has_at:
        result["statuses"] = await search.statuses(
            pool, query, viewer_id=viewer_id, limit=limit, offset=offset, account_id=account_id
        )
    return result


def _scheme(request: Request) -> str:
    settings = services(request).settings
    return str(settings.scheme) if settings.is_local_development else "https"


async def _resolve_handle(request: Request, query: str, local_domains: tuple[str, ...]) -> asyncpg.Record | None:
    handle = search.parse_handle(query, local_domains)
    if handle is None or not handle.domain:
        return None
    state = services(request)
    try:
        row: asyncpg.Record = await resolve_handle(
            state.pool,
            state.http,
            f"{handle.username}@{handle.domain}",
            signer=instance_signer(state.instance_actor),
            scheme=_scheme(request),
        )
    except (RemoteActorError, ValueError) as exc:
        log.info("search: %s not resolved: %s", query, exc)
        return None
    return row if row["suspended_at"] is None else None


async def _fetch_url(request: Request, url: str) -> tuple[int | None, asyncpg.Record | None]:
    """Fetch an object we do not know: an actor is stored through resolve_actor, a post through
    core.remote_statuses. Our own URLs are never fetched (what is not in our database does not exist)."""
    state = services(request)
    if authority(url) == authority(state.settings.base_url):
        return None, None
    signer = instance_signer(state.instance_actor)
    try:
        document = await fetch_ap_object(state.http, url, signer=signer)
        kinds = set(types(document))
        if kinds & set(ACTOR_TYPES):
            return None, await resolve_actor(state.pool, state.http, document["id"], signer=signer)
        if kinds & set(NOTE_TYPES):
            return await _store_note(request, document), None
    except (FetchError, RemoteActorError, ValueError) as exc:
        log.info("search: %s not resolved: %s", url, exc)
    return None, None


async def _store_note(request: Request, document: dict[str, Any]) -> int:
    """Store a fetched post by an author on the post's own host (the document's id is the URL it came
    from; an author elsewhere could not have published it there)."""
    state = services(request)
    signer = instance_signer(state.instance_actor)
    author_uri = note_from_ap(document, actor_followers_url=None).attributed_to
    if authority(author_uri) != authority(document["id"]):
        raise ValueError(f"{document['id']} is attributed to {author_uri}, on another host")
    author = await resolve_actor(state.pool, state.http, author_uri, signer=signer)
    parsed = note_from_ap(document, actor_followers_url=author["followers_url"])
    async with state.pool.acquire() as conn, conn.transaction():
        return await remote_statuses.store_remote_note(conn, parsed, author, state.urls, index=offers.index_remote)


routes: list[BaseRoute] = [
    Route("/api/v2/search", search_v2, methods=["GET"]),
]
