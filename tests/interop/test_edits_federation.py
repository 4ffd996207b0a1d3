"""Quick successive edits between two real instances: the follower's server ends on the last version.

Two edits of a post (or two profile changes) within one second must not share one Update id: a
receiving inbox that processes an id once would keep the first edit for good. Each Update has an id
of its own, and `updated` (to the microsecond) says which version is newer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from fediverse_biz.core import follows, profiles, statuses
from tests.support.instances import Instance, started
from tests.support.polling import eventually
from tests.support.servers import LiveServer


@pytest.fixture
async def instances(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[list[Instance]]:
    async with started(live_server_factory, 2, Instance) as running:
        yield running


async def test_two_quick_edits_and_profile_changes_arrive_as_the_last_version(instances: list[Instance]) -> None:
    a, b = instances
    alice = await a.user("alice")
    bob = await b.user("bob")
    bob_on_a = await a.resolve(f"bob@{b.domain}")
    await follows.follow(a.pool, alice, bob_on_a)
    await eventually(
        lambda: b.pool.fetchval("SELECT 1 FROM follows WHERE target_actor_id = $1", bob["id"]),
        "B records alice as bob's follower",
    )
    post = await b.post(bob, "Open day on Friday")
    uri = await b.pool.fetchval("SELECT uri FROM statuses WHERE id = $1", post)
    await eventually(lambda: a.status_by_uri(uri), "A stores bob's post")

    # bob edits twice in quick succession
    for text in ("Open day on Friday, 9am", "Open day on Friday, 10am"):
        await statuses.edit(b.pool, b.urls, b.domain, bob, post, statuses.Draft(text=text))

    async def a_processed_both_updates() -> bool:
        rows = await a.pool.fetch(
            """SELECT DISTINCT activity_id FROM inbox_activities
                WHERE activity_type = 'Update' AND activity_id LIKE $1 || '#%' AND processed_at IS NOT NULL""",
            uri,
        )
        return len(rows) == 2  # two ids: neither Update was taken for a replay of the other

    await eventually(a_processed_both_updates, "A processes both of bob's Updates")
    # B's workers deliver the two at once, in either order: whichever came last, the newer edit stays
    copy = await a.status_by_uri(uri)
    assert copy is not None and "10am" in copy["content"]
    versions = await a.pool.fetch("SELECT content FROM status_edits WHERE status_id = $1 ORDER BY id", copy["id"])
    assert "10am" in versions[-1]["content"]

    # and changes his display name twice in quick succession
    user_id = await b.pool.fetchval("SELECT id FROM users WHERE actor_id = $1", bob["id"])
    for name in ("Bob's Bakery", "Bob's Bakery & Café"):
        changes = profiles.ProfileChanges(display_name=name)
        await profiles.update_profile(b.pool, b.urls, b.domain, bob["id"], user_id, changes)

    async def a_shows_the_second_name() -> bool:
        name = await a.pool.fetchval("SELECT display_name FROM actors WHERE uri = $1", bob["uri"])
        return bool(name == "Bob's Bakery & Café")

    await eventually(a_shows_the_second_name, "A shows bob's second display name")
