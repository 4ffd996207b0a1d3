"""Resolving remote actors: two real servers on loopback, and misbehaving peers simulated with aiohttp.

The live servers are our own code end to end (WebFinger, actor documents, the SSRF-safe client). The
simulated peers exist only to send what our server never would: ids on other hosts, keys owned by
someone else, WebFinger answers that do not loop back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from fediverse_biz.activitypub.keys import generate_key_pair
from fediverse_biz.activitypub.signatures import verify_request
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.db.pool import create_pool
from fediverse_biz.federation.remote_actors import (
    RemoteActorError,
    instance_signer,
    public_key_for,
    resolve_actor,
    resolve_handle,
)
from fediverse_biz.net.fetch import create_session
from fediverse_biz.urls import LocalUrls
from tests.support.loopback import listen
from tests.support.servers import LiveServer

PASSWORD = "correct horse battery"
AP_TYPE = "application/activity+json"
_, PEER_PEM = generate_key_pair()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    session = create_session(["127.0.0.0/8"], user_agent="fediverse_biz-tests")
    yield session
    await session.close()


# ---- two live servers --------------------------------------------------------------------------


@pytest.fixture
def servers(live_server_factory: Callable[..., LiveServer]) -> tuple[LiveServer, LiveServer]:
    # Started from a sync fixture: the factory runs its own event loop, which cannot nest in a test's.
    return live_server_factory(), live_server_factory()


@pytest.fixture
async def pool_a(servers: tuple[LiveServer, LiveServer]) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(servers[0].dsn, min_size=1, max_size=3)
    yield pool
    await pool.close()


async def create_user_on(server: LiveServer, username: str) -> asyncpg.Record:
    pool = await create_pool(server.dsn, min_size=1, max_size=2)
    try:
        user = await accounts.create_user(
            pool, LocalUrls(server.base_url), username, f"{username}@example.com", PASSWORD
        )
        return await pool.fetchrow("SELECT * FROM actors WHERE id = $1", user.actor_id)
    finally:
        await pool.close()


async def execute_on(server: LiveServer, sql: str, *args: Any) -> None:
    conn = await asyncpg.connect(server.dsn)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def test_handle_on_another_server_is_resolved_and_stored(
    servers: tuple[LiveServer, LiveServer], pool_a: asyncpg.Pool, http: aiohttp.ClientSession
) -> None:
    _, b = servers
    alice_on_b = await create_user_on(b, "alice")
    signer = instance_signer(await pool_a.fetchrow("SELECT * FROM actors WHERE is_instance_actor"))

    # when A resolves alice@B (in any case, as users type it)
    row = await resolve_handle(pool_a, http, f"@ALICE@127.0.0.1:{b.port}", signer=signer, scheme="http")

    # then A stores B's actor with everything needed to deliver to it and verify it
    assert row["uri"] == f"{b.base_url}/users/alice"
    assert row["username"] == "alice"
    assert row["domain"] == f"127.0.0.1:{b.port}"
    assert row["actor_type"] == "Person"
    assert row["inbox_url"] == f"{b.base_url}/users/alice/inbox"
    assert row["shared_inbox_url"] == f"{b.base_url}/inbox"
    assert row["followers_url"] == f"{b.base_url}/users/alice/followers"
    assert row["key_id"] == f"{b.base_url}/users/alice#main-key"
    assert row["public_key_pem"] == alice_on_b["public_key_pem"]
    assert row["private_key_pem"] is None
    assert row["url"] == f"{b.base_url}/@alice"
    assert row["fetched_at"] is not None
    assert await pool_a.fetchval("SELECT count(*) FROM actors WHERE domain IS NOT NULL") == 1

    # and a second lookup is served from the cache, same row
    again = await resolve_handle(pool_a, http, f"alice@127.0.0.1:{b.port}", scheme="http")
    assert again["id"] == row["id"] and again["fetched_at"] == row["fetched_at"]

    # and B's key is found for a signature B's alice makes
    found = await public_key_for(pool_a, http, row["key_id"])
    assert found is not None and found[0] == alice_on_b["public_key_pem"] and found[1]["id"] == row["id"]


async def test_key_of_an_unknown_actor_is_fetched(
    servers: tuple[LiveServer, LiveServer], pool_a: asyncpg.Pool, http: aiohttp.ClientSession
) -> None:
    _, b = servers
    bob_on_b = await create_user_on(b, "bob")
    found = await public_key_for(pool_a, http, f"{b.base_url}/users/bob#main-key")
    assert found is not None
    pem, row = found
    assert pem == bob_on_b["public_key_pem"]
    assert row["uri"] == f"{b.base_url}/users/bob"
    # a keyId the actor does not list is no key at all
    assert await public_key_for(pool_a, http, f"{b.base_url}/users/bob#other-key") is None
    assert await public_key_for(pool_a, http, f"{b.base_url}/users/nobody#main-key") is None


async def test_refresh_and_staleness_refetch(
    servers: tuple[LiveServer, LiveServer], pool_a: asyncpg.Pool, http: aiohttp.ClientSession
) -> None:
    _, b = servers
    await create_user_on(b, "carol")
    uri = f"{b.base_url}/users/carol"
    first = await resolve_actor(pool_a, http, uri)
    assert first["display_name"] == ""

    # given carol renames herself on B
    await execute_on(b, "UPDATE actors SET display_name = 'Carol C.' WHERE username = 'carol'")
    # then a fresh cache still answers the old name
    assert (await resolve_actor(pool_a, http, uri))["display_name"] == ""
    # and refresh=True fetches again, updating the same row
    refreshed = await resolve_actor(pool_a, http, uri, refresh=True)
    assert refreshed["display_name"] == "Carol C." and refreshed["id"] == first["id"]
    assert refreshed["fetched_at"] > first["fetched_at"]

    # and a row older than a day is fetched again without being asked
    await execute_on(b, "UPDATE actors SET display_name = 'Carol Two' WHERE username = 'carol'")
    await pool_a.execute("UPDATE actors SET fetched_at = now() - interval '2 days' WHERE id = $1", first["id"])
    assert (await resolve_actor(pool_a, http, uri))["display_name"] == "Carol Two"


async def test_webfinger_for_an_unknown_account_fails_cleanly(
    servers: tuple[LiveServer, LiveServer], pool_a: asyncpg.Pool, http: aiohttp.ClientSession
) -> None:
    _, b = servers
    with pytest.raises(RemoteActorError) as info:
        await resolve_handle(pool_a, http, f"nobody@127.0.0.1:{b.port}", scheme="http")
    assert info.value.status == 404
    assert await pool_a.fetchval("SELECT count(*) FROM actors WHERE domain IS NOT NULL") == 0


async def test_own_handles_and_urls_are_never_fetched(
    servers: tuple[LiveServer, LiveServer], pool_a: asyncpg.Pool, http: aiohttp.ClientSession
) -> None:
    a, _ = servers
    dave = await create_user_on(a, "dave")
    row = await resolve_handle(pool_a, http, f"dave@127.0.0.1:{a.port}", scheme="http")
    assert row["id"] == dave["id"] and row["domain"] is None
    assert (await resolve_actor(pool_a, http, dave["uri"], refresh=True))["id"] == dave["id"]
    with pytest.raises(RemoteActorError, match="one of our URLs"):
        await resolve_actor(pool_a, http, f"{a.base_url}/users/ghost")
    assert await public_key_for(pool_a, http, f"{a.base_url}/users/ghost#main-key") is None


# ---- misbehaving peers -------------------------------------------------------------------------


class Peer:
    """A fake remote server on 127.0.0.1 serving canned JSON per path, and recording what it was asked."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[int, str, Any]] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[web.Request] = []
        self.port = 0
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        key = request.path_qs if request.path_qs in self.documents else request.path
        if request.path in self.redirects:
            raise web.HTTPFound(self.redirects[request.path])
        if key not in self.documents:
            return web.json_response({"error": "not found"}, status=404)
        status, content_type, body = self.documents[key]
        return web.Response(status=status, body=json.dumps(body).encode(), content_type=content_type)

    def serve(self, path: str, body: Any, *, content_type: str = AP_TYPE, status: int = 200) -> None:
        self.documents[path] = (status, content_type, body)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def actor(self, username: str, **overrides: Any) -> dict[str, Any]:
        uri = f"{self.base}/users/{username}"
        doc: dict[str, Any] = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": uri,
            "type": "Person",
            "preferredUsername": username,
            "inbox": uri + "/inbox",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {"id": uri + "#main-key", "owner": uri, "publicKeyPem": PEER_PEM},
        }
        doc.update(overrides)
        return doc

    def webfinger(self, acct: str, href: str, subject: str | None = None) -> None:
        jrd = {"subject": subject or f"acct:{acct}", "links": [{"rel": "self", "type": AP_TYPE, "href": href}]}
        self.serve(f"/.well-known/webfinger?resource=acct:{acct}", jrd, content_type="application/jrd+json")

    async def start(self) -> None:
        self.port = await listen(self._runner)

    async def stop(self) -> None:
        await self._runner.cleanup()


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    server = Peer()
    await server.start()
    yield server
    await server.stop()


