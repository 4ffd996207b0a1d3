"""A hall between three live instances: FEP-1b12 over real HTTP, signatures, workers.

A hosts the hall, created by the organization acme; bolts (on B) and cogs (on C) join it by following.
bolts posts to the hall; A's hall announces it; C receives it in both forms — the Announce wrapping B's
Create exactly as A received it, and the plain boost of the Note — and shows it in cogs' home feed. A
non-member's post (spam, also on B) is refused; a moderator's removal reaches C; a banned member's next
post is refused. "Refused" is read on A once A has processed the post: the relay runs in the transaction
that applies the activity, so no community_announces row and no delivery job means C can never get it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from fediverse_biz.business import hall_moderation
from fediverse_biz.business.communities import Acting
from fediverse_biz.core import accounts, follows, statuses
from tests.support.halls import make_hall
from tests.support.instances import Instance, started
from tests.support.polling import eventually
from tests.support.servers import LiveServer


@pytest.fixture
async def fair(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[list[Instance]]:
    async with started(live_server_factory, 3, Instance) as running:
        yield running


async def _organization(instance: Instance, name: str, owner: str) -> asyncpg.Record:
    await instance.user(owner)
    return await accounts.create_organization(instance.pool, instance.urls, name, owner, display_name=name.title())


async def _join(instance: Instance, member: asyncpg.Record, hall_handle: str) -> asyncpg.Record:
    hall = await instance.resolve(hall_handle)
    assert hall["actor_type"] == "Group"
    await follows.follow(instance.pool, member, hall)
    await eventually(
        lambda: instance.pool.fetchval(
            "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", member["id"], hall["id"]
        ),
        f"{member['username']} joins the hall (A's Accept arrives)",
    )
    return hall


async def _post(instance: Instance, author: asyncpg.Record, text: str) -> str:
    status_id = await statuses.create(instance.pool, instance.urls, instance.domain, author, statuses.Draft(text=text))
    return str(await instance.pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id))


async def _processed_on(instance: Instance, create_id: str) -> Any:
    return await instance.pool.fetchrow(
        "SELECT * FROM inbox_activities WHERE activity_id = $1 AND processed_at IS NOT NULL", create_id
    )


async def _refused_by_hall(a: Instance, c: Instance, note_uri: str) -> None:
    await eventually(lambda: _processed_on(a, f"{note_uri}/activity"), "A processes the post")
    assert not await a.pool.fetchval("SELECT 1 FROM community_announces WHERE object_uri = $1", note_uri)
    # the only thing A may still send about it is the hall's Reject to the author (FEP-1b12: MAY Reject)
    queued = await a.pool.fetch(
        "SELECT payload->'activity'->>'type' AS type FROM jobs WHERE payload::text LIKE '%' || $1 || '%'", note_uri
    )
    assert {r["type"] for r in queued} <= {"Reject"}
    assert await a.pool.fetchval("SELECT community_id FROM statuses WHERE uri = $1", note_uri) is None
    assert await c.status_by_uri(note_uri) is None
    assert not await c.pool.fetchval(
        "SELECT 1 FROM inbox_activities WHERE payload::text LIKE '%' || $1 || '%'", note_uri
    )


async def test_a_hall_across_three_instances(fair: list[Instance]) -> None:
    a, b, c = fair
    acme = await _organization(a, "acme", "anna")
    hall = await make_hall(a.pool, a.urls, acme)
    anna_user = await a.pool.fetchval(
        "SELECT u.id FROM users u JOIN actors x ON x.id = u.actor_id WHERE x.username = 'anna'"
    )
    moderator = Acting(acme["id"], anna_user)
    bolts = await _organization(b, "bolts", "ben")
    spam = await _organization(b, "spam", "sid")
    cogs = await _organization(c, "cogs", "cara")
    handle = f"hall7@{a.domain}"
    await _join(b, bolts, handle)
    hall_on_c = await _join(c, cogs, handle)
    await b.resolve(handle)  # spam knows the hall, but never joins

    # B posts to the hall; A's hall announces it; C receives both forms
    note = await _post(b, bolts, f"@{handle} New bolts catalogue, M3 to M24")
    create_id = f"{note}/activity"
    received_on_a = await eventually(lambda: _processed_on(a, create_id), "A receives B's Create")
    wrapped = await eventually(
        lambda: c.pool.fetchrow(
            """SELECT payload FROM inbox_activities
                WHERE activity_type = 'Announce' AND actor_uri = $1 AND payload->'object'->>'id' = $2""",
            hall.actor["uri"],
            create_id,
        ),
        "C receives the hall's Announce(Create)",
    )
    assert wrapped["payload"]["object"] == received_on_a["payload"]  # wrapped unchanged (FEP-1b12)
    assert wrapped["payload"]["object"]["actor"] == bolts["uri"]
    await eventually(
        lambda: c.pool.fetchval(
            """SELECT 1 FROM inbox_activities
                WHERE activity_type = 'Announce' AND actor_uri = $1 AND payload->>'object' = $2""",
            hall.actor["uri"],
            note,
        ),
        "C receives the hall's plain boost, Announce(Note)",
    )
    on_c = await eventually(lambda: c.status_by_uri(note), "C stores the post")
    assert "New bolts catalogue" in on_c["content"] and on_c["community_id"] == hall_on_c["id"]
    bolts_on_c = await c.pool.fetchval("SELECT id FROM actors WHERE uri = $1", bolts["uri"])
    assert on_c["actor_id"] == bolts_on_c  # attributed to its author
    assert await eventually(
        lambda: c.pool.fetchval(
            """SELECT 1 FROM home_feed h JOIN statuses s ON s.id = h.status_id
                WHERE h.actor_id = $1 AND s.reblog_of_id = $2 AND s.actor_id = $3""",
            cogs["id"],
            on_c["id"],
            hall_on_c["id"],
        ),
        "cogs sees the thread in its home feed, boosted by the hall",
    )

    # a non-member's post is refused: not announced, never reaches C
    spam_note = await _post(b, spam, f"@{handle} Cheap watches!!!")
    await _refused_by_hall(a, c, spam_note)

    # a moderator removes bolts' post: C sees it removed
    on_a = await a.status_by_uri(note)
    await hall_moderation.remove_post(a.pool, a.urls, hall.id, moderator, on_a["id"], "duplicate")
    await eventually(lambda: _gone(c, note), "C removes the post the moderator removed")
    await eventually(
        lambda: b.pool.fetchval("SELECT community_id IS NULL FROM statuses WHERE uri = $1", note),
        "B's own post leaves the hall (bolts keeps it)",
    )

    # a banned member's next post is refused
    bolts_on_a = await a.pool.fetchrow("SELECT * FROM actors WHERE uri = $1", bolts["uri"])
    await hall_moderation.ban(a.pool, hall.id, moderator, bolts_on_a["id"], "spam")
    await eventually(
        lambda: b.pool.fetchval(
            "SELECT 1 FROM blocks b JOIN actors h ON h.id = b.actor_id WHERE h.uri = $1", hall.actor["uri"]
        ),
        "B records the hall's Block",
    )
    assert not await b.pool.fetchval(
        "SELECT 1 FROM follows f JOIN actors h ON h.id = f.target_actor_id WHERE h.uri = $1", hall.actor["uri"]
    )
    banned_note = await _post(b, bolts, f"@{handle} We are back")
    await _refused_by_hall(a, c, banned_note)
    # and the hall still works for members in good standing
    cogs_note = await _post(c, cogs, f"@{handle} Gears, any module")
    await eventually(
        lambda: a.pool.fetchval("SELECT 1 FROM community_announces WHERE object_uri = $1", cogs_note),
        "A relays cogs' post",
    )


async def _gone(instance: Instance, uri: str) -> bool:
    return await instance.status_by_uri(uri) is None
