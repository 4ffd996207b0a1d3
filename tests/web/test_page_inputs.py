"""web/inputs.py: the pages' one reader of filters and forms, and what a page answers to text it refuses.

A value that is not valid UTF-8 or holds a NUL (fediverse_biz/storable.py) is the 400 page naming the
field, or, where there is a form, the form again with the message beside the field. Other control
characters are text like any other: no error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.core import accounts
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.inputs import PageInput
from tests.support import factories
from tests.support.accounts import PASSWORD
from tests.support.html import parse, text
from tests.support.mastodon_client import parse_page

BROWSER = {"Accept": "text/html"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SURROGATE = quote("\ud800".encode("utf-8", "surrogatepass"))  # %ED%A0%80: not UTF-8


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


def hidden_fields(doc: Any) -> dict[str, str]:
    return {i.get("name"): i.get("value") or "" for i in doc.iter("input") if i.get("type") == "hidden"}


def test_page_input_reads_as_starlettes_multidicts() -> None:
    query = PageInput((("q", "first"), ("sector", "C"), ("q", "last")))
    assert query.get("q") == "last" and query.getlist("q") == ["first", "last"]
    assert query.get("none") is None and query.get("none", "x") == "x" and query.getlist("none") == []
    assert "sector" in query and "none" not in query
    assert PageInput().get("q") is None


@pytest.mark.parametrize(("bad", "reason"), [("%00", "contains a NUL character"), (SURROGATE, "is not valid UTF-8")])
async def test_the_directory_page_answers_a_bad_filter_with_its_400_page(
    client: httpx.AsyncClient, bad: str, reason: str
) -> None:
    page = await client.get(f"/directory?sector=C&q=a{bad}b", headers=BROWSER)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert f"q {reason}" in text(parse(page.text))
    assert page.headers["cache-control"] == "no-store"
    api = await client.get(f"/api/v1/directory?q=a{bad}b")
    assert (api.status_code, api.json()) == (422, {"error": f"Validation failed: q {reason}"})


async def test_control_characters_in_a_filter_are_text(client: httpx.AsyncClient) -> None:
    for path in ("/directory", "/communities", "/jobs", "/opportunities"):
        page = await client.get(f"{path}?q=a%01b%7F%C2%85&sector=%0B", headers=BROWSER)
        assert page.status_code == 200, path


async def sign_in(client: httpx.AsyncClient, username: str, next_path: str) -> None:
    login = parse_page((await client.get(f"/session/login?next={next_path}")).text).forms[0]
    response = await client.post(login.action, data={**login.hidden(), "login": username, "password": PASSWORD})
    assert response.status_code == 303, response.text


@pytest.mark.parametrize("multipart", [False, True])
async def test_the_offer_form_comes_back_naming_a_field_that_is_not_text(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, multipart: bool
) -> None:
    await accounts.create_user(pool, urls, "olga", "olga@example.com", PASSWORD)
    await sign_in(client, "olga", "/jobs/new")
    form = parse_page((await client.get("/jobs/new")).text).forms[-1]
    fields = {**form.hidden(), "title": "Welder\x00", "location": "Lyon", "description": "Day shift"}
    if multipart:
        response = await client.post(form.action, files={name: (None, value) for name, value in fields.items()})
    else:
        response = await client.post(form.action, data=fields)

    assert response.status_code == 422
    page = parse(response.text)
    assert "The title contains a NUL character." in text(page)
    assert [e.get("name") for e in page.iter("input") if e.get("aria-invalid") == "true"] == ["title"]
    assert [e.get("value") for e in page.iter("input") if e.get("name") == "location"] == ["Lyon"]  # kept
    assert not await pool.fetchval("SELECT count(*) FROM statuses")


async def test_the_offer_form_takes_control_characters_as_text(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    await accounts.create_user(pool, urls, "olga", "olga@example.com", PASSWORD)
    await sign_in(client, "olga", "/jobs/new")
    form = parse_page((await client.get("/jobs/new")).text).forms[-1]
    fields = {**form.hidden(), "title": "Wel\x01der\x7f", "description": "Day\x1b shift\nnights too"}
    response = await client.post(form.action, data=fields, follow_redirects=False)
    assert response.status_code == 303
    assert await pool.fetchval("SELECT title FROM offers") == "Welder"  # a one-line field drops them


async def test_the_sign_in_form_comes_back_naming_a_field_that_is_not_text(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    await accounts.create_user(pool, urls, "olga", "olga@example.com", PASSWORD)
    login = parse_page((await client.get("/session/login?next=/jobs/new")).text).forms[0]
    body = f"csrf_token={quote(login.hidden()['csrf_token'])}&next=/jobs/new&login=olga&password={SURROGATE}"
    response = await client.post("/session/login", content=body, headers=FORM)
    assert response.status_code == 400
    page = parse_page(response.text)
    assert "password is not valid UTF-8" in response.text
    assert page.forms[0].hidden()["next"] == "/jobs/new"
    assert 'value="olga"' in response.text  # the login typed is kept
    assert "fediverse_biz_session" not in response.headers.get("set-cookie", "")


async def test_the_follow_confirmation_comes_back_naming_a_field_that_is_not_text(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    await factories.local_actor(pool, urls, "bob")
    alice = await factories.local_actor(pool, urls, "alice")
    doc = parse((await client.get(f"/authorize_interaction?uri={quote(alice['uri'])}", headers=BROWSER)).text)
    hidden = hidden_fields(doc)
    response = await client.post("/authorize_interaction", data={**hidden, "login": "bob", "password": "a\x00"})
    assert response.status_code == 400
    assert "This form could not be read: password contains a NUL character." in text(parse(response.text))
    assert [i.get("value") for i in parse(response.text).iter("input") if i.get("name") == "login"] == ["bob"]
    no_target = await client.post("/authorize_interaction", data={**hidden, "uri": "x\x00"})
    assert no_target.status_code == 400 and "uri contains a NUL character" in text(parse(no_target.text))
    assert not await pool.fetchval("SELECT count(*) FROM follows")


async def test_a_form_with_no_place_for_the_message_is_the_400_page(client: httpx.AsyncClient) -> None:
    response = await client.post("/session/logout", data={"csrf_token": "\x00"}, headers=BROWSER)
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
    assert "csrf_token contains a NUL character" in text(parse(response.text))
