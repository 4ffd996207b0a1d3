"""The inbox door (federation/inbox.py): what a peer may POST, and that hostile input stores nothing.

The remote side is a real aiohttp server on 127.0.0.1 serving actor documents with real keys
(tests/support/peers.py); the app under test is in-process, its outgoing client the real SSRF-safe one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpsig
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.activitypub.signatures import sign_request, sign_request_rfc9421
from fediverse_biz.core import domain_blocks
from fediverse_biz.federation.inbox import MAX_INBOX_BYTES
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.peers import AS2, FakePeer, PeerActor, deliver, key_pair


def follow_of(peer: FakePeer, actor: PeerActor, urls: LocalUrls) -> dict[str, object]:
    return peer.activity("Follow", actor, f"{urls.base}/users/alice")


async def stored(app: Starlette) -> tuple[int, int]:
    """(inbox_activities rows, inbox jobs)."""
    pool = services(app).pool
    activities = await pool.fetchval("SELECT count(*) FROM inbox_activities")
    queued = await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'inbox'")
    return activities, queued


# ---- the happy path ---------------------------------------------------------------------------------
async def test_signed_follow_is_stored_once_with_one_job(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    # given a peer actor whose key we have never seen
    bob = peer.actor("bob")
    activity = follow_of(peer, bob, urls)
    # when it delivers a signed Follow to the shared inbox
    response = await deliver(client, activity, bob)
    # then it is accepted, the key was fetched from the peer, and one activity + one job are stored
    assert response.status_code == 202
    assert "/users/bob" in peer.hits
    row = await services(app).pool.fetchrow("SELECT * FROM inbox_activities")
    assert (row["activity_id"], row["activity_type"], row["actor_uri"]) == (activity["id"], "Follow", bob.uri)
    assert row["payload"] == activity
    job = await services(app).pool.fetchrow("SELECT * FROM jobs WHERE kind = 'inbox'")
    assert job["payload"] == {"inbox_activity_id": row["id"]} and job["host"] is None


async def test_replayed_activity_is_accepted_but_stored_and_queued_once(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    bob = peer.actor("bob")
    activity = follow_of(peer, bob, urls)
    assert (await deliver(client, activity, bob)).status_code == 202
    assert (await deliver(client, activity, bob, path="/users/alice/inbox")).status_code == 202
    assert await stored(app) == (1, 1)


@pytest.mark.parametrize("path", ["/users/alice/inbox", "/actor/inbox"])
async def test_personal_inboxes_take_the_same_path(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object, path: str
) -> None:
    bob = peer.actor("bob")
    assert (await deliver(client, follow_of(peer, bob, urls), bob, path=path)).status_code == 202
    assert await stored(app) == (1, 1)


async def test_inbox_of_unknown_account_is_404(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls
) -> None:
    bob = peer.actor("bob")
    response = await deliver(client, follow_of(peer, bob, urls), bob, path="/users/nobody/inbox")
    assert response.status_code == 404
    assert await stored(app) == (0, 0)


async def test_ld_json_with_profile_and_rfc9421_signature_are_accepted(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    # given a Fedify-style delivery: RFC 9421 signature, ld+json with the AS profile
    bob = peer.actor("bob")
    body = json.dumps(follow_of(peer, bob, urls)).encode()
    content_type = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    headers = sign_request_rfc9421(
        "POST", f"{urls.base}/inbox", key_id=bob.key_id, private_key_pem=bob.private_pem, body=body,
        headers={"Content-Type": content_type},
    )
    response = await client.post("/inbox", content=body, headers=headers)
    assert response.status_code == 202
    assert await stored(app) == (1, 1)


async def test_delivery_signed_by_httpsig_is_accepted(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    # given a delivery signed by an independent draft-cavage implementation, the way Mastodon signs
    bob = peer.actor("bob")
    body = json.dumps(follow_of(peer, bob, urls)).encode()
    base = {
        "Host": "127.0.0.1",
        "Date": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Digest": "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode(),
        "Content-Type": AS2,
    }
    covered = ["(request-target)", "host", "date", "digest", "content-type"]
    signer = httpsig.HeaderSigner(bob.key_id, bob.private_pem, "rsa-sha256", covered, sign_header="signature")
    headers = dict(signer.sign(base, method="POST", path="/users/alice/inbox"))
    response = await client.post("/users/alice/inbox", content=body, headers=headers)
    assert response.status_code == 202
    assert await stored(app) == (1, 1)


async def test_rotated_key_is_refetched_once(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    # given we cached bob's old key, and bob has since rotated it
    bob = peer.actor("bob", key=0)
    assert (await deliver(client, follow_of(peer, bob, urls), bob)).status_code == 202
    bob = peer.actor("bob", key=1)
    hits = len(peer.hits)
    # when bob signs with the new key
    response = await deliver(client, follow_of(peer, bob, urls), bob)
    # then the signature fails with the cached key, the actor is fetched once more, and it passes
    assert response.status_code == 202
    assert peer.hits[hits:] == ["/users/bob"]
    pem = await services(app).pool.fetchval("SELECT public_key_pem FROM actors WHERE uri = $1", bob.uri)
    assert pem == key_pair(1)[1]
    assert await stored(app) == (2, 2)


# ---- hostile input: rejected with the right status, nothing stored ------------------------------------
Delivery = tuple[dict[str, object], PeerActor | None]  # (activity, who signs it)


def unsigned(peer: FakePeer, urls: LocalUrls) -> Delivery:
    return follow_of(peer, peer.actor("bob"), urls), None


def signed_with_another_actors_key(peer: FakePeer, urls: LocalUrls) -> Delivery:
    # mallory's valid signature on an activity claiming to be bob's (Fedify CVE-2025-54888)
    bob = peer.actor("bob", key=0)
    mallory = peer.actor("mallory", key=1)
    return follow_of(peer, bob, urls), mallory


def with_id_on_another_host(peer: FakePeer, urls: LocalUrls) -> Delivery:
    bob = peer.actor("bob")
    activity = follow_of(peer, bob, urls)
    activity["id"] = "http://127.0.0.2:9/follows/1"  # an id bob's server cannot vouch for
    return activity, bob


@pytest.mark.parametrize(
    ("delivery", "error"),
    [
        pytest.param(unsigned, "request is not signed", id="unsigned"),
        pytest.param(
            signed_with_another_actors_key,
            "the signing key does not belong to the activity's actor",
            id="key_of_another_actor",
        ),
        pytest.param(with_id_on_another_host, "the activity id is not on the actor's host", id="id_on_another_host"),
    ],
)
async def test_refused_delivery_is_401_with_its_reason(
    app: Starlette,
    client: httpx.AsyncClient,
    peer: FakePeer,
    urls: LocalUrls,
    alice: object,
    delivery: Callable[[FakePeer, LocalUrls], Delivery],
    error: str,
) -> None:
    activity, signer = delivery(peer, urls)
    response = await deliver(client, activity, signer)
    assert response.status_code == 401
    assert response.json() == {"error": error}
    assert await stored(app) == (0, 0)


async def test_forged_signature_is_401_after_one_refetch(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    # given bob's published key, and a request claiming bob's keyId signed with another key
    bob = peer.actor("bob", key=0)
    forger = PeerActor(bob.uri, "bob", bob.doc, key_pair(2)[0])
    response = await deliver(client, follow_of(peer, bob, urls), forger)
    assert response.status_code == 401
    assert "does not verify" in response.json()["error"]
    assert peer.hits.count("/users/bob") == 2  # first lookup, then the one refetch: never more
    assert await stored(app) == (0, 0)


async def test_expired_date_is_401(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    bob = peer.actor("bob")
    response = await deliver(
        client, follow_of(peer, bob, urls), bob, now=datetime.now(UTC) - timedelta(hours=3)
    )
    assert response.status_code == 401
    assert "too old" in response.json()["error"]
    assert peer.hits == []  # refused before any key lookup
    assert await stored(app) == (0, 0)


async def test_digest_mismatch_is_401(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    # given a signature over one body, sent with another
    bob = peer.actor("bob")
    signed = json.dumps(follow_of(peer, bob, urls)).encode()
    tampered = json.dumps(peer.activity("Block", bob, f"{urls.base}/users/alice")).encode()
    headers = sign_request(
        "POST", f"{urls.base}/inbox", key_id=bob.key_id, private_key_pem=bob.private_pem, body=signed,
        headers={"Content-Type": AS2},
    )
    response = await client.post("/inbox", content=tampered, headers=headers)
    assert response.status_code == 401
    assert "digest" in response.json()["error"]
    assert await stored(app) == (0, 0)


async def test_update_of_someone_elses_note_is_403(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls
) -> None:
    # given bob's note, and mallory (same server, valid key) sending an Update of it
    bob, mallory = peer.actor("bob", key=0), peer.actor("mallory", key=1)
    note = peer.note(bob, "<p>original</p>", updated="2024-05-02T00:00:00Z")
    response = await deliver(client, peer.activity("Update", mallory, note), mallory)
    assert response.status_code == 403
    assert response.json() == {"error": "only the author may update a post"}
    # and an actor cannot update another actor either
    response = await deliver(client, peer.activity("Update", mallory, bob.doc), mallory)
    assert response.status_code == 403
    assert await stored(app) == (0, 0)


async def test_oversized_body_is_413(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    bob = peer.actor("bob")
    activity = follow_of(peer, bob, urls)
    activity["padding"] = "x" * MAX_INBOX_BYTES  # under the app-wide 16 MB cap, over the inbox's 1 MB
    response = await deliver(client, activity, bob)
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large"}

    # and a chunked body without Content-Length is cut off while streaming
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 64 * 1024

    response = await client.post("/inbox", content=chunks(), headers={"Content-Type": AS2})
    assert response.status_code == 413
    assert peer.hits == []
    assert await stored(app) == (0, 0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"id": "x", ', "malformed JSON"),
        (b"[1, 2, 3]", "an activity must be a JSON object"),
        (b'{"id": NaN}', "malformed JSON"),
        (b'{"id": "x", "n": 1e400}', "malformed JSON"),  # overflows a double
        (b'{"id": "x", "n": ' + b"9" * 400 + b"}", "malformed JSON"),  # beyond any 64-bit integer
        (b"\xff\xfe{}", "malformed JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed JSON"),
    ],
)
async def test_malformed_json_is_400(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, alice: object, body: bytes, message: str
) -> None:
    bob = peer.actor("bob")
    response = await deliver(client, None, bob, body=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert peer.hits == []  # garbage never makes us fetch a key
    assert await stored(app) == (0, 0)


async def test_schema_invalid_activity_is_400(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    bob = peer.actor("bob")
    activity = follow_of(peer, bob, urls)
    del activity["object"]  # a Follow of nothing
    response = await deliver(client, activity, bob)
    assert response.status_code == 400
    assert response.json() == {"error": "activity.object: required"}
    # and an activity with no actor at all is refused before any signature work
    response = await deliver(client, {"id": f"{bob.uri}#x", "type": "Follow"}, bob)
    assert response.status_code == 400
    assert await stored(app) == (0, 0)


@pytest.mark.parametrize("text", ["nul \u0000 here", "lone \ud800 surrogate"])
async def test_text_postgresql_cannot_store_is_400_not_500(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object, text: str
) -> None:
    # JSON allows \u0000 and lone surrogates, PostgreSQL does not: the door answers 400, not a server error
    bob = peer.actor("bob")
    note = peer.note(bob, f"<p>{text}</p>", serve=False)
    response = await deliver(client, peer.activity("Create", bob, note), bob)
    assert response.status_code == 400
    activity = peer.activity("Follow", bob, f"{urls.base}/users/alice")
    activity["id"] += text  # and in a plain text column (the id) too
    response = await deliver(client, activity, bob)
    assert response.status_code == 400
    assert await stored(app) == (0, 0)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_wrong_content_type_is_415(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object, content_type: str
) -> None:
    bob = peer.actor("bob")
    response = await deliver(client, follow_of(peer, bob, urls), bob, content_type=content_type)
    assert response.status_code == 415
    assert await stored(app) == (0, 0)


async def test_key_lookup_failure_is_401_not_500(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    # given a peer whose actor document is broken (HTML error page served as AS2, then a 500)
    bob = peer.actor("bob")
    peer.serve(bob.uri, "<html>oops</html>")
    assert (await deliver(client, follow_of(peer, bob, urls), bob)).status_code == 401
    peer.serve(bob.uri, {"error": "down"}, status=500)
    assert (await deliver(client, follow_of(peer, bob, urls), bob)).status_code == 401
    assert await stored(app) == (0, 0)


# ---- dropped silently: 202, nothing stored -----------------------------------------------------------
async def test_suspended_domain_is_dropped_with_202_without_fetching(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    await services(app).pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ($1, 'suspend')", peer.host)
    bob = peer.actor("bob")
    response = await deliver(client, follow_of(peer, bob, urls), bob)
    assert response.status_code == 202
    assert peer.hits == []
    assert await stored(app) == (0, 0)


async def test_suspension_after_the_door_read_its_copies_still_stores_nothing(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    # given bob delivered once, so the door holds his key and a fresh list of suspended domains
    bob = peer.actor("bob")
    assert (await deliver(client, follow_of(peer, bob, urls), bob)).status_code == 202
    # when his domain is suspended and he delivers again, within the copies' lifetime
    await services(app).pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ($1, 'suspend')", peer.host)
    response = await deliver(client, follow_of(peer, bob, urls), bob)
    # then the peer gets 202 and nothing more is stored: the store statement asks the table itself
    assert response.status_code == 202
    assert await stored(app) == (1, 1)
    # and once the door's copy is read again, it drops him before the signature check
    services(app).suspended_domains = domain_blocks.SuspendedDomains(services(app).pool, ttl=0)
    assert await services(app).suspended_domains.covers(peer.host)


async def test_suspended_actor_is_dropped_with_202(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, urls: LocalUrls, alice: object
) -> None:
    bob = peer.actor("bob")
    assert (await deliver(client, follow_of(peer, bob, urls), bob)).status_code == 202
    await services(app).pool.execute("UPDATE actors SET suspended_at = now() WHERE uri = $1", bob.uri)
    assert (await deliver(client, follow_of(peer, bob, urls), bob)).status_code == 202
    assert await stored(app) == (1, 1)


async def test_delete_of_an_unknown_actor_is_dropped_without_a_key_fetch(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer
) -> None:
    # given an account we never knew, now gone (its document answers 410)
    ghost = peer.actor("ghost")
    peer.serve(ghost.uri, {"type": "Tombstone"}, status=410)
    delete = peer.activity("Delete", ghost, ghost.uri)
    # when its server announces the deletion, unsigned or not
    response = await deliver(client, delete, ghost)
    # then it is acknowledged and forgotten, and we did not try to fetch the key
    assert response.status_code == 202
    assert peer.hits == []
    assert await stored(app) == (0, 0)
