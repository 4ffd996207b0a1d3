"""The account counters kept by triggers (migration 0008): every writer keeps them right, in bulk too."""

from __future__ import annotations

import asyncio

import asyncpg

from fediverse_biz.core import follows, interactions, statuses
from fediverse_biz.core.hydrate import account_stats
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.factories import local_actor, post, remote_actor


async def counters(pool: asyncpg.Pool, actor_id: int) -> tuple[int, int, int]:
    row = (await account_stats(pool, [actor_id]))[actor_id]
    return row["statuses_count"], row["followers_count"], row["following_count"]


async def recount(pool: asyncpg.Pool, actor_id: int) -> tuple[int, int, int]:
    """What the counters must equal, counted the slow way."""
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM statuses WHERE actor_id = $1 AND reblog_of_id IS NULL
                     AND approval_state = 'published') AS s,
                  (SELECT count(*) FROM follows WHERE target_actor_id = $1) AS followers,
                  (SELECT count(*) FROM follows WHERE actor_id = $1) AS following""",
        actor_id,
    )
    return row["s"], row["followers"], row["following"]


async def test_posts_boosts_and_deletions_move_the_statuses_count(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    bob = await local_actor(db.pool, urls, "bob")
    assert await counters(db.pool, alice["id"]) == (0, 0, 0)
    first = await post(db.pool, urls, alice, "one")
    await post(db.pool, urls, alice, "two")
    await interactions.reblog(db.pool, urls, alice, first)  # a boost is not a post of one's own
    await interactions.reblog(db.pool, urls, bob, first)
    assert await counters(db.pool, alice["id"]) == (2, 0, 0)
    assert await counters(db.pool, bob["id"]) == (0, 0, 0)
    last = await db.pool.fetchval("SELECT last_status_at FROM actor_stats WHERE actor_id = $1", alice["id"])
    newest = await db.pool.fetchval(
        "SELECT max(published_at) FROM statuses WHERE actor_id = $1 AND reblog_of_id IS NULL", alice["id"]
    )
    assert last == newest
    await statuses.delete(db.pool, urls, alice, first)  # its boosts go with it
    assert await counters(db.pool, alice["id"]) == (1, 0, 0)
    assert await counters(db.pool, alice["id"]) == await recount(db.pool, alice["id"])


async def test_follows_and_unfollows_move_both_sides(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    bob = await local_actor(db.pool, urls, "bob")
    carol = await local_actor(db.pool, urls, "carol")
    await follows.follow(db.pool, alice, bob)
    await follows.follow(db.pool, carol, bob)
    await follows.follow(db.pool, bob, alice)
    assert await counters(db.pool, bob["id"]) == (0, 2, 1)
    assert await counters(db.pool, alice["id"]) == (0, 1, 1)
    await follows.unfollow(db.pool, carol, bob)
    assert await counters(db.pool, bob["id"]) == (0, 1, 1)
    assert await counters(db.pool, carol["id"]) == (0, 0, 0)
    await follows.block(db.pool, bob, alice)  # a block ends the follows both ways
    for who in (alice, bob, carol):
        assert await counters(db.pool, who["id"]) == await recount(db.pool, who["id"]) == (0, 0, 0)


async def test_a_held_post_counts_once_published_and_not_before(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    held = await post(db.pool, urls, alice, "waiting for review")
    await db.pool.execute("UPDATE statuses SET approval_state = 'pending' WHERE id = $1", held)
    assert await counters(db.pool, alice["id"]) == (0, 0, 0)
    await db.pool.execute("UPDATE statuses SET favourites_count = 3 WHERE id = $1", held)  # not a state change
    assert await counters(db.pool, alice["id"]) == (0, 0, 0)
    await db.pool.execute("UPDATE statuses SET approval_state = 'published' WHERE id = $1", held)
    assert await counters(db.pool, alice["id"]) == (1, 0, 0)


async def test_a_bulk_copy_is_counted_per_author(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    remote = await remote_actor(db.pool, "zed")
    await db.pool.copy_records_to_table(
        "statuses",
        records=[
            (f"https://remote.example/s/{i}", remote["id"] if i % 3 else alice["id"], i % 3 == 0, "public")
            for i in range(300)
        ],
        columns=["uri", "actor_id", "local", "visibility"],
    )
    assert await counters(db.pool, alice["id"]) == (100, 0, 0)
    assert await counters(db.pool, remote["id"]) == (200, 0, 0)
    await db.pool.execute("DELETE FROM statuses WHERE actor_id = $1 AND uri LIKE '%0'", remote["id"])
    assert await counters(db.pool, remote["id"]) == await recount(db.pool, remote["id"])


async def test_a_remote_actor_s_own_larger_figures_win(db: Database, urls: LocalUrls) -> None:
    remote = await remote_actor(db.pool, "zed")
    await db.pool.execute(
        """UPDATE actors SET extra = '{"followers_count": 1200, "statuses_count": 5}' WHERE id = $1""",
        remote["id"],
    )
    alice = await local_actor(db.pool, urls, "alice")
    await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", alice["id"], remote["id"])
    assert await counters(db.pool, remote["id"]) == (5, 1200, 0)


async def test_deleting_an_account_leaves_the_others_right(db: Database, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    bob = await local_actor(db.pool, urls, "bob")
    await follows.follow(db.pool, alice, bob)
    await follows.follow(db.pool, bob, alice)
    await post(db.pool, urls, alice)
    await db.pool.execute("DELETE FROM actors WHERE id = $1", alice["id"])  # cascades to statuses and follows
    assert await counters(db.pool, bob["id"]) == (0, 0, 0)
    assert await db.pool.fetchval("SELECT count(*) FROM actor_stats WHERE actor_id = $1", alice["id"]) == 0


async def test_crossed_follows_in_concurrent_transactions_do_not_deadlock(db: Database, urls: LocalUrls) -> None:
    """A follows B while B follows A, many times over: both transactions lock the same two counter rows,
    always in the same order."""
    people = [await local_actor(db.pool, urls, f"user{i}") for i in range(4)]
    pairs = [(a, b) for a in people for b in people if a["id"] != b["id"]]

    async def follow_then_unfollow(a: asyncpg.Record, b: asyncpg.Record) -> None:
        for _ in range(3):
            async with db.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    a["id"], b["id"],
                )
                await asyncio.sleep(0.01)  # hold the locks while the crossed transaction starts
            await db.pool.execute("DELETE FROM follows WHERE actor_id = $1 AND target_actor_id = $2", a["id"], b["id"])

    await asyncio.gather(*(follow_then_unfollow(a, b) for a, b in pairs))
    for who in people:
        assert await counters(db.pool, who["id"]) == await recount(db.pool, who["id"]) == (0, 0, 0)


async def test_recount_repairs_counters_after_a_load_with_triggers_off(db: Database, urls: LocalUrls) -> None:
    """What a bulk loader does (bench/home_timeline.py): COPY with triggers off, then one recount."""
    alice = await local_actor(db.pool, urls, "alice")
    bob = await local_actor(db.pool, urls, "bob")
    await post(db.pool, urls, alice, "counted the normal way")
    async with db.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.copy_records_to_table(
            "statuses",
            records=[(f"https://127.0.0.1/s/{i}", alice["id"], True, "public") for i in range(40)],
            columns=["uri", "actor_id", "local", "visibility"],
        )
        await conn.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", bob["id"], alice["id"])
    assert await counters(db.pool, alice["id"]) == (1, 0, 0)  # the load went around the triggers
    await db.pool.execute("SELECT actor_stats_recount()")
    assert await counters(db.pool, alice["id"]) == await recount(db.pool, alice["id"]) == (41, 1, 0)
    assert await counters(db.pool, bob["id"]) == (0, 0, 1)


async def test_a_post_counts_only_once_its_transaction_commits(db: Database, urls: LocalUrls) -> None:
    """The statuses counter is updated at commit (so an author's concurrent posts do not queue on its
    row through their fan-out); a rolled-back post never counts."""
    alice = await local_actor(db.pool, urls, "alice")
    async with db.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await conn.execute(
            """INSERT INTO statuses (uri, actor_id, local, visibility)
               VALUES ('https://127.0.0.1/s/x', $1, true, 'public')""",
            alice["id"],
        )
        assert await conn.fetchval("SELECT count(*) FROM actor_stats WHERE actor_id = $1 AND statuses_count > 0",
                                   alice["id"]) == 0
        await tx.rollback()
    assert await counters(db.pool, alice["id"]) == (0, 0, 0)
