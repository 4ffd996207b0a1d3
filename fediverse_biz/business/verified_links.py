"""Verified links, as on Mastodon: a linked page that links back with rel="me" confirms the profile.

The `verify_links` job (queued by core/profiles.update_profile and organizations.update_profile when
links change) fetches each link of a local account's profile fields, and an organization's website,
and marks it verified (`verified_at`, Account.fields shows it) when the page has an `<a rel="me">` or
`<link rel="me">` whose href is the account's profile page or actor URI. Mastodon's rules
(app/services/verify_link_service.rb, app/models/account/field.rb): only a field whose whole value
is an http(s) link counts, the page must answer 200 with text/html, the href is compared without
regard to case, and a failed check is not retried (the next edit checks again).

Pages are fetched through the SSRF-safe client (federation/fetch.py), at most 1 MB, unsigned (it is
a web page, not an ActivityPub peer), and parsed with html.parser: no script runs, no markup is kept.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import aiohttp
import asyncpg

from ..core.content import html_to_text
from ..federation.fetch import FetchError, request
from ..federation.jobs import Job
from ..federation.worker import Handler, PermanentError, WorkerContext
from ._profile_fields import mastodon_time
from .organizations import VERIFY_LINKS

__all__ = ["VERIFY_LINKS", "field_link", "handlers", "links_back", "verify_actor_links"]

log = logging.getLogger(__name__)

MAX_PAGE_BYTES: Final = 1024 * 1024  # Mastodon's body_with_limit, the same cap as every remote fetch
MAX_LINKS: Final = 8  # 4 fields and a website are all a local profile has; the rest is a bug
HTML_ACCEPT: Final = "text/html"
_MAX_LINK_LENGTH: Final = 2048


class _RelMeLinks(HTMLParser):
    """Collects the href of every <a> and <link> whose rel tokens include "me"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("a", "link"):
            return
        values = dict(attrs)
        rel, href = values.get("rel") or "", values.get("href")
        # rel is a set of space-separated, case-insensitive tokens (HTML "rel" attribute).
        if href and "me" in rel.lower().split():
            self.hrefs.append(href.strip())


def links_back(html: str, page_url: str, targets: Iterable[str]) -> bool:
    """Whether the page has a rel="me" link to one of `targets` (relative hrefs resolved on page_url)."""
    parser = _RelMeLinks()
    parser.feed(html)
    parser.close()
    wanted = {t.casefold() for t in targets if t}
    return any(urljoin(page_url, href).casefold() in wanted for href in parser.hrefs)


def field_link(entry: Mapping[str, Any]) -> str | None:
    """The link a profile field consists of, or None: what a member typed (`source`) or the text of
    the value, when that is one http(s) URL and nothing else."""
    text = entry.get("source")
    if not isinstance(text, str):
        value = entry.get("value")
        text = html_to_text(value) if isinstance(value, str) else ""
    return _http_link(text.strip())


def _http_link(text: str) -> str | None:
    if not text or len(text) > _MAX_LINK_LENGTH or any(c.isspace() for c in text):
        return None
    parts = urlsplit(text)
    return text if parts.scheme in ("http", "https") and parts.hostname else None


def _decode(body: bytes, content_type: str) -> str:
    charset = "utf-8"
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"').strip()
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return body.decode(charset, errors="replace")


async def page_links_back(http: aiohttp.ClientSession, url: str, targets: Iterable[str]) -> bool:
    """Fetch `url` and look for the rel="me" link back; any failure (network, status, type) is a no."""
    try:
        response = await request(http, "GET", url, headers={"Accept": HTML_ACCEPT}, max_bytes=MAX_PAGE_BYTES)
    except FetchError as exc:
        log.info("link %s not verified: %s", url, exc)
        return False
    content_type = response.headers.get("Content-Type", "")
    if response.status != 200 or content_type.split(";", 1)[0].strip().lower() != "text/html":
        log.info("link %s not verified: HTTP %s, %r", url, response.status, content_type)
        return False
    return links_back(_decode(response.body, content_type), response.url, targets)


async def verify_actor_links(pool: asyncpg.Pool, http: aiohttp.ClientSession, actor_id: int) -> set[str]:
    """Check every link of a local account's profile; mark the ones that link back. Returns those."""
    actor = await pool.fetchrow(
        "SELECT * FROM actors WHERE id = $1 AND domain IS NULL AND suspended_at IS NULL", actor_id
    )
    if actor is None:
        return set()
    website = await pool.fetchval("SELECT website FROM organization_profiles WHERE actor_id = $1", actor_id)
    candidates = [field_link(entry) for entry in (actor["fields"] or []) if isinstance(entry, Mapping)]
    links = list(dict.fromkeys(link for link in (*candidates, website) if link))[:MAX_LINKS]
    targets = [t for t in (actor["url"], actor["uri"]) if t]
    results = await asyncio.gather(*(page_links_back(http, link, targets) for link in links))
    verified = {link for link, ok in zip(links, results, strict=True) if ok}
    if verified:
        await _mark_verified(pool, actor_id, verified)
    return verified


async def _mark_verified(pool: asyncpg.Pool, actor_id: int, verified: set[str]) -> None:
    # Re-read under lock: a field changed while we were fetching keeps its reset state, because only
    # entries whose link is one we just checked are marked (its change queued another check).
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        fields = await conn.fetchval("SELECT fields FROM actors WHERE id = $1 FOR UPDATE", actor_id)
        marked = [
            {**entry, "verified_at": mastodon_time(now)}
            if isinstance(entry, Mapping) and not entry.get("verified_at") and field_link(entry) in verified
            else entry
            for entry in (fields or [])
        ]
        if marked != fields:
            await conn.execute("UPDATE actors SET fields = $2::text::jsonb WHERE id = $1", actor_id, json.dumps(marked))
        await conn.execute(
            """UPDATE organization_profiles SET website_verified_at = $3
                WHERE actor_id = $1 AND website = ANY($2::text[]) AND website_verified_at IS NULL""",
            actor_id,
            sorted(verified),
            now,
        )


async def handle_verify_links(ctx: WorkerContext, job: Job) -> None:
    actor_id = job.payload.get("actor_id")
    if not isinstance(actor_id, int) or isinstance(actor_id, bool):
        raise PermanentError(f"verify_links job without an actor id: {job.payload!r}")
    await verify_actor_links(ctx.pool, ctx.http, actor_id)


def handlers() -> dict[str, Handler]:
    return {VERIFY_LINKS: handle_verify_links}
