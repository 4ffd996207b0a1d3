"""`/directory`: the trade-fair catalogue — companies and people, filtered with a plain GET form.

The search is business/directory.py's, the same one `GET /api/v1/directory` uses, so the page and
the API list the same accounts: discoverable ones only, local and remote. Filters that are not valid
codes are ignored (and say so) rather than answered with an error: the page is for people.
Remote accounts link to their own server's page; their pictures are not loaded from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.business import directory
from fediverse_biz.business._offer_values import check_region
from fediverse_biz.business.sectors import COUNTRIES, SECTORS, check_country, check_sector
from fediverse_biz.services import services
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.company import CompanyView, companies_of
from fediverse_biz.web.inputs import PageInput, page_query
from fediverse_biz.web.rendering import Meta, excerpt, render
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL
from fediverse_biz.web.views import AuthorView, author_view

PAGE_SIZE: Final = 40  # Mastodon's directory page
MAX_PAGE: Final = 250  # deeper offsets are a crawler's, not a visitor's
MAX_QUERY: Final = 100
ACTOR_TYPES: Final = {"Organization": "Organizations", "Person": "People", "Group": "Communities"}
ORDERS: Final = {"active": "Recently active", "new": "Newest"}


@dataclass(frozen=True)
class Filters:
    sector: str | None = None
    country: str | None = None
    actor_type: str | None = None
    q: str | None = None
    local: bool = False
    region: str | None = None
    order: str = "active"
    page: int = 1

    def query(self, **changes: Any) -> str:
        values = {
            "sector": self.sector,
            "country": self.country,
            "type": self.actor_type,
            "q": self.q,
            "region": self.region,
            "local": "1" if self.local else None,
            "order": self.order if self.order != "active" else None,
            "page": self.page if self.page > 1 else None,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True)
class Entry:
    author: AuthorView
    company: CompanyView | None
    bio: str


def read_filters(params: PageInput) -> tuple[Filters, list[str]]:
    """The filters from the query string (web/inputs.py: storable text), and a note for each value that was ignored."""
    ignored: list[str] = []

    def code(name: str, check: Any) -> str | None:
        text = (params.get(name) or "").strip()
        if not text:
            return None
        try:
            return str(check(text))
        except ValueError:
            ignored.append(f"unknown {name} {text[:20]!r}")
            return None

    actor_type = (params.get("type") or "").strip() or None
    if actor_type is not None and actor_type not in ACTOR_TYPES:
        ignored.append(f"unknown type {actor_type[:20]!r}")
        actor_type = None
    order = params.get("order") or "active"
    order = order if order in ORDERS else "active"
    page_text = params.get("page") or "1"
    page = min(int(page_text), MAX_PAGE) if page_text.isascii() and page_text.isdigit() and len(page_text) < 6 else 1
    q = " ".join((params.get("q") or "").split())[:MAX_QUERY] or None
    local = (params.get("local") or "").lower() in ("1", "true", "on", "yes")
    filters = Filters(
        sector=code("sector", check_sector),
        country=code("country", check_country),
        actor_type=actor_type,
        q=q,
        local=local,
        order=order,
        page=max(page, 1),
        region=code("region", check_region),
    )
    return filters, ignored


async def _entries(pool: asyncpg.Pool, rows: list[asyncpg.Record], urls: LocalUrls, domain: str) -> list[Entry]:
    # The search excludes them already; a page must never show one, whatever changes there.
    listed = [row for row in rows if row["discoverable"] and row["suspended_at"] is None]
    companies = await companies_of(pool, listed)
    return [
        Entry(author_view(row, urls, domain), companies.get(row["id"]), excerpt(html_to_text(row["note"] or "")))
        for row in listed
    ]


async def directory_page(request: Request) -> Response:
    pool: asyncpg.Pool = services(request).pool
    urls: LocalUrls = services(request).urls
    domain: str = services(request).settings.domain
    filters, ignored = read_filters(page_query(request))
    rows = await directory.search(
        pool,
        sector=filters.sector,
        country=filters.country,
        actor_type=filters.actor_type,
        q=filters.q,
        region=filters.region,
        local_only=filters.local,
        order=filters.order,
        offset=(filters.page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    page_url = f"{urls.base}/directory"
    context = {
        "filters": filters,
        "ignored": ignored,
        "entries": await _entries(pool, list(rows), urls, domain),
        "sectors": SECTORS,
        "countries": COUNTRIES,
        "actor_types": ACTOR_TYPES,
        "orders": ORDERS,
        "previous": f"{page_url}?{filters.query(page=filters.page - 1)}" if filters.page > 1 else None,
        "next": f"{page_url}?{filters.query(page=filters.page + 1)}"
        if len(rows) == PAGE_SIZE and filters.page < MAX_PAGE
        else None,
    }
    filtered = filters != Filters()
    meta = Meta(
        title="Directory",
        description="Companies and people on this server and the servers it knows, by sector, country and region.",
        url=f"{page_url}?{filters.query()}" if filtered else page_url,
        image=urls.static(INSTANCE_THUMBNAIL),
        noindex=filtered,  # one indexed catalogue page; filtered variants are endless
    )
    return await render(request, "directory.html", context, meta=meta)


routes: list[BaseRoute] = [Route("/directory", directory_page, methods=["GET", "HEAD"])]
