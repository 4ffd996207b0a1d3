"""OAuth: the token endpoint (codes with PKCE, client credentials, password), revocation, RFC 8414 metadata."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from fediverse_biz.app import create_app
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.mastodon_client import OOB, pkce_pair
from tests.support.mastodon_schemas import assert_matches
from tests.support.oauth_flows import CALLBACK, alice, exchange, get_code, register, token_request, token_works


# ---- the token endpoint: authorization_code -----------------------------------------------------
async def test_code_exchange_issues_a_token_with_the_approved_scopes(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    app = await register(client)
    await alice(db, urls)
    code = await get_code(client, app, scope="read write follow push")
    response = await exchange(client, app, code, scope="read write follow push")
    assert response.status_code == 200
    body = response.json()
    assert_matches("token", body)
    assert body["token_type"] == "Bearer" and body["scope"] == "read write follow push"
    assert response.headers["cache-control"] == "no-store"
    assert await token_works(client, body["access_token"])


async def test_a_reused_code_fails_and_revokes_the_first_token(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    app = await register(client)
    await alice(db, urls)
    code = await get_code(client, app)
    first = (await exchange(client, app, code)).json()["access_token"]
    again = await exchange(client, app, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert_matches("error", again.json())
    assert not await token_works(client, first)  # RFC 6749 §4.1.2


async def test_expired_code_is_invalid_grant(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app = await register(client)
    await alice(db, urls)
    code = await get_code(client, app)
    await db.pool.execute("UPDATE oauth_codes SET expires_at = now() - interval '1 second'")
    response = await exchange(client, app, code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert "expired" in response.json()["error_description"]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"redirect_uri": CALLBACK}, "redirect URI"),
        ({"code": "not-a-code"}, "invalid"),
    ],
)
async def test_code_must_match_redirect_uri_and_exist(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, form: dict[str, str], message: str
) -> None:
    app = await register(client)
    await alice(db, urls)
    code = await get_code(client, app)
    response = await exchange(client, app, form.pop("code", code), **form)
    assert response.status_code == 400 and message in response.json()["error_description"]


async def test_a_code_belongs_to_its_client(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app, other = await register(client), await register(client)
    await alice(db, urls)
    code = await get_code(client, app)
    assert (await exchange(client, other, code)).json()["error"] == "invalid_grant"
    assert (await exchange(client, app, code)).status_code == 200  # the other client's attempt did not spend it


async def test_pkce_s256_round_trip(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app = await register(client)
    await alice(db, urls)
    verifier, challenge = pkce_pair()
    code = await get_code(client, app, code_challenge=challenge, code_challenge_method="S256")
    assert (await exchange(client, app, code, code_verifier=verifier)).status_code == 200


@pytest.mark.parametrize("verifier", [None, "wrong-" + "v" * 50, "short"])
async def test_pkce_wrong_or_missing_verifier_is_refused_and_spends_the_code(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, verifier: str | None
) -> None:
    app = await register(client)
    await alice(db, urls)
    good, challenge = pkce_pair()
    code = await get_code(client, app, code_challenge=challenge, code_challenge_method="S256")
    form = {"code_verifier": verifier} if verifier else {}
    response = await exchange(client, app, code, **form)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert (await exchange(client, app, code, code_verifier=good)).status_code == 400  # no second guess


async def test_verifier_without_challenge_is_refused(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app = await register(client)
    await alice(db, urls)
    verifier, _ = pkce_pair()
    response = await exchange(client, app, await get_code(client, app), code_verifier=verifier)
    assert response.json()["error"] == "invalid_grant"


# ---- client authentication and body encodings ---------------------------------------------------
async def test_http_basic_client_authentication(client: httpx.AsyncClient) -> None:
    app = await register(client)
    credentials = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {credentials}"}
    )
    assert response.status_code == 200 and response.json()["scope"] == "read"


async def test_json_token_request_like_elk(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app = await register(client)
    await alice(db, urls)
    body = {
        "grant_type": "authorization_code",
        "code": await get_code(client, app),
        "redirect_uri": OOB,
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "scope": "read write",
    }
    assert (await client.post("/oauth/token", json=body)).status_code == 200


async def test_unknown_and_repeated_fields_are_ignored(client: httpx.AsyncClient) -> None:
    # given Mastodon.py's leaked `oauth_info` fields (its `log_in` passes `locals()` on as parameters)
    app = await register(client)
    body = (
        f"grant_type=client_credentials&client_id={app['client_id']}&client_secret={app['client_secret']}"
        "&oauth_info=issuer&oauth_info=authorization_endpoint&whatever=1"
    )
    response = await client.post(
        "/oauth/token", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "credentials", [{"client_secret": "wrong"}, {"client_id": "unknown"}, {"client_id": "", "client_secret": ""}]
)
async def test_bad_client_credentials_are_401_invalid_client(
    client: httpx.AsyncClient, credentials: dict[str, str]
) -> None:
    app = await register(client)
    response = await token_request(client, app, grant_type="client_credentials", **credentials)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_malformed_basic_header_is_invalid_client(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic !!!"}
    )
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("grant_type", "error"),
    [("refresh_token", "unsupported_grant_type"), ("implicit", "unsupported_grant_type"), (None, "invalid_request")],
)
async def test_unsupported_or_missing_grant_type(client: httpx.AsyncClient, grant_type: str | None, error: str) -> None:
    app = await register(client)
    form = {"grant_type": grant_type} if grant_type else {}
    response = await token_request(client, app, **form)
    assert response.status_code == 400 and response.json()["error"] == error


# ---- client_credentials and password grants -----------------------------------------------------
async def test_client_credentials_token_has_no_user(client: httpx.AsyncClient, db: Database) -> None:
    app = await register(client)
    response = await token_request(client, app, grant_type="client_credentials", scope="read write")
    assert response.json()["scope"] == "read write"
    row = await db.pool.fetchrow("SELECT user_id, actor_id FROM oauth_tokens")
    assert row["user_id"] is None and row["actor_id"] is None


async def test_client_credentials_scope_must_be_registered(client: httpx.AsyncClient) -> None:
    app = await register(client, scopes="read")
    response = await token_request(client, app, grant_type="client_credentials", scope="read admin:read")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


async def test_password_grant_by_username_or_email(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app = await register(client)
    user = await alice(db, urls)
    for login in ("alice", "alice@example.com"):
        response = await token_request(
            client, app, grant_type="password", username=login, password=PASSWORD, scope="read write follow push"
        )
        assert response.status_code == 200 and response.json()["scope"] == "read write follow push"
    assert await db.pool.fetchval("SELECT count(*) FROM oauth_tokens WHERE user_id = $1", user.user_id) == 2


async def test_password_grant_with_wrong_password(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app = await register(client)
    await alice(db, urls)
    response = await token_request(client, app, grant_type="password", username="alice", password="nope nope")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_password_grant_acting_as_an_organization(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    app = await register(client)
    await alice(db, urls)
    org = await accounts.create_organization(db.pool, urls, "acme", "alice")
    form = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    assert (await token_request(client, app, **form, actor="acme")).status_code == 200
    assert await db.pool.fetchval("SELECT actor_id FROM oauth_tokens") == org["id"]
    refused = await token_request(client, app, **form, actor="someone_else")
    assert refused.status_code == 400


@pytest.fixture
async def strict_client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An app with the production default: no password grant."""
    application = create_app(replace(settings, enable_password_grant=False), db)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as c:
            yield c


