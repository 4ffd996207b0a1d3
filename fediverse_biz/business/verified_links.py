"""Verified links, as on Mastodon: a linked page that links back with rel="me" confirms the profile.

The `verify_links` job fetches the links of an account's profile fields, and an organization's website,
and marks each one verified (`verified_at`, Account.fields shows it; `website_verified_at` in the
company profile) when the page has an `<a rel="me">` or `<link rel="me">` whose href is the account's
profile page or actor URI. Mastodon's rules (app/services/verify_link_service.rb,
app/models/account/field.rb, app/workers/verify_account_links_worker.rb): only a field whose whole value
is one http(s) link counts (for a peer's field: one `<a>` whose href is its text, Field#
extract_url_from_html), only links not verified yet are checked (Field#requires_verification?), the
page must answer 200, the href is compared without regard to case, and a failed check is not retried
by the job.

Local accounts: queued by core/profiles.update_profile and organizations.update_profile when links
change; every run fetches afresh (saving again is how a member asks for another check).

Remote accounts: each server checks a peer's links itself, as Mastodon does on every receipt of an
actor (ActivityPub::ProcessAccountService#check_links!). `queue_link_checks` runs wherever a peer's
actor document is stored (remote_actors._store, the inbox's Update of an actor) and queues the job when
a link is unverified; never an HTTP request inside the inbox. A verification stays while the value
stays (migration 0017, `fields_keeping_verification`; the website in store_remote_profile) and is gone
as soon as it changes.

Politeness, since peers choose what we fetch: a page is fetched once a day at most for remote profiles
(`link_checks`, shared by every account that links to it), one page at a time per host across all
workers (`link_check_hosts`, a lease; a job that finds its host busy is retried later), at most
MAX_LINKS pages per account.

Pages are fetched through the SSRF-safe client (net/fetch.py `fetch_html`): public addresses
only (redirects included), text/html, cut at 1 MB, unsigned (it is a web page, not an ActivityPub peer),
and parsed with html.parser: no script runs, no markup is kept.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import aiohttp
import asyncpg

from fediverse_biz.activitypub.actors import authority
from fediverse_biz.business._profile_fields import mastodon_time
from fediverse_biz.business.organizations import VERIFY_LINKS
from fediverse_biz.core.hooks import Hooks
from fediverse_biz.db.executor import Executor
from fediverse_biz.jobs import queue
from fediverse_biz.jobs.contract import Handler, PermanentError, RetryableError, WorkerContext
from fediverse_biz.jobs.hosts import host_of
from fediverse_biz.jobs.queue import Job
from fediverse_biz.net.fetch import MAX_DOCUMENT_BYTES, FetchError, fetch_html

__all__ = [
    "CACHE_FOR",
    "VERIFY_LINKS",
    "HostBusy",
    "field_link",
    "handlers",
    "links_back",
    "queue_link_checks",
    "rel_me_links",
    "verify_actor_links",
]

log = logging.getLogger(__name__)

MAX_PAGE_BYTES: Final = MAX_DOCUMENT_BYTES  # Mastodon's truncated_body limit, the cap of every remote fetch
MAX_LINKS: Final = 8  # 4 fields and a website are all a local profile has; a peer's extra fields wait
CACHE_FOR: Final = timedelta(days=1)  # a remote profile's link is fetched once a day at most
MAX_CACHED_HREFS: Final = 100  # rel="me" links kept per page (migration 0017 checks it)
HOST_LEASE_MARGIN: Final = timedelta(seconds=15)  # beyond the client's own deadline for one page
_MAX_LINK_BYTES: Final = 2048  # also keeps link_checks' key well under PostgreSQL's b-tree entry size


class HostBusy(RetryableError):
    """Another check is fetching a page of the same host: the job comes back later for these links."""


# ---- reading pages and fields --------------------------------------------------------------------
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


def rel_me_links(html: str, page_url: str) -> list[str]:
    """The page's rel="me" links: absolute (relative hrefs resolved on page_url), case-folded, unique."""
    parser = _RelMeLinks()
    parser.feed(html)
    parser.close()
    found: dict[str, None] = {}
    for href in parser.hrefs:
        try:
            found[urljoin(page_url, href).casefold()] = None
        except ValueError:  # an href urljoin cannot parse ("http://[x"): not a link to anyone
            continue
    return list(found)


def links_back(html: str, page_url: str, targets: Iterable[str]) -> bool:
    """Whether the page has a rel="me" link to one of `targets` (relative hrefs resolved on page_url)."""
    return _matches(rel_me_links(html, page_url), targets)


def _matches(hrefs: Iterable[str], targets: Iterable[str]) -> bool:
    wanted = {t.casefold() for t in targets if t}
    return any(href in wanted for href in hrefs)


