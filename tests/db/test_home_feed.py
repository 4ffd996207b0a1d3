"""home_feed has no foreign keys (migration 0011): its triggers must forget what the keys' cascades did."""

from __future__ import annotations

from fediverse_biz.core import follows
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.factories import local_actor, post


async def feed(db: Database) -> set[tuple[int, int]]:
    return {(r["actor_id"], r["status_id"]) for r in await db.pool.fetch("SELECT * FROM home_feed")}


async def test_deleted_statuses_and_readers_leave_no_feed_rows(db: Database, urls: LocalUrls) -> None:
    # given bob's posts in his own and two followers' feeds
    bob, alice, carol = [await local_actor(db.pool, urls, n) for n in ("bob", "alice", "carol")]
    for reader in (alice, carol):
        await follows.follow(db.pool, reader, bob)
    first, second, third = [await post(db.pool, urls, bob, f"news {i}") for i in range(3)]
    readers = {bob["id"], alice["id"], carol["id"]}
    assert await feed(db) == {(r, s) for r in readers for s in (first, second, third)}
    # when one status is deleted, then only its rows go, in every feed
    await db.pool.execute("DELETE FROM statuses WHERE id = $1", first)
    assert await feed(db) == {(r, s) for r in readers for s in (second, third)}
    # when a reader's account row is deleted, then only her feed goes
    await db.pool.execute("DELETE FROM actors WHERE id = $1", carol["id"])
    assert await feed(db) == {(r, s) for r in (bob["id"], alice["id"]) for s in (second, third)}
    # when the author's account row goes, its statuses go by their key's cascade, and their rows with them
    await db.pool.execute("DELETE FROM actors WHERE id = $1", bob["id"])
    assert await feed(db) == set()