async def remote_count(db: Database) -> int:
    count: int = await db.pool.fetchval("SELECT count(*) FROM actors WHERE domain IS NOT NULL")
    return count


async def test_document_whose_id_is_not_its_url_is_refused(
    db: Database, http: aiohttp.ClientSession, peer: Peer
) -> None:
    peer.serve("/users/mallory", peer.actor("mallory", id=f"{peer.base}/users/alice"))
    with pytest.raises(RemoteActorError, match="not the URL"):
        await resolve_actor(db.pool, http, f"{peer.base}/users/mallory")
    assert await remote_count(db) == 0


async def test_redirect_to_another_host_is_refused(db: Database, http: aiohttp.ClientSession, peer: Peer) -> None:
    # given 127.0.0.1:P/users/x redirects to localhost:P/users/y, which serves a self-consistent actor
    other = f"http://localhost:{peer.port}/users/y"
    peer.redirects["/users/x"] = other
    key = {"id": other + "#main-key", "owner": other, "publicKeyPem": PEER_PEM}
    peer.serve("/users/y", peer.actor("y", id=other, inbox=other + "/inbox", publicKey=key))
    # then the document is authentic for localhost, but it was not what we asked 127.0.0.1 for
    with pytest.raises(RemoteActorError, match="another host"):
        await resolve_actor(db.pool, http, f"{peer.base}/users/x")
    assert await remote_count(db) == 0


