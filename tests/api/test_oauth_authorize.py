"""OAuth: the authorize page, approving with a login, and choosing the identity a token acts as.

In-process tests play the browser with httpx. The token and revoke endpoints are in test_oauth_tokens.py.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.mastodon_client import OOB, code_from, parse_page
from tests.support.oauth_flows import CALLBACK, alice, exchange, login_form, query, register, submit, token_works


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
