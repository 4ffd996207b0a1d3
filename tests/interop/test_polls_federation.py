"""A poll between two real instances, driven by Mastodon.py: posted on A, voted on from B, the same counts
on both, closed at its time, and the `poll` notification on both sides.

The end is made to come at once (expires_at moved into the past and the poll_close job made due, on each
instance) instead of waiting the five minutes that are Mastodon's shortest poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mastodon import Mastodon

from fediverse_biz.core import follows
from tests.support.instances import PASSWORD, Instance, started
from tests.support.mastodon_client import login_mastodon
from tests.support.polling import eventually
from tests.support.servers import LiveServer


@pytest.fixture
async def instances(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[list[Instance]]:
    async with started(live_server_factory, 2, Instance) as running:
        yield running


def _post_poll(api: Mastodon) -> Any:
    poll = api.make_poll(["Trade fair in Lyon", "Webinar"], expires_in=300)
    return api.status_post("Where do we meet our customers this spring?", poll=poll)


def _vote(api: Mastodon, status_id: int) -> Any:
    status = api.status(status_id)
    return api.poll_vote(status["poll"]["id"], [1])


def _read(api: Mastodon, status_id: int) -> tuple[Any, list[Any]]:
    return api.poll(status_id), [n for n in api.notifications() if n["type"] == "poll"]


async def _end_now(instance: Instance, status_id: int) -> None:
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    await instance.pool.execute(
        "UPDATE statuses SET extra = jsonb_set(extra, '{poll,expires_at}', to_jsonb($2::text)) WHERE id = $1",
        status_id,
        past,
    )
    await instance.pool.execute(
        "UPDATE jobs SET run_at = now() WHERE kind = 'poll_close' AND (payload ->> 'status_id')::bigint = $1",
        status_id,
    )


async def test_a_poll_on_a_voted_on_from_b_counts_alike_and_closes_on_both(instances: list[Instance]) -> None:
    a, b = instances
    await a.user("alice")
    bob = await b.user("bob")
    alice_on_b = await b.resolve(f"alice@{a.domain}")
    await follows.follow(b.pool, bob, alice_on_b)
    await eventually(
        lambda: a.pool.fetchval("SELECT 1 FROM follows f JOIN actors x ON x.id = f.actor_id WHERE x.uri = $1",
                                bob["uri"]),
        "A records bob as alice's follower",
    )

    alice_app = await asyncio.to_thread(login_mastodon, a.server.base_url, "alice", PASSWORD)
    bob_app = await asyncio.to_thread(login_mastodon, b.server.base_url, "bob", PASSWORD)
    posted = await asyncio.to_thread(_post_poll, alice_app)
    assert [o["title"] for o in posted["poll"]["options"]] == ["Trade fair in Lyon", "Webinar"]
    uri = posted["uri"]
    await eventually(lambda: b.status_by_uri(uri), "B stores alice's poll")
    copy = await b.status_by_uri(uri)
    assert copy is not None

    voted = await asyncio.to_thread(_vote, bob_app, copy["id"])
    assert voted["voted"] is True and voted["own_votes"] == [1]

    async def a_counts_the_vote() -> bool:
        extra = await a.pool.fetchval("SELECT extra FROM statuses WHERE id = $1", int(posted["id"]))
        return [o["votes_count"] for o in extra["poll"]["options"]] == [0, 1]

    await eventually(a_counts_the_vote, "A counts bob's vote")
    # the vote is no reply on A
    assert await a.pool.fetchval("SELECT count(*) FROM statuses") == 1

    async def b_heard_the_counts() -> bool:
        return bool(await b.pool.fetchval(
            """SELECT 1 FROM inbox_activities WHERE activity_type = 'Update' AND activity_id LIKE $1 || '#%'
                AND processed_at IS NOT NULL AND error IS NULL""",
            uri,
        ))

    await eventually(b_heard_the_counts, "A's Update(Question) with the counts reaches B")
    on_a, _ = await asyncio.to_thread(_read, alice_app, int(posted["id"]))
    on_b, _ = await asyncio.to_thread(_read, bob_app, copy["id"])
    for poll in (on_a, on_b):
        assert [o["votes_count"] for o in poll["options"]] == [0, 1]
        assert (poll["votes_count"], poll["voters_count"], poll["expired"]) == (1, 1, False)
    assert on_b["own_votes"] == [1]

    # the poll's time comes on A (its author's server) and on B (its voter's)
    await _end_now(a, int(posted["id"]))

    async def b_has_it_closed() -> bool:
        extra = await b.pool.fetchval("SELECT extra FROM statuses WHERE uri = $1", uri)
        return bool(extra["poll"]["closed"])

    await eventually(b_has_it_closed, "A's final Update(Question) closes the poll on B")
    await _end_now(b, copy["id"])

    async def notified(api: Mastodon, status_id: int) -> bool:
        poll, notes = await asyncio.to_thread(_read, api, status_id)
        return bool(poll["expired"]) and len(notes) == 1 and str(notes[0]["status"]["id"]) == str(status_id)

    await eventually(lambda: notified(alice_app, int(posted["id"])), "alice hears her poll ended")
    await eventually(lambda: notified(bob_app, copy["id"]), "bob hears the poll he voted on ended")
    final_a, _ = await asyncio.to_thread(_read, alice_app, int(posted["id"]))
    final_b, _ = await asyncio.to_thread(_read, bob_app, copy["id"])
    assert [o["votes_count"] for o in final_a["options"]] == [o["votes_count"] for o in final_b["options"]] == [0, 1]