async def test_actor_with_someone_elses_key_is_refused(db: Database, http: aiohttp.ClientSession, peer: Peer) -> None:
    doc = peer.actor("mallory")
    doc["publicKey"]["owner"] = f"{peer.base}/users/alice"
    peer.serve("/users/mallory", doc)
    with pytest.raises(RemoteActorError, match="publicKey"):
        await resolve_actor(db.pool, http, f"{peer.base}/users/mallory")
    assert await remote_count(db) == 0


async def test_hostile_profile_is_stored_clean(db: Database, http: aiohttp.ClientSession, peer: Peer) -> None:
    peer.serve(
        "/users/eve",
        peer.actor(
            "eve",
            name="Eve\u202e" + "x" * 5000,
            summary="<p>hi</p><script>alert(1)</script>",
            icon={"type": "Image", "url": "javascript:alert(1)"},
            attachment=[{"type": "PropertyValue", "name": "web", "value": '<a href="javascript:x">y</a>'}],
            published="2020-01-02T03:04:05Z",
        ),
    )
    row = await resolve_actor(db.pool, http, f"{peer.base}/users/eve")
    assert row["note"] == "<p>hi</p>"
    assert row["avatar_url"] is None
    assert len(row["display_name"]) == 2048 and "\u202e" not in row["display_name"]
    assert row["fields"] == [{"name": "web", "value": "y"}]
    assert row["created_at"].isoformat() == "2020-01-02T03:04:05+00:00"
    assert row["discoverable"] is False and row["indexable"] is False


async def test_blocked_domain_is_not_fetched(db: Database, http: aiohttp.ClientSession, peer: Peer) -> None:
    peer.serve("/users/x", peer.actor("x"))
    await db.pool.execute("INSERT INTO domain_blocks (domain) VALUES ('127.0.0.1')")
    with pytest.raises(RemoteActorError, match="blocked"):
        await resolve_actor(db.pool, http, f"{peer.base}/users/x")
    assert peer.requests == []


