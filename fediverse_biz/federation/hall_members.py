"""The `pull_hall_members` job: a remote hall's members lead us to their servers' directories.

A remote hall (a FEP-1b12 `Group`) that a local account follows lists its members in its `followers`
collection (ours: a `Collection` with `totalItems` and empty `items`, members on `CollectionPage`s;
Mastodon-style `OrderedCollection`s and inline pages are read too). Each run reads at most PAGES_PER_RUN
documents and MAX_ITEMS member URIs through the SSRF-safe client, signed as the instance actor (1 MB per
document, 30 s per request, RUN_BUDGET seconds in all), and meets each member's server here
(directory_sources.met), so that server's public directory is pulled by `pull_directory`, which reads
every account from its own actor document and honours `discoverable` and domain blocks.

Nothing about a member is taken from the hall's collection but its URI, and of that only the server:
a hall can make us look at a server's public directory, never list an account or a company. Pages are
followed only on the hall's own host (a hall cannot make us fetch elsewhere); URIs that are not
http(s) URLs, name a forbidden address literal, are our own, or are on a domain-blocked server are
skipped. A garbage or too large answer ends the run, logged; the pull is tried again next period.

The chain runs while a local account follows the hall (or waits for its Accept): a hall nobody here
takes part in any more, or that is gone or suspended, is not pulled again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import asyncpg

from fediverse_biz.activitypub.actors import authority
from fediverse_biz.core import domain_blocks
from fediverse_biz.federation import directory_sources
from fediverse_biz.federation.remote_actors import load_instance_signer
from fediverse_biz.jobs.contract import Handler, WorkerContext
from fediverse_biz.jobs.queue import Job
from fediverse_biz.net.fetch import FetchError, Signer, check_url, fetch_ap_object

__all__ = ["MAX_ITEMS", "PAGES_PER_RUN", "handlers", "pull_hall_members"]

log = logging.getLogger(__name__)

PAGES_PER_RUN: Final = 5  # documents fetched per run, the collection itself included
MAX_ITEMS: Final = 500  # member entries read per run
MAX_URI_LENGTH: Final = 2048
RUN_BUDGET: Final = 120.0  # seconds; the worker stops a job at 80 % of its 5-minute lease
_COLLECTIONS: Final = frozenset({"Collection", "OrderedCollection"})
_PAGES: Final = frozenset({"CollectionPage", "OrderedCollectionPage"})


def _types(doc: Mapping[str, Any]) -> set[str]:
    kind = doc.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    return set()


def _items(doc: Mapping[str, Any]) -> Iterator[Any]:
    for key in ("orderedItems", "items"):
        value = doc.get(key)
        if isinstance(value, list):
            yield from value
        elif value is not None:
            yield value  # JSON-LD compaction drops a one-element array


def _host_of(url: str) -> str | None:
    """The authority of an http(s) URL; None for anything else, unparsable ones included."""
    try:
        return (authority(url) or None) if urlsplit(url).scheme in ("http", "https") else None
    except ValueError:  # "http://[::1", a port out of range: whatever a hostile page says
        return None


def _member_uri(item: Any) -> str | None:
    """An entry's actor URI: a string, or an embedded object's `id` (nothing else of it is read)."""
    uri = item.get("id") if isinstance(item, dict) else item
    return uri if isinstance(uri, str) and 0 < len(uri) <= MAX_URI_LENGTH else None


async def _collection_members(ctx: WorkerContext, followers: str, host: str, signer: Signer | None) -> list[str]:
    """The member URIs of the first pages of `followers`, in order, each once. Raises FetchError."""
    deadline = time.monotonic() + RUN_BUDGET
    doc = await fetch_ap_object(ctx.http, followers, signer=signer)
    if not _types(doc) & _COLLECTIONS:
        raise FetchError(f"{followers} is not a collection")
    found: dict[str, None] = {}
    fetched = {followers}
    seen = 0
    # The collection may carry members itself (`items`); then `first`, then each page's `next`.
    current, link = doc, doc.get("first")
    while True:
        for item in _items(current):
            seen += 1
            if seen > MAX_ITEMS:
                return list(found)
            uri = _member_uri(item)
            if uri is not None:
                found[uri] = None
        if isinstance(link, dict):  # an embedded page: part of a document the hall's host served
            current = link
        elif isinstance(link, str) and link not in fetched and len(fetched) < PAGES_PER_RUN:
            if _host_of(link) != host or time.monotonic() > deadline:
                break  # a hall names pages of its own host only; what was read so far stands
            fetched.add(link)
            current = await fetch_ap_object(ctx.http, link, signer=signer)
        else:
            break
        if not _types(current) & (_PAGES | _COLLECTIONS):
            raise FetchError(f"a page of {followers} is not a collection page")
        link = current.get("next")
    return list(found)


async def _followed_here(pool: asyncpg.Pool, hall_id: int) -> bool:
    found = await pool.fetchval(
        """SELECT 1 FROM follows f JOIN actors a ON a.id = f.actor_id
            WHERE f.target_actor_id = $1 AND a.domain IS NULL
           UNION ALL
           SELECT 1 FROM follow_requests r JOIN actors a ON a.id = r.actor_id
            WHERE r.target_actor_id = $1 AND a.domain IS NULL
           LIMIT 1""",
        hall_id,
    )
    return bool(found)


async def pull_hall_members(ctx: WorkerContext, hall_uri: str) -> tuple[str, bool]:
    """Read the hall's members once and meet their servers: (what happened, whether to pull again)."""
    pool = ctx.pool
    hall = await pool.fetchrow(
        """SELECT id, followers_url FROM actors
            WHERE uri = $1 AND actor_type = 'Group' AND domain IS NOT NULL AND suspended_at IS NULL""",
        hall_uri,
    )
    if hall is None:
        return "not a known remote hall", False
    if not await _followed_here(pool, hall["id"]):
        return "no local member any more", False
    host = authority(hall_uri)
    if await domain_blocks.blocked(pool, host):
        return "domain blocked", True  # a block may be lifted; the check costs one query a day
    followers: str | None = hall["followers_url"]
    if not followers or _host_of(followers) != host:
        return "no followers collection on the hall's host", True
    try:
        uris = await _collection_members(ctx, followers, host, await load_instance_signer(pool))
    except FetchError as exc:
        return f"not read: {exc}"[:300], True
    ours = await pool.fetchval("SELECT uri FROM actors WHERE is_instance_actor")
    our_host = authority(ours) if ours else None
    hosts: dict[str, str] = {}  # member host -> the first member URI naming it
    for uri in uris:
        try:
            check_url(ctx.http, uri)
        except FetchError:
            continue  # not an http(s) URL, or a forbidden address: never a server to pull
        member_host = _host_of(uri)
        if member_host is not None and member_host != our_host:
            hosts.setdefault(member_host, uri)
    met = 0
    for member_host, uri in hosts.items():
        if await domain_blocks.blocked(pool, member_host):
            continue
        await directory_sources.met(pool, uri)
        met += 1
    return f"ok; {len(uris)} members, {met} servers met", True


async def handle_pull_hall_members(ctx: WorkerContext, job: Job) -> None:
    hall_uri = job.payload.get("hall")
    if not isinstance(hall_uri, str):
        return
    again = True
    try:
        outcome, again = await pull_hall_members(ctx, hall_uri)
        log.info("members of hall %s: %s", hall_uri, outcome)
    finally:
        # A hall's failure must not end the chain; only a hall nobody here follows any more does.
        if again:
            await directory_sources.schedule_hall(ctx.pool, hall_uri)


def handlers() -> dict[str, Handler]:
    return {directory_sources.PULL_HALL_MEMBERS: handle_pull_hall_members}
