"""Text PostgreSQL cannot store, at every door that takes text: never a 5xx, and a 4xx when it was sent.

fediverse_biz/storable.py is the rule (valid Unicode, no NUL); the client API's reader (api/params.py) and
the pages' reader (web/inputs.py) apply it to everything they read. The targets are collected, not
listed, so a new endpoint or page is covered the day it is added:

- every write operation of the OpenAPI document (POST, PUT, PATCH, DELETE), with its documented body
  fields and query parameters, sent as JSON, urlencoded and multipart as the document allows;
- every GET operation of the document with query parameters (the streams, which never end, aside);
- every GET route outside /api/ (pages, ActivityPub documents, WebFinger) with the filters pages read;
- every POST route outside /api/ (the pages' forms; the inboxes have their own fuzzer), signed in.

Strings carry NUL, lone surrogates, other C0/C1 controls, bidi overrides and ordinary text. A surrogate
travels as JSON's `\\ud800` escape or, in a query or form, as its UTF-8 form (`%ED%A0%80`), which is not
UTF-8. A request line holds them percent-encoded only: uvicorn (httptools and h11 alike) answers raw
control or non-ASCII bytes there with its own 400 before the app sees them. When a NUL or a surrogate
went into a documented field the answer must be a 4xx; multipart fields that are not UTF-8 are the
exception (Starlette reads them as Latin-1: valid text, so nothing to refuse).

The rate limits are off (hundreds of requests would end in 429s that test nothing); requests carry a token
with every user scope and, for the pages, a signed-in session, so the reader is reached past the doors.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from fediverse_biz import storable
from fediverse_biz.api.openapi import document
from fediverse_biz.app import all_routes
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.core.ids import MAX_ID
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import fuzz
from tests.support.accounts import PASSWORD, api_headers
from tests.support.fuzz import PATH_PARAMETER, SCOPES, route_table
from tests.support.mastodon_client import parse_page

JSON, FORM, MULTIPART = "application/json", "application/x-www-form-urlencoded", "multipart/form-data"
BOUNDARY = "text-fuzz-7e1d0c55b2a94f3e"
# What the pages read from their query strings (web/inputs.py's callers); a page ignores the others.
PAGE_FILTERS = ("q", "sector", "country", "type", "order", "page", "local", "region", "hall", "direction",
                "employment_type", "remote", "held", "done", "next", "uri", "max_id", "min_id", "resource",
                "client_id", "redirect_uri", "response_type", "scope", "state")  # fmt: skip
# The fields of the pages' forms (web/*.py, the OAuth consent form)
FORM_FIELDS = ("csrf_token", "login", "password", "next", "uri", "actor", "acct", "title", "description",
               "location", "reason", "version", "as", "hall_id", "apply", "client_id", "redirect_uri")  # fmt: skip
UNSTORABLE = ("\x00", "\ud800", "\udbff", "\udc00", "\udfff")
CONTROLS = ("\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\u2028", "\u202e", "\ufeff", "\uffff")

hostile_text = st.one_of(
    st.text(
        st.sampled_from([*UNSTORABLE, *CONTROLS, "a", "Z", " ", "\n", "\t", "é", "東", "🚀", "#", "@"]), max_size=16
    ),
    st.text(st.characters(exclude_categories=()), max_size=24),  # any code point, surrogates included
    st.sampled_from(["x\x00", "\ud800", "ok\udfff", "\x00" * 3, "a\x01b", "café\x7f", "\u202eevil", ""]),
)


def quoted(text: str) -> str:
    """`text` percent-encoded as a client would send it; a surrogate becomes its (invalid) UTF-8 bytes."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def must_refuse(values: dict[str, str], encoding: str) -> bool:
    """Whether the rule refuses what was sent: a NUL anywhere, a surrogate unless it went as multipart."""
    if encoding == MULTIPART:
        return any("\x00" in value for value in values.values())
    return any(storable.problem(value) is not None for value in values.values())


