"""Inbox side effects (federation/inbound/accounts.py) on accounts: profile updates and key rotation,
self-deletion, Move, and reports (Flag), which also show a handler's effect happens once.

End to end through tests/support/inbound.py; payloads follow tests/fixtures/federation/, ids rewritten.
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.core import accounts
from fediverse_biz.federation.inbound.accounts import handle_flag
from fediverse_biz.federation.inbound.context import AlreadyProcessed, Inbound
from fediverse_biz.jobs.contract import WorkerContext
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.inbound import (
    fixture,
    local_post,
    make_follow,
    receive,
    remote_status,
    row_of,
    stored_note,
)
from tests.support.peers import FakePeer, deliver, key_pair


async def test_update_person_refreshes_the_profile_and_rotates_the_key(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob", key=0)
    await receive(app, client, peer.activity("Follow", bob, alice["uri"]), bob)
    # Mastodon's update_person.json shape: the whole actor embedded, signed with the current key
    new_doc = bob.doc | {
        "name": "Bob's Bakery",
        "summary": "<p>Fresh bread <script>x()</script></p>",
        "publicKey": {"id": bob.key_id, "owner": bob.uri, "publicKeyPem": key_pair(1)[1]},
    }
    await receive(app, client, peer.activity("Update", bob, new_doc, to=[PUBLIC]), bob)
    row = await pool.fetchrow("SELECT * FROM actors WHERE uri = $1", bob.uri)
    assert row["display_name"] == "Bob's Bakery"
    assert row["note"] == "<p>Fresh bread </p>"
    assert row["public_key_pem"] == key_pair(1)[1]


async def test_actor_deleting_itself_loses_its_posts_and_follows(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    note = await stored_note(app, client, peer, pool, alice, bob)
    await receive(app, client, peer.activity("Follow", bob, alice["uri"]), bob)
    await receive(app, client, peer.activity("Delete", bob, bob.uri, to=[PUBLIC]), bob)
    row = await pool.fetchrow("SELECT * FROM actors WHERE uri = $1", bob.uri)
    assert row["suspended_at"] is not None
    assert await remote_status(pool, note["id"]) is None
    assert await pool.fetchval("SELECT count(*) FROM follows") == 0
    # and what it sends afterwards is dropped at the door
    response = await deliver(client, peer.activity("Follow", bob, alice["uri"]), bob)
    assert response.status_code == 202
    assert await pool.fetchval("SELECT count(*) FROM inbox_activities WHERE actor_uri = $1", bob.uri) == 3


async def test_move_with_alias_migrates_local_followers(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, other_peer: FakePeer, pool: asyncpg.Pool,
    alice: asyncpg.Record,
) -> None:
    # given alice follows bob, and bob's new account lists the old one in alsoKnownAs
    old = peer.actor("bob", key=0)
    old_row = await row_of(app, old)
    await make_follow(pool, alice, old_row)
    new = other_peer.actor("bob", key=1, also_known_as=[old.uri])
    # when bob sends Mastodon's Move
    move = fixture("mastodon/move.json") | {
        "id": f"{old.uri}#moves/1", "actor": old.uri, "object": old.uri, "target": new.uri, "to": old.followers,
    }
    await receive(app, client, move, old)
    # then alice asks to follow the new account and leaves the old one
    new_row = await pool.fetchrow("SELECT * FROM actors WHERE uri = $1", new.uri)
    assert await pool.fetchval("SELECT moved_to_actor_id FROM actors WHERE id = $1", old_row["id"]) == new_row["id"]
    assert await pool.fetchval("SELECT count(*) FROM follows WHERE actor_id = $1", alice["id"]) == 0
    assert await pool.fetchval(
        "SELECT 1 FROM follow_requests WHERE actor_id = $1 AND target_actor_id = $2", alice["id"], new_row["id"]
    )
    sent = await factories.deliveries(pool)
    assert (new.inbox, "Follow") in sent and (old.inbox, "Undo") in sent


async def test_move_without_alias_is_ignored(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, other_peer: FakePeer, pool: asyncpg.Pool,
    alice: asyncpg.Record,
) -> None:
    old = peer.actor("bob", key=0)
    await make_follow(pool, alice, await row_of(app, old))
    stranger = other_peer.actor("someone", key=1)  # never agreed to be bob's new account
    record = await receive(app, client, peer.activity("Move", old, old.uri, target=stranger.uri), old)
    assert "does not list" in record["error"]
    assert await pool.fetchval("SELECT count(*) FROM follows WHERE actor_id = $1", alice["id"]) == 1
    assert await pool.fetchval("SELECT moved_to_actor_id FROM actors WHERE uri = $1", old.uri) is None
    assert await factories.deliveries(pool) == []


async def test_flag_creates_a_report_and_tells_the_staff(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls,
    alice: asyncpg.Record,
) -> None:
    admin = await accounts.create_user(pool, urls, "dana", "dana@example.com", factories.PASSWORD, role="admin")
    status_id, uri = await local_post(pool, urls, alice, "something questionable")
    moderators = peer.actor("actor", actor_type="Application")  # Mastodon sends Flag as its instance actor
    flag = fixture("mastodon/flag.json") | {
        "id": f"{peer.base}/flags/1", "actor": moderators.uri, "object": [alice["uri"], uri], "to": alice["uri"],
    }
    await receive(app, client, flag, moderators)
    report = await pool.fetchrow("SELECT * FROM reports")
    assert report["target_actor_id"] == alice["id"] and report["status_ids"] == [status_id]
    assert report["comment"] == "Please take a look at this user and their posts"
    note = await pool.fetchrow("SELECT * FROM notifications WHERE actor_id = $1", admin.actor_id)
    assert note["type"] == "admin.report" and note["extra"] == {"report_id": str(report["id"])}


async def test_a_second_run_of_the_same_activity_writes_nothing(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls,
    alice: asyncpg.Record,
) -> None:
    # given a Flag accepted at the door, and two runs of its job that both saw it unprocessed
    # (a lease ran out while the first was still working)
    reporter = peer.actor("actor", actor_type="Application")
    flag = peer.activity("Flag", reporter, [alice["uri"]], content="spam")
    assert (await deliver(client, flag, reporter)).status_code == 202
    record = await pool.fetchrow("SELECT * FROM inbox_activities")
    ctx = WorkerContext(pool, services(app).http, services(app).settings, urls)
    sender = await pool.fetchrow("SELECT * FROM actors WHERE uri = $1", reporter.uri)
    first, second = (Inbound(ctx, record["id"], record["payload"], sender) for _ in range(2))
    # when both apply it
    await handle_flag(first)
    with pytest.raises(AlreadyProcessed):
        await handle_flag(second)
    # then it took effect once
    assert await pool.fetchval("SELECT count(*) FROM reports") == 1
    assert await pool.fetchval("SELECT processed_at FROM inbox_activities") is not None
