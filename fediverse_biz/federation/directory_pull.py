"""The `pull_directory` job: learn the discoverable accounts of a server we federate with.

A server's public directory (`GET /api/v1/directory?local=true`, Mastodon's API and ours) lists the
accounts that opted in. Each run reads at most PAGES_PER_RUN pages of PAGE_SIZE entries (newest first)
through the SSRF-safe client (1 MB per page, 30 s per request) and stores every listed account as a
remote actor. An entry is only a pointer: the account is resolved from its own actor document
(remote_actors.resolve_actor on its `uri` when that is on the host, else WebFinger `user@host`), so a
peer can list only its own accounts, `discoverable` is what the actor document says, and an
Organization's company profile comes from the schema.org properties of its document — which our
software publishes (FEDERATION.md, "Organizations"); the entity's unsigned `fediverse_biz` extension
is not read. Entries marked not discoverable are not fetched at all; actors already fresh are not
fetched again (a day, remote_actors.STALE_AFTER).

Bounds per run: PAGES_PER_RUN x PAGE_SIZE entries, RESOLVE_CONCURRENCY fetches at a time, RUN_BUDGET
seconds of resolving (what is left waits for the next run). A host on any domain block (silence or
suspension, or a parent domain's) is not pulled. A peer whose directory fails — no such API, an error,
garbage, too large — is logged and tried again next period; the job itself does not retry, so a
server without the API costs one request a day.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any, Final
from urllib.parse import urlsplit

from fediverse_biz.activitypub.actors import authority
from fediverse_biz.core import domain_blocks
from fediverse_biz.federation.directory_sources import PULL_DIRECTORY, schedule
from fediverse_biz.federation.remote_actors import RemoteActorError, load_instance_signer, resolve_actor, resolve_handle
from fediverse_biz.jobs.contract import Handler, WorkerContext
from fediverse_biz.jobs.queue import Job
from fediverse_biz.net.fetch import FetchError, Signer, request

__all__ = ["PAGES_PER_RUN", "PAGE_SIZE", "handlers", "pull_directory"]

log = logging.getLogger(__name__)

PAGE_SIZE: Final = 80  # Mastodon's maximum `limit`
PAGES_PER_RUN: Final = 5
RESOLVE_CONCURRENCY: Final = 4
RUN_BUDGET: Final = 120.0  # seconds; the worker stops a job at 80 % of its 5-minute lease
_USERNAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def _entry(entity: Any, host: str) -> tuple[str | None, str] | None:
    """(the actor's id if the entry gives one on `host`, the username) for a listed, discoverable
    account of `host`; None for anything else."""
    if not isinstance(entity, dict) or entity.get("discoverable") is not True:
        return None
    acct, uri = entity.get("acct"), entity.get("uri")
    if not isinstance(acct, str):
        return None
    username, _, domain = acct.partition("@")
    if (domain and domain.lower() != host) or not _USERNAME.fullmatch(username):
        return None  # a server speaks for its own accounts only (local=true lists nothing else)
    if isinstance(uri, str) and urlsplit(uri).scheme in ("http", "https") and authority(uri) == host:
        return uri, username
    return None, username


async def _page(ctx: WorkerContext, origin: str, offset: int, signer: Signer | None) -> list[Any]:
    url = f"{origin}/api/v1/directory?local=true&order=new&limit={PAGE_SIZE}&offset={offset}"
    response = await request(ctx.http, "GET", url, headers={"Accept": "application/json"}, signer=signer)
    if not 200 <= response.status < 300:
        raise FetchError(f"{url} answered HTTP {response.status}", status=response.status)
    try:
        page = json.loads(response.body)
    except (ValueError, RecursionError) as exc:
        raise FetchError(f"{url} did not return valid JSON: {exc}") from None
    if not isinstance(page, list):
        raise FetchError(f"{url} did not return a list of accounts")
    return page[:PAGE_SIZE]


async def pull_directory(ctx: WorkerContext, host: str) -> str:
    """Pull `host`'s directory once; return what happened (stored in directory_sources.last_outcome)."""
    pool = ctx.pool
    origin = await pool.fetchval("SELECT origin FROM directory_sources WHERE host = $1", host)
    if origin is None:
        return "unknown host"
    if await domain_blocks.blocked(pool, host):
        return "domain blocked"
    signer = await load_instance_signer(pool)
    scheme = urlsplit(origin).scheme
    deadline = time.monotonic() + RUN_BUDGET
    limit = asyncio.Semaphore(RESOLVE_CONCURRENCY)
    stored = failed = 0
    seen: set[str] = set()

    async def resolve(uri: str | None, username: str) -> None:
        nonlocal stored, failed
        async with limit:
            if time.monotonic() > deadline:
                return
            try:
                if uri is not None:
                    await resolve_actor(pool, ctx.http, uri, signer=signer)
                else:
                    await resolve_handle(pool, ctx.http, f"{username}@{host}", signer=signer, scheme=scheme)
                stored += 1
            except RemoteActorError as exc:
                failed += 1
                log.info("directory of %s: %s not stored: %s", host, uri or username, exc)

    outcome = "ok"
    for number in range(PAGES_PER_RUN):
        try:
            page = await _page(ctx, origin, number * PAGE_SIZE, signer)
        except FetchError as exc:
            outcome = f"page {number + 1}: {exc}"[:300]
            log.info("directory of %s not read: %s", host, exc)
            break
        # A peer that repeats its entries on every page (or ignores `offset`) gets each resolved once.
        entries = [e for e in (_entry(entity, host) for entity in page) if e is not None and e[1] not in seen]
        seen.update(username for _, username in entries)
        await asyncio.gather(*(resolve(uri, username) for uri, username in entries))
        if len(page) < PAGE_SIZE or time.monotonic() > deadline:
            break
    return f"{outcome}; {stored} accounts stored, {failed} refused" if outcome == "ok" else outcome


async def handle_pull_directory(ctx: WorkerContext, job: Job) -> None:
    host = job.payload.get("host")
    if not isinstance(host, str):
        return
    try:
        outcome = await pull_directory(ctx, host)
    finally:
        # The next pull is queued whatever happened: a peer's failure must not end the chain.
        await schedule(ctx.pool, host)
    await ctx.pool.execute(
        "UPDATE directory_sources SET pulled_at = now(), last_outcome = $2 WHERE host = $1", host, outcome[:300]
    )


def handlers() -> dict[str, Handler]:
    return {PULL_DIRECTORY: handle_pull_directory}
