"""Inbox side effects (federation/inbox_handlers.py), end to end: a peer on 127.0.0.1 signs and POSTs to the
in-process app, the real worker runs the "inbox" job, and the tests look at what changed in the database.

Payloads follow the real-server fixtures (tests/fixtures/federation/) with ids rewritten to the fake peer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.core import accounts, follows
from fediverse_biz.core.urls import LocalUrls
from fediverse_biz.federation import jobs
from fediverse_biz.federation._inbound import AlreadyProcessed
from fediverse_biz.federation.inbox_handlers import Inbound, handle_flag
from fediverse_biz.federation.remote_actors import resolve_actor
from fediverse_biz.federation.worker import WorkerContext
from tests.support import factories
from tests.support.peers import FakePeer, PeerActor, deliver, key_pair, run_inbox_jobs

FIXTURES = Path(__file__).parents[1] / "fixtures" / "federation"


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


@pytest.fixture
async def peer() -> AsyncIterator[FakePeer]:
    server = await FakePeer().start()
    yield server
    await server.stop()


@pytest.fixture
async def other_peer() -> AsyncIterator[FakePeer]:
    server = await FakePeer().start()
    yield server
    await server.stop()


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return app.state.pool


@pytest.fixture
async def alice(pool: asyncpg.Pool, urls: LocalUrls) -> asyncpg.Record:
    return await factories.local_actor(pool, urls, "alice")


async def receive(app: Starlette, client: httpx.AsyncClient, activity: dict[str, Any], signer: PeerActor) -> Any:
    """Deliver, run the inbox job, return the inbox_activities row."""
    response = await deliver(client, activity, signer)
    assert response.status_code == 202, response.text
    await run_inbox_jobs(app)
    return await app.state.pool.fetchrow("SELECT * FROM inbox_activities WHERE activity_id = $1", activity["id"])


async def row_of(app: Starlette, actor: PeerActor) -> asyncpg.Record:
    return await resolve_actor(app.state.pool, app.state.http, actor.uri)


async def make_follow(pool: asyncpg.Pool, follower: asyncpg.Record, target: asyncpg.Record) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await follows.accept_follow(conn, follower, target, None)


async def remote_status(pool: asyncpg.Pool, uri: str) -> Any:
    return await pool.fetchrow("SELECT * FROM statuses WHERE uri = $1", uri)


async def in_home(pool: asyncpg.Pool, actor_id: int, status_id: int) -> bool:
    query = "SELECT 1 FROM home_feed WHERE actor_id = $1 AND status_id = $2"
    return bool(await pool.fetchval(query, actor_id, status_id))


# ---- Follow / Accept / Reject -------------------------------------------------------------------------
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
    assert await factories.deliveries(pool) == []  # no Accept until carol decides (§6.1 rule 9)


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


async def test_accept_of_our_follow_makes_it_a_follow(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    request = await requested(app, pool, alice, bob)
    # Lemmy/Mastodon shape: the Follow embedded, with our id
    embedded = {"id": request["uri"], "type": "Follow", "actor": alice["uri"], "object": bob.uri}
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
    embedded = {"id": request["uri"], "type": "Follow", "actor": alice["uri"], "object": bob.uri}
    record = await receive(app, client, peer.activity("Accept", mallory, embedded), mallory)
    assert record["error"] == "the accepting actor is not the follow's target"
    assert await pool.fetchval("SELECT count(*) FROM follows") == 0
    assert await pool.fetchval("SELECT count(*) FROM follow_requests") == 1


async def test_reject_removes_the_request(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    request = await requested(app, pool, alice, bob)
    embedded = {"id": request["uri"], "type": "Follow", "actor": alice["uri"], "object": bob.uri}
    await receive(app, client, peer.activity("Reject", bob, embedded), bob)
    assert await pool.fetchval("SELECT count(*) FROM follow_requests") == 0
    assert await pool.fetchval("SELECT count(*) FROM follows") == 0


# ---- Undo ---------------------------------------------------------------------------------------------
async def test_undo_follow(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    follow = peer.activity("Follow", bob, alice["uri"])
    await receive(app, client, follow, bob)
    assert await pool.fetchval("SELECT count(*) FROM follows") == 1
    # Mastodon's undo_follow.json: the Follow embedded
    undo = fixture("mastodon/undo_follow.json") | {"id": f"{follow['id']}/undo", "actor": bob.uri}
    undo["object"] = {k: v for k, v in follow.items() if k != "@context"}
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


async def test_like_then_undo_like(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls,
    alice: asyncpg.Record,
) -> None:
    status_id = await factories.post(pool, urls, alice, "hello fediverse")
    uri = await pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id)
    bob = peer.actor("bob")
    like = fixture("mastodon/like.json") | {"id": f"{bob.uri}#likes/1", "actor": bob.uri, "object": uri}
    await receive(app, client, like, bob)
    assert await pool.fetchval("SELECT favourites_count FROM statuses WHERE id = $1", status_id) == 1
    assert await pool.fetchval(
        "SELECT type FROM notifications WHERE actor_id = $1 AND status_id = $2", alice["id"], status_id
    ) == "favourite"
    # re-running the job (a lease that ran out after commit) changes nothing
    record_id = await pool.fetchval("SELECT id FROM inbox_activities WHERE activity_id = $1", like["id"])
    await jobs.enqueue(pool, "inbox", {"inbox_activity_id": record_id})
    await run_inbox_jobs(app)
    assert await pool.fetchval("SELECT favourites_count FROM statuses WHERE id = $1", status_id) == 1

    undo = peer.activity("Undo", bob, {k: v for k, v in like.items() if k != "@context"})
    await receive(app, client, undo, bob)
    assert await pool.fetchval("SELECT favourites_count FROM statuses WHERE id = $1", status_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM favourites") == 0


async def test_undo_by_bare_uri_removes_a_like(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls,
    alice: asyncpg.Record,
) -> None:
    status_id = await factories.post(pool, urls, alice)
    uri = await pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id)
    bob = peer.actor("bob")
    like = peer.activity("Like", bob, uri)
    await receive(app, client, like, bob)
    await receive(app, client, peer.activity("Undo", bob, like["id"]), bob)  # Pleroma's undo_emoji_react shape
    assert await pool.fetchval("SELECT favourites_count FROM statuses WHERE id = $1", status_id) == 0


async def test_announce_reaches_followers_then_undo_removes_it(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls,
    alice: asyncpg.Record,
) -> None:
    # given alice's post, and carol who follows bob
    status_id = await factories.post(pool, urls, alice, "worth sharing")
    uri = await pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id)
    carol = await factories.local_actor(pool, urls, "carol")
    bob = peer.actor("bob")
    await make_follow(pool, carol, await row_of(app, bob))
    # when bob boosts it (Mastodon's announce.json, public)
    announce = fixture("mastodon/announce.json") | {
        "id": f"{bob.uri}/statuses/99/activity", "actor": bob.uri, "object": uri,
        "to": [PUBLIC], "cc": [alice["uri"], bob.followers],
    }
    await receive(app, client, announce, bob)
    # then the boost is a status in carol's home feed, counted, and alice hears of it
    boost = await remote_status(pool, announce["id"])
    assert boost["reblog_of_id"] == status_id and boost["visibility"] == "public" and not boost["local"]
    assert await in_home(pool, carol["id"], boost["id"])
    assert await pool.fetchval("SELECT reblogs_count FROM statuses WHERE id = $1", status_id) == 1
    assert await pool.fetchval(
        "SELECT type FROM notifications WHERE actor_id = $1 AND status_id = $2", alice["id"], status_id
    ) == "reblog"
    # and Undo(Announce) removes it
    await receive(app, client, peer.activity("Undo", bob, {k: v for k, v in announce.items() if k != "@context"}), bob)
    assert await remote_status(pool, announce["id"]) is None
    assert await pool.fetchval("SELECT reblogs_count FROM statuses WHERE id = $1", status_id) == 0


async def test_announce_of_an_unknown_status_fetches_it_from_its_origin(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, other_peer: FakePeer, pool: asyncpg.Pool,
    alice: asyncpg.Record,
) -> None:
    # given alice follows bob, and eve's post on another server
    bob = peer.actor("bob", key=0)
    eve = other_peer.actor("eve", key=1)
    await make_follow(pool, alice, await row_of(app, bob))
    genuine = other_peer.note(eve, "<p>genuine words</p>")
    # when bob boosts it with an embedded copy that says something else
    forged = genuine | {"content": "<p>forged words</p>"}
    announce = peer.activity("Announce", bob, forged, to=[PUBLIC], cc=[bob.followers])
    await receive(app, client, announce, bob)
    # then the copy was not believed: the post was fetched from eve's server and stored as it is there
    original = await remote_status(pool, genuine["id"])
    assert original["content"] == "<p>genuine words</p>"
    assert original["actor_id"] == (await row_of(app, eve))["id"]
    boost = await remote_status(pool, announce["id"])
    assert boost["reblog_of_id"] == original["id"]
    assert await in_home(pool, alice["id"], boost["id"])


async def test_announce_by_someone_nobody_follows_is_ignored(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    note = peer.note(bob, "<p>boost me</p>")
    record = await receive(app, client, peer.activity("Announce", bob, note["id"], to=[PUBLIC]), bob)
    assert record["processed_at"] is not None and "nobody here follows" in record["error"]
    assert await pool.fetchval("SELECT count(*) FROM statuses") == 0


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
    await receive(app, client, peer.activity("Undo", bob, {k: v for k, v in block.items() if k != "@context"}), bob)
    assert await pool.fetchval("SELECT count(*) FROM blocks") == 0


# ---- Create -------------------------------------------------------------------------------------------
async def test_create_from_a_followed_actor_reaches_the_home_feed(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    await make_follow(pool, alice, await row_of(app, bob))
    # Mastodon's create_note_hashtag.json shape: a Note with a Hashtag, rewritten to bob
    base = fixture("mastodon/create_note_hashtag.json")
    note = peer.note(bob, "<p>News from the fair <a href='x'>#trade</a></p>",
                     tag=[{"type": "Hashtag", "name": "#trade", "href": f"{peer.base}/tags/trade"}])
    create = base | {"id": f"{note['id']}/activity", "actor": bob.uri, "object": note, "to": note["to"],
                     "cc": note["cc"]}
    create.pop("signature", None)
    record = await receive(app, client, create, bob)
    assert record["error"] is None
    status = await remote_status(pool, note["id"])
    assert status["visibility"] == "public" and not status["local"]
    assert await in_home(pool, alice["id"], status["id"])
    assert await pool.fetchval(
        "SELECT t.name FROM status_tags st JOIN tags t ON t.id = st.tag_id WHERE st.status_id = $1", status["id"]
    ) == "trade"


async def test_create_from_a_stranger_mentioning_nobody_is_ignored(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    note = peer.note(bob, "<p>buy cheap watches</p>")
    record = await receive(app, client, peer.activity("Create", bob, note), bob)
    assert record["processed_at"] is not None
    assert record["error"] == "nobody here follows, is addressed by or is replied to by this post"
    assert await pool.fetchval("SELECT count(*) FROM statuses") == 0


async def test_create_mentioning_a_local_account_is_stored_and_notifies(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    mention = {"type": "Mention", "href": alice["uri"], "name": "@alice@127.0.0.1"}
    note = peer.note(bob, "<p>@alice hi</p>", to=[alice["uri"]], cc=[], tag=[mention])
    await receive(app, client, peer.activity("Create", bob, note), bob)
    status = await remote_status(pool, note["id"])
    assert status["visibility"] == "direct"
    assert await pool.fetchval("SELECT actor_id FROM status_mentions WHERE status_id = $1", status["id"]) == alice["id"]
    assert await pool.fetchval("SELECT type FROM notifications WHERE actor_id = $1", alice["id"]) == "mention"
    assert await in_home(pool, alice["id"], status["id"])


async def test_reply_to_a_local_status_is_stored_and_counted(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls,
    alice: asyncpg.Record,
) -> None:
    status_id = await factories.post(pool, urls, alice, "what do you think?")
    parent = await pool.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    bob = peer.actor("bob")
    # Mastodon's create_note_reply.json shape
    reply = peer.note(
        bob, "<p>great idea</p>", in_reply_to=parent["uri"], to=[bob.followers], cc=[PUBLIC, alice["uri"]]
    )
    await receive(app, client, peer.activity("Create", bob, reply), bob)
    stored = await remote_status(pool, reply["id"])
    assert stored["in_reply_to_id"] == status_id and stored["in_reply_to_actor_id"] == alice["id"]
    assert stored["visibility"] == "unlisted"
    assert stored["conversation_uri"] == parent["conversation_uri"]
    assert await pool.fetchval("SELECT replies_count FROM statuses WHERE id = $1", status_id) == 1


async def test_reply_to_an_unknown_parent_fetches_the_parent(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, other_peer: FakePeer, pool: asyncpg.Pool,
    alice: asyncpg.Record,
) -> None:
    bob, eve = peer.actor("bob", key=0), other_peer.actor("eve", key=1)
    await make_follow(pool, alice, await row_of(app, bob))
    parent = other_peer.note(eve, "<p>the question</p>")
    reply = peer.note(bob, "<p>the answer</p>", in_reply_to=parent["id"])
    await receive(app, client, peer.activity("Create", bob, reply), bob)
    stored_parent = await remote_status(pool, parent["id"])
    stored_reply = await remote_status(pool, reply["id"])
    assert stored_parent is not None and stored_reply["in_reply_to_id"] == stored_parent["id"]
    assert stored_parent["replies_count"] == 1


async def test_reply_whose_parent_cannot_be_fetched_keeps_its_uri(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    await make_follow(pool, alice, await row_of(app, bob))
    missing = f"{peer.base}/users/bob/statuses/404"
    reply = peer.note(bob, "<p>replying into the void</p>", in_reply_to=missing)
    record = await receive(app, client, peer.activity("Create", bob, reply), bob)
    assert record["error"] is None
    stored = await remote_status(pool, reply["id"])
    assert stored["in_reply_to_id"] is None and stored["in_reply_to_uri"] == missing


async def test_create_with_an_embedded_object_from_another_origin_is_refetched(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, other_peer: FakePeer, pool: asyncpg.Pool,
    alice: asyncpg.Record,
) -> None:
    # given bob (followed) wraps eve's post as if it were his own
    bob, eve = peer.actor("bob", key=0), other_peer.actor("eve", key=1)
    await make_follow(pool, alice, await row_of(app, bob))
    genuine = other_peer.note(eve, "<p>eve's words</p>")
    forged = genuine | {"attributedTo": bob.uri, "content": "<p>bob's words</p>"}
    record = await receive(app, client, peer.activity("Create", bob, forged), bob)
    # then the object was fetched from eve's server, which says eve wrote it: not bob's to create
    assert any(hit.startswith("/users/eve/statuses/") for hit in other_peer.hits)
    assert record["error"] == "attributedTo is not the activity's actor"
    assert await pool.fetchval("SELECT count(*) FROM statuses") == 0


# ---- Update -------------------------------------------------------------------------------------------
async def stored_note(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record,
    bob: PeerActor,
) -> dict[str, Any]:
    await make_follow(pool, alice, await row_of(app, bob))
    note = peer.note(bob, "<p>first version</p>")
    await receive(app, client, peer.activity("Create", bob, note), bob)
    assert await remote_status(pool, note["id"]) is not None
    return note


async def test_update_note_keeps_the_edit_history(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    note = await stored_note(app, client, peer, pool, alice, bob)
    edited = note | {"content": "<p>second version</p>", "updated": "2024-05-01T13:00:00Z"}
    await receive(app, client, peer.activity("Update", bob, edited), bob)
    status = await remote_status(pool, note["id"])
    assert status["content"] == "<p>second version</p>" and status["edited_at"] is not None
    history = await pool.fetch("SELECT content FROM status_edits WHERE status_id = $1 ORDER BY id", status["id"])
    assert [h["content"] for h in history] == ["<p>first version</p>", "<p>second version</p>"]
    # an older Update arriving late changes nothing
    stale = note | {"content": "<p>stale</p>", "updated": "2024-05-01T12:30:00Z"}
    await receive(app, client, peer.activity("Update", bob, stale), bob)
    assert (await remote_status(pool, note["id"]))["content"] == "<p>second version</p>"


async def test_update_of_someone_elses_note_on_the_same_server_has_no_effect(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    # given bob's stored note, and mallory (same server) claiming it in an Update (CVE-2024-37903)
    bob, mallory = peer.actor("bob", key=0), peer.actor("mallory", key=1)
    note = await stored_note(app, client, peer, pool, alice, bob)
    hijack = note | {"attributedTo": mallory.uri, "content": "<p>hijacked</p>", "updated": "2024-05-02T00:00:00Z"}
    record = await receive(app, client, peer.activity("Update", mallory, hijack), mallory)
    assert record["error"] == "only the author may update a post"
    assert (await remote_status(pool, note["id"]))["content"] == "<p>first version</p>"


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


# ---- Delete -------------------------------------------------------------------------------------------
async def test_delete_removes_the_status_and_leaves_a_tombstone(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    note = await stored_note(app, client, peer, pool, alice, bob)
    # Mastodon's delete_tombstone.json
    delete = fixture("mastodon/delete_tombstone.json") | {"id": f"{note['id']}#delete", "actor": bob.uri}
    delete["object"] = {"id": note["id"], "type": "Tombstone", "atomUri": note["id"]}
    delete.pop("signature")
    await receive(app, client, delete, bob)
    assert await remote_status(pool, note["id"]) is None
    assert await pool.fetchval("SELECT 1 FROM tombstones WHERE uri = $1", note["id"])
    # a late copy of the Create is not stored again
    again = peer.activity("Create", bob, note)
    await receive(app, client, again, bob)
    assert await remote_status(pool, note["id"]) is None


async def test_delete_of_someone_elses_note_has_no_effect(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob, mallory = peer.actor("bob", key=0), peer.actor("mallory", key=1)
    note = await stored_note(app, client, peer, pool, alice, bob)
    # Pleroma's delete.json shape: a bare object URI
    record = await receive(app, client, peer.activity("Delete", mallory, note["id"]), mallory)
    assert record["error"] == "only the author may delete a status"
    assert await remote_status(pool, note["id"]) is not None


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


# ---- Flag, Move, Add/Remove, the rest -------------------------------------------------------------------
async def test_flag_creates_a_report_and_tells_the_staff(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls,
    alice: asyncpg.Record,
) -> None:
    admin = await accounts.create_user(pool, urls, "dana", "dana@example.com", factories.PASSWORD, role="admin")
    status_id = await factories.post(pool, urls, alice, "something questionable")
    uri = await pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id)
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
    ctx = WorkerContext(pool, app.state.http, app.state.settings, urls)
    sender = await pool.fetchrow("SELECT * FROM actors WHERE uri = $1", reporter.uri)
    first, second = (Inbound(ctx, record["id"], record["payload"], sender) for _ in range(2))
    # when both apply it
    await handle_flag(first)
    with pytest.raises(AlreadyProcessed):
        await handle_flag(second)
    # then it took effect once
    assert await pool.fetchval("SELECT count(*) FROM reports") == 1
    assert await pool.fetchval("SELECT processed_at FROM inbox_activities") is not None


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


async def test_add_and_remove_featured(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    note = await stored_note(app, client, peer, pool, alice, bob)
    featured = bob.doc["featured"]
    await receive(app, client, peer.activity("Add", bob, note["id"], target=featured), bob)
    assert await pool.fetchval("SELECT count(*) FROM pinned_statuses") == 1
    # Lemmy's add_mod.json adds to another collection: not a pin
    record = await receive(app, client, peer.activity("Add", bob, note["id"], target=f"{bob.uri}/moderators"), bob)
    assert record["error"].startswith("Add/Remove on a collection other than")
    await receive(app, client, peer.activity("Remove", bob, note["id"], target=featured), bob)
    assert await pool.fetchval("SELECT count(*) FROM pinned_statuses") == 0


async def test_unknown_types_are_accepted_and_do_nothing(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls,
    alice: asyncpg.Record,
) -> None:
    status_id = await factories.post(pool, urls, alice)
    uri = await pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id)
    bob = peer.actor("bob")
    # Pleroma's emoji_react_unicode.json shape
    react = fixture("pleroma/emoji_react_unicode.json") | {"id": f"{bob.uri}#reacts/1", "actor": bob.uri, "object": uri}
    record = await receive(app, client, react, bob)
    assert record["processed_at"] is not None and record["error"] is None
    assert await pool.fetchval("SELECT favourites_count FROM statuses WHERE id = $1", status_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM notifications") == 0