async def test_password_grant_is_off_unless_enabled(
    strict_client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    app = await register(strict_client)
    await alice(db, urls)
    response = await token_request(strict_client, app, grant_type="password", username="alice", password=PASSWORD)
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    metadata = (await strict_client.get("/.well-known/oauth-authorization-server")).json()
    assert "password" not in metadata["grant_types_supported"]


# ---- revocation ---------------------------------------------------------------------------------
async def test_revoke_own_token(client: httpx.AsyncClient) -> None:
    app = await register(client)
    token = (await token_request(client, app, grant_type="client_credentials")).json()["access_token"]
    response = await client.post(
        "/oauth/revoke", data={"client_id": app["client_id"], "client_secret": app["client_secret"], "token": token}
    )
    assert response.status_code == 200 and response.json() == {}
    assert not await token_works(client, token)


async def test_revoke_unknown_token_is_ok_but_another_apps_token_is_403(client: httpx.AsyncClient) -> None:
    app, other = await register(client), await register(client)
    token = (await token_request(client, other, grant_type="client_credentials")).json()["access_token"]
    credentials = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    assert (await client.post("/oauth/revoke", data={**credentials, "token": "unknown"})).json() == {}
    foreign = await client.post("/oauth/revoke", data={**credentials, "token": token})
    assert foreign.status_code == 403 and foreign.json()["error"] == "unauthorized_client"
    assert await token_works(client, token)
    wrong = await client.post("/oauth/revoke", data={**credentials, "client_secret": "x", "token": token})
    assert wrong.status_code == 401


# ---- discovery ----------------------------------------------------------------------------------
async def test_authorization_server_metadata(client: httpx.AsyncClient, settings: Settings) -> None:
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    base = settings.base_url
    assert metadata["issuer"] == f"{base}/"
    assert metadata["authorization_endpoint"] == f"{base}/oauth/authorize"
    assert metadata["token_endpoint"] == f"{base}/oauth/token"
    assert metadata["revocation_endpoint"] == f"{base}/oauth/revoke"
    assert metadata["app_registration_endpoint"] == f"{base}/api/v1/apps"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert {"read", "write", "follow", "push", "profile", "read:statuses"} <= set(metadata["scopes_supported"])
    assert {"authorization_code", "client_credentials", "password"} == set(metadata["grant_types_supported"])
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
