"""The sign-up page: the API's registration rules (core.registrations), every problem said beside its field
at once; open mode signs the new person in, approval mode asks for a reason and says the sign-up waits;
closed mode has no page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.app import create_app
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.html import by_class, parse, text, text_of
from tests.support.mastodon_client import parse_page


@pytest.fixture(params=["open"])
async def browser(request: pytest.FixtureRequest, settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(replace(settings, registration_mode=request.param), db)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            client.app = application  # type: ignore[attr-defined]
            yield client


def app_of(client: httpx.AsyncClient) -> Starlette:
    return client.app  # type: ignore[attr-defined,no-any-return]


async def form_of(client: httpx.AsyncClient) -> dict[str, str]:
    page = await client.get("/sign-up")
    assert page.status_code == 200, page.text
    parse(page.text)  # valid HTML5
    return parse_page(page.text).forms[-1].hidden()


NEW = {"username": "nina", "email": "nina@example.com", "password": PASSWORD, "confirmation": PASSWORD,
       "agreement": "1"}  # fmt: skip


async def test_open_sign_up_creates_the_account_and_signs_in(browser: httpx.AsyncClient) -> None:
    hidden = await form_of(browser)
    response = await browser.post("/sign-up", data={**hidden, **NEW})
    assert response.status_code == 303 and response.headers["location"] == "/compose"
    composer = await browser.get("/compose")
    assert composer.status_code == 200 and "@nina" in text(parse(composer.text))


async def test_every_problem_is_said_beside_its_field_at_once(browser: httpx.AsyncClient) -> None:
    pool = services(app_of(browser)).pool
    await accounts.create_user(pool, LocalUrls(str(browser.base_url)), "nina", "n@example.com", PASSWORD)
    hidden = await form_of(browser)
    response = await browser.post("/sign-up", data={**hidden, "username": "nina", "email": "not an address",
                                                    "password": PASSWORD, "confirmation": "different"})  # fmt: skip
    assert response.status_code == 422
    page = parse(response.text)
    said = {e.get("id"): text_of(e) for e in by_class(page, "field-error")}
    assert said == {
        "error-username": "The username has already been taken.",
        "error-email": "The email address is invalid.",
        "error-confirmation": "The repeated password does not match the password.",
        "error-agreement": "The agreement must be accepted.",
    }
    assert [text_of(a) for a in by_class(page, "errors")[0].iter("a")] == list(said.values())
    kept = {e.get("name"): e.get("value") for e in page.iter("input") if e.get("type") in ("text", "email")}
    assert kept == {"username": "nina", "email": "not an address"}
    assert PASSWORD not in response.text
    forged = await browser.post("/sign-up", data={**NEW, "form_token": "1.forged"})
    assert forged.status_code == 403


@pytest.mark.parametrize("browser", ["approval"], indirect=True)
async def test_approval_sign_up_asks_why_and_says_it_waits(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/sign-up")
    assert 'name="reason"' in page.text
    hidden = await form_of(browser)
    response = await browser.post("/sign-up", data={**hidden, **NEW, "reason": "We make gates."})
    assert response.status_code == 200
    assert "Your sign-up waits for a moderator" in text(parse(response.text))
    pool = services(app_of(browser)).pool
    row = await pool.fetchrow("SELECT u.approved, a.extra FROM users u JOIN actors a ON a.id = u.actor_id")
    assert not row["approved"] and row["extra"]["registration_reason"] == "We make gates."
    login = parse_page((await browser.get("/session/login")).text).forms[0]
    refused = await browser.post(login.action, data={**login.hidden(), "login": "nina", "password": PASSWORD})
    assert refused.status_code == 401 and "pending approval" in refused.text


@pytest.mark.parametrize("browser", ["closed"], indirect=True)
async def test_closed_has_no_sign_up_page(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/sign-up")
    assert page.status_code == 404 and "Sign-ups are closed" in text(parse(page.text))
    assert (await browser.post("/sign-up", data=NEW)).status_code == 404
    about = parse((await browser.get("/about")).text)
    assert "Sign up" not in text_of(by_class(about, "account")[0])


@pytest.fixture
async def throttled(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(replace(settings, registration_mode="open", rate_limit_sign_ups=2), db)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            yield client


async def test_signing_up_is_throttled_like_the_apis_sign_ups(throttled: httpx.AsyncClient) -> None:
    hidden = await form_of(throttled)
    answers = [(await throttled.post("/sign-up", data={**hidden, "username": f"n{i}"})).status_code for i in range(3)]
    assert answers == [422, 422, 429]
