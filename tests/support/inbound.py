"""Inbound activities end to end, for tests/federation/test_inbox_handlers_*.py: a FakePeer actor on
127.0.0.1 signs and POSTs to the in-process app, the real worker runs the "inbox" job, and these helpers
read what changed in the database. Payloads follow the real-server fixtures (tests/fixtures/federation/)
with ids rewritten to the fake peer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from starlette.applications import Starlette

from fediverse_biz.core import follows
from fediverse_biz.federation.remote_actors import resolve_actor
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.peers import FakePeer, PeerActor, deliver, run_inbox_jobs

FIXTURES = Path(__file__).parents[1] / "fixtures" / "federation"


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


def without_context(doc: dict[str, Any]) -> dict[str, Any]:
    """An activity as it is embedded in another one (an Undo's object): without its @context."""
    return {k: v for k, v in doc.items() if k != "@context"}


async def local_post(
    pool: asyncpg.Pool, urls: LocalUrls, author: asyncpg.Record, *args: Any, **draft: Any
) -> tuple[int, str]:
    """factories.post, returning (status id, its uri) for activities that point at the post."""
    status_id = await factories.post(pool, urls, author, *args, **draft)
    return status_id, await pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id)


async def receive(app: Starlette, client: httpx.AsyncClient, activity: dict[str, Any], signer: PeerActor) -> Any:
    """Deliver, run the inbox job, return the inbox_activities row."""
    response = await deliver(client, activity, signer)
    assert response.status_code == 202, response.text
    await run_inbox_jobs(app)
    return await services(app).pool.fetchrow("SELECT * FROM inbox_activities WHERE activity_id = $1", activity["id"])


async def row_of(app: Starlette, actor: PeerActor) -> asyncpg.Record:
    return await resolve_actor(services(app).pool, services(app).http, actor.uri)


async def make_follow(pool: asyncpg.Pool, follower: asyncpg.Record, target: asyncpg.Record) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await follows.accept_follow(conn, follower, target, None)


async def remote_status(pool: asyncpg.Pool, uri: str) -> Any:
    return await pool.fetchrow("SELECT * FROM statuses WHERE uri = $1", uri)


async def in_home(pool: asyncpg.Pool, actor_id: int, status_id: int) -> bool:
    query = "SELECT 1 FROM home_feed WHERE actor_id = $1 AND status_id = $2"
    return bool(await pool.fetchval(query, actor_id, status_id))


async def stored_note(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record,
    bob: PeerActor,
) -> dict[str, Any]:
    await make_follow(pool, alice, await row_of(app, bob))
    note = peer.note(bob, "<p>first version</p>")
    await receive(app, client, peer.activity("Create", bob, note), bob)
    assert await remote_status(pool, note["id"]) is not None
    return note