# ---- targets ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    fields: dict[str, tuple[str, ...]] = field(hash=False)  # content type -> the documented body fields
    query: tuple[str, ...]  # the documented query parameters

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _operations(methods: set[str]) -> list[Operation]:
    found = []
    for path, item in document()["paths"].items():
        if path.startswith("/api/v1/streaming") and path != "/api/v1/streaming/health":
            continue  # server-sent events never end
        for method, operation in item.items():
            if method not in methods:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            fields = {kind: tuple(media.get("schema", {}).get("properties", {})) for kind, media in content.items()}
            query = tuple(p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")
            found.append(Operation(method.upper(), path, fields, query))
    return found


WRITES = _operations({"post", "put", "patch", "delete"})
READS = [op for op in _operations({"get"}) if op.query]


def _outside_api(method: str) -> list[str]:
    return [
        path
        for path, methods in route_table(all_routes())
        if method in methods
        and not path.startswith(("/api/", "/oauth/token", "/oauth/revoke"))
        and not path.endswith("/inbox")  # tests/reliability/test_inbox_fuzz.py
    ]


PAGES = _outside_api("GET")
PAGE_FORMS = _outside_api("POST")


# ---- the world --------------------------------------------------------------------------------------
@dataclass
class World:
    client: httpx.AsyncClient
    headers: dict[str, str]
    values: dict[str, str]  # what path parameters hold

    def url(self, template: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "id":  # /api/v1/<kind>/{id}: the kind says what the id names
                return self.values.get(template.split("/")[3], str(MAX_ID))
            if name == "username" and template.startswith("/c/"):
                return self.values["hall_name"]
            return self.values.get(name, str(MAX_ID))

        return PATH_PARAMETER.sub(value, template)

    async def send(self, method: str, path: str, query: str = "", **kwargs: Any) -> httpx.Response:
        url = self.url(path) + (f"?{query}" if query else "")
        return await self.client.request(method, url, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)


def encoded(values: dict[str, str], encoding: str) -> dict[str, Any]:
    """Request arguments carrying `values` as a JSON, urlencoded or multipart body."""
    if encoding == JSON:
        return {"content": json.dumps(values).encode(), "headers": {"Content-Type": JSON}}  # surrogates: \\ud800
    if encoding == FORM:
        body = "&".join(f"{quoted(name)}={quoted(value)}" for name, value in values.items())
        return {"content": body.encode(), "headers": {"Content-Type": FORM}}
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode("utf-8", "surrogatepass")
        + b"\r\n"
        for name, value in values.items()
    ]
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    return {"content": body, "headers": {"Content-Type": f"{MULTIPART}; boundary={BOUNDARY}"}}


settings = fuzz.settings  # the fixture: the rate limits off


@pytest.fixture
async def world(app: Starlette, settings: Settings, urls: LocalUrls) -> AsyncIterator[World]:
    pool = services(app).pool
    alice, values = await fuzz.alices_things(pool, urls)
    bob = await accounts.create_user(pool, urls, "bob", "bob@example.com", PASSWORD)
    values |= {
        "accounts": str(bob.actor_id),
        "follow_requests": str(bob.actor_id),
        "account_id": str(bob.actor_id),
        "status_id": values["statuses"],
        "user_id": str(alice.user_id),
    }
    headers = await api_headers(pool, alice, SCOPES)
    async with fuzz.unraising_client(app, settings) as client:
        login = parse_page((await client.get("/session/login?next=/review")).text).forms[0]
        signed_in = await client.post(login.action, data={**login.hidden(), "login": "alice", "password": PASSWORD})
        assert signed_in.status_code == 303, signed_in.text  # the session cookie rides along from here
        yield World(client, headers, values)


def test_the_targets_cover_every_door() -> None:
    writes = {str(op) for op in WRITES}
    assert {"POST /api/v1/statuses", "PUT /api/v1/statuses/{id}", "POST /api/v1/apps", "POST /oauth/token"} <= writes
    assert "PATCH /api/v1/accounts/update_credentials" in writes and "POST /api/v2/media" in writes
    assert {"GET /api/v2/search", "GET /api/v1/directory", "GET /api/v1/offers"} <= {str(op) for op in READS}
    assert {"/directory", "/communities", "/jobs", "/opportunities", "/@{username}", "/session/login"} <= set(PAGES)
    assert {"/authorize_interaction", "/oauth/authorize", "/.well-known/webfinger", "/review/{org}"} <= set(PAGES)
    assert {"/jobs/new", "/session/login", "/review/{org}/{status_id}/approve", "/@{username}/remote_follow"} <= set(
        PAGE_FORMS
    )
    assert "/oauth/authorize" in PAGE_FORMS and not any(p.endswith("/inbox") for p in PAGE_FORMS)


# ---- the client API ---------------------------------------------------------------------------------
@st.composite
def write_requests(draw: st.DrawFn) -> tuple[Operation, str, dict[str, str], dict[str, str]]:
    """An operation, an encoding it accepts, hostile body fields and perhaps a hostile query parameter."""
    operation = draw(st.sampled_from(WRITES))
    encoding = draw(st.sampled_from(sorted(operation.fields) or [JSON, FORM]))
    names = operation.fields.get(encoding) or ("status", "reason", "description")
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
    body = {name: draw(hostile_text) for name in chosen}
    query = {}
    if draw(st.booleans()):
        query[draw(st.sampled_from(operation.query or ("reason",)))] = draw(hostile_text)
    return operation, encoding, body, query


@hypothesis_settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=write_requests())
async def test_no_text_in_a_write_is_a_5xx_and_unstorable_text_is_refused(
    world: World, request: tuple[Operation, str, dict[str, str], dict[str, str]]
) -> None:
    operation, encoding, body, query = request
    query_string = "&".join(f"{quoted(name)}={quoted(value)}" for name, value in query.items())
    response = await world.send(operation.method, operation.path, query_string, **encoded(body, encoding))
    shown = f"{operation} {encoding} {body!r} ?{query_string}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, shown
    in_body = {name: value for name, value in body.items() if name in operation.fields.get(encoding, ())}
    in_query = {name: value for name, value in query.items() if name in operation.query}
    if must_refuse(in_body, encoding) or must_refuse(in_query, FORM):  # a query string is urlencoded
        assert 400 <= response.status_code < 500, shown
        assert response.json()["error"], shown


