"""Inbox side effects (federation/inbound/posts.py, accounts.py) on posts: Create, Update, Delete, pinning.

End to end through tests/support/inbound.py; payloads follow tests/fixtures/federation/, ids rewritten.
"""

from __future__ import annotations

import asyncpg
import httpx
from starlette.applications import Starlette

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.inbound import (
    fixture,
    in_home,
    make_follow,
    receive,
    remote_status,
    row_of,
    stored_note,
)
from tests.support.peers import FakePeer


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
