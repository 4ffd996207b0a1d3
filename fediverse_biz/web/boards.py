"""The job board and the opportunities board (the form that posts to them: web/offer_form.py).

    GET  /jobs, /opportunities           unexpired offers, local and federated, newest first; GET filters

The boards are business.offers.board, the same query as GET /api/v1/offers, so page and API agree.
Filters that are not valid codes are ignored and said so (the page is for people).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import urlencode

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.business import offers
from fediverse_biz.business._offer_values import (
    DIRECTIONS,
    EMPLOYMENT_TYPES,
    Offer,
    check_employment_type,
    check_region,
)
from fediverse_biz.business.offer_text import EMPLOYMENT_LABELS, amount_text
from fediverse_biz.business.sectors import SECTORS, check_sector, region_name
from fediverse_biz.core.hydrate import load_actors
from fediverse_biz.core.ids import parse_id
from fediverse_biz.core.paging import Page
from fediverse_biz.services import services
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.inputs import PageInput, page_query
from fediverse_biz.web.rendering import Meta, excerpt, max_id_or_error, render
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL
from fediverse_biz.web.views import AuthorView, author_view

PAGE_SIZE: Final = 30
BOARDS: Final = {"job": ("jobs", "Job board"), "opportunity": ("opportunities", "Business opportunities")}
_KIND_OF_PATH: Final = {path: kind for kind, (path, _) in BOARDS.items()}


@dataclass(frozen=True)
class Entry:
    offer: Offer
    id: int
    url: str  # the post: our permalink, or the peer's page
    author: AuthorView
    summary: str  # one line of key facts
    text: str  # the description, shortened


def _facts(offer: Offer) -> str:
    facts: list[str] = []
    if offer.direction:
        facts.append("Offered" if offer.direction == "offer" else "Wanted")
    if offer.employment_type:
        facts.append(EMPLOYMENT_LABELS[offer.employment_type].capitalize())
    place = ", ".join(p for p in (offer.location, region_name(offer.region)) if p)
    if place:
        facts.append(place)
    if offer.remote:
        facts.append("Remote")
    low, high = offer.salary_min, offer.salary_max
    if low is not None and high is not None and low != high:
        facts.append(f"{amount_text(low)}\u2013{amount_text(high)} {offer.currency or ''}".strip())
    elif low is not None or high is not None:
        only = low if low is not None else high
        assert only is not None
        facts.append(f"{amount_text(only)} {offer.currency or ''}".strip())
    if offer.budget is not None:
        facts.append(f"Budget {amount_text(offer.budget)} {offer.currency or ''}".strip())
    if offer.sector:
        facts.append(SECTORS[offer.sector])
    if offer.valid_through:
        facts.append(f"until {offer.valid_through.date().isoformat()}")
    return " · ".join(facts)


async def _entries(pool: asyncpg.Pool, rows: list[asyncpg.Record], urls: LocalUrls, domain: str) -> list[Entry]:
    authors = await load_actors(pool, {row["actor_id"] for row in rows})
    entries = []
    for row in rows:
        author = authors[row["actor_id"]]
        offer = offers.offer_of(row)
        url = urls.status_page(author["username"], row["status_id"]) if row["local"] else (row["url"] or row["uri"])
        text = excerpt(html_to_text(offer.description), 300)
        entries.append(Entry(offer, row["status_id"], url, author_view(author, urls, domain), _facts(offer), text))
    return entries


def read_filters(kind: str, params: PageInput) -> tuple[offers.BoardFilter, list[str]]:
    """The filters from the query string (web/inputs.py: storable text), and a note for each value that was ignored."""
    ignored: list[str] = []

    def code(name: str, check: Any) -> Any:
        text = (params.get(name) or "").strip()
        if not text:
            return None
        try:
            return check(text)
        except ValueError:
            ignored.append(f"unknown {name} {text[:20]!r}")
            return None

    hall_text = (params.get("hall") or "").strip()
    hall = parse_id(hall_text)
    if hall_text and hall is None:
        ignored.append(f"unknown hall {hall_text[:20]!r}")
    direction = (params.get("direction") or "").strip().lower() or None
    if direction is not None and direction not in DIRECTIONS:
        ignored.append(f"unknown direction {direction[:20]!r}")
        direction = None
    flags = {name: (params.get(name) or "").lower() in ("1", "true", "on", "yes") for name in ("local", "remote")}
    filters = offers.BoardFilter(
        kind=kind,
        sector=code("sector", check_sector),
        region=code("region", check_region),
        q=" ".join((params.get("q") or "").split())[:100] or None,
        hall=hall,
        local=flags["local"],
        direction=direction if kind == "opportunity" else None,
        employment_type=code("employment_type", check_employment_type) if kind == "job" else None,
        remote=True if flags["remote"] and kind == "job" else None,
    )
    return filters, ignored


def _query(filters: offers.BoardFilter, **extra: Any) -> str:
    values = {
        "sector": filters.sector,
        "region": filters.region,
        "q": filters.q,
        "hall": filters.hall,
        "local": "1" if filters.local else None,
        "direction": filters.direction,
        "employment_type": filters.employment_type,
        "remote": "1" if filters.remote else None,
        **extra,
    }
    return urlencode({k: v for k, v in values.items() if v})


async def board_page(request: Request) -> Response:
    path = request.url.path.strip("/")
    kind = _KIND_OF_PATH[path]
    urls: LocalUrls = services(request).urls
    query = page_query(request)
    filters, ignored = read_filters(kind, query)
    max_id = await max_id_or_error(request)
    if isinstance(max_id, Response):
        return max_id
    page = Page(max_id=max_id, limit=PAGE_SIZE)
    rows = await offers.board(services(request).pool, filters, page)
    board_url = f"{urls.base}/{path}"
    context = {
        "kind": kind,
        "boards": BOARDS,
        "filters": filters,
        "ignored": ignored,
        "entries": await _entries(services(request).pool, rows, urls, services(request).settings.domain),
        "sectors": SECTORS,
        "employment_types": {code: EMPLOYMENT_LABELS[code] for code in EMPLOYMENT_TYPES},
        "directions": DIRECTIONS,
        "older": f"{board_url}?{_query(filters, max_id=rows[-1]['status_id'])}" if len(rows) == PAGE_SIZE else None,
        "held": query.get("held") == "1",  # back from the form: the offer awaits review
    }
    filtered = replace(filters, kind=None) != offers.BoardFilter() or page.max_id is not None
    title = BOARDS[kind][1]
    meta = Meta(
        title=title,
        description=f"{title} of this server and the servers it follows: newest first, expired ones removed.",
        url=f"{board_url}?{_query(filters)}" if filtered else board_url,
        image=urls.static(INSTANCE_THUMBNAIL),
        noindex=filtered,
    )
    return await render(request, "boards.html", context, meta=meta)


routes: list[BaseRoute] = [
    Route("/jobs", board_page, methods=["GET", "HEAD"]),
    Route("/opportunities", board_page, methods=["GET", "HEAD"]),
]
