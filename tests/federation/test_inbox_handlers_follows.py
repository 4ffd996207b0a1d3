"""Inbox side effects (federation/inbound/graph.py) on relationships: Follow, Accept, Reject, Undo, Block.

End to end through tests/support/inbound.py; payloads follow tests/fixtures/federation/, ids rewritten.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from starlette.applications import Starlette

from fediverse_biz.core import accounts, follows
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.inbound import fixture, make_follow, receive, row_of, without_context
from tests.support.peers import FakePeer, PeerActor


async def test_follow_of_unlocked_account_is_accepted(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    # given Mastodon's Follow shape from bob
    bob = peer.actor("bob")
    follow = peer.activity("Follow", bob, alice["uri"])
    # when it is processed
    record = await receive(app, client, follow, bob)
    # then bob follows alice, alice is notified, and an Accept of that Follow is queued to bob's inbox
    assert record["processed_at"] is not None and record["error"] is None
    row = await pool.fetchrow(
        "SELECT f.* FROM follows f JOIN actors a ON a.id = f.actor_id WHERE a.uri = $1", bob.uri
    )
    assert row["target_actor_id"] == alice["id"] and row["uri"] == follow["id"]
    assert await pool.fetchval("SELECT type FROM notifications WHERE actor_id = $1", alice["id"]) == "follow"
    assert await factories.deliveries(pool) == [(bob.inbox, "Accept")]
    accept = await pool.fetchval("SELECT payload FROM jobs WHERE kind = 'deliver'")
    assert accept["activity"]["object"]["id"] == follow["id"] and accept["activity"]["actor"] == alice["uri"]


async def test_follow_of_locked_account_is_a_request(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    carol = await factories.local_actor(pool, urls, "carol", locked=True)
    bob = peer.actor("bob")
    follow = peer.activity("Follow", bob, carol["uri"])
    await receive(app, client, follow, bob)
    assert await pool.fetchval("SELECT count(*) FROM follows") == 0
    request_uri = await pool.fetchval("SELECT uri FROM follow_requests WHERE target_actor_id = $1", carol["id"])
    assert request_uri == follow["id"]
    assert await pool.fetchval("SELECT type FROM notifications WHERE actor_id = $1", carol["id"]) == "follow_request"
    assert await factories.deliveries(pool) == []  # no Accept until carol decides: she is locked


async def test_follow_by_a_blocked_account_is_rejected(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    await follows.block(pool, alice, await row_of(app, bob))
    await receive(app, client, peer.activity("Follow", bob, alice["uri"]), bob)
    assert await pool.fetchval("SELECT count(*) FROM follows") == 0
    assert (bob.inbox, "Reject") in await factories.deliveries(pool)


async def test_follow_of_a_local_group_is_accepted(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    async with pool.acquire() as conn:
        hall = await accounts.insert_local_actor(conn, urls, "hall", actor_type="Group")
    bob = peer.actor("bob")
    await receive(app, client, peer.activity("Follow", bob, hall["uri"]), bob)
    assert await pool.fetchval("SELECT count(*) FROM follows WHERE target_actor_id = $1", hall["id"]) == 1
    assert await factories.deliveries(pool) == [(bob.inbox, "Accept")]


async def requested(app: Starlette, pool: asyncpg.Pool, alice: asyncpg.Record, bob: PeerActor) -> asyncpg.Record:
    """alice asks to follow bob; returns the follow request row."""
    await follows.follow(pool, alice, await row_of(app, bob))
    return await pool.fetchrow("SELECT * FROM follow_requests WHERE actor_id = $1", alice["id"])


def our_follow(request: asyncpg.Record, alice: asyncpg.Record, bob: PeerActor) -> dict[str, Any]:
    """alice's Follow of bob as peers embed it in their Accept or Reject (Lemmy/Mastodon shape): with our id."""
    return {"id": request["uri"], "type": "Follow", "actor": alice["uri"], "object": bob.uri}


