"""Deleting an account reaches every server that has something of it, over real HTTP between live
instances (core/account_deletion.py, core/reach.py, group_relay.relay_account_deletion).

Three instances: the organization forge lives on A and is a member of hall7 on B; cogs on C follows the
hall, not forge, and so has forge's account, its thread and its reply in a hall thread only through the
hall's relay. When A deletes forge, B (which has forge as a member) removes it and relays the Delete to
the hall's audience, and C removes the account, the posts and the directory entry. A second test: a
server that only looked the organization up gets the Delete from A directly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from fediverse_biz.business import directory
from fediverse_biz.core import account_deletion, accounts, follows, statuses
from tests.support.halls import make_hall
from tests.support.instances import Instance, started
from tests.support.polling import eventually
from tests.support.servers import LiveServer


@pytest.fixture
async def three(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[list[Instance]]:
    async with started(live_server_factory, 3, Instance) as running:
        yield running


@pytest.fixture
async def two(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[list[Instance]]:
    async with started(live_server_factory, 2, Instance) as running:
        yield running


async def _forge(a: Instance) -> tuple[asyncpg.Record, int]:
    """The organization forge on A, with a company profile (what directories list), and its owner's login."""
    await a.user("olga")
    forge = await accounts.create_organization(a.pool, a.urls, "forge", "olga", display_name="Lyon Forge")
    # As organizations.update_profile stores it (the row, and the copy its actor document shows), without
    # the Update(actor) that nobody here would receive yet.
    profile = {"legal_name": "Lyon Forge SARL", "sector": "C", "country": "FR"}
    await a.pool.execute(
        "INSERT INTO organization_profiles (actor_id, legal_name, sector, country) VALUES ($1, $2, $3, $4)",
        forge["id"],
        *profile.values(),
    )
    await a.pool.execute(
        "UPDATE actors SET extra = extra || jsonb_build_object('organization', $2::text::jsonb) WHERE id = $1",
        forge["id"],
        json.dumps(profile),
    )
    owner = await a.pool.fetchval(
        "SELECT u.id FROM users u JOIN actors x ON x.id = u.actor_id WHERE x.username = 'olga'"
    )
    return forge, int(owner)


async def _join(instance: Instance, member: asyncpg.Record, handle: str) -> asyncpg.Record:
    hall = await instance.resolve(handle)
    await follows.follow(instance.pool, member, hall)
    await eventually(
        lambda: instance.pool.fetchval(
            "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", member["id"], hall["id"]
        ),
        f"{member['username']} joins the hall",
    )
    return hall


def _status_on(instance: Instance, uri: str) -> Callable[[], Awaitable[asyncpg.Record | None]]:
    return lambda: instance.status_by_uri(uri)


async def _uri(instance: Instance, status_id: int) -> str:
    return str(await instance.pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id))


async def _gone_from(instance: Instance, actor_uri: str) -> bool:
    """The account is deleted there: suspended, emptied, without posts, company profile or directory entry."""
    row = await instance.pool.fetchrow("SELECT * FROM actors WHERE uri = $1", actor_uri)
    if row is None or row["suspended_at"] is None:
        return False
    assert row["display_name"] == "" and row["discoverable"] is False
    assert await instance.pool.fetchval("SELECT count(*) FROM statuses WHERE actor_id = $1", row["id"]) == 0
    assert await instance.pool.fetchval("SELECT 1 FROM organization_profiles WHERE actor_id = $1", row["id"]) is None
    assert await directory.search(instance.pool, q="forge") == []
    return True


