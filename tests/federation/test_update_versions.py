"""Updates received: newer `updated` wins, and a repeated id is not a reason to drop a newer version.

Peers may send two different Updates under one activity id (Mastodon's `#updates/<unix seconds>` does for
two edits or profile changes within one second). The inbox keeps an Update once per version of its object
(federation/inbox.py, migration 0015), so the second is heard; which version is shown is the handlers'
rule, newer `updated` wins, whatever the order the Updates arrive in. End to end through
tests/support/inbound.py.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from starlette.applications import Starlette

from fediverse_biz.activitypub.context import PUBLIC
from tests.support.inbound import receive, remote_status, stored_note
from tests.support.peers import FakePeer, PeerActor


async def rows_of(pool: asyncpg.Pool, activity_id: str) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM inbox_activities WHERE activity_id = $1 ORDER BY id", activity_id))


async def history(pool: asyncpg.Pool, status_id: int) -> list[str]:
    rows = await pool.fetch("SELECT content FROM status_edits WHERE status_id = $1 ORDER BY id", status_id)
    return [r["content"] for r in rows]


def edit(note: dict[str, Any], content: str, updated: str) -> dict[str, Any]:
    return note | {"content": f"<p>{content}</p>", "updated": updated}


# ---- posts -------------------------------------------------------------------------------------------
async def test_the_same_update_id_with_a_newer_note_is_applied(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    note = await stored_note(app, client, peer, pool, alice, bob)
    # two edits within one second, sent (as Mastodon does) under one id
    first = peer.activity("Update", bob, edit(note, "second version", "2024-05-01T13:00:00Z"))
    await receive(app, client, first, bob)
    again = first | {"object": edit(note, "third version", "2024-05-01T13:00:00Z")}
    await receive(app, client, again, bob)
    status = await remote_status(pool, note["id"])
    assert status["content"] == "<p>third version</p>"
    assert await history(pool, status["id"]) == [
        "<p>first version</p>", "<p>second version</p>", "<p>third version</p>"
    ]
    assert [r["error"] for r in await rows_of(pool, first["id"])] == [None, None]


async def test_the_same_update_id_with_an_older_note_is_ignored(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    note = await stored_note(app, client, peer, pool, alice, bob)
    newer = peer.activity("Update", bob, edit(note, "newer", "2024-05-01T13:00:00.900000Z"))
    await receive(app, client, newer, bob)
    older = newer | {"object": edit(note, "older", "2024-05-01T13:00:00.100000Z")}  # the same second
    await receive(app, client, older, bob)
    status = await remote_status(pool, note["id"])
    assert status["content"] == "<p>newer</p>"
    assert await history(pool, status["id"]) == ["<p>first version</p>", "<p>newer</p>"]
    assert len(await rows_of(pool, newer["id"])) == 2  # heard, and judged by its `updated`


async def test_edits_arriving_out_of_order_within_one_second_keep_the_newer(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    note = await stored_note(app, client, peer, pool, alice, bob)
    await receive(app, client, peer.activity("Update", bob, edit(note, "10am", "2024-05-01T13:00:00.700000Z")), bob)
    await receive(app, client, peer.activity("Update", bob, edit(note, "9am", "2024-05-01T13:00:00.200000Z")), bob)
    assert (await remote_status(pool, note["id"]))["content"] == "<p>10am</p>"


async def test_the_same_update_delivered_again_is_processed_once(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    note = await stored_note(app, client, peer, pool, alice, bob)
    update = peer.activity("Update", bob, edit(note, "second version", "2024-05-01T13:00:00Z"))
    await receive(app, client, update, bob)
    # a retry: the same activity, its keys in another order
    reordered = dict(reversed(update.items())) | {"object": dict(reversed(update["object"].items()))}
    await receive(app, client, reordered, bob)
    assert len(await rows_of(pool, update["id"])) == 1
    status = await remote_status(pool, note["id"])
    assert await history(pool, status["id"]) == ["<p>first version</p>", "<p>second version</p>"]


async def test_other_activities_are_still_deduplicated_on_their_id(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = peer.actor("bob")
    note = await stored_note(app, client, peer, pool, alice, bob)
    create = peer.activity("Create", bob, edit(note, "other words", "2024-05-01T13:00:00Z"))
    await receive(app, client, create, bob)
    await receive(app, client, create | {"object": edit(note, "yet other words", "2024-05-01T14:00:00Z")}, bob)
    assert len(await rows_of(pool, create["id"])) == 1


# ---- profiles ----------------------------------------------------------------------------------------
async def known(app: Starlette, client: httpx.AsyncClient, peer: FakePeer, alice: asyncpg.Record) -> PeerActor:
    bob = peer.actor("bob")
    await receive(app, client, peer.activity("Follow", bob, alice["uri"]), bob)
    return bob


async def display_name(pool: asyncpg.Pool, bob: PeerActor) -> str:
    return str(await pool.fetchval("SELECT display_name FROM actors WHERE uri = $1", bob.uri))


async def test_the_same_profile_update_id_with_another_document_is_applied(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = await known(app, client, peer, alice)
    # Mastodon's documents carry no `updated`: both are applied, in the order they come
    first = peer.activity("Update", bob, bob.doc | {"name": "Bob's Bakery"}, to=[PUBLIC])
    await receive(app, client, first, bob)
    await receive(app, client, first | {"object": bob.doc | {"name": "Bob's Bakery & Café"}}, bob)
    assert await display_name(pool, bob) == "Bob's Bakery & Café"
    assert len(await rows_of(pool, first["id"])) == 2


async def test_an_older_profile_document_is_ignored_whatever_its_id(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record
) -> None:
    bob = await known(app, client, peer, alice)
    newer = peer.activity("Update", bob, bob.doc | {"name": "New", "updated": "2024-05-01T13:00:00.9Z"}, to=[PUBLIC])
    await receive(app, client, newer, bob)
    # the same id, then another id, each with an older document: neither changes the profile
    same_id = newer | {"object": bob.doc | {"name": "Old", "updated": "2024-05-01T13:00:00.1Z"}}
    await receive(app, client, same_id, bob)
    other_id = peer.activity("Update", bob, bob.doc | {"name": "Older", "updated": "2024-04-30T00:00:00Z"})
    record = await receive(app, client, other_id, bob)
    assert await display_name(pool, bob) == "New"
    assert record["error"] == "an older profile than the one applied last (newer `updated` wins)"
    # a document as new as the last one, or newer, is applied
    later = peer.activity("Update", bob, bob.doc | {"name": "Newest", "updated": "2024-05-02T00:00:00Z"})
    await receive(app, client, later, bob)
    assert await display_name(pool, bob) == "Newest"
