"""Signing in on the pages: a server-side session behind an HttpOnly, SameSite=Lax cookie, listed and
revocable, ended by a password change; the header that names the account, and caches kept out of it;
the OAuth consent that needs no password again; the sign-in throttled like the API's logins."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.app import create_app
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import oauth_flows
from tests.support.accounts import PASSWORD
from tests.support.html import by_class, parse, text, text_of
from tests.support.mastodon_client import code_from, parse_page

NEW_PASSWORD = "a much longer passphrase"


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


@pytest.fixture
async def olga(pool: asyncpg.Pool, urls: LocalUrls) -> accounts.NewUser:
    return await accounts.create_user(pool, urls, "olga", "olga@example.com", PASSWORD)


async def sign_in(
    client: httpx.AsyncClient, login: str = "olga", password: str = PASSWORD, *, remember: bool = False,
    next_path: str = "/directory",
) -> httpx.Response:  # fmt: skip
    forms = parse_page((await client.get(f"/session/login?next={next_path}")).text).forms
    form = next(f for f in forms if f.action.endswith("/session/login"))  # signed in: Sign out comes first
    data = {**form.hidden(), "login": login, "password": password, **({"remember": "1"} if remember else {})}
    return await client.post(form.action, data=data, headers={"User-Agent": "Mozilla/5.0 (X11; Linux) Firefox/140"})


def another_browser(app: Starlette, settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url)


async def test_signing_in_opens_a_server_side_session_behind_a_safe_cookie(
    client: httpx.AsyncClient, pool: asyncpg.Pool, olga: accounts.NewUser
) -> None:
    response = await sign_in(client, remember=True)

    assert response.status_code == 303 and response.headers["location"] == "/directory"
    cookie = response.headers["set-cookie"]
    token = cookie.split(";")[0].split("=", 1)[1]
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    assert "max-age=2592000" in lowered and "secure" not in lowered  # a month; plain http in tests
    row = await pool.fetchrow("SELECT * FROM browser_sessions")
    assert row["user_id"] == olga.user_id and row["remembered"]
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest() and token not in str(dict(row))

    browser_only = await sign_in(client)
    assert "max-age" not in browser_only.headers["set-cookie"].lower()  # gone when the browser closes


async def test_the_cookie_is_secure_over_https(settings: Settings, db: Database, olga: accounts.NewUser) -> None:
    application = create_app(replace(settings, scheme="https"), db)
    async with application.router.lifespan_context(application), another_browser(application, settings) as browser:
        response = await sign_in(browser)
    assert response.status_code == 303 and "; secure" in response.headers["set-cookie"].lower()


async def test_the_header_names_the_signed_in_account_and_caches_keep_out(
    client: httpx.AsyncClient, olga: accounts.NewUser
) -> None:
    anonymous = await client.get("/directory")
    page = parse(anonymous.text)
    assert [text_of(a) for a in by_class(page, "account")[0].iter("a")] == ["Sign in", "Sign up"]
    assert anonymous.headers["cache-control"] == "public, max-age=60" and anonymous.headers["vary"] == "Cookie"

    await sign_in(client)
    signed_in = await client.get("/directory")
    account = by_class(parse(signed_in.text), "account")[0]
    assert "@olga" in text_of(account) and "Sign out" in text_of(account)
    assert signed_in.headers["cache-control"] == "private, no-store" and signed_in.headers["vary"] == "Cookie"
    for path in ("/about", "/jobs", "/communities", "/@olga", "/opportunities"):
        response = await client.get(path)
        assert response.headers["cache-control"] == "private, no-store", path
        assert "@olga" in text(parse(response.text)), path


async def test_signing_out_ends_the_session_on_the_server(
    client: httpx.AsyncClient, pool: asyncpg.Pool, olga: accounts.NewUser
) -> None:
    await sign_in(client)
    token = client.cookies["fediverse_biz_session"]
    header_form = parse_page((await client.get("/about")).text).forms[0]
    assert header_form.action.endswith("/session/logout")

    forged = await client.post(header_form.action, data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    done = await client.post(header_form.action, data=header_form.hidden())

    assert done.status_code == 303
    assert await pool.fetchval("SELECT revoked_at IS NOT NULL FROM browser_sessions")
    client.cookies.set("fediverse_biz_session", token)  # a copy of the cookie kept elsewhere
    assert (await client.get("/session/sessions")).status_code == 303


async def test_sessions_are_listed_and_one_can_be_revoked_from_another(
    app: Starlette, settings: Settings, client: httpx.AsyncClient, olga: accounts.NewUser
) -> None:
    await sign_in(client)
    async with another_browser(app, settings) as phone:
        await sign_in(phone)
        page = await client.get("/session/sessions")
        assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
        sessions = by_class(parse(page.text), "session")
        assert len(sessions) == 2 and "This browser" in text_of(sessions[0]) and "Firefox on Linux" in text_of(
            sessions[1]
        )
        forms = parse_page(page.text).forms  # the header's sign-out first, then one per session
        revoke_other = forms[-1]
        assert revoke_other.action.endswith("/revoke")

        assert (await client.post(revoke_other.action, data={"csrf_token": "forged"})).status_code == 403
        assert (await client.post(revoke_other.action, data={"csrf_token": "é" * 64})).status_code == 403
        assert (await phone.get("/session/sessions")).status_code == 200  # still signed in
        done = await client.post(revoke_other.action, data=revoke_other.hidden())
        assert done.status_code == 303 and done.headers["location"] == "/session/sessions?done=revoked"

        assert (await phone.get("/session/sessions")).status_code == 303  # signed out there
        # one person cannot end another's session: the id is not theirs
        await accounts.create_user(services(app).pool, LocalUrls(settings.base_url), "mia", "m@example.com", PASSWORD)
        await sign_in(phone, "mia")
        stranger = await phone.post(forms[-2].action, data=parse_page((await phone.get("/session/sessions")).text)
                                    .forms[0].hidden())  # fmt: skip
        assert stranger.status_code == 404
    assert (await client.get("/session/sessions")).status_code == 200


async def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(
    app: Starlette, settings: Settings, client: httpx.AsyncClient, olga: accounts.NewUser
) -> None:
    await sign_in(client)
    async with another_browser(app, settings) as phone:
        await sign_in(phone)
        form = parse_page((await client.get("/session/password")).text).forms[-1]

        wrong = await client.post(form.action, data={**form.hidden(), "current_password": "nope",
                                                     "new_password": "short", "confirmation": "other"})  # fmt: skip
        assert wrong.status_code == 422
        said = {e.get("id"): text_of(e) for e in parse(wrong.text).iter("span") if e.get("class") == "field-error"}
        assert said == {
            "error-current_password": "Your current password is not your current password.",
            "error-new_password": "The new password must be at least 8 characters.",
            "error-confirmation": "The repeated new password does not match the new password.",
        }
        assert PASSWORD not in wrong.text  # passwords are never sent back
        forged = await client.post(form.action, data={"csrf_token": "x", "current_password": PASSWORD,
                                                      "new_password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
        assert forged.status_code == 403

        done = await client.post(form.action, data={**form.hidden(), "current_password": PASSWORD,
                                                    "new_password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
        assert done.status_code == 303 and done.headers["location"] == "/session/sessions?done=password"
        assert (await client.get("/session/sessions")).status_code == 200  # this browser stays signed in
        assert (await phone.get("/session/sessions")).status_code == 303  # the other one is signed out
        assert (await sign_in(phone)).status_code == 401  # the old password no longer works
        assert (await sign_in(phone, password=NEW_PASSWORD)).status_code == 303


async def test_a_signed_in_browser_authorizes_an_app_without_the_password(
    client: httpx.AsyncClient, olga: accounts.NewUser
) -> None:
    app = await oauth_flows.register(client)
    params = oauth_flows.query(app)
    await sign_in(client)

    page = await client.get("/oauth/authorize", params=params)
    assert page.status_code == 200 and "Signed in as @olga" in page.text and 'name="password"' not in page.text
    form = parse_page(page.text).forms[0]
    approved = await client.post("/oauth/authorize", data={**form.hidden(), "actor": "olga", "approve": "1"})
    code = code_from(approved)
    token = await oauth_flows.token_request(client, app, grant_type="authorization_code", code=code,
                                           redirect_uri=params["redirect_uri"])  # fmt: skip
    assert token.status_code == 200, token.text
    me = await client.get("/api/v1/accounts/verify_credentials",
                          headers={"Authorization": f"Bearer {token.json()['access_token']}"})  # fmt: skip
    assert me.json()["username"] == "olga"


@pytest.fixture
async def throttled(settings: Settings, db: Database) -> AsyncIterator[Starlette]:
    application = create_app(replace(settings, rate_limit_logins=3), db)
    async with application.router.lifespan_context(application):
        yield application


async def test_signing_in_is_throttled_like_the_apis_logins(throttled: Starlette, settings: Settings) -> None:
    await accounts.create_user(services(throttled).pool, LocalUrls(settings.base_url), "olga", "o@x.example",
                               PASSWORD)  # fmt: skip
    async with another_browser(throttled, settings) as browser:
        answers = [(await sign_in(browser, password="wrong")).status_code for _ in range(3)]
        assert answers == [401, 401, 401]
        assert (await sign_in(browser)).status_code == 429  # even the right password, until the window ends


async def test_a_signed_in_member_follows_from_another_server_without_the_password(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, olga: accounts.NewUser
) -> None:
    forge = await accounts.create_organization(pool, urls, "forge", "olga", display_name="Forge")
    alice = await accounts.create_user(pool, urls, "alice", "alice@example.com", PASSWORD)
    alice_uri = await pool.fetchval("SELECT uri FROM actors WHERE id = $1", alice.actor_id)
    await sign_in(client)

    page = await client.get("/authorize_interaction", params={"uri": alice_uri})
    assert 'name="password"' not in page.text
    form = parse_page(page.text).forms[-1]
    assert [value for value, _ in form.selects["actor"]] == ["olga", "forge"]
    forged = await client.post(form.action, data={**form.hidden(), "session_csrf": "x", "actor": "forge"})
    assert forged.status_code == 403 and not await pool.fetchval("SELECT count(*) FROM follows")

    done = await client.post(form.action, data={**form.hidden(), "actor": "forge"})

    assert done.status_code == 200 and "You now follow alice" in text(parse(done.text))
    assert await pool.fetchval(
        "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", forge["id"], alice.actor_id
    )
