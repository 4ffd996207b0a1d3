"""Two (and three) real instances on 127.0.0.1 federating over HTTP: signatures, inboxes, workers.

Each instance is a real uvicorn server with its own database and in-process workers; nothing is
faked. Actions are taken through the domain functions against each instance's own database, and
every effect on the other side is observed in that side's database after real HTTP deliveries.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from fediverse_biz.core import follows, interactions, statuses
from tests.support.instances import Instance, started
from tests.support.polling import eventually
from tests.support.servers import LiveServer


@pytest.fixture
async def instances(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[list[Instance]]:
    async with started(live_server_factory, 3, Instance) as running:
        yield running


async def test_follow_post_interact_edit_delete_unfollow_block(instances: list[Instance]) -> None:
    a, b, c = instances
    alice = await a.user("alice")
    bystander = await a.user("bystander")
    bob = await b.user("bob")
    carol = await c.user("carol")

    # A follows B: pending until B's server accepts, then following on both sides
    bob_on_a = await a.resolve(f"bob@{b.domain}")
    assert bob_on_a["inbox_url"] == f"{b.server.base_url}/users/bob/inbox"
    await follows.follow(a.pool, alice, bob_on_a)
    await eventually(
        lambda: a.pool.fetchval(
            "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", alice["id"], bob_on_a["id"]
        ),
        "A records the accepted follow",
    )
    alice_on_b = await b.pool.fetchrow("SELECT * FROM actors WHERE uri = $1", alice["uri"])
    assert await b.pool.fetchval(
        "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", alice_on_b["id"], bob["id"]
    )
    await c.resolve(f"bob@{b.domain}")  # C knows bob, but nobody there follows him

    # B posts: delivered to A, stored, in alice's home feed
    hello = await b.post(bob, "Hello from B #trade")
    hello_uri = await b.pool.fetchval("SELECT uri FROM statuses WHERE id = $1", hello)
    copy = await eventually(lambda: a.status_by_uri(hello_uri), "A stores B's post")
    assert "Hello from B" in copy["content"] and copy["visibility"] == "public"
    assert await a.pool.fetchval(
        "SELECT 1 FROM home_feed WHERE actor_id = $1 AND status_id = $2", alice["id"], copy["id"]
    )

    # A likes, boosts and replies: B sees each
    await interactions.favourite(a.pool, alice, copy["id"])
    await interactions.reblog(a.pool, a.urls, alice, copy["id"])
    reply = await a.post(alice, f"@bob@{b.domain} thanks!", in_reply_to_id=copy["id"])
    reply_uri = await a.pool.fetchval("SELECT uri FROM statuses WHERE id = $1", reply)

    async def b_saw_everything() -> bool:
        row = await b.pool.fetchrow("SELECT * FROM statuses WHERE id = $1", hello)
        return bool(row["favourites_count"] == 1 and row["reblogs_count"] == 1 and row["replies_count"] == 1)

    await eventually(b_saw_everything, "B counts the like, the boost and the reply")
    reply_on_b = await b.status_by_uri(reply_uri)
    assert reply_on_b is not None and reply_on_b["in_reply_to_id"] == hello
    kinds = {r["type"] for r in await b.pool.fetch("SELECT type FROM notifications WHERE actor_id = $1", bob["id"])}
    assert {"follow", "favourite", "reblog", "mention"} <= kinds

    # B edits, then deletes: A reflects both
    await statuses.edit(b.pool, b.urls, b.domain, bob, hello, statuses.Draft(text="Hello from B, edited"))

    async def a_has_edit() -> bool:
        row = await a.status_by_uri(hello_uri)
        return bool(row and row["edited_at"] is not None and "edited" in row["content"])

    await eventually(a_has_edit, "A applies the edit")
    await statuses.delete(b.pool, b.urls, bob, hello)
    await eventually(lambda: _gone(a, hello_uri), "A removes the deleted post")

    # followers-only: alice (a follower) gets it; the bystander on A and C get nothing
    private = await b.post(bob, "for followers only", visibility="private")
    private_uri = await b.pool.fetchval("SELECT uri FROM statuses WHERE id = $1", private)
    private_on_a = await eventually(lambda: a.status_by_uri(private_uri), "A receives the followers-only post")
    assert private_on_a["visibility"] == "private"
    # direct: only the mentioned actor's server receives it
    secret = await b.post(bob, f"@alice@{a.domain} just for you", visibility="direct")
    secret_uri = await b.pool.fetchval("SELECT uri FROM statuses WHERE id = $1", secret)
    secret_on_a = await eventually(lambda: a.status_by_uri(secret_uri), "A receives the direct post")
    # a public marker after both: once C would have it, it would also have had the earlier ones
    await b.resolve(f"carol@{c.domain}")
    marker = await b.post(bob, f"@carol@{c.domain} public marker")
    marker_uri = await b.pool.fetchval("SELECT uri FROM statuses WHERE id = $1", marker)
    await eventually(lambda: c.status_by_uri(marker_uri), "C receives a post that mentions carol")
    assert await c.status_by_uri(private_uri) is None
    assert await c.status_by_uri(secret_uri) is None
    assert not await c.pool.fetchval(
        "SELECT 1 FROM inbox_activities WHERE payload::text LIKE '%' || $1 || '%'", private_uri
    )
    from fediverse_biz.core.visibility import can_see

    assert await can_see(a.pool, private_on_a, alice["id"])
    assert not await can_see(a.pool, private_on_a, bystander["id"])
    assert await can_see(a.pool, secret_on_a, alice["id"])
    assert not await can_see(a.pool, secret_on_a, bystander["id"])
    assert carol["id"]  # carol exists only on C

    # A unfollows: B drops the follower
    await follows.unfollow(a.pool, alice, bob_on_a)
    await eventually(lambda: _no_follow(b, alice_on_b["id"], bob["id"]), "B removes alice from bob's followers")

    # B blocks alice: A records that bob blocks her
    await follows.block(b.pool, bob, alice_on_b)
    await eventually(
        lambda: a.pool.fetchval(
            "SELECT 1 FROM blocks WHERE actor_id = $1 AND target_actor_id = $2", bob_on_a["id"], alice["id"]
        ),
        "A records the block",
    )


async def test_locked_account_keeps_follow_pending_until_accepted(instances: list[Instance]) -> None:
    a, b, _ = instances
    alice = await a.user("alice")
    boss = await b.user("boss", locked=True)
    boss_on_a = await a.resolve(f"boss@{b.domain}")
    assert boss_on_a["locked"] is True
    await follows.follow(a.pool, alice, boss_on_a)
    alice_on_b = await eventually(
        lambda: b.pool.fetchrow(
            """SELECT a.* FROM follow_requests r JOIN actors a ON a.id = r.actor_id
                WHERE r.target_actor_id = $1""",
            boss["id"],
        ),
        "B holds the follow request",
    )
    # still pending on A: nothing accepted it yet
    await asyncio.sleep(0.5)
    assert not await a.pool.fetchval("SELECT 1 FROM follows WHERE actor_id = $1", alice["id"])
    assert await a.pool.fetchval("SELECT 1 FROM follow_requests WHERE actor_id = $1", alice["id"])
    await follows.authorize_request(b.pool, boss, alice_on_b)
    await eventually(
        lambda: a.pool.fetchval(
            "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", alice["id"], boss_on_a["id"]
        ),
        "A turns the request into a follow after B's Accept",
    )


async def _gone(instance: Instance, uri: str) -> bool:
    return await instance.status_by_uri(uri) is None


async def _no_follow(instance: Instance, follower: int, target: int) -> bool:
    return not await instance.pool.fetchval(
        "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", follower, target
    )
