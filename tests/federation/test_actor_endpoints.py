"""Actor documents and their collections over HTTP: content negotiation, lookups, paging, privacy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fediverse_biz.activitypub.context import CONTEXT
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.federation.actor_endpoints import PAGE_SIZE, prefers_activity_json
from fediverse_biz.urls import LocalUrls

PASSWORD = "correct horse battery"
BASE = "http://127.0.0.1"
AS2 = {"Accept": "application/activity+json"}
AP_TYPE = "application/activity+json; charset=utf-8"


@pytest.fixture
async def alice(app: object, db: Database, urls: LocalUrls) -> accounts.NewUser:
    return await accounts.create_user(db.pool, urls, "Alice", "alice@example.com", PASSWORD, display_name="Alice A.")


async def remote_actor(db: Database, name: str, *, suspended: bool = False) -> int:
    actor_id: int = await db.pool.fetchval(
        """INSERT INTO actors (username, domain, uri, inbox_url, suspended_at)
           VALUES ($1, 'peer.example', 'https://peer.example/users/' || $1,
                   'https://peer.example/users/' || $1 || '/inbox', CASE WHEN $2 THEN now() END)
           RETURNING id""",
        name,
        suspended,
    )
    return actor_id


# ---- content negotiation -----------------------------------------------------------------------

AS2_ACCEPTS = [
    "application/activity+json",
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    "application/ld+json",
    "application/json",
    "APPLICATION/ACTIVITY+JSON",
    "application/activity+json, text/html;q=0.9",
    "text/html;q=0.5, application/activity+json",
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams, x", text/html;q=0.1',
]
HTML_ACCEPTS = [
    "",
    "*/*",
    "text/html",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",  # a browser
    "application/activity+json;q=0.5, text/html",
    "application/activity+json;q=0",
    "application/activity+json;q=abc",
    "image/png",
]


@pytest.mark.parametrize("accept", AS2_ACCEPTS)
def test_accept_headers_asking_for_activitystreams(accept: str) -> None:
    assert prefers_activity_json(accept) is True


@pytest.mark.parametrize("accept", HTML_ACCEPTS)
def test_accept_headers_asking_for_a_page(accept: str) -> None:
    assert prefers_activity_json(accept) is False


@pytest.mark.parametrize("accept", AS2_ACCEPTS[:3])
async def test_actor_document_is_served_as_activity_json(
    client: httpx.AsyncClient, db: Database, alice: Any, accept: str
) -> None:
    response = await client.get("/users/alice", headers={"Accept": accept})  # any case finds Alice
    assert response.status_code == 200
    assert response.headers["content-type"] == AP_TYPE
    assert "Accept" in response.headers["vary"]
    doc = response.json()
    row = await db.pool.fetchrow("SELECT * FROM actors WHERE id = $1", alice.actor_id)
    assert doc["@context"] == CONTEXT
    assert doc["id"] == f"{BASE}/users/Alice"  # the canonical URI, not the spelling asked for
    assert doc["type"] == "Person"
    assert doc["preferredUsername"] == "Alice"
    assert doc["name"] == "Alice A."
    assert doc["inbox"] == f"{BASE}/users/Alice/inbox"
    assert doc["endpoints"] == {"sharedInbox": f"{BASE}/inbox"}
    assert doc["publicKey"] == {
        "id": f"{BASE}/users/Alice#main-key",
        "owner": f"{BASE}/users/Alice",
        "publicKeyPem": row["public_key_pem"],
    }
    assert doc["url"] == f"{BASE}/@Alice"


@pytest.mark.parametrize("accept", HTML_ACCEPTS[:4])
async def test_browsers_are_sent_to_the_booth_page(client: httpx.AsyncClient, alice: Any, accept: str) -> None:
    response = await client.get("/users/Alice", headers={"Accept": accept})
    assert response.status_code == 302
    assert response.headers["location"] == f"{BASE}/@Alice"
    assert "Accept" in response.headers["vary"]  # the same URL also answers AS2: caches must tell them apart


async def test_a_signature_on_the_request_changes_nothing_yet(client: httpx.AsyncClient, alice: Any) -> None:
    headers = {**AS2, "Signature": 'keyId="https://peer.example/users/x#main-key",signature="AAAA"'}
    response = await client.get("/users/Alice", headers=headers)
    assert response.status_code == 200
    assert response.json()["id"] == f"{BASE}/users/Alice"


async def test_head_is_answered(client: httpx.AsyncClient, alice: Any) -> None:
    response = await client.head("/users/Alice", headers=AS2)
    assert response.status_code == 200
    assert response.headers["content-type"] == AP_TYPE


# ---- actor kinds -------------------------------------------------------------------------------


async def test_organization_actor(client: httpx.AsyncClient, db: Database, urls: LocalUrls, alice: Any) -> None:
    await accounts.create_organization(db.pool, urls, "acme", "Alice", display_name="ACME GmbH")
    doc = (await client.get("/users/acme", headers=AS2)).json()
    assert doc["type"] == "Organization"
    assert doc["name"] == "ACME GmbH"
    assert doc["featured"] == f"{BASE}/users/acme/collections/featured"


async def test_group_actor_lives_under_c(client: httpx.AsyncClient, db: Database, urls: LocalUrls, alice: Any) -> None:
    async with db.pool.acquire() as conn:
        await accounts.insert_local_actor(conn, urls, "hall", actor_type="Group", display_name="Hall 7")
    doc = (await client.get("/c/hall", headers=AS2)).json()
    assert doc["type"] == "Group"
    assert doc["id"] == f"{BASE}/c/hall"
    assert doc["followers"] == f"{BASE}/c/hall/followers"
    # one namespace, but each kind answers only at its own path
    assert (await client.get("/users/hall", headers=AS2)).status_code == 404
    assert (await client.get("/c/Alice", headers=AS2)).status_code == 404


async def test_instance_actor(client: httpx.AsyncClient) -> None:
    response = await client.get("/actor", headers=AS2)
    assert response.status_code == 200
    doc = response.json()
    assert doc["type"] == "Application"
    assert doc["id"] == f"{BASE}/actor"
    assert doc["preferredUsername"] == "127.0.0.1"
    assert doc["inbox"] == f"{BASE}/actor/inbox"
    assert doc["endpoints"] == {"sharedInbox": f"{BASE}/inbox"}
    assert doc["manuallyApprovesFollowers"] is True
    assert doc["publicKey"]["id"] == f"{BASE}/actor#main-key"
    assert doc["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")


async def test_instance_actor_outbox_is_an_empty_collection(client: httpx.AsyncClient) -> None:
    # the instance actor names an outbox; it posts nothing, so the outbox is empty rather than a 404
    outbox = (await client.get("/actor", headers=AS2)).json()["outbox"]
    assert outbox == f"{BASE}/actor/outbox"
    response = await client.get("/actor/outbox", headers=AS2)
    assert response.status_code == 200 and response.headers["content-type"] == AP_TYPE
    assert response.json() == {
        "@context": CONTEXT,
        "id": outbox,
        "type": "OrderedCollection",
        "totalItems": 0,
        "orderedItems": [],
    }
    assert (await client.head("/actor/outbox", headers=AS2)).status_code == 200


async def test_moved_account_names_its_new_home(client: httpx.AsyncClient, db: Database, alice: Any) -> None:
    target = await remote_actor(db, "alice2")
    await db.pool.execute("UPDATE actors SET moved_to_actor_id = $1 WHERE id = $2", target, alice.actor_id)
    doc = (await client.get("/users/Alice", headers=AS2)).json()
    assert doc["movedTo"] == "https://peer.example/users/alice2"


# ---- failures ----------------------------------------------------------------------------------


async def test_unknown_actor_is_404_json_for_peers(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/nobody", headers=AS2)
    assert response.status_code == 404
    assert response.json() == {"error": "no such actor"}
    page = await client.get("/users/nobody", headers={"Accept": "text/html"}, follow_redirects=True)
    assert page.status_code == 404 and page.url.path == "/@nobody"


async def test_suspended_actor_is_gone(client: httpx.AsyncClient, db: Database, alice: Any) -> None:
    await db.pool.execute("UPDATE actors SET suspended_at = now() WHERE id = $1", alice.actor_id)
    assert (await client.get("/users/Alice", headers=AS2)).status_code == 410
    assert (await client.get("/users/Alice/followers", headers=AS2)).status_code == 410


async def test_account_awaiting_approval_is_not_published(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    await accounts.create_user(db.pool, urls, "pending", "p@example.com", PASSWORD, approved=False)
    assert (await client.get("/users/pending", headers=AS2)).status_code == 404


async def test_remote_actors_are_not_served_as_ours(client: httpx.AsyncClient, db: Database, app: object) -> None:
    await remote_actor(db, "mallory")
    assert (await client.get("/users/mallory", headers=AS2)).status_code == 404


# ---- followers / following ---------------------------------------------------------------------


async def test_followers_collection_counts_and_pages(client: httpx.AsyncClient, db: Database, alice: Any) -> None:
    # given 45 remote followers, plus one suspended that must not show
    followers = [await remote_actor(db, f"f{i:02d}") for i in range(45)]
    for follower in followers:
        await db.pool.execute(
            "INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", follower, alice.actor_id
        )
    hidden = await remote_actor(db, "hidden", suspended=True)
    await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", hidden, alice.actor_id)
    collection_id = f"{BASE}/users/Alice/followers"

    response = await client.get("/users/alice/followers", headers=AS2)
    assert response.status_code == 200
    assert response.headers["content-type"] == AP_TYPE
    assert response.json() == {
        "@context": CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": 45,
        "first": f"{collection_id}?page=1",
    }

    first = (await client.get("/users/Alice/followers", params={"page": "1"}, headers=AS2)).json()
    assert first["type"] == "OrderedCollectionPage"
    assert first["id"] == f"{collection_id}?page=1"
    assert first["partOf"] == collection_id
    assert first["totalItems"] == 45
    assert len(first["orderedItems"]) == PAGE_SIZE
    assert first["orderedItems"][0] == "https://peer.example/users/f44"  # newest follow first
    assert first["next"] == f"{collection_id}?page=2"
    assert "prev" not in first

    second = (await client.get("/users/Alice/followers", params={"page": "2"}, headers=AS2)).json()
    assert len(second["orderedItems"]) == 45 - PAGE_SIZE
    assert "next" not in second
    assert second["prev"] == f"{collection_id}?page=1"
    everyone = set(first["orderedItems"]) | set(second["orderedItems"])
    assert len(everyone) == 45 and "https://peer.example/users/hidden" not in everyone


async def test_following_collection(client: httpx.AsyncClient, db: Database, alice: Any) -> None:
    target = await remote_actor(db, "bob")
    await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", alice.actor_id, target)
    doc = (await client.get("/users/Alice/following", headers=AS2)).json()
    assert doc["totalItems"] == 1
    page = (await client.get("/users/Alice/following?page=1", headers=AS2)).json()
    assert page["orderedItems"] == ["https://peer.example/users/bob"]


async def test_empty_collection_and_bad_page(client: httpx.AsyncClient, alice: Any) -> None:
    assert (await client.get("/users/Alice/followers", headers=AS2)).json()["totalItems"] == 0
    page = (await client.get("/users/Alice/followers?page=1", headers=AS2)).json()
    assert page["orderedItems"] == [] and "next" not in page
    for bad in ("0", "-1", "abc", "1.5"):
        assert (await client.get(f"/users/Alice/followers?page={bad}", headers=AS2)).status_code == 400
    assert (await client.get("/users/nobody/followers", headers=AS2)).status_code == 404


# ---- featured ----------------------------------------------------------------------------------


async def test_featured_lists_public_pins_only(client: httpx.AsyncClient, db: Database, alice: Any) -> None:
    async def pinned(n: int, visibility: str) -> str:
        uri = f"{BASE}/users/Alice/statuses/{n}"
        status_id = await db.pool.fetchval(
            "INSERT INTO statuses (uri, actor_id, local, visibility) VALUES ($1, $2, true, $3) RETURNING id",
            uri,
            alice.actor_id,
            visibility,
        )
        await db.pool.execute(
            "INSERT INTO pinned_statuses (actor_id, status_id) VALUES ($1, $2)", alice.actor_id, status_id
        )
        return uri

    public = await pinned(1, "public")
    unlisted = await pinned(2, "unlisted")
    await pinned(3, "private")
    await pinned(4, "direct")
    response = await client.get("/users/Alice/collections/featured", headers=AS2)
    assert response.status_code == 200
    assert response.json() == {
        "@context": CONTEXT,
        "id": f"{BASE}/users/Alice/collections/featured",
        "type": "OrderedCollection",
        "totalItems": 2,
        "orderedItems": [unlisted, public],
    }


async def test_featured_is_empty_without_pins(client: httpx.AsyncClient, alice: Any) -> None:
    doc = (await client.get("/users/Alice/collections/featured", headers=AS2)).json()
    assert (doc["type"], doc["totalItems"], doc["orderedItems"]) == ("OrderedCollection", 0, [])