async def test_stale_row_survives_a_failed_refresh(db: Database, http: aiohttp.ClientSession, peer: Peer) -> None:
    peer.serve("/users/x", peer.actor("x"))
    row = await resolve_actor(db.pool, http, f"{peer.base}/users/x")
    await db.pool.execute("UPDATE actors SET fetched_at = now() - interval '2 days' WHERE id = $1", row["id"])
    peer.serve("/users/x", {"error": "down"}, status=503)
    assert (await resolve_actor(db.pool, http, f"{peer.base}/users/x"))["id"] == row["id"]
    with pytest.raises(RemoteActorError) as info:  # but an explicit refresh says it failed
        await resolve_actor(db.pool, http, f"{peer.base}/users/x", refresh=True)
    assert info.value.status == 503


async def test_update_never_overwrites_a_local_actor(
    db: Database, urls: LocalUrls, http: aiohttp.ClientSession
) -> None:
    # a local row is returned as it is, even with refresh, and never fetched
    user = await accounts.create_user(db.pool, urls, "local", "l@example.com", PASSWORD)
    uri = f"{urls.base}/users/local"
    row = await resolve_actor(db.pool, http, uri, refresh=True)
    assert row["id"] == user.actor_id and row["domain"] is None


async def test_signed_fetches_carry_the_instance_actors_signature(
    db: Database, urls: LocalUrls, app: object, http: aiohttp.ClientSession, peer: Peer
) -> None:
    instance = await db.pool.fetchrow("SELECT * FROM actors WHERE is_instance_actor")
    peer.serve("/users/x", peer.actor("x"))
    await resolve_actor(db.pool, http, f"{peer.base}/users/x", signer=instance_signer(instance))
    request = peer.requests[-1]
    assert 'keyId="http://127.0.0.1/actor#main-key"' in request.headers["Signature"]

    async def lookup(key_id: str) -> str | None:
        return instance["public_key_pem"] if key_id == instance["key_id"] else None

    verified = await verify_request(
        method="GET",
        path=request.path,
        query=request.query_string,
        headers=dict(request.headers),
        body=b"",
        key_lookup=lookup,
        authority=f"127.0.0.1:{peer.port}",
    )
    assert verified.key_id == instance["key_id"]


# ---- keys in their own documents ---------------------------------------------------------------


async def test_key_document_with_owner_is_followed_to_its_actor(
    db: Database, http: aiohttp.ClientSession, peer: Peer
) -> None:
    key_url = f"{peer.base}/keys/1"
    actor = peer.actor("k")
    actor["publicKey"] = {"id": key_url, "owner": actor["id"], "publicKeyPem": PEER_PEM}
    peer.serve("/users/k", actor)
    peer.serve("/keys/1", {"id": key_url, "type": "Key", "owner": actor["id"], "publicKeyPem": PEER_PEM})
    found = await public_key_for(db.pool, http, key_url)
    assert found is not None and found[0] == PEER_PEM and found[1]["uri"] == actor["id"]


async def test_key_document_claiming_an_actor_that_does_not_list_it(
    db: Database, http: aiohttp.ClientSession, peer: Peer
) -> None:
    # given a key document naming k as owner, while k's own document lists another key
    peer.serve("/users/k", peer.actor("k"))
    key_url = f"{peer.base}/keys/forged"
    peer.serve(
        "/keys/forged", {"id": key_url, "type": "Key", "owner": f"{peer.base}/users/k", "publicKeyPem": PEER_PEM}
    )
    assert await public_key_for(db.pool, http, key_url) is None


async def test_gotosocial_style_main_key_stub(db: Database, http: aiohttp.ClientSession, peer: Peer) -> None:
    # GoToSocial serves a stub whose id is the actor at /users/x/main-key
    # (https://github.com/superseriousbusiness/gotosocial/issues/1186)
    actor = peer.actor("gts")
    key_id = actor["id"] + "/main-key"
    actor["publicKey"] = {"id": key_id, "owner": actor["id"], "publicKeyPem": PEER_PEM}
    peer.serve("/users/gts", actor)
    peer.serve(
        "/users/gts/main-key",
        {"id": actor["id"], "type": "Person", "preferredUsername": "gts", "publicKey": actor["publicKey"]},
    )
    found = await public_key_for(db.pool, http, key_id)
    assert found is not None and found[1]["key_id"] == key_id
    # and next time the cache answers
    peer.requests.clear()
    assert await public_key_for(db.pool, http, key_id) is not None and peer.requests == []


