"""Inbox side effects (federation/inbound/posts.py, graph.py) on interactions: Like, Announce, their Undo, and
reactions we do not support.

End to end through tests/support/inbound.py; payloads follow tests/fixtures/federation/, ids rewritten.
"""

from __future__ import annotations

import asyncpg
import httpx
from starlette.applications import Starlette

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.jobs import queue
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.inbound import (
    fixture,
    in_home,
    local_post,
    make_follow,
    receive,
    remote_status,
    row_of,
    without_context,
)
from tests.support.peers import FakePeer, run_inbox_jobs


async def test_like_then_undo_like(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls,
    alice: asyncpg.Record,
) -> None:
    status_id, uri = await local_post(pool, urls, alice, "hello fediverse")
    bob = peer.actor("bob")
    like = fixture("mastodon/like.json") | {"id": f"{bob.uri}#likes/1", "actor": bob.uri, "object": uri}
    await receive(app, client, like, bob)
    assert await pool.fetchval("SELECT favourites_count FROM statuses WHERE id = $1", status_id) == 1
    assert await pool.fetchval(
        "SELECT type FROM notifications WHERE actor_id = $1 AND status_id = $2", alice["id"], status_id
    ) == "favourite"
    # re-running the job (a lease that ran out after commit) changes nothing
    record_id = await pool.fetchval("SELECT id FROM inbox_activities WHERE activity_id = $1", like["id"])
    await queue.enqueue(pool, "inbox", {"inbox_activity_id": record_id})
    await run_inbox_jobs(app)
    assert await pool.fetchval("SELECT favourites_count FROM statuses WHERE id = $1", status_id) == 1

    undo = peer.activity("Undo", bob, without_context(like))
    await receive(app, client, undo, bob)
    assert await pool.fetchval("SELECT favourites_count FROM statuses WHERE id = $1", status_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM favourites") == 0


async def test_undo_by_bare_uri_removes_a_like(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls,
    alice: asyncpg.Record,
) -> None:
    status_id, uri = await local_post(pool, urls, alice)
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
    status_id, uri = await local_post(pool, urls, alice, "worth sharing")
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
    await receive(app, client, peer.activity("Undo", bob, without_context(announce)), bob)
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


async def test_unknown_types_are_accepted_and_do_nothing(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls,
    alice: asyncpg.Record,
) -> None:
    status_id, uri = await local_post(pool, urls, alice)
    bob = peer.actor("bob")
    # Pleroma's emoji_react_unicode.json shape
    react = fixture("pleroma/emoji_react_unicode.json") | {"id": f"{bob.uri}#reacts/1", "actor": bob.uri, "object": uri}
    record = await receive(app, client, react, bob)
    assert record["processed_at"] is not None and record["error"] is None
    assert await pool.fetchval("SELECT favourites_count FROM statuses WHERE id = $1", status_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM notifications") == 0