async def test_a_lone_surrogate_in_a_post_or_its_edit_is_a_422_naming_the_field(world: World) -> None:
    for method, path in (("POST", "/api/v1/statuses"), ("PUT", "/api/v1/statuses/{id}")):
        for name in ("status", "spoiler_text"):
            body = {"status": "fine", name: "x\ud800"}
            response = await world.send(method, path, **encoded(body, JSON))
            assert response.status_code == 422, response.text
            assert response.json() == {
                "error": f"Validation failed: {name} is not valid Unicode (it holds a lone surrogate)"
            }
    app = {"client_name": "a\ud800", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}
    for encoding in (JSON, FORM):  # no token: the first request an app ever makes
        anonymous = await world.client.post("/api/v1/apps", **encoded(app, encoding))
        assert anonymous.status_code == 422 and "client_name is not valid" in anonymous.json()["error"]


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operation=st.sampled_from(READS), data=st.data())
async def test_no_text_in_a_query_parameter_is_a_5xx(world: World, operation: Operation, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(operation.query))
    value = data.draw(hostile_text)
    response = await world.send("GET", operation.path, f"{quoted(name)}={quoted(value)}")
    assert response.status_code < 500, f"{operation} ?{name}={value!r}: {response.status_code} {response.text[:300]}"


# ---- the pages ----------------------------------------------------------------------------------------
BAD_QUERY_VALUES = ("%00", "a%00b", "%ED%A0%80", "%ED%BF%BF", "caf%E9", "%C3", quoted("x\ud800\udfff"))


async def test_no_page_answers_a_bad_filter_with_a_5xx(world: World) -> None:
    failures = []
    for path in PAGES:
        for bad in BAD_QUERY_VALUES:
            for query in ("&".join(f"{name}={bad}" for name in PAGE_FILTERS), f"{bad}=1"):
                response = await world.send("GET", path, query, headers={"Accept": "text/html"})
                if response.status_code >= 500:
                    failures.append(f"GET {path}?{query[:60]}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/directory", "q"),
        ("/directory", "sector"),
        ("/communities", "q"),
        ("/jobs", "q"),
        ("/opportunities", "region"),
        ("/@alice", "max_id"),
        ("/session/login", "next"),
        ("/authorize_interaction", "uri"),
        ("/review/acme", "done"),
    ],
)
@pytest.mark.parametrize("bad", ["%00", "%ED%A0%80"])
async def test_a_page_filter_that_is_not_text_is_the_400_page_naming_it(
    world: World, path: str, name: str, bad: str
) -> None:
    response = await world.send("GET", path, f"{name}={bad}", headers={"Accept": "text/html"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    reason = "contains a NUL character" if bad == "%00" else "is not valid UTF-8"
    assert f"{name} {reason}" in response.text


async def test_the_oauth_consent_page_answers_a_bad_parameter_with_its_400_page(world: World) -> None:
    response = await world.send("GET", "/oauth/authorize", "client_id=%00&response_type=code")
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
    assert "client_id contains a NUL character" in response.text


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(PAGE_FORMS),
    encoding=st.sampled_from([FORM, MULTIPART]),
    body=st.dictionaries(st.sampled_from(FORM_FIELDS), hostile_text, min_size=1, max_size=5),
)
async def test_no_page_form_answers_bad_text_with_a_5xx(
    world: World, path: str, encoding: str, body: dict[str, str]
) -> None:
    response = await world.send("POST", path, **encoded(body, encoding))
    shown = f"POST {path} {encoding} {body!r}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, shown
    if must_refuse(body, encoding):
        assert 400 <= response.status_code < 500, shown
