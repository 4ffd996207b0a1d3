"""The follow graph: local and remote follows, requests, blocks, mutes, relationships."""

from __future__ import annotations

import pytest

from fediverse_biz.core import follows, timelines
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.paging import Page
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.factories import deliveries, local_actor, post, remote_actor


async def test_following_an_open_local_account_is_immediate_and_backfills(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    bob = await local_actor(db.pool, urls, "bob")
    earlier = await post(db.pool, urls, bob, "before you followed")
    await follows.follow(db.pool, alice, bob)
    [rel] = await follows.relationships(db.pool, alice["id"], [bob["id"]])
    assert rel["following"] is True and rel["requested"] is False
    assert await timelines.home(db.pool, alice["id"], Page()) == [earlier]
    kinds = await db.pool.fetch("SELECT actor_id, type FROM notifications")
    assert [(k["actor_id"], k["type"]) for k in kinds] == [(bob["id"], "follow")]
    assert await deliveries(db.pool) == []  # nothing leaves the server for local follows


async def test_locked_local_account_gets_a_request_until_authorized(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    boss = await local_actor(db.pool, urls, "boss", locked=True)
    await follows.follow(db.pool, alice, boss)
    [rel] = await follows.relationships(db.pool, alice["id"], [boss["id"]])
    assert rel["following"] is False and rel["requested"] is True
    await follows.authorize_request(db.pool, boss, alice)
    [rel] = await follows.relationships(db.pool, alice["id"], [boss["id"]])
    assert rel["following"] is True and rel["requested"] is False
    [back] = await follows.relationships(db.pool, boss["id"], [alice["id"]])
    assert back["followed_by"] is True


async def test_rejecting_a_request_leaves_no_follow(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    boss = await local_actor(db.pool, urls, "boss", locked=True)
    await follows.follow(db.pool, alice, boss)
    await follows.reject_request(db.pool, boss, alice)
    [rel] = await follows.relationships(db.pool, alice["id"], [boss["id"]])
    assert not rel["following"] and not rel["requested"]
    with pytest.raises(DomainError) as info:
        await follows.authorize_request(db.pool, boss, alice)
    assert info.value.status == 404


async def test_following_a_remote_account_sends_follow_and_waits(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    far = await remote_actor(db.pool, "far", "far.example")
    await follows.follow(db.pool, alice, far)
    [rel] = await follows.relationships(db.pool, alice["id"], [far["id"]])
    assert rel["requested"] is True and rel["following"] is False
    [job] = await db.pool.fetch("SELECT payload FROM jobs")
    activity = job["payload"]["activity"]
    assert job["payload"]["inbox"] == "https://far.example/users/far/inbox"  # a personal inbox, not shared
    assert activity["type"] == "Follow" and activity["object"] == far["uri"] and activity["actor"] == alice["uri"]
    # when the remote server accepts
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow("DELETE FROM follow_requests RETURNING uri")
        await conn.execute(
            "INSERT INTO follows (actor_id, target_actor_id, uri) VALUES ($1, $2, $3)",
            alice["id"],
            far["id"],
            row["uri"],
        )
    await follows.unfollow(db.pool, alice, far)
    assert [t for _, t in await deliveries(db.pool)] == ["Follow", "Undo"]
    undo = (await db.pool.fetch("SELECT payload FROM jobs ORDER BY id"))[-1]["payload"]["activity"]
    assert undo["object"]["type"] == "Follow" and undo["object"]["id"] == activity["id"]


async def test_block_removes_follows_both_ways_and_hides_posts(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    troll = await local_actor(db.pool, urls, "troll")
    await follows.follow(db.pool, alice, troll)
    await follows.follow(db.pool, troll, alice)
    await post(db.pool, urls, troll, "noise")
    await follows.block(db.pool, alice, troll)
    [rel] = await follows.relationships(db.pool, alice["id"], [troll["id"]])
    assert rel["blocking"] and not rel["following"] and not rel["followed_by"]
    assert await timelines.home(db.pool, alice["id"], Page()) == []
    mine = await post(db.pool, urls, alice, "can the troll see me?")
    assert await timelines.account(db.pool, troll["id"], alice["id"], Page()) == []
    assert await timelines.account(db.pool, None, alice["id"], Page()) == [mine]
    with pytest.raises(DomainError):
        await follows.follow(db.pool, troll, alice)
    await follows.unblock(db.pool, alice, troll)
    [rel] = await follows.relationships(db.pool, alice["id"], [troll["id"]])
    assert not rel["blocking"]


async def test_blocking_a_remote_account_federates_block_and_undo(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    far = await remote_actor(db.pool, "far", "far.example")
    await follows.block(db.pool, alice, far)
    await follows.unblock(db.pool, alice, far)
    assert [t for _, t in await deliveries(db.pool)] == ["Block", "Undo"]


async def test_mute_hides_from_home_and_silences_notifications(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    loud = await local_actor(db.pool, urls, "loud")
    await follows.follow(db.pool, alice, loud)
    await post(db.pool, urls, loud, "before mute")
    await follows.mute(db.pool, alice, loud)
    await post(db.pool, urls, loud, "after mute @alice")
    assert await timelines.home(db.pool, alice["id"], Page()) == []
    assert await db.pool.fetchval("SELECT count(*) FROM notifications WHERE type = 'mention'") == 0
    [rel] = await follows.relationships(db.pool, alice["id"], [loud["id"]])
    assert rel["muting"] and rel["muting_notifications"]
    await follows.unmute(db.pool, alice, loud)
    [rel] = await follows.relationships(db.pool, alice["id"], [loud["id"]])
    assert not rel["muting"]


async def test_self_follow_block_mute_are_refused(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    for action in (follows.follow, follows.block, follows.mute):
        with pytest.raises(DomainError) as info:
            await action(db.pool, alice, alice)
        assert info.value.status == 403