async def test_deleting_a_member_reaches_the_halls_audience(three: list[Instance], tmp_path: Path) -> None:
    a, b, c = three
    forge, owner = await _forge(a)
    bert = await b.user("bert")
    hall = await make_hall(b.pool, b.urls, bert)
    await follows.follow(b.pool, bert, hall.actor)  # its moderator is a member too, to post
    handle = f"hall7@{b.domain}"
    hall_on_a = await _join(a, forge, handle)
    cogs = await c.user("cogs")
    await _join(c, cogs, handle)

    # bert opens a thread in the hall; A gets it through the hall, forge replies in it
    thread = await _uri(b, await b.post(bert, "@hall7 Who machines stainless flanges?"))
    thread_on_a = await eventually(lambda: a.status_by_uri(thread), "A receives bert's thread from the hall")
    assert thread_on_a["community_id"] == hall_on_a["id"]
    reply = await _uri(a, await a.post(forge, "We do, up to DN 300.", in_reply_to_id=thread_on_a["id"]))
    # and forge opens a thread of its own
    own = await _uri(a, await a.post(forge, f"@{handle} Forged flanges, new price list"))
    for uri, what in ((thread, "bert's thread"), (reply, "forge's reply"), (own, "forge's thread")):
        await eventually(_status_on(c, uri), f"C receives {what} through the hall")
    forge_on_c = await c.pool.fetchrow("SELECT * FROM actors WHERE uri = $1", forge["uri"])
    assert [r["id"] for r in await directory.search(c.pool, q="forge")] == [forge_on_c["id"]]
    assert await c.pool.fetchval("SELECT legal_name FROM organization_profiles WHERE actor_id = $1",
                                 forge_on_c["id"]) == "Lyon Forge SARL"  # fmt: skip
    # C fetched forge (its actor, its posts), so A would reach C directly too; forget that, so that only
    # the hall's relay can tell C — the case of a hall audience A has never heard of
    c_inbox = f"{c.server.base_url}/inbox"
    await eventually(
        lambda: a.pool.fetchval("SELECT 1 FROM actor_reach WHERE actor_id = $1 AND inbox = $2", forge["id"], c_inbox),
        "A records C's fetch of forge",
    )
    await a.pool.execute("DELETE FROM actor_reach WHERE inbox = $1", c_inbox)

    # A deletes forge
    await account_deletion.delete_account(a.pool, a.urls, forge["id"], owner, media_root=tmp_path)

    await eventually(lambda: _gone_from(b, forge["uri"]), "B deletes forge, a member of its hall")
    assert await b.status_by_uri(thread) is not None  # bert's thread stays, without forge's reply
    deletion_id = f"{forge['uri']}#delete"
    assert await b.pool.fetchval(
        "SELECT 1 FROM community_announces WHERE activity_uri = $1 AND activity_type = 'Delete'", deletion_id
    )
    await eventually(lambda: _gone_from(c, forge["uri"]), "C deletes forge, told by the hall")
    assert await c.status_by_uri(thread) is not None
    relayed = await c.pool.fetchrow(
        """SELECT error FROM inbox_activities WHERE activity_type = 'Announce' AND payload->'object'->>'id' = $1""",
        deletion_id,
    )
    assert relayed["error"] is None  # C believed the hall: forge's own server answers 410 for it
    assert not await c.pool.fetchval("SELECT 1 FROM inbox_activities WHERE activity_id = $1", deletion_id)


async def test_a_server_that_only_fetched_the_account_gets_the_delete(two: list[Instance], tmp_path: Path) -> None:
    a, d = two
    forge, owner = await _forge(a)
    await statuses.create(a.pool, a.urls, a.domain, forge, statuses.Draft(text="Open day on Friday"))
    # D only looks forge up (a member's search): a signed GET of the actor, nothing else
    forge_on_d = await d.resolve(f"forge@{a.domain}")
    assert forge_on_d["suspended_at"] is None
    d_inbox = f"{d.server.base_url}/inbox"
    await eventually(
        lambda: a.pool.fetchval("SELECT 1 FROM actor_reach WHERE actor_id = $1 AND inbox = $2", forge["id"], d_inbox),
        "A records D's fetch of forge",
    )
    assert not await a.pool.fetchval("SELECT 1 FROM follows WHERE target_actor_id = $1", forge["id"])

    deleted = await account_deletion.delete_account(a.pool, a.urls, forge["id"], owner, media_root=tmp_path)

    assert deleted.deliveries == 1
    await eventually(lambda: _gone_from(d, forge["uri"]), "D deletes forge")
    processed = await d.pool.fetchrow("SELECT * FROM inbox_activities WHERE activity_id = $1", f"{forge['uri']}#delete")
    assert processed["processed_at"] is not None and processed["error"] is None