class _SingleLink(HTMLParser):
    """Mastodon's Field#extract_url_from_html: the value is one <a> and nothing else around it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.top: list[tuple[str, str | None]] = []  # (tag, href) of each top-level element
        self.stray = False  # text outside the top-level element
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth == 0:
            self.top.append((tag, dict(attrs).get("href")))
        if tag not in ("br", "img", "wbr", "hr", "input", "meta", "link"):
            self.depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth == 0:
            self.top.append((tag, None))

    def handle_endtag(self, tag: str) -> None:
        self.depth = max(self.depth - 1, 0)

    def handle_data(self, data: str) -> None:
        if self.depth == 0:
            self.stray = self.stray or bool(data)
        else:
            self.text.append(data)


def _value_link(html: str) -> str | None:
    parser = _SingleLink()
    parser.feed(html.strip())
    parser.close()
    if parser.stray or len(parser.top) != 1:
        return None
    tag, href = parser.top[0]
    # The link must say where it goes: <a href="https://evil.example">https://good.example</a> is
    # neither, or a peer could borrow the verification of a page that is not the one it links.
    if tag != "a" or href is None or href != "".join(parser.text):
        return None
    return href


def field_link(entry: Mapping[str, Any]) -> str | None:
    """The link a profile field consists of, or None: what a member typed (`source`, local fields), or
    else the value's HTML when that is one link whose text is its href (a peer's field, as Mastodon reads
    it), when that is one http(s) URL and nothing else."""
    text = entry.get("source")
    if isinstance(text, str):
        return _http_link(text.strip())
    value = entry.get("value")
    link = _value_link(value) if isinstance(value, str) else None
    return _http_link(link) if link is not None else None


def _http_link(text: str) -> str | None:
    if not text or len(text.encode()) > _MAX_LINK_BYTES or any(c.isspace() for c in text):
        return None
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
    except ValueError:
        return None
    return text if parts.scheme in ("http", "https") and hostname else None


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


async def page_rel_me(http: aiohttp.ClientSession, url: str) -> list[str]:
    """Fetch `url` and return its rel="me" links; any failure (network, address, status, type) is none."""
    try:
        response = await fetch_html(http, url, max_bytes=MAX_PAGE_BYTES)
    except FetchError as exc:
        log.info("link %s not verified: %s", url, exc)
        return []
    content_type = response.headers.get("Content-Type", "")
    return rel_me_links(_decode(response.body, content_type), response.url)


async def page_links_back(http: aiohttp.ClientSession, url: str, targets: Iterable[str]) -> bool:
    """Fetch `url` and look for the rel="me" link back to one of `targets`."""
    return _matches(await page_rel_me(http, url), targets)


# ---- what an account has to check ----------------------------------------------------------------
async def _pending(conn: Executor, actor_id: int) -> tuple[asyncpg.Record, list[str]] | None:
    """The account and its links that are not verified yet, at most MAX_LINKS; None if it is gone."""
    actor = await conn.fetchrow(
        """SELECT a.id, a.domain, a.uri, a.url, a.fields, p.website, p.website_verified_at
             FROM actors a LEFT JOIN organization_profiles p ON p.actor_id = a.id
            WHERE a.id = $1 AND a.suspended_at IS NULL AND NOT a.is_instance_actor""",
        actor_id,
    )
    if actor is None:
        return None
    fields = actor["fields"] if isinstance(actor["fields"], list) else []
    candidates = [field_link(e) for e in fields if isinstance(e, Mapping) and not e.get("verified_at")]
    if actor["website"] and actor["website_verified_at"] is None:
        candidates.append(_http_link(actor["website"]))
    return actor, list(dict.fromkeys(link for link in candidates if link))[:MAX_LINKS]


def _targets(actor: Mapping[str, Any]) -> list[str]:
    """What a page must link to: the actor URI, and its profile page when that is on the actor's own
    host and port (a peer's `url` elsewhere would borrow another account's links)."""
    uri, url = actor["uri"], actor["url"]
    return [uri, url] if url and authority(url) == authority(uri) else [uri]


async def _cached(conn: Executor, links: Sequence[str], *, since: datetime | None = None) -> dict[str, list[str]]:
    """What the last check of each link's page found, if it was made within CACHE_FOR (and after `since`)."""
    rows = await conn.fetch(
        """SELECT url, rel_me FROM link_checks
            WHERE url = ANY($1::text[]) AND checked_at > greatest(now() - $2::interval, $3::timestamptz)""",
        list(links),
        CACHE_FOR,
        since,
    )
    return {row["url"]: list(row["rel_me"]) for row in rows}


async def queue_link_checks(conn: Executor, actor_id: int) -> bool:
    """After a peer's actor document was stored: queue its `verify_links` job if there is work for it.

    There is when a link of the profile is not verified and either no fresh check of its page is known
    or one is and links back to this account (the job then marks it without fetching anything). A link
    whose page was checked within CACHE_FOR and does not link back waits until that check is a day old,
    so a peer that sends Update after Update gets its pages fetched once a day. Local accounts are
    queued where their profile is edited; they are left alone here. Returns whether a job was queued.
    """
    found = await _pending(conn, actor_id)
    if found is None or found[0]["domain"] is None or not found[1]:
        return False
    actor, links = found
    cached = await _cached(conn, links)
    targets = _targets(actor)
    if all(link in cached and not _matches(cached[link], targets) for link in links):
        return False
    await queue.enqueue(conn, VERIFY_LINKS, {"actor_id": actor_id})
    return True