async def test_key_pointing_to_an_actor_on_another_host_is_refused(
    db: Database, http: aiohttp.ClientSession, peer: Peer
) -> None:
    key_url = f"{peer.base}/keys/2"
    peer.serve(
        "/keys/2", {"id": key_url, "type": "Key", "owner": "http://localhost:1/users/victim", "publicKeyPem": PEER_PEM}
    )
    assert await public_key_for(db.pool, http, key_url) is None
    assert await remote_count(db) == 0


# ---- WebFinger round trips ---------------------------------------------------------------------


async def test_webfinger_pointing_at_an_actor_with_another_name(
    db: Database, http: aiohttp.ClientSession, peer: Peer
) -> None:
    # given acct:alice points at mallory's actor, and mallory's own handle points elsewhere
    domain = f"127.0.0.1:{peer.port}"
    peer.webfinger(f"alice@{domain}", f"{peer.base}/users/mallory")
    peer.webfinger(f"mallory@{domain}", f"{peer.base}/users/someone-else")
    peer.serve("/users/mallory", peer.actor("mallory"))
    with pytest.raises(RemoteActorError, match="does not lead back"):
        await resolve_handle(db.pool, http, f"alice@{domain}", scheme="http")


async def test_webfinger_with_a_self_link_that_is_not_the_actor_id(
    db: Database, http: aiohttp.ClientSession, peer: Peer
) -> None:
    domain = f"127.0.0.1:{peer.port}"
    peer.webfinger(f"x@{domain}", f"{peer.base}/users/X")
    peer.redirects["/users/X"] = f"{peer.base}/users/x"  # same host, canonicalised path
    peer.serve("/users/x", peer.actor("x"))
    with pytest.raises(RemoteActorError, match="whose id is"):
        await resolve_handle(db.pool, http, f"x@{domain}", scheme="http")


async def test_webfinger_subject_redirect_is_followed_once(
    db: Database, http: aiohttp.ClientSession, peer: Peer
) -> None:
    domain = f"127.0.0.1:{peer.port}"
    actor_url = f"{peer.base}/users/real"
    peer.webfinger(f"alias@{domain}", actor_url, subject=f"acct:real@{domain}")
    peer.webfinger(f"real@{domain}", actor_url)
    peer.serve("/users/real", peer.actor("real"))
    row = await resolve_handle(db.pool, http, f"alias@{domain}", scheme="http")
    assert row["username"] == "real"
    # a chain of two redirects is refused
    peer.webfinger(f"a1@{domain}", actor_url, subject=f"acct:a2@{domain}")
    peer.webfinger(f"a2@{domain}", actor_url, subject=f"acct:a3@{domain}")
    with pytest.raises(RemoteActorError, match="too many"):
        await resolve_handle(db.pool, http, f"a1@{domain}", scheme="http")


async def test_webfinger_without_an_activitypub_link(db: Database, http: aiohttp.ClientSession, peer: Peer) -> None:
    domain = f"127.0.0.1:{peer.port}"
    peer.serve(
        f"/.well-known/webfinger?resource=acct:x@{domain}",
        {"subject": f"acct:x@{domain}", "links": [{"rel": "self", "type": "text/html", "href": peer.base}]},
        content_type="application/json",
    )
    with pytest.raises(RemoteActorError, match="no ActivityPub actor"):
        await resolve_handle(db.pool, http, f"x@{domain}", scheme="http")


@pytest.mark.parametrize("handle", ["", "nobody", "a@b@c", "x@host/path"])
async def test_malformed_handles(db: Database, http: aiohttp.ClientSession, handle: str) -> None:
    with pytest.raises(RemoteActorError) as info:
        await resolve_handle(db.pool, http, handle)
    assert info.value.status == 400
