"""Hall pages: the community page `/c/{name}`, its Atom feed `/c/{name}.atom`, and the list `/communities`.

`/c/{name}` is also the Group's ActivityPub id: its route (app.py, `hall`) sends AS2 requests to
federation/actor_endpoints.show_group and every other request here (`group_html`), feed readers' `.atom`
included. What a page shows is what the world may see: the hall's description, rules, tags, moderators and
member count, its pinned and recent threads — public, published posts only (core/visibility's rule for
anonymous visitors), never followers-only or direct ones. A Group actor without a hall row (created by other
means) gets a page from its actor document alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.business import communities, directory
from fediverse_biz.business.sectors import SECTORS, check_sector
from fediverse_biz.core.accounts import find_published_actor
from fediverse_biz.core.paging import Page
from fediverse_biz.services import services
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.feeds import ATOM_TYPE, atom_feed
from fediverse_biz.web.inputs import page_query
from fediverse_biz.web.pages import _status_views
from fediverse_biz.web.rendering import Feed, Meta, error_page, excerpt, max_id_or_error, render
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL
from fediverse_biz.web.views import author_view

__all__ = ["group_html", "routes"]

THREADS_PAGE: Final = 20
FEED_SIZE: Final = 20
LIST_SIZE: Final = 40
_FEED_HEADERS: Final = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}


async def _group(request: Request, name: str) -> asyncpg.Record | Response:
    pool: asyncpg.Pool = services(request).pool
    actor = await find_published_actor(pool, name, types=("Group",)) if communities.valid_name(name) else None
    if actor is None:
        return await error_page(request, 404, "Not found", "There is no hall with this name here.")
    if actor["suspended_at"] is not None:
        return await error_page(request, 410, "Hall gone", "This hall has been closed.")
    return actor


async def group_html(request: Request) -> Response:
    """Everything but AS2 at `/c/{name}`: the page, or the Atom feed for `/c/{name}.atom`."""
    name = str(request.path_params["username"])
    if name.endswith(".atom"):
        return await _atom(request, name.removesuffix(".atom"))
    return await _page(request, name)


async def _page(request: Request, name: str) -> Response:
    actor = await _group(request, name)
    if isinstance(actor, Response):
        return actor
    pool: asyncpg.Pool = services(request).pool
    urls: LocalUrls = services(request).urls
    domain: str = services(request).settings.domain
    hall = await communities.get_hall(pool, actor["id"])
    max_id = await max_id_or_error(request)
    if isinstance(max_id, Response):
        return max_id
    thread_ids = await communities.hall_threads(pool, actor["id"], Page(max_id=max_id, limit=THREADS_PAGE))
    pinned_ids = (
        [
            r["status_id"]
            for r in await pool.fetch(
                """SELECT p.status_id FROM pinned_statuses p JOIN statuses s ON s.id = p.status_id
                WHERE p.actor_id = $1 AND s.community_id = $1 AND s.visibility = 'public'
                  AND s.approval_state = 'published' ORDER BY p.id DESC""",
                actor["id"],
            )
        ]
        if max_id is None
        else []
    )
    author = author_view(actor, urls, domain)
    canonical = urls.profile_page(actor["username"], "Group")
    description = hall.description if hall else html_to_text(actor["note"] or "")
    context: dict[str, Any] = {
        "author": author,
        "hall": hall,
        "note": "" if hall else (actor["note"] or ""),
        "sector_label": SECTORS.get(hall.sector) if hall and hall.sector else None,
        "moderators": [author_view(m, urls, domain) for m in await communities.moderators(pool, actor["id"])],
        "members": await communities.members_count(pool, actor["id"]),
        "pinned": await _status_views(pool, pinned_ids, urls, domain),
        "threads": await _status_views(pool, thread_ids, urls, domain),
        "older": f"{canonical}?max_id={thread_ids[-1]}" if len(thread_ids) == THREADS_PAGE else None,
        "remote_follow_action": f"{urls.profile_page(actor['username'])}/remote_follow",
        "remote_follow_error": None,
    }
    meta = Meta(
        title=f"{author.name} ({author.handle})",
        description=excerpt(description or f"A hall on {domain}"),
        url=canonical if max_id is None else f"{canonical}?max_id={max_id}",
        image=author.avatar,
        image_alt=author.name,
        activity_json=actor["uri"],
        feeds=(Feed("application/atom+xml", f"{author.name} (Atom)", f"{canonical}.atom"),),
        noindex=not (actor["discoverable"] and actor["indexable"]) or max_id is not None,
    )
    return await render(request, "community.html", context, meta=meta)


async def _atom(request: Request, name: str) -> Response:
    pool: asyncpg.Pool = services(request).pool
    actor = await find_published_actor(pool, name, types=("Group",)) if communities.valid_name(name) else None
    if actor is None:
        return Response("no such hall\n", status_code=404, media_type="text/plain")
    if actor["suspended_at"] is not None:
        return Response("hall gone\n", status_code=410, media_type="text/plain")
    urls: LocalUrls = services(request).urls
    domain: str = services(request).settings.domain
    ids = await communities.hall_threads(pool, actor["id"], Page(limit=FEED_SIZE))
    threads = await _status_views(pool, ids, urls, domain)
    canonical = urls.profile_page(actor["username"], "Group")
    updated = actor["updated_at"] or datetime.now(UTC)
    body = atom_feed(
        author_view(actor, urls, domain), actor["uri"], threads, self_url=f"{canonical}.atom", updated=updated
    )
    return Response(body, media_type=ATOM_TYPE, headers=_FEED_HEADERS)


async def community_list(request: Request) -> Response:
    """`/communities`: this server's halls (filtered by sector and title), then groups known elsewhere."""
    pool: asyncpg.Pool = services(request).pool
    urls: LocalUrls = services(request).urls
    domain: str = services(request).settings.domain
    filters = page_query(request)  # storable text, else the 400 page (web/inputs.py)
    sector_text = (filters.get("sector") or "").strip()
    try:
        sector = check_sector(sector_text) if sector_text else None
    except ValueError:
        sector = None  # a page is for people: an unknown code is ignored, not an error
    q = (filters.get("q") or "").strip()[:100]
    q = q if q.isprintable() else ""
    halls = await communities.list_halls(pool, sector=sector, q=q or None, limit=LIST_SIZE)
    elsewhere = [] if sector or q else await directory.search(pool, actor_type="Group", order="new", limit=LIST_SIZE)
    entries = [
        {
            "author": author_view(h.actor, urls, domain),
            "hall": h,
            "sector_label": SECTORS.get(h.sector) if h.sector else None,
            "members": await communities.members_count(pool, h.id),
        }
        for h in halls
    ]
    context = {
        "entries": entries,
        "elsewhere": [author_view(a, urls, domain) for a in elsewhere if a["domain"] is not None],
        "sectors": SECTORS,
        "filters": {"sector": sector, "q": q},
    }
    query = urlencode({k: v for k, v in (("sector", sector), ("q", q)) if v})
    meta = Meta(
        title="Halls",
        description=f"Trade-fair halls on {domain}: communities anyone on the fediverse can join.",
        url=f"{urls.base}/communities" + (f"?{query}" if query else ""),
        image=urls.static(INSTANCE_THUMBNAIL),
        noindex=bool(query),
    )
    return await render(request, "communities.html", context, meta=meta)


# `/c/{name}` and `/c/{name}.atom` are routed in app.py (see above).
routes: list[BaseRoute] = [Route("/communities", community_list, methods=["GET", "HEAD"])]