# ---- the job -------------------------------------------------------------------------------------
async def verify_actor_links(
    pool: asyncpg.Pool, http: aiohttp.ClientSession, actor_id: int, *, requested_at: datetime | None = None
) -> set[str]:
    """Check the unverified links of an account, local or remote; mark the ones that link back and
    return them. Raises HostBusy (after marking what it could) when some page's host was busy.

    A remote profile's links are read from a check of the last CACHE_FOR if there is one. A local
    member who saved their profile asked for a new check: only checks made since `requested_at` (the
    job's creation) count, those of this job before it found a host busy.
    """
    found = await _pending(pool, actor_id)
    if found is None or not found[1]:
        return set()
    actor, links = found
    remote = actor["domain"] is not None
    reuse = _Reuse(remote or requested_at is not None, None if remote else requested_at)
    known = await reuse.known(pool, links)
    fetched, busy = await _fetch_pages(pool, http, [link for link in links if link not in known], reuse)
    targets = _targets(actor)
    verified = {link for link, hrefs in {**known, **fetched}.items() if _matches(hrefs, targets)}
    if verified:
        await _mark_verified(pool, actor_id, verified)
    if busy:
        raise HostBusy(f"another check is fetching from the host of {', '.join(busy)}")
    return verified


@dataclass(frozen=True)
class _Reuse:
    """Which earlier checks a job may take instead of fetching: `enabled`, made within CACHE_FOR and
    after `since`."""

    enabled: bool
    since: datetime | None

    async def known(self, conn: Executor, links: Sequence[str]) -> dict[str, list[str]]:
        return await _cached(conn, links, since=self.since) if self.enabled and links else {}


async def _fetch_pages(
    pool: asyncpg.Pool, http: aiohttp.ClientSession, links: Sequence[str], reuse: _Reuse
) -> tuple[dict[str, list[str]], list[str]]:
    """({link: its page's rel="me" links} for the links fetched, [links whose host was busy]).

    Hosts are fetched from side by side, the pages of one host one after the other."""
    by_host: dict[str, list[str]] = {}
    for link in links:
        by_host.setdefault(host_of(link), []).append(link)
    fetched: dict[str, list[str]] = {}
    busy: list[str] = []

    async def one_host(host: str, pages: list[str]) -> None:
        for n, link in enumerate(pages):
            hrefs = await _fetch_under_lease(pool, http, host, link, reuse)
            if hrefs is None:
                busy.extend(pages[n:])
                return
            fetched[link] = hrefs

    await asyncio.gather(*(one_host(host, pages) for host, pages in by_host.items()))
    if fetched:
        await pool.execute("DELETE FROM link_checks WHERE checked_at <= now() - $1::interval", CACHE_FOR)
        await pool.execute("DELETE FROM link_check_hosts WHERE busy_until <= now() - $1::interval", CACHE_FOR)
    return fetched, busy


async def _fetch_under_lease(
    pool: asyncpg.Pool, http: aiohttp.ClientSession, host: str, link: str, reuse: _Reuse
) -> list[str] | None:
    """Fetch one page while holding its host's lease, and remember what it said; None if the host is busy."""
    deadline = timedelta(seconds=http.timeout.total or 30) + HOST_LEASE_MARGIN
    lease: datetime | None = await pool.fetchval(
        """INSERT INTO link_check_hosts AS h (host, busy_until) VALUES ($1, now() + $2::interval)
           ON CONFLICT (host) DO UPDATE SET busy_until = EXCLUDED.busy_until WHERE h.busy_until <= now()
           RETURNING busy_until""",
        host,
        deadline,
    )
    if lease is None:
        return None
    try:
        # The job that held the lease before may have checked this very page.
        if (done := (await reuse.known(pool, [link])).get(link)) is not None:
            return done
        hrefs = await page_rel_me(http, link)
        kept = [href for href in hrefs if len(href.encode()) <= _MAX_LINK_BYTES][:MAX_CACHED_HREFS]
        await pool.execute(
            """INSERT INTO link_checks (url, checked_at, rel_me) VALUES ($1, now(), $2)
               ON CONFLICT (url) DO UPDATE SET checked_at = now(), rel_me = EXCLUDED.rel_me""",
            link,
            kept,
        )
    finally:
        await pool.execute(
            "UPDATE link_check_hosts SET busy_until = now() WHERE host = $1 AND busy_until = $2", host, lease
        )
    return hrefs


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
            for entry in (fields if isinstance(fields, list) else [])
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
    await verify_actor_links(ctx.pool, ctx.http, actor_id, requested_at=job.created_at)


def handlers() -> dict[str, Handler]:
    return {VERIFY_LINKS: handle_verify_links}


async def _check_local_links(conn: asyncpg.Connection, actor_id: int) -> None:
    await queue.enqueue(conn, VERIFY_LINKS, {"actor_id": actor_id})


def register(hooks: Hooks) -> None:
    """A local account whose profile links changed gets them checked again (core/profiles.py)."""
    hooks.profile_links_changed.append(_check_local_links)
