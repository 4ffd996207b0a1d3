"""OAuth: the authorize page, codes with PKCE, the token and revoke endpoints, RFC 8414 metadata.

In-process tests play the browser with httpx; the live tests at the end drive the real Mastodon.py.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonUnauthorizedError

from fediverse_biz.app import create_app
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.core.oauth import hash_secret
from fediverse_biz.core.urls import LocalUrls
from fediverse_biz.db.database import Database
from tests.support.accounts import PASSWORD, create_organization_sync, create_user_sync, run_sync
from tests.support.mastodon_client import (
    OOB,
    browser_authorize,
    code_from,
    login_mastodon,
    parse_page,
    password_login,
    pkce_pair,
    register_app,
)
from tests.support.mastodon_schemas import assert_matches
from tests.support.servers import LiveServer

CALLBACK = "com.example.app://oauth/callback"


# ---- helpers ------------------------------------------------------------------------------------
async def register(
    client: httpx.AsyncClient, scopes: str = "read write follow push", redirect_uris: str = f"{OOB}\n{CALLBACK}"
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/apps", data={"client_name": "Test App", "scopes": scopes, "redirect_uris": redirect_uris}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def alice(db: Database, urls: LocalUrls) -> accounts.NewUser:
    return await accounts.create_user(db.pool, urls, "alice", "alice@example.com", PASSWORD)


def query(app: dict[str, Any], **overrides: str) -> dict[str, str]:
    base = {"client_id": app["client_id"], "redirect_uri": OOB, "response_type": "code", "scope": "read write"}
    return {**base, **overrides}


async def login_form(client: httpx.AsyncClient, params: dict[str, str]) -> dict[str, str]:
    page = await client.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    return parse_page(page.text).forms[0].hidden()


async def submit(
    client: httpx.AsyncClient, params: dict[str, str], login: str = "alice", password: str = PASSWORD, **extra: str
) -> httpx.Response:
    hidden = await login_form(client, params)
    return await client.post("/oauth/authorize", data={**hidden, "login": login, "password": password, **extra})


async def get_code(client: httpx.AsyncClient, app: dict[str, Any], **overrides: str) -> str:
    return code_from(await submit(client, query(app, **overrides)))


async def token_request(client: httpx.AsyncClient, app: dict[str, Any], **form: str) -> httpx.Response:
    return await client.post(
        "/oauth/token", data={"client_id": app["client_id"], "client_secret": app["client_secret"], **form}
    )


async def exchange(client: httpx.AsyncClient, app: dict[str, Any], code: str, **form: str) -> httpx.Response:
    fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": OOB, **form}
    return await token_request(client, app, **fields)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def token_works(client: httpx.AsyncClient, token: str) -> bool:
    response = await client.get("/api/v1/apps/verify_credentials", headers=bearer(token))
    assert response.status_code in (200, 401)
    return response.status_code == 200


# ---- the authorize page -------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/oauth/authorize", "/oauth/authorize/"])
async def test_authorize_page_shows_app_scopes_and_login_form(client: httpx.AsyncClient, path: str) -> None:
    app = await register(client)
    # given Mastodon.py's literal junk parameters
    params = {**query(app), "force_login": "False", "state": "None", "lang": "None"}
    page = await client.get(path, params=params)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY" and "no-store" in page.headers["cache-control"]
    assert page.text.startswith("<!DOCTYPE html>")
    assert "Test App" in page.text and "write" in page.text
    form = parse_page(page.text).forms[0]
    names = {name for _, name, _ in form.inputs}
    assert {"login", "password", "csrf_token", "client_id", "redirect_uri", "scope"} <= names
    assert form.hidden()["state"] == "None" and form.method == "post"


async def test_app_name_is_html_escaped(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/apps", data={"client_name": "<script>alert(1)</script>", "redirect_uris": OOB}
    )
    page = await client.get("/oauth/authorize", params=query(response.json(), scope="read"))
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script" not in page.text.lower()


@pytest.mark.parametrize(
    "overrides",
    [{"client_id": "nope"}, {"redirect_uri": "https://attacker.example/cb"}, {"redirect_uri": CALLBACK + "/x"}],
)
async def test_unknown_client_or_redirect_uri_is_an_error_page_never_a_redirect(
    client: httpx.AsyncClient, overrides: dict[str, str]
) -> None:
    app = await register(client)
    page = await client.get("/oauth/authorize", params=query(app, **overrides))
    assert page.status_code == 400
    assert "location" not in page.headers
    assert "Authorization failed" in page.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": "read admin:write"}, "invalid_scope"),
        ({"scope": "read nonsense"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "a" * 43}, "invalid_request"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ],
)
async def test_bad_requests_go_back_to_a_registered_redirect_uri(
    client: httpx.AsyncClient, overrides: dict[str, str], error: str
) -> None:
    app = await register(client, scopes="read write")
    page = await client.get("/oauth/authorize", params=query(app, redirect_uri=CALLBACK, state="s1", **overrides))
    assert page.status_code == 302
    target = urlsplit(page.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == CALLBACK
    assert parse_qs(target.query)["error"] == [error] and parse_qs(target.query)["state"] == ["s1"]


async def test_bad_scope_with_oob_is_an_error_page(client: httpx.AsyncClient) -> None:
    app = await register(client, scopes="read")
    page = await client.get("/oauth/authorize", params=query(app, scope="write"))
    assert page.status_code == 400 and "may not request" in page.text


async def test_granular_scope_within_a_registered_parent_is_allowed(client: httpx.AsyncClient) -> None:
    app = await register(client, scopes="read write")
    assert (await client.get("/oauth/authorize", params=query(app, scope="read:statuses"))).status_code == 200


# ---- approving ----------------------------------------------------------------------------------
async def test_approval_redirects_with_code_and_state(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app = await register(client)
    user = await alice(db, urls)
    response = await submit(client, query(app, redirect_uri=CALLBACK, state="xyz"))
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    values = parse_qs(location.query)
    assert values["state"] == ["xyz"] and len(values["code"][0]) >= 43
    row = await db.pool.fetchrow("SELECT * FROM oauth_codes")
    assert row["user_id"] == user.user_id and row["actor_id"] == user.actor_id
    assert row["code_hash"] != values["code"][0]  # stored hashed


async def test_oob_shows_the_code_on_the_page(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app = await register(client)
    await alice(db, urls)
    response = await submit(client, query(app))
    assert response.status_code == 200
    assert len(parse_page(response.text).code_parts[0].strip()) >= 43


async def test_login_by_email_works_too(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app = await register(client)
    await alice(db, urls)
    assert (await submit(client, query(app), login="ALICE@example.com")).status_code == 200


@pytest.mark.parametrize(("login", "password"), [("alice", "wrong password"), ("nobody", PASSWORD)])
async def test_wrong_credentials_show_the_form_again_and_issue_no_code(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, login: str, password: str
) -> None:
    app = await register(client)
    await alice(db, urls)
    response = await submit(client, query(app), login=login, password=password)
    assert response.status_code == 401
    assert "Invalid username, email or password" in response.text
    assert parse_page(response.text).forms[0].hidden()["client_id"] == app["client_id"]
    assert await db.pool.fetchval("SELECT count(*) FROM oauth_codes") == 0


async def test_unapproved_user_gets_no_code(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app = await register(client)
    user = await alice(db, urls)
    await db.pool.execute("UPDATE users SET approved = false WHERE id = $1", user.user_id)
    response = await submit(client, query(app))
    assert response.status_code == 401 and "pending approval" in response.text


@pytest.mark.parametrize("csrf", [None, "", "1700000000.deadbeef", "garbage"])
async def test_missing_or_forged_csrf_token_is_403(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, csrf: str | None
) -> None:
    app = await register(client)
    await alice(db, urls)
    hidden = await login_form(client, query(app))
    if csrf is None:
        del hidden["csrf_token"]
    else:
        hidden["csrf_token"] = csrf
    response = await client.post("/oauth/authorize", data={**hidden, "login": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert await db.pool.fetchval("SELECT count(*) FROM oauth_codes") == 0


async def test_csrf_token_is_bound_to_client_and_redirect_uri(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    app, other = await register(client), await register(client)
    await alice(db, urls)
    hidden = await login_form(client, query(app))
    hidden["client_id"] = other["client_id"]  # a token minted for one client, replayed for another
    response = await client.post("/oauth/authorize", data={**hidden, "login": "alice", "password": PASSWORD})
    assert response.status_code == 403


async def test_tampered_hidden_scope_is_revalidated(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    app = await register(client, scopes="read")
    await alice(db, urls)
    hidden = await login_form(client, query(app, scope="read"))
    hidden["scope"] = "read write"
    response = await client.post("/oauth/authorize", data={**hidden, "login": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert await db.pool.fetchval("SELECT count(*) FROM oauth_codes") == 0


async def test_deny_sends_access_denied(client: httpx.AsyncClient) -> None:
    app = await register(client)
    hidden = await login_form(client, query(app, redirect_uri=CALLBACK))
    response = await client.post("/oauth/authorize", data={**hidden, "deny": "1"})
    assert response.status_code == 302 and "error=access_denied" in response.headers["location"]


# ---- acting as an organization ------------------------------------------------------------------
async def test_members_choose_the_identity_the_token_acts_as(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    app = await register(client)
    user = await alice(db, urls)
    org = await accounts.create_organization(db.pool, urls, "acme", "alice", display_name="ACME Ltd")
    chooser = await submit(client, query(app))
    forms = parse_page(chooser.text).forms
    assert chooser.status_code == 200 and [v for v, _ in forms[0].selects["actor"]] == ["alice", "acme"]
    assert "password" not in forms[0].hidden() and "ACME Ltd" in chooser.text
    response = await client.post("/oauth/authorize", data={**forms[0].hidden(), "actor": "acme"})
    token = (await exchange(client, app, code_from(response))).json()["access_token"]
    row = await db.pool.fetchrow("SELECT user_id, actor_id FROM oauth_tokens")
    assert (row["user_id"], row["actor_id"]) == (user.user_id, org["id"])
    assert await token_works(client, token)


async def test_forged_login_ticket_or_foreign_actor_is_refused(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    app = await register(client)
    await alice(db, urls)
    await accounts.create_user(db.pool, urls, "bob", "bob@example.com", PASSWORD)
    await accounts.create_organization(db.pool, urls, "acme", "alice")
    await accounts.create_organization(db.pool, urls, "bobco", "bob")
    hidden = parse_page((await submit(client, query(app))).text).forms[0].hidden()
    # a ticket replayed for another user
    forged = await client.post("/oauth/authorize", data={**hidden, "user_id": "1", "actor": "alice"})
    assert forged.status_code == 403
    # an organization alice does not belong to, on either step
    assert (await client.post("/oauth/authorize", data={**hidden, "actor": "bobco"})).status_code == 403
    assert (await submit(client, query(app), actor="bobco")).status_code == 403
    assert await db.pool.fetchval("SELECT count(*) FROM oauth_codes") == 0


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
    # given Mastodon.py's leaked `oauth_info` fields (mastodon-client-api.md §5)
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


# ---- the real Mastodon.py against a live server -------------------------------------------------
def test_mastodon_py_authorization_code_flow(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    api = login_mastodon(live_server.base_url, "alice", PASSWORD)
    assert api.app_verify_credentials()["name"] == "fediverse_biz tests"
    # log_in already fetched both instance documents: our version parses as Mastodon 4.3, API version 2
    assert api.retrieve_mastodon_version().startswith("4.3.0")
    assert api.verify_minimum_version("4.0.0", cached=True) and api.mastodon_api_version == 2
    assert api.instance_v2()["domain"] == live_server.settings.domain


def test_mastodon_py_revoked_token_is_401(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    api = password_login(live_server.base_url, "alice", PASSWORD)
    token = api.access_token
    assert token and Mastodon(access_token=token, api_base_url=live_server.base_url).app_verify_credentials()
    api.revoke_access_token(allow_http=True)
    assert api.access_token is None
    with pytest.raises(MastodonUnauthorizedError):
        Mastodon(access_token=token, api_base_url=live_server.base_url).app_verify_credentials()
    assert httpx.get(f"{live_server.base_url}/api/v1/apps/verify_credentials", headers=bearer(token)).status_code == 401


def test_mastodon_py_pkce_login(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    api = login_mastodon(live_server.base_url, "alice", PASSWORD, pkce=True)
    assert api.app_verify_credentials()["scopes"] == ["read", "write", "follow", "push"]


def test_mastodon_py_with_a_custom_scheme_redirect(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    client_id, client_secret = register_app(live_server.base_url, ["read"], redirect_uris=[CALLBACK])
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=live_server.base_url)
    url = api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], state="opaque", allow_http=True)
    with httpx.Client() as http:
        response = browser_authorize(http, url, "alice", PASSWORD)
    assert response.status_code == 302 and response.headers["location"].startswith(CALLBACK + "?")
    assert parse_qs(urlsplit(response.headers["location"]).query)["state"] == ["opaque"]
    api.log_in(code=code_from(response), redirect_uri=CALLBACK, scopes=["read"], allow_http=True)
    assert api.app_verify_credentials()["redirect_uris"] == [CALLBACK]


def test_mastodon_py_login_as_an_organization(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    org_id = create_organization_sync(live_server, "acme", "alice")
    as_org = login_mastodon(live_server.base_url, "alice", PASSWORD, actor="acme")
    as_self = login_mastodon(live_server.base_url, "alice", PASSWORD)  # the chooser's default is oneself
    assert as_org.access_token and as_self.access_token
    assert _actor_of(live_server, as_org.access_token) == org_id
    assert _actor_of(live_server, as_self.access_token) != org_id


def _actor_of(server: LiveServer, token: str) -> int:
    async def lookup() -> int:
        conn = await asyncpg.connect(server.dsn)
        try:
            actor_id = await conn.fetchval(
                "SELECT actor_id FROM oauth_tokens WHERE token_hash = $1", hash_secret(token)
            )
            return int(actor_id)
        finally:
            await conn.close()

    return run_sync(lookup)


def test_toot_registers_with_json_and_logs_in_both_ways(live_server: LiveServer) -> None:
    from toot import App, api
    from toot.exceptions import ApiError as TootError

    create_user_sync(live_server, "alice")
    # toot reads `uri` first: it becomes its config key (toot/auth.py find_instance)
    instance = api.get_instance(live_server.base_url).json()
    registered = api.create_app(live_server.base_url)  # a JSON body
    app = App(instance["uri"], live_server.base_url, registered["client_id"], registered["client_secret"])
    # the browser flow: toot prints /oauth/authorize/ (trailing slash), the user pastes the code
    with httpx.Client() as http:
        code = code_from(browser_authorize(http, api.get_browser_login_url(app), "alice", PASSWORD))
    assert api.request_access_token(app, code)["scope"] == "read write follow"
    # login_cli: the password grant, with the email as toot asks for it
    assert api.login(app, "alice@example.com", PASSWORD)["token_type"] == "Bearer"
    with pytest.raises(TootError, match="Invalid username"):
        api.login(app, "alice@example.com", "wrong password")
