"""How the web door renders a page: one Jinja2 environment, the meta block every page carries, the
headers that keep pages safe, and the 400/404/410 pages.

Every public page extends `layout.html` (itself an extension of `base.html`, the authorize page's
template) and is given a `Meta`: title, description, canonical URL and image, rendered as OpenGraph
and Twitter card tags, plus the `alternate` links (ActivityPub document, feeds) that let other
software find the machine-readable twin of the page. Autoescaping is on: names, bios and posts come
from strangers; only HTML we rendered or sanitised ourselves is marked safe in the templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from fediverse_biz.config import Settings
from fediverse_biz.core.ids import parse_cursor
from fediverse_biz.core.wording import counted, noun, with_article
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.acting import acting_as
from fediverse_biz.web.inputs import BadPageInput, page_query
from fediverse_biz.web.session import csrf_token, current_user
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL

STYLESHEET: Final = "site.css"
DESCRIPTION_LENGTH: Final = 200  # what link previews show; longer text is cut on a word boundary

# No script may run and nothing may load from elsewhere: pages need only our stylesheet and our images.
# No `form-action`: Chrome applies it to the redirect after a submission, and the remote-follow form
# must end on the visitor's own server, whatever it is.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
# Public pages change when someone posts; a minute of caching absorbs a link going viral. Only for
# visitors who are not signed in: a signed-in page names its account (the header), and a shared cache
# must never hand it to anyone else. `Vary: Cookie` keeps caches from mixing the two.
PUBLIC_CACHE: Final = {"Cache-Control": "public, max-age=60"}
NO_STORE: Final = {"Cache-Control": "no-store"}
SIGNED_IN_CACHE: Final = {"Cache-Control": "private, no-store"}


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC") if value else ""


def _number(value: int | None) -> str:
    return f"{value or 0:,}"


environment = jinja2.Environment(
    loader=jinja2.PackageLoader("fediverse_biz.web", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,  # a misspelt variable is a test failure, not a blank on the page
)
# "1 reply", "2 replies", "an editor": core/wording.py's rules, for every page (never "1 replies").
environment.filters.update(iso=_iso, when=_when, number=_number, counted=counted, noun=noun, with_article=with_article)
templates = Jinja2Templates(env=environment)


@dataclass(frozen=True)
class Feed:
    type: str  # application/atom+xml, application/rss+xml
    title: str
    href: str


@dataclass(frozen=True)
class Meta:
    """What a page says about itself to crawlers, link previews and fediverse software."""

    title: str
    description: str
    url: str  # canonical
    image: str
    og_type: str = "website"
    card: str = "summary"  # Twitter card; summary_large_image when a post has a picture
    activity_json: str | None = None  # the ActivityPub id of what the page shows
    feeds: tuple[Feed, ...] = ()
    noindex: bool = False
    image_alt: str = ""


@dataclass(frozen=True)
class Viewer:
    """Who is signed in, for the header: their handle, the token of the sign-out form (the session's, as
    on every form), and whom the back office acts as (web/acting.py; no role: their own account)."""

    username: str
    csrf_token: str
    acting_name: str
    acting_username: str
    acting_role: str | None


@dataclass(frozen=True)
class Site:
    title: str
    domain: str
    base: str
    stylesheet: str
    icon: str  # without one, browsers ask for /favicon.ico and log the 404
    sign_up: bool  # the instance takes sign-ups: the header links to the sign-up page


def excerpt(text: str, limit: int = DESCRIPTION_LENGTH) -> str:
    """One line of at most `limit` characters, cut at a word with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0] or line[: limit - 1]
    return cut + "…"


async def site_of(request: Request) -> Site:
    settings: Settings = services(request).settings
    urls: LocalUrls = services(request).urls
    facts = await services(request).instance_facts.get()  # cached for a minute per process
    return Site(
        title=str(facts.texts.get("title") or settings.domain),
        domain=settings.domain,
        base=urls.base,
        stylesheet=urls.static(STYLESHEET),
        icon=urls.static(INSTANCE_THUMBNAIL),
        sign_up=settings.registration_mode in ("open", "approval"),
    )


async def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    meta: Meta,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    site = await site_of(request)
    user = await current_user(request)
    viewer = None
    if user is not None:
        acting = await acting_as(request, user)
        viewer = Viewer(user["username"], csrf_token(request, user), acting.name, acting.username, acting.role)
    here = quote(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    body = {"site": site, "meta": meta, "viewer": viewer, "here": here, **context}
    cache = headers if headers is not None else PUBLIC_CACHE
    if viewer is not None:  # the header names the account: for this browser only, never kept
        cache = {**cache, **SIGNED_IN_CACHE}
    all_headers = {**PAGE_HEADERS, **cache, "Vary": "Cookie"}
    return templates.TemplateResponse(request, template, body, status_code=status_code, headers=all_headers)


async def error_page(
    request: Request, status_code: int, heading: str, message: str, *, back: str | None = None
) -> Response:
    """The 400/404/410 (and failed form) answers of the web door: a real page, never indexed or cached."""
    urls: LocalUrls = services(request).urls
    meta = Meta(
        title=heading,
        description=message,
        # The decoded path may hold anything (NUL, newlines): quote it again for the page.
        url=urls.base + quote(request.url.path),
        image=urls.static(INSTANCE_THUMBNAIL),
        noindex=True,
    )
    context = {"heading": heading, "message": message, "back": back}
    return await render(request, "error.html", context, meta=meta, status_code=status_code, headers=NO_STORE)


async def bad_input_page(request: Request, exc: Exception) -> Response:
    """The app's answer to a BadPageInput (web/inputs.py) that no page caught: the 400 page, naming the field."""
    assert isinstance(exc, BadPageInput)
    message = f"This link or form cannot be read: {exc}. Check what was typed, or follow the link again."
    return await error_page(request, 400, "Bad request", message)


async def max_id_or_error(request: Request) -> int | Response | None:
    """The `max_id` of a paged page ("older" links), None for the first page, or the 400 page when it
    is not an id (core.ids): a mangled link is said to be one rather than shown as another page."""
    text = page_query(request).get("max_id")
    if not text:
        return None
    max_id = parse_cursor(text)
    if max_id is None:
        return await error_page(request, 400, "Bad request", "This link's max_id is not a post id.")
    return max_id
