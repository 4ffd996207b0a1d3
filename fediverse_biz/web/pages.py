"""The company "booth" `/@{username}` and the post permalink `/@{username}/{id}`.

Both are read as an anonymous visitor (viewer None in core.timelines / core.visibility), so they show
exactly what the world may see: public and unlisted posts that are published — never followers-only,
direct, held or rejected ones. Replies on the booth are left out (self-threads stay), as on
Mastodon's default profile tab; boosts too: the booth shows what the company itself says.

Unknown accounts get a 404 page, suspended and deleted ones a 410 page. A post id that is not an id
(core.ids) is a 404 page too, and an `older` link whose max_id is not one a 400 page. Accounts that
opted out of discovery still have a booth, as on Mastodon, but tell search engines not to index it.
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.business._profile_fields import FACT_KEY
from fediverse_biz.core import cards, domain_blocks, hydrate, timelines
from fediverse_biz.core.accounts import USERNAME_RE, find_published_actor
from fediverse_biz.core.hydrate import account_stats
from fediverse_biz.core.ids import parse_id
from fediverse_biz.core.paging import Page
from fediverse_biz.core.visibility import is_public
from fediverse_biz.services import services
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web import company
from fediverse_biz.web.mail_box import mail_box
from fediverse_biz.web.rendering import NO_STORE, Feed, Meta, error_page, excerpt, max_id_or_error, render
from fediverse_biz.web.views import AuthorView, StatusView, author_view, status_view, summary_of

BOOTH_PAGE_SIZE: Final = 20
MAX_PINNED: Final = 5  # Mastodon's max_pinned_statuses
_BOOTH_FILTER: Final = timelines.AccountFilter(exclude_replies=True, exclude_reblogs=True)
_GONE = ("Account gone", "This account has been suspended or deleted.")
_UNKNOWN = ("Not found", "There is no account with this name here.")


async def published_actor(pool: asyncpg.Pool, username: str) -> asyncpg.Record | None:
    """The local account a page, feed or form names (suspended ones included, for their 410).

    Names that cannot be usernames are answered without a query: a path may hold anything, a NUL
    byte included, which PostgreSQL refuses in text.
    """
    if not USERNAME_RE.fullmatch(username):
        return None
    return await find_published_actor(pool, username)


async def _shown_actor(request: Request) -> asyncpg.Record | Response:
    """The local account named in the path, or the 404/410 page (Group actors live at /c/{name})."""
    actor = await published_actor(services(request).pool, request.path_params["username"])
    if actor is None:
        return await error_page(request, 404, *_UNKNOWN)
    if actor["suspended_at"] is not None:
        return await error_page(request, 410, *_GONE)
    return actor


async def _status_views(pool: asyncpg.Pool, ids: list[int], urls: LocalUrls, domain: str) -> list[StatusView]:
    bundles = await hydrate.load_statuses(pool, ids)
    domains = list({b.author["domain"] for b in bundles.values() if b.author["domain"]})
    blocked = await domain_blocks.blocked_among(pool, domains)
    previews = await cards.cards_of(pool, list(bundles))
    return [
        status_view(bundles[i], urls, domain, previews.get(i))
        for i in ids
        # Replies from suspended accounts, or from silenced or suspended servers, stay out of public
        # pages, as they stay out of public timelines (core/timelines.py _AUTHOR_OK).
        if i in bundles and bundles[i].author["suspended_at"] is None and bundles[i].author["domain"] not in blocked
    ]


def _feeds(urls: LocalUrls, author: AuthorView) -> tuple[Feed, ...]:
    page = urls.profile_page(author.username)
    return (
        Feed("application/atom+xml", f"{author.name} (Atom)", f"{page}.atom"),
        Feed("application/rss+xml", f"{author.name} (RSS)", f"{page}.rss"),
    )


def _noindex(actor: asyncpg.Record) -> bool:
    return not (actor["discoverable"] and actor["indexable"])


async def booth(request: Request, *, mail: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    """The booth; `mail` is the e-mail box's state when a subscription form is answered
    (web/mail_pages.py), shown with the booth around it."""
    actor = await _shown_actor(request)
    if isinstance(actor, Response):
        return actor
    urls: LocalUrls = services(request).urls
    if actor["actor_type"] == "Group":
        return RedirectResponse(urls.profile_page(actor["username"], "Group"), status_code=302)
    pool: asyncpg.Pool = services(request).pool
    domain: str = services(request).settings.domain
    max_id = await max_id_or_error(request)
    if isinstance(max_id, Response):
        return max_id
    pinned_ids: list[int] = []
    if max_id is None:  # pinned posts head the first page only
        pinned_ids = await timelines.account(
            pool, None, actor["id"], Page(limit=MAX_PINNED), timelines.AccountFilter(pinned=True)
        )
    recent_ids = await timelines.account(
        pool, None, actor["id"], Page(max_id=max_id, limit=BOOTH_PAGE_SIZE), _BOOTH_FILTER
    )
    stats = (await account_stats(pool, [actor["id"]])).get(actor["id"])
    author = author_view(actor, urls, domain)
    bio = html_to_text(actor["note"] or "")
    profile = await company.company_of(pool, actor)
    canonical = urls.profile_page(actor["username"])
    context: dict[str, Any] = {
        "actor": actor,
        "author": author,
        "note": actor["note"] or "",
        # Company facts mirrored into the Mastodon fields are shown once, in the company section.
        "fields": [f for f in (actor["fields"] or []) if isinstance(f, dict) and not (profile and f.get(FACT_KEY))],
        "company": profile,
        "counts": {
            "posts": int(stats["statuses_count"]) if stats else 0,
            "followers": int(stats["followers_count"]) if stats else 0,
            "following": int(stats["following_count"]) if stats else 0,
        },
        "pinned": await _status_views(pool, pinned_ids, urls, domain),
        "recent": await _status_views(pool, recent_ids, urls, domain),
        "older": f"{canonical}?max_id={recent_ids[-1]}" if len(recent_ids) == BOOTH_PAGE_SIZE else None,
        "remote_follow_action": f"{canonical}/remote_follow",
        "remote_follow_error": None,
        "mail": await mail_box(request, actor, **(mail or {})),
    }
    meta = Meta(
        title=f"{author.name} ({author.handle})",
        description=excerpt(bio or (profile.summary if profile else "") or f"{author.name} on {domain}"),
        url=canonical if max_id is None else f"{canonical}?max_id={max_id}",
        image=author.avatar,
        image_alt=author.name,
        og_type="profile",
        activity_json=actor["uri"],
        feeds=_feeds(urls, author),
        noindex=_noindex(actor) or max_id is not None,
    )
    return await render(request, "booth.html", context, meta=meta, status_code=status_code,
                        headers=NO_STORE if mail else None)  # fmt: skip


async def permalink(request: Request) -> Response:
    actor = await _shown_actor(request)
    if isinstance(actor, Response):
        return actor
    pool: asyncpg.Pool = services(request).pool
    urls: LocalUrls = services(request).urls
    domain: str = services(request).settings.domain
    status_id = parse_id(request.path_params["status_id"])
    row = None
    if status_id is not None:
        row = await pool.fetchrow(
            "SELECT * FROM statuses WHERE id = $1 AND actor_id = $2 AND local", status_id, actor["id"]
        )
    if row is None:
        uri = urls.status(actor["uri"], status_id or 0)
        if status_id is not None and await pool.fetchval("SELECT 1 FROM tombstones WHERE uri = $1", uri):
            return await error_page(request, 410, "Post deleted", "This post has been deleted.")
        return await error_page(request, 404, "Not found", "There is no such post here.")
    # Followers-only, direct, held and rejected posts are answered exactly like missing ones, so a
    # guessed id tells nothing about what exists (docs/architecture.md, "Security invariants").
    if not is_public(row) or row["reblog_of_id"] is not None:
        return await error_page(request, 404, "Not found", "There is no such post here.")
    [shown] = await _status_views(pool, [row["id"]], urls, domain)
    ancestor_ids, descendant_ids = await timelines.context(pool, None, row["id"])
    author = author_view(actor, urls, domain)
    first_image = next((m for m in shown.media if m.embedded), None)
    meta = Meta(
        title=f"{author.name}: {excerpt(summary_of(shown), 70)}",
        description=excerpt(shown.text if not shown.spoiler else summary_of(shown)),
        url=shown.url,
        image=first_image.url if first_image and not shown.sensitive else author.avatar,
        image_alt=first_image.description if first_image and not shown.sensitive else author.name,
        og_type="article",
        card="summary_large_image" if first_image and not shown.sensitive else "summary",
        activity_json=shown.uri,
        feeds=_feeds(urls, author),
        # Unlisted means "not in discovery": keep it out of search engines too.
        noindex=_noindex(actor) or row["visibility"] != "public",
    )
    context = {
        "author": author,
        "status": shown,
        "ancestors": await _status_views(pool, ancestor_ids, urls, domain),
        "replies": await _status_views(pool, descendant_ids, urls, domain),
    }
    return await render(request, "status.html", context, meta=meta)


routes: list[BaseRoute] = [
    Route("/@{username}", booth, methods=["GET", "HEAD"]),
    Route("/@{username}/{status_id}", permalink, methods=["GET", "HEAD"]),
]
