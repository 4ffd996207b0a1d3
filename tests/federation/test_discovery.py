"""Discovery over HTTP: WebFinger, host-meta, NodeInfo, as peers and web clients call them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator

from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls

PASSWORD = "correct horse battery"
BASE = "http://127.0.0.1"


@pytest.fixture
async def alice(app: object, db: Database, urls: LocalUrls) -> accounts.NewUser:
    return await accounts.create_user(db.pool, urls, "Alice", "alice@example.com", PASSWORD)


@pytest.fixture
async def hall(app: object, db: Database, urls: LocalUrls) -> Any:
    async with db.pool.acquire() as conn:
        return await accounts.insert_local_actor(conn, urls, "hall", actor_type="Group", display_name="Hall 7")


async def finger(client: httpx.AsyncClient, resource: str | None) -> httpx.Response:
    params = {} if resource is None else {"resource": resource}
    return await client.get("/.well-known/webfinger", params=params)


# ---- WebFinger ---------------------------------------------------------------------------------


async def test_webfinger_answers_a_handle_with_mastodons_jrd(client: httpx.AsyncClient, alice: Any) -> None:
    response = await finger(client, "acct:Alice@127.0.0.1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jrd+json; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == {
        "subject": "acct:Alice@127.0.0.1",
        "aliases": [f"{BASE}/users/Alice", f"{BASE}/@Alice"],
        "links": [
            {"rel": "self", "type": "application/activity+json", "href": f"{BASE}/users/Alice"},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": f"{BASE}/@Alice"},
            {"rel": "http://ostatus.org/schema/1.0/subscribe", "template": f"{BASE}/authorize_interaction?uri={{uri}}"},
        ],
    }


@pytest.mark.parametrize(
    "resource",
    ["acct:alice@127.0.0.1", "ACCT:ALICE@127.0.0.1", "alice@127.0.0.1", f"{BASE}/users/alice", f"{BASE}/@Alice"],
)
async def test_webfinger_is_case_insensitive_and_takes_urls(
    client: httpx.AsyncClient, alice: Any, resource: str
) -> None:
    response = await finger(client, resource)
    assert response.status_code == 200
    assert response.json()["subject"] == "acct:Alice@127.0.0.1"  # always the canonical spelling


@pytest.mark.parametrize("resource", ["acct:127.0.0.1@127.0.0.1", f"{BASE}/actor"])
async def test_webfinger_finds_the_instance_actor(client: httpx.AsyncClient, resource: str) -> None:
    response = await finger(client, resource)
    assert response.status_code == 200
    jrd = response.json()
    assert jrd["subject"] == "acct:127.0.0.1@127.0.0.1"
    assert jrd["links"][0]["href"] == f"{BASE}/actor"


@pytest.mark.parametrize("resource", ["acct:hall@127.0.0.1", f"{BASE}/c/hall"])
async def test_webfinger_finds_groups(client: httpx.AsyncClient, hall: Any, resource: str) -> None:
    response = await finger(client, resource)
    assert response.status_code == 200
    assert response.json()["links"][0]["href"] == f"{BASE}/c/hall"


@pytest.mark.parametrize(
    "resource",
    [
        "acct:nobody@127.0.0.1",
        "acct:alice@other.example",
        "acct:alice@127.0.0.1:9999",
        "https://other.example/users/alice",
        f"{BASE}/users/alice/statuses/1",
        f"{BASE}/c/alice",  # alice is not a group
        f"{BASE}/users/hall",  # and hall is not a person
    ],
)
async def test_webfinger_404s_what_is_not_ours(client: httpx.AsyncClient, alice: Any, hall: Any, resource: str) -> None:
    response = await finger(client, resource)
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == "*"
    assert "error" in response.json()


@pytest.mark.parametrize("resource", [None, "", "alice", "acct:alice", "acct:a b@127.0.0.1"])
async def test_webfinger_400s_malformed_resources(client: httpx.AsyncClient, resource: str | None) -> None:
    response = await finger(client, resource)
    assert response.status_code == 400


async def test_webfinger_hides_suspended_and_unapproved_accounts(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, alice: Any
) -> None:
    await accounts.create_user(db.pool, urls, "pending", "p@example.com", PASSWORD, approved=False)
    assert (await finger(client, "acct:pending@127.0.0.1")).status_code == 404
    await db.pool.execute("UPDATE actors SET suspended_at = now() WHERE id = $1", alice.actor_id)
    assert (await finger(client, "acct:alice@127.0.0.1")).status_code == 410


# ---- host-meta ---------------------------------------------------------------------------------


async def test_host_meta_points_at_webfinger(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/host-meta")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xrd+xml; charset=utf-8"
    link = ET.fromstring(response.text).find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link is not None
    assert link.attrib["template"] == f"{BASE}/.well-known/webfinger?resource={{uri}}"


# ---- NodeInfo ----------------------------------------------------------------------------------

# The constraints of the official NodeInfo 2.0/2.1 schemas (github.com/jhass/nodeinfo schemas/2.x)
# that a server can get wrong; `version` is checked per test.
NODEINFO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "software", "protocols", "services", "openRegistrations", "usage", "metadata"],
    "properties": {
        "version": {"enum": ["2.0", "2.1"]},
        "software": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "version"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9-]+$"},
                "version": {"type": "string"},
                "repository": {"type": "string"},
                "homepage": {"type": "string"},
            },
        },
        "protocols": {"type": "array", "minItems": 1, "items": {"enum": ["activitypub", "diaspora", "ostatus"]}},
        "services": {
            "type": "object",
            "additionalProperties": False,
            "required": ["inbound", "outbound"],
            "properties": {"inbound": {"type": "array"}, "outbound": {"type": "array"}},
        },
        "openRegistrations": {"type": "boolean"},
        "usage": {
            "type": "object",
            "additionalProperties": False,
            "required": ["users"],
            "properties": {
                "users": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "total": {"type": "integer", "minimum": 0},
                        "activeHalfyear": {"type": "integer", "minimum": 0},
                        "activeMonth": {"type": "integer", "minimum": 0},
                    },
                },
                "localPosts": {"type": "integer", "minimum": 0},
                "localComments": {"type": "integer", "minimum": 0},
            },
        },
        "metadata": {"type": "object"},
    },
}


async def test_well_known_nodeinfo_links_both_versions(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/nodeinfo")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == {
        "links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": f"{BASE}/nodeinfo/2.0"},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": f"{BASE}/nodeinfo/2.1"},
        ]
    }


@pytest.mark.parametrize("version", ["2.0", "2.1"])
async def test_nodeinfo_documents_follow_the_schema_and_count_users(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, version: str
) -> None:
    # given two approved users, one of whom logged in recently, one pending user and one local post
    active = await accounts.create_user(db.pool, urls, "active", "a@example.com", PASSWORD)
    await accounts.create_user(db.pool, urls, "idle", "i@example.com", PASSWORD)
    await accounts.create_user(db.pool, urls, "pending", "p@example.com", PASSWORD, approved=False)
    await db.pool.execute("UPDATE users SET last_login_at = now() WHERE id = $1", active.user_id)
    await db.pool.execute(
        """INSERT INTO statuses (uri, actor_id, local, visibility, content)
           VALUES ('http://127.0.0.1/users/active/statuses/1', $1, true, 'public', '<p>hi</p>')""",
        active.actor_id,
    )
    # when NodeInfo is fetched
    response = await client.get(f"/nodeinfo/{version}")
    # then
    assert response.status_code == 200
    assert response.headers["content-type"] == (
        f'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{version}#"'
    )
    doc = response.json()
    Draft4Validator(NODEINFO_SCHEMA).validate(doc)
    assert doc["version"] == version
    assert doc["software"] == {"name": "fediverse-biz", "version": "0.1.0"}
    assert doc["protocols"] == ["activitypub"]
    assert doc["openRegistrations"] is True  # the test settings' registration_mode is "open"
    assert doc["usage"] == {"users": {"total": 2, "activeMonth": 1, "activeHalfyear": 1}, "localPosts": 1}
    assert doc["metadata"]["nodeName"] == "127.0.0.1"
    # megalodon (Whalebird) takes an unknown software for Mastodon only through this exact shape
    assert doc["metadata"]["upstream"] == {"name": "mastodon", "version": "4.3.0"}


async def test_unknown_nodeinfo_version_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/nodeinfo/3.0")).status_code == 404