async def test_accept_of_our_follow_makes_it_a_follow(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    request = await requested(app, pool, alice, bob)
    # Lemmy/Mastodon shape: the Follow embedded, with our id
    embedded = our_follow(request, alice, bob)
    await receive(app, client, peer.activity("Accept", bob, embedded), bob)
    assert await pool.fetchval("SELECT count(*) FROM follow_requests") == 0
    assert await pool.fetchval("SELECT uri FROM follows WHERE actor_id = $1", alice["id"]) == request["uri"]


async def test_accept_by_a_bare_follow_id_works_too(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    request = await requested(app, pool, alice, bob)
    await receive(app, client, peer.activity("Accept", bob, request["uri"]), bob)
    assert await pool.fetchval("SELECT count(*) FROM follows WHERE actor_id = $1", alice["id"]) == 1


async def test_accept_from_someone_other_than_the_target_is_ignored(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob, mallory = peer.actor("bob", key=0), peer.actor("mallory", key=1)
    request = await requested(app, pool, alice, bob)
    await receive(app, client, peer.activity("Accept", mallory, request["uri"]), mallory)
    embedded = our_follow(request, alice, bob)
    record = await receive(app, client, peer.activity("Accept", mallory, embedded), mallory)
    assert record["error"] == "the accepting actor is not the follow's target"
    assert await pool.fetchval("SELECT count(*) FROM follows") == 0
    assert await pool.fetchval("SELECT count(*) FROM follow_requests") == 1


async def test_reject_removes_the_request(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    request = await requested(app, pool, alice, bob)
    embedded = our_follow(request, alice, bob)
    await receive(app, client, peer.activity("Reject", bob, embedded), bob)
    assert await pool.fetchval("SELECT count(*) FROM follow_requests") == 0
    assert await pool.fetchval("SELECT count(*) FROM follows") == 0


async def test_undo_follow(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    follow = peer.activity("Follow", bob, alice["uri"])
    await receive(app, client, follow, bob)
    assert await pool.fetchval("SELECT count(*) FROM follows") == 1
    # Mastodon's undo_follow.json: the Follow embedded
    undo = fixture("mastodon/undo_follow.json") | {"id": f"{follow['id']}/undo", "actor": bob.uri}
    undo["object"] = without_context(follow)
    await receive(app, client, undo, bob)
    assert await pool.fetchval("SELECT count(*) FROM follows") == 0


async def test_undo_of_someone_elses_activity_is_ignored(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob, mallory = peer.actor("bob", key=0), peer.actor("mallory", key=1)
    follow = peer.activity("Follow", bob, alice["uri"])
    await receive(app, client, follow, bob)
    record = await receive(app, client, peer.activity("Undo", mallory, follow), mallory)
    assert record["error"] == "an actor may only undo its own activities"
    assert await pool.fetchval("SELECT count(*) FROM follows") == 1


async def test_block_and_undo_block(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    # given bob and alice follow each other
    bob = peer.actor("bob")
    bob_row = await row_of(app, bob)
    await make_follow(pool, alice, bob_row)
    await make_follow(pool, bob_row, alice)
    # when bob blocks alice (Mastodon's block.json)
    block = fixture("mastodon/block.json") | {"id": f"{bob.uri}#blocks/1", "actor": bob.uri, "object": alice["uri"]}
    await receive(app, client, block, bob)
    # then the block is stored and no follow survives either way
    assert await pool.fetchval(
        "SELECT uri FROM blocks WHERE actor_id = $1 AND target_actor_id = $2", bob_row["id"], alice["id"]
    ) == block["id"]
    assert await pool.fetchval("SELECT count(*) FROM follows") == 0
    # and Undo(Block) lifts it
    await receive(app, client, peer.activity("Undo", bob, without_context(block)), bob)
    assert await pool.fetchval("SELECT count(*) FROM blocks") == 0
