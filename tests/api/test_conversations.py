"""Direct conversations: grouping per participant set, unread state, read, remove, paging, scopes, and
that nobody sees a conversation they are not in."""

from __future__ import annotations

from typing import Any

import httpx

from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.social import Member, checked, error, member, token


async def dm(client: httpx.AsyncClient, author: Member, text: str, **extra: str) -> dict[str, Any]:
    form = {"status": text, "visibility": "direct", **extra}
    status: dict[str, Any] = await checked(client.post("/api/v1/statuses", data=form, headers=author.headers), "status")
    return status


async def conversations_of(client: httpx.AsyncClient, who: Member, query: str = "") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await checked(
        client.get(f"/api/v1/conversations{query}", headers=who.headers), "conversation"
    )
    return found


def people(conversation: dict[str, Any]) -> list[str]:
    return [a["username"] for a in conversation["accounts"]]


async def test_direct_statuses_are_grouped_per_participants_newest_first(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, carol, dave = [await member(db, urls, n) for n in ("alice", "bob", "carol", "dave")]
    first = await dm(client, alice, "@bob lunch?")
    reply = await dm(client, bob, "@alice sure", in_reply_to_id=first["id"])
    group = await dm(client, carol, "@alice @bob offsite plans")
    # a public mention and a followers-only post are not conversations
    await checked(client.post("/api/v1/statuses", data={"status": "@alice public"}, headers=dave.headers), "status")

    mine = await conversations_of(client, alice)
    assert [people(c) for c in mine] == [["bob", "carol"], ["bob"]]
    assert [c["last_status"]["id"] for c in mine] == [group["id"], reply["id"]]
    assert [c["unread"] for c in mine] == [True, True]  # others wrote the latest of each

    bobs = await conversations_of(client, bob)
    assert [people(c) for c in bobs] == [["alice", "carol"], ["alice"]]
    assert bobs[1]["unread"] is False  # bob wrote the latest one himself
    carols = await conversations_of(client, carol)
    assert [people(c) for c in carols] == [["alice", "bob"]] and carols[0]["unread"] is False
    assert await conversations_of(client, dave) == []  # never addressed: nothing leaks

    # alice's own note to herself is a conversation with herself alone
    note = await dm(client, alice, "remember the milk")
    assert people((await conversations_of(client, alice))[0]) == ["alice"]
    assert (await conversations_of(client, alice))[0]["last_status"]["id"] == note["id"]


async def test_paging_by_latest_status_with_link_header(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, carol, erin = [await member(db, urls, n) for n in ("alice", "bob", "carol", "erin")]
    sent = [await dm(client, alice, f"@{who.actor['username']} hi") for who in (bob, carol, erin)]
    response = await client.get("/api/v1/conversations?limit=2", headers=alice.headers)
    assert [people(c) for c in response.json()] == [["erin"], ["carol"]]
    link = response.headers["link"]
    assert f"max_id={sent[1]['id']}" in link and f"min_id={sent[2]['id']}" in link and "limit=2" in link
    older = await conversations_of(client, alice, f"?limit=2&max_id={sent[1]['id']}")
    assert [people(c) for c in older] == [["bob"]]
    newer = await conversations_of(client, alice, f"?min_id={sent[0]['id']}")
    assert [people(c) for c in newer] == [["erin"], ["carol"]]
    # a new message to bob moves his conversation to the top
    await dm(client, alice, "@bob again")
    assert [people(c) for c in await conversations_of(client, alice)] == [["bob"], ["erin"], ["carol"]]
    await error(client.get("/api/v1/conversations?max_id=abc", headers=alice.headers), 400)


async def test_read_and_remove_only_ones_own(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = [await member(db, urls, n) for n in ("alice", "bob")]
    await dm(client, bob, "@alice ping")
    [conversation] = await conversations_of(client, alice)
    [bobs] = await conversations_of(client, bob)
    assert conversation["unread"] is True

    # bob cannot touch alice's conversation by its id
    await error(client.post(f"/api/v1/conversations/{conversation['id']}/read", headers=bob.headers), 404)
    await error(client.delete(f"/api/v1/conversations/{conversation['id']}", headers=bob.headers), 404)
    for bad in ("abc", "0", "99999999999999999999", "%00"):
        await error(client.post(f"/api/v1/conversations/{bad}/read", headers=alice.headers), 404)

    read = await checked(
        client.post(f"/api/v1/conversations/{conversation['id']}/read", headers=alice.headers), "conversation"
    )
    assert read["id"] == conversation["id"] and read["unread"] is False
    assert (await conversations_of(client, alice))[0]["unread"] is False
    # a new message from bob makes it unread again
    await dm(client, bob, "@alice ping again")
    assert (await conversations_of(client, alice))[0]["unread"] is True

    assert (await client.delete(f"/api/v1/conversations/{conversation['id']}", headers=alice.headers)).json() == {}
    assert await conversations_of(client, alice) == []
    assert [c["id"] for c in await conversations_of(client, bob)] == [bobs["id"]]  # bob keeps his
    await error(client.delete(f"/api/v1/conversations/{conversation['id']}", headers=alice.headers), 404)
    # the statuses stay, and the next message opens the conversation afresh
    await dm(client, bob, "@alice still there?")
    assert [people(c) for c in await conversations_of(client, alice)] == [["bob"]]


async def test_deleted_statuses_leave_and_blocks_keep_out(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, mallory = [await member(db, urls, n) for n in ("alice", "bob", "mallory")]
    only = await dm(client, bob, "@alice oops")
    await checked(client.delete(f"/api/v1/statuses/{only['id']}", headers=bob.headers), "status")
    assert await conversations_of(client, alice) == []  # its only status is gone

    await checked(client.post(f"/api/v1/accounts/{mallory.account_id}/block", headers=alice.headers), "relationship")
    await dm(client, mallory, "@alice let me in")
    assert await conversations_of(client, alice) == []
    assert [people(c) for c in await conversations_of(client, mallory)] == [["alice"]]  # the author's own


async def test_scopes(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = [await member(db, urls, n) for n in ("alice", "bob")]
    await dm(client, bob, "@alice hello")
    reader = await token(db, alice, "read:statuses")
    [conversation] = await checked(client.get("/api/v1/conversations", headers=reader), "conversation")
    await error(client.get("/api/v1/conversations", headers=await token(db, alice, "read:notifications")), 403)
    await error(client.post(f"/api/v1/conversations/{conversation['id']}/read", headers=reader), 403)
    await error(client.delete(f"/api/v1/conversations/{conversation['id']}", headers=reader), 403)
    writer = await token(db, alice, "write:conversations")
    await checked(client.post(f"/api/v1/conversations/{conversation['id']}/read", headers=writer), "conversation")
    await error(client.get("/api/v1/conversations"), 401)
