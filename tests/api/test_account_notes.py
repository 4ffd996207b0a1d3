"""Private account notes (POST /api/v1/accounts/:id/note): shown as `note` in the author's Relationship
only; blank removes; length, unknown accounts and scopes refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.accounts import PASSWORD, create_user_sync
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer
from tests.support.social import checked, error, member, token


async def test_a_note_is_shown_to_its_author_only(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob, carol = [await member(db, urls, n) for n in ("alice", "bob", "carol")]
    far = await factories.remote_actor(db.pool, "far")
    rel = await checked(
        client.post(f"/api/v1/accounts/{bob.id}/note", json={"comment": "Supplier of flour; call before 10"},
                    headers=alice.headers),
        "relationship",
    )  # fmt: skip
    assert rel["id"] == bob.account_id and rel["note"] == "Supplier of flour; call before 10"
    await checked(client.post(f"/api/v1/accounts/{far['id']}/note", data={"comment": "met at the fair"},
                              headers=alice.headers), "relationship")  # fmt: skip
    mine = await checked(
        client.get(f"/api/v1/accounts/relationships?id[]={bob.id}&id[]={far['id']}", headers=alice.headers),
        "relationship",
    )
    assert [r["note"] for r in mine] == ["Supplier of flour; call before 10", "met at the fair"]
    [theirs] = await checked(client.get(f"/api/v1/accounts/relationships?id[]={bob.id}", headers=carol.headers),
                             "relationship")  # fmt: skip
    assert theirs["note"] == ""
    [own] = await checked(client.get(f"/api/v1/accounts/relationships?id[]={alice.id}", headers=bob.headers),
                          "relationship")  # fmt: skip
    assert own["note"] == ""  # bob does not see what alice wrote about him
    changed = await checked(client.post(f"/api/v1/accounts/{bob.id}/note", data={"comment": "new"},
                                        headers=alice.headers), "relationship")  # fmt: skip
    assert changed["note"] == "new"
    cleared = await checked(client.post(f"/api/v1/accounts/{bob.id}/note", headers=alice.headers), "relationship")
    assert cleared["note"] == ""
    assert await db.pool.fetchval("SELECT count(*) FROM account_notes WHERE target_actor_id = $1", bob.id) == 0


async def test_bad_notes_are_refused(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    note = f"/api/v1/accounts/{bob.id}/note"
    assert "too long" in await error(client.post(note, json={"comment": "x" * 2001}, headers=alice.headers), 422)
    await checked(client.post(note, json={"comment": "x" * 2000}, headers=alice.headers), "relationship")
    assert await error(client.post(note, json={"comment": "a\u0000b"}, headers=alice.headers), 422)
    assert "text" in await error(client.post(note, json={"comment": {"x": 1}}, headers=alice.headers), 422)
    assert "text" in await error(client.post(note, json={"comment": ["a", "b"]}, headers=alice.headers), 422)
    assert await error(client.post("/api/v1/accounts/99999/note", json={"comment": "x"}, headers=alice.headers),
                       404) == "Record not found"  # fmt: skip
    assert await error(client.post("/api/v1/accounts/1e3/note", json={"comment": "x"}, headers=alice.headers),
                       404) == "Record not found"  # fmt: skip
    assert await error(client.post(note, json={"comment": "x"}, headers=await token(db, alice, "read")), 403)
    assert await error(client.post(note, json={"comment": "x"}), 401)
    granular = await token(db, alice, "write:accounts")
    await checked(client.post(note, json={"comment": "ok"}, headers=granular), "relationship")


async def test_mastodon_py_writes_a_note(live_server_factory: Callable[..., LiveServer]) -> None:
    live = await asyncio.to_thread(live_server_factory)
    for name in ("alice", "bob"):
        await asyncio.to_thread(create_user_sync, live, name)
    alice = await asyncio.to_thread(password_login, live.base_url, "alice", PASSWORD)
    bob = await asyncio.to_thread(alice.account_lookup, "bob")
    rel = await asyncio.to_thread(alice.account_note_set, bob, "pays on time")
    assert rel["note"] == "pays on time"
    [again] = await asyncio.to_thread(alice.account_relationships, bob)
    assert again["note"] == "pays on time"
