"""Removing one's avatar or header (DELETE /api/v1/profile/avatar, /header): the file and the column go,
the CredentialAccount shows the defaults, followers' servers get Update(actor)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from fediverse_biz.config import Settings
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD, create_user_sync
from tests.support.factories import remote_actor
from tests.support.images import png
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer
from tests.support.social import checked, error, member, token

UPDATE = "/api/v1/accounts/update_credentials"


async def test_removing_the_avatar_and_the_header(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, settings: Settings
) -> None:
    alice = await member(db, urls, "alice")
    far = await remote_actor(db.pool, "far", "far.example")
    await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", far["id"], alice.id)
    files = {"avatar": ("me.png", png((800, 600)), "image/png"), "header": ("h.png", png((1600, 900)), "image/png")}
    me = await checked(client.patch(UPDATE, files=files, headers=alice.headers), "credential_account")
    avatar_file = settings.media_path / me["avatar"].removeprefix(urls.media(""))
    header_file = settings.media_path / me["header"].removeprefix(urls.media(""))
    assert avatar_file.is_file() and header_file.is_file()
    await db.pool.execute("DELETE FROM jobs")

    after = await checked(client.delete("/api/v1/profile/avatar", headers=alice.headers), "credential_account")
    assert after["avatar"] == urls.static("default-avatar.png") and after["header"] == me["header"]
    assert not avatar_file.exists() and header_file.is_file()
    assert await db.pool.fetchval("SELECT avatar_url FROM actors WHERE id = $1", alice.id) is None
    [job] = await db.pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver'")
    update = job["payload"]["activity"]
    assert update["type"] == "Update" and "icon" not in update["object"] and "image" in update["object"]
    assert job["payload"]["inbox"] == far["shared_inbox_url"]

    after = await checked(client.delete("/api/v1/profile/header", headers=alice.headers), "credential_account")
    assert after["header"] == urls.static("default-header.png") and not header_file.exists()
    shown = await checked(client.get(f"/api/v1/accounts/{alice.id}"), "account")
    assert shown["avatar"] == after["avatar"] and shown["header"] == after["header"]
    # removing what is not there: the same answer, nothing sent again
    await db.pool.execute("DELETE FROM jobs")
    await checked(client.delete("/api/v1/profile/header", headers=alice.headers), "credential_account")
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_a_url_not_ours_is_cleared_but_no_file_is_touched(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, settings: Settings
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    files = {"avatar": ("b.png", png((200, 200)), "image/png")}
    bobs = await checked(client.patch(UPDATE, files=files, headers=bob.headers), "credential_account")
    # alice's row pointing at bob's file (as an operator's mistake could): clearing hers keeps his
    await db.pool.execute("UPDATE actors SET avatar_url = $2 WHERE id = $1", alice.id, bobs["avatar"])
    await checked(client.delete("/api/v1/profile/avatar", headers=alice.headers), "credential_account")
    assert (settings.media_path / bobs["avatar"].removeprefix(urls.media(""))).is_file()
    await db.pool.execute("UPDATE actors SET avatar_url = $2 WHERE id = $1", alice.id,
                          urls.media(f"accounts/{alice.id}/../{bob.id}/x.png"))  # fmt: skip
    await checked(client.delete("/api/v1/profile/avatar", headers=alice.headers), "credential_account")
    assert (settings.media_path / bobs["avatar"].removeprefix(urls.media(""))).is_file()


async def test_scopes(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    assert await error(client.delete("/api/v1/profile/avatar"), 401)
    assert await error(client.delete("/api/v1/profile/avatar", headers=await token(db, alice, "read")), 403)
    await checked(client.delete("/api/v1/profile/header", headers=await token(db, alice, "write:accounts")),
                  "credential_account")  # fmt: skip


async def test_mastodon_py_removes_the_avatar(live_server_factory: Callable[..., LiveServer]) -> None:
    live = await asyncio.to_thread(live_server_factory)
    await asyncio.to_thread(create_user_sync, live, "alice")
    alice = await asyncio.to_thread(password_login, live.base_url, "alice", PASSWORD)
    me = await asyncio.to_thread(alice.account_update_credentials, avatar=png((300, 300)), avatar_mime_type="image/png")
    assert "/media/" in me["avatar"]
    me = await asyncio.to_thread(alice.account_delete_avatar)
    assert me["avatar"].endswith("/static/default-avatar.png")
    me = await asyncio.to_thread(alice.account_delete_header)
    assert me["header"].endswith("/static/default-header.png")
