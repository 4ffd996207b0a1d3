"""POST /api/v1/apps and GET /api/v1/apps/verify_credentials, in the encodings real clients use."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD, api_headers
from tests.support.mastodon_schemas import assert_matches

OOB = "urn:ietf:wg:oauth:2.0:oob"


async def create_app(client: httpx.AsyncClient, **kwargs: Any) -> httpx.Response:
    return await client.post("/api/v1/apps", **kwargs)


async def test_mastodon_py_form_registration(client: httpx.AsyncClient, db: Database) -> None:
    # given Mastodon.py's exact form body
    response = await create_app(
        client, data={"client_name": "t", "scopes": "read write follow push", "redirect_uris": OOB}
    )
    assert response.status_code == 200
    app = response.json()
    assert_matches("credential_application", app)
    assert app["name"] == "t" and app["website"] is None
    assert app["scopes"] == ["read", "write", "follow", "push"]
    assert app["redirect_uri"] == OOB and app["redirect_uris"] == [OOB]
    assert app["client_secret_expires_at"] == 0 and isinstance(app["vapid_key"], str)
    assert len(app["client_id"]) >= 32 and len(app["client_secret"]) >= 32
    assert await db.pool.fetchval("SELECT name FROM oauth_apps WHERE id = $1", int(app["id"])) == "t"


async def test_toot_json_registration(client: httpx.AsyncClient) -> None:
    body = {
        "client_name": "toot - a Mastodon CLI client",
        "redirect_uris": OOB,
        "scopes": "read write follow",
        "website": "https://github.com/ihabunek/toot",
    }
    app = (await create_app(client, json=body)).json()
    assert app["website"] == "https://github.com/ihabunek/toot"
    assert app["scopes"] == ["read", "write", "follow"]


async def test_multipart_registration(client: httpx.AsyncClient) -> None:
    response = await create_app(
        client, data={"client_name": "m", "redirect_uris": OOB}, files={"unused": ("x.txt", b"x", "text/plain")}
    )
    assert response.status_code == 200
    assert response.json()["scopes"] == ["read"]  # Mastodon's default


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"data": {"redirect_uris": "https://a.example/cb\nicecubesapp://"}}, ["https://a.example/cb", "icecubesapp://"]),
        ({"json": {"redirect_uris": ["com.example.app://cb", OOB]}}, ["com.example.app://cb", OOB]),
        ({"data": {"redirect_uris[]": ["oauth2redirect://com.keylesspalace.tusky/", OOB]}},
         ["oauth2redirect://com.keylesspalace.tusky/", OOB]),
        ({"data": {"redirect_uris": " https://a.example/cb?x=1 \r\n"}}, ["https://a.example/cb?x=1"]),
    ],
)  # fmt: skip
async def test_redirect_uris_as_string_lines_or_array(
    client: httpx.AsyncClient, kwargs: dict[str, Any], expected: list[str]
) -> None:
    body_key = "json" if "json" in kwargs else "data"
    body = {"client_name": "app", **kwargs[body_key]}
    app = (await create_app(client, **{body_key: body})).json()
    assert app["redirect_uris"] == expected
    assert app["redirect_uri"] == "\n".join(expected)


@pytest.mark.parametrize(
    "uri",
    [
        "javascript:alert(1)",
        "JavaScript://%0aalert(1)",
        "data:text/html,hi",
        "no-scheme/callback",
        "/relative",
        "https://a.example/c b",
        "https://a.example/cb#frag",
        "https:///nohost",
        "mailto:me@example.com",
        "x" * 2100,
    ],
)
async def test_unsafe_or_malformed_redirect_uris_are_422(client: httpx.AsyncClient, uri: str, db: Database) -> None:
    response = await create_app(client, data={"client_name": "evil", "redirect_uris": uri})
    assert response.status_code == 422
    assert response.json()["error"].startswith("Validation failed")
    assert await db.pool.fetchval("SELECT count(*) FROM oauth_apps") == 0


@pytest.mark.parametrize(
    "data",
    [
        {"redirect_uris": OOB},  # no client_name
        {"client_name": "  ", "redirect_uris": OOB},
        {"client_name": "n" * 61, "redirect_uris": OOB},
        {"client_name": "no redirect"},
        {"client_name": "bad scope", "redirect_uris": OOB, "scopes": "read delete:everything"},
        {"client_name": "bad site", "redirect_uris": OOB, "website": "javascript:alert(1)"},
    ],
)
async def test_invalid_registrations_are_422(client: httpx.AsyncClient, data: dict[str, str]) -> None:
    response = await create_app(client, data=data)
    assert response.status_code == 422
    assert_matches("error", response.json())


async def test_granular_and_admin_scopes_are_accepted(client: httpx.AsyncClient) -> None:
    scopes = "read:statuses write:media profile admin:read:accounts"
    app = (await create_app(client, data={"client_name": "g", "redirect_uris": OOB, "scopes": scopes})).json()
    assert app["scopes"] == scopes.split()


async def test_verify_credentials_with_an_app_token(client: httpx.AsyncClient) -> None:
    app = (
        await create_app(client, data={"client_name": "v", "redirect_uris": OOB, "website": "https://v.example"})
    ).json()
    token = (
        await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
            },
        )
    ).json()["access_token"]
    response = await client.get("/api/v1/apps/verify_credentials", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert_matches("application", body)
    assert body["name"] == "v" and body["website"] == "https://v.example" and body["id"] == app["id"]
    assert "client_secret" not in body and "client_id" not in body


async def test_verify_credentials_with_a_user_token(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    user = await accounts.create_user(db.pool, urls, "alice", "alice@example.com", PASSWORD)
    headers = await api_headers(db.pool, user, "read")
    response = await client.get("/api/v1/apps/verify_credentials", headers=headers)
    assert response.status_code == 200 and response.json()["name"] == "fediverse_biz tests"


async def test_verify_credentials_needs_a_live_token(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    assert (await client.get("/api/v1/apps/verify_credentials")).status_code == 401
    user = await accounts.create_user(db.pool, urls, "alice", "alice@example.com", PASSWORD)
    headers = await api_headers(db.pool, user, "read")
    await db.pool.execute("UPDATE oauth_tokens SET revoked_at = now()")
    response = await client.get("/api/v1/apps/verify_credentials", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "The access token is invalid"}


async def test_tokens_are_stored_hashed(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    user = await accounts.create_user(db.pool, urls, "alice", "alice@example.com", PASSWORD)
    token = (await api_headers(db.pool, user))["Authorization"].removeprefix("Bearer ")
    stored = await db.pool.fetchval("SELECT token_hash FROM oauth_tokens")
    assert token not in stored and len(stored) == 64
