"""The pull_directory job against a hostile peer: huge, garbage or lying directories break nothing and
store nothing (federation/directory_pull.py). The honest case runs between live servers in
tests/interop/test_directory_discovery.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from fediverse_biz.config import Settings
from fediverse_biz.db.database import Database
from fediverse_biz.federation import directory_pull, directory_sources
from fediverse_biz.jobs.contract import WorkerContext
from fediverse_biz.jobs.queue import Job
from fediverse_biz.net.fetch import create_session
from fediverse_biz.urls import LocalUrls
from tests.support import fetch_peer
from tests.support.fetch_peer import Peer

DIRECTORY = "/api/v1/directory"


peer = fetch_peer.peer  # the fixture: a running Peer


@pytest.fixture
async def ctx(db: Database, settings: Settings, urls: LocalUrls) -> AsyncIterator[WorkerContext]:
    async with create_session(["127.0.0.0/8"], user_agent="test", total_timeout=5.0) as http:
        yield WorkerContext(db.pool, http, settings, urls)


def serve_bytes(peer: Peer, body: bytes, content_type: str = "application/json") -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type=content_type)

    peer.routes[DIRECTORY] = handler


async def run(ctx: WorkerContext, peer: Peer) -> str:
    """Meet the peer, run its pull job as the worker would; what the pull says happened."""
    host = f"127.0.0.1:{peer.port}"
    await directory_sources.met(ctx.pool, peer.url("/users/someone"))
    row = await ctx.pool.fetchrow("SELECT * FROM jobs WHERE kind = 'pull_directory' AND host = $1", host)
    assert row is not None
    await ctx.pool.execute("UPDATE jobs SET attempts = 1 WHERE id = $1", row["id"])  # claimed
    job = Job(row["id"], row["kind"], json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"],
              host, 1, row["created_at"], row["give_up_at"])  # fmt: skip
    await directory_pull.handle_pull_directory(ctx, job)
    await ctx.pool.execute("DELETE FROM jobs WHERE id = $1", row["id"])  # completed
    outcome: str = await ctx.pool.fetchval("SELECT last_outcome FROM directory_sources WHERE host = $1", host)
    return outcome


def entity(username: str, **extra: Any) -> dict[str, Any]:
    return {"id": "1", "username": username, "acct": username, "discoverable": True, **extra}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" + b"0," * 600_000 + b"0]", "bytes"),  # over the 1 MB cap
        (b"<html>not json</html>", "valid JSON"),
        (b'{"accounts": []}', "not return a list"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),  # nesting deeper than the parser goes
    ],
)
async def test_a_garbage_directory_is_refused_whole(ctx: WorkerContext, peer: Peer, body: bytes, says: str) -> None:
    serve_bytes(peer, body)
    outcome = await run(ctx, peer)
    assert outcome.startswith("page 1:") and says in outcome
    assert await ctx.pool.fetchval("SELECT count(*) FROM actors WHERE domain IS NOT NULL") == 0
    # and the pull is queued again for the next period, not lost
    assert await ctx.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'pull_directory'") == 1


async def test_entries_that_are_not_the_peers_discoverable_accounts_are_not_fetched(
    ctx: WorkerContext, peer: Peer
) -> None:
    entries: list[Any] = [
        0, "x", None, [], {"acct": 5},
        entity("shy", discoverable=False), {"username": "quiet", "acct": "quiet"},  # not discoverable
        entity("someone", acct="someone@other.example"),  # another server's account
        entity("../../etc", acct="../../etc"), entity("x" * 200, acct="x" * 200),
        *[entity(f"user{n}") for n in range(2000)],  # far more than a page: only the first 80 are read
    ]  # fmt: skip
    serve_bytes(peer, json.dumps(entries).encode())
    outcome = await run(ctx, peer)
    # the users' WebFinger answers 404 here: refused one by one, never stored
    assert outcome.startswith("ok; 0 accounts stored")
    webfingers = [hit for hit in peer.hits if hit == "/.well-known/webfinger"]
    assert len(webfingers) == 80 - 10  # the valid entries of a page, each once
    # it ignores `offset`, so every page is full: the run stops at its bound
    assert peer.hits.count(DIRECTORY) == directory_pull.PAGES_PER_RUN
