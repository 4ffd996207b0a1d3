"""Domain blocks by users (GET/POST/DELETE /api/v1/domain_blocks): a blocked domain's accounts and posts
leave the user's timelines, notifications and search, its followers of the user go (Reject sent), and
`domain_blocking` says so; the instance's public list at /api/v1/instance/domain_blocks."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette

from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import factories, peers
from tests.support.accounts import PASSWORD, create_user_sync
from tests.support.inbound import local_post, receive, remote_status, row_of
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer
from tests.support.social import checked, error, member, token

peer = peers.peer


async def empty(call: Any) -> None:
    """Mastodon answers these with an empty object."""
    response = await call
    assert response.status_code == 200 and response.json() == {}, response.text


async def _ids(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[str]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    body: Any = response.json()
    return [item["id"] for item in (body if isinstance(body, list) else body["statuses"] + body["accounts"])]


async def test_a_blocked_domain_disappears_for_the_user_only(
    app: Starlette, client: httpx.AsyncClient, db: Database, urls: LocalUrls, peer: peers.FakePeer
) -> None:
    alice, carol = await member(db, urls, "alice"), await member(db, urls, "carol")
    bob = peer.actor("bob")
    bob_row = await row_of(app, bob)
    await db.pool.execute("UPDATE actors SET indexable = true WHERE id = $1", bob_row["id"])  # searchable posts
    await db.pool.execute(
        "INSERT INTO follows (actor_id, target_actor_id, uri) VALUES ($1, $3, NULL), ($2, $3, NULL), ($3, $1, $4)",
        alice.id, carol.id, bob_row["id"], f"{bob.uri}#follows/1",
    )  # fmt: skip
    note = peer.note(bob, "<p>grainfield harvest</p>")
    await receive(app, client, peer.activity("Create", bob, note), bob)
    status = str((await remote_status(db.pool, note["id"]))["id"])
    _, mine = await local_post(db.pool, urls, alice.actor, "my post")
    await receive(app, client, peer.activity("Like", bob, mine), bob)
    bob_id = str(bob_row["id"])
    views = {
        "home": "/api/v1/timelines/home",
        "public": "/api/v1/timelines/public",
        "search": "/api/v2/search?q=grainfield&type=statuses",
        "accounts": "/api/v2/search?q=bob&type=accounts",
    }
    for url in views.values():
        assert {status, bob_id} & set(await _ids(client, url, alice.headers)), url
    assert len(await checked(client.get("/api/v1/notifications", headers=alice.headers), "notification")) == 1

    await empty(client.post("/api/v1/domain_blocks", data={"domain": f" {peer.host.upper()} "},
                              headers=alice.headers))  # fmt: skip
    for url in views.values():
        assert not {status, bob_id} & set(await _ids(client, url, alice.headers)), url
        assert {status, bob_id} & set(await _ids(client, url, carol.headers)), url  # only alice's choice
    assert await checked(client.get("/api/v1/notifications", headers=alice.headers), "notification") == []
    [rel] = await checked(client.get(f"/api/v1/accounts/relationships?id[]={bob_id}", headers=alice.headers),
                          "relationship")  # fmt: skip
    assert rel["domain_blocking"] is True and rel["followed_by"] is False  # bob no longer follows alice
    [rel] = await checked(client.get(f"/api/v1/accounts/relationships?id[]={bob_id}", headers=carol.headers),
                          "relationship")  # fmt: skip
    assert rel["domain_blocking"] is False
    assert (bob.inbox, "Reject") in await factories.deliveries(db.pool)
    # what the domain does from now on does not notify her either
    _, later = await local_post(db.pool, urls, alice.actor, "another")
    await receive(app, client, peer.activity("Like", bob, later), bob)
    assert await checked(client.get("/api/v1/notifications", headers=alice.headers), "notification") == []

    assert (await client.get("/api/v1/domain_blocks", headers=alice.headers)).json() == [peer.host]
    await empty(client.request("DELETE", f"/api/v1/domain_blocks?domain={peer.host}", headers=alice.headers))
    assert (await client.get("/api/v1/domain_blocks", headers=alice.headers)).json() == []
    assert status in await _ids(client, views["home"], alice.headers)


async def test_instance_blocks_no_longer_count_as_the_users(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    far = await factories.remote_actor(db.pool, "far", "silenced.example")
    await db.pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ('silenced.example', 'silence')")
    [rel] = await checked(client.get(f"/api/v1/accounts/relationships?id[]={far['id']}", headers=alice.headers),
                          "relationship")  # fmt: skip
    assert rel["domain_blocking"] is False


async def test_domain_blocks_page_with_a_link_header(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    for domain in ("one.example", "two.example", "three.example", "two.example"):
        await client.post("/api/v1/domain_blocks", json={"domain": domain}, headers=alice.headers)
    first = await client.get("/api/v1/domain_blocks?limit=2", headers=alice.headers)
    assert first.json() == ["three.example", "two.example"]
    next_url = first.headers["link"].split(">")[0].removeprefix("<")
    assert 'rel="next"' in first.headers["link"] and "max_id=" in next_url
    second = await client.get(next_url.removeprefix("http://127.0.0.1"), headers=alice.headers)
    assert second.json() == ["one.example"]


async def test_hostile_domains_and_missing_scopes_are_refused(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    for bad in ("", "   ", "a b.example", "http://evil.example/", "../etc", "x" * 300, "évil..example", "-a.example",
                "127.0.0.1", "a.example:99999999", "a.example\u0000"):  # fmt: skip
        response = await client.post("/api/v1/domain_blocks", json={"domain": bad}, headers=alice.headers)
        assert response.status_code == 422, (bad, response.text)
        assert "error" in response.json()
    assert (await client.post("/api/v1/domain_blocks", json={}, headers=alice.headers)).status_code == 422
    assert await db.pool.fetchval("SELECT count(*) FROM account_domain_blocks") == 0
    await empty(client.post("/api/v1/domain_blocks", json={"domain": "bücher.example"}, headers=alice.headers))
    assert (await client.get("/api/v1/domain_blocks", headers=alice.headers)).json() == ["xn--bcher-kva.example"]
    read_only, write_only = await token(db, alice, "read"), await token(db, alice, "write:blocks")
    assert await error(client.post("/api/v1/domain_blocks", json={"domain": "b.example"}, headers=read_only), 403)
    assert await error(client.get("/api/v1/domain_blocks", headers=write_only), 403)
    assert await error(client.get("/api/v1/domain_blocks"), 401)
    await empty(client.post("/api/v1/domain_blocks", json={"domain": "b.example"}, headers=write_only))


async def test_instance_domain_blocks_are_public_with_digests(client: httpx.AsyncClient, db: Database) -> None:
    await db.pool.execute(
        "INSERT INTO domain_blocks (domain, severity) VALUES ('spam.example', 'suspend'), ('loud.example', 'silence')"
    )
    response = await client.get("/api/v1/instance/domain_blocks")
    assert response.status_code == 200
    assert response.json() == [
        {"domain": "loud.example", "digest": hashlib.sha256(b"loud.example").hexdigest(), "severity": "silence"},
        {"domain": "spam.example", "digest": hashlib.sha256(b"spam.example").hexdigest(), "severity": "suspend"},
    ]


async def test_mastodon_py_blocks_and_unblocks_a_domain(live_server_factory: Callable[..., LiveServer]) -> None:
    live = await asyncio.to_thread(live_server_factory)
    await asyncio.to_thread(create_user_sync, live, "alice")
    alice = await asyncio.to_thread(password_login, live.base_url, "alice", PASSWORD)
    await asyncio.to_thread(alice.domain_block, "spam.example")
    await asyncio.to_thread(alice.domain_block, "ads.example")
    assert await asyncio.to_thread(alice.domain_blocks) == ["ads.example", "spam.example"]
    await asyncio.to_thread(alice.domain_unblock, "spam.example")
    assert await asyncio.to_thread(alice.domain_blocks) == ["ads.example"]
