"""Malformed ids against every door: no string in an id's place is ever a 5xx.

The targets are collected, not listed, so a new route is covered the day it is added:
- every route of the app whose path names an id (`{id}`, `{status_id}`, `{user_id}`, ...), each such
  parameter in turn, for each of the route's methods;
- the paging parameters (`max_id`, `since_id`, `min_id`) of every operation the OpenAPI document
  describes as taking them, and `max_id`, `min_id` and `page` on every GET route outside /api/ (the web
  pages and the ActivityPub collections).

The other path parameters hold real things (alice, her organization acme, her hall hall7, a post of
hers), and requests carry her token with every scope, so the id under test is the one that is read. The
rate limits are off: a few hundred requests would otherwise end in 429s that test nothing.

Two tests: a sweep sends three strings that a naive id check lets through to a 500 ('²' passes
`str.isdigit()`, 2**63 passes a 19-digit check, '٣' is read as 3 by `int()`) to every target and holds
the client API to its answers (404 `Record not found` for a path id, 400 naming the paging parameter);
hypothesis then sends arbitrary text, digit strings of every script and numbers around the bigint's
edges to targets drawn at random.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from fediverse_biz.api.openapi import document
from fediverse_biz.app import all_routes
from fediverse_biz.config import Settings
from fediverse_biz.core.ids import MAX_ID
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import fuzz
from tests.support.accounts import api_headers
from tests.support.fuzz import PATH_PARAMETER, SCOPES, route_table

MAX_EXAMPLES = 300
SWEEP = ("²", "9223372036854775808", "٣")
API_CURSORS = ("max_id", "since_id", "min_id")
PAGE_PARAMETERS = ("max_id", "min_id", "page")  # web pages and ActivityPub collections
NOT_FOUND = {"error": "Record not found"}


def is_id_parameter(name: str) -> bool:
    return name == "id" or name.endswith("_id")


@dataclass(frozen=True)
class Target:
    """One place an id goes: a path parameter of a route, or a query parameter of a GET route."""

    method: str
    path: str  # the route's template, `/api/v1/statuses/{id}`
    parameter: str
    in_path: bool

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")

    def __str__(self) -> str:
        where = f"{{{self.parameter}}}" if self.in_path else f"?{self.parameter}="
        return f"{self.method} {self.path} {where}"


def _paginated_operations() -> list[tuple[str, str]]:
    found = []
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            if "max_id" in names:
                found.append((method.upper(), path))
    return found


def collect_targets() -> list[Target]:
    targets = []
    for path, methods in route_table(all_routes()):
        names = PATH_PARAMETER.findall(path)
        for method in sorted(methods - {"HEAD"}):
            targets += [Target(method, path, name, True) for name in names if is_id_parameter(name)]
            if method == "GET" and not path.startswith("/api/"):
                targets += [Target(method, path, name, False) for name in PAGE_PARAMETERS]
    targets += [Target(m, path, name, False) for m, path in _paginated_operations() for name in API_CURSORS]
    return targets


TARGETS = collect_targets()


@dataclass
class World:
    client: httpx.AsyncClient
    headers: dict[str, str]
    values: dict[str, str]  # what the path parameters that are not under test hold

    def fill(self, target: Target, text: str) -> str:
        """The URL of `target` with `text` in its place, every other parameter filled in."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if target.in_path and name == target.parameter:
                return quote(text, safe="")
            if name == "id":  # /api/v1/<kind>/{id}: the kind says what the id names
                kind = target.path.split("/")[3:4]
                return self.values.get("".join(kind), str(MAX_ID))
            if name == "username" and target.path.startswith("/c/"):
                return self.values["hall_name"]
            if is_id_parameter(name):
                return str(MAX_ID)  # an id no row has: the parameter under test comes first
            assert name in self.values, f"{target}: say what {{{name}}} holds in World.values"
            return self.values[name]

        url = PATH_PARAMETER.sub(value, target.path)
        return url if target.in_path else f"{url}?{httpx.QueryParams({target.parameter: text})}"

    async def send(self, target: Target, text: str) -> httpx.Response:
        return await self.client.request(target.method, self.fill(target, text), headers=self.headers)


settings = fuzz.settings  # the fixture: the rate limits off


@pytest.fixture
async def world(app: Starlette, settings: Settings, urls: LocalUrls) -> AsyncIterator[World]:
    pool = services(app).pool
    alice, values = await fuzz.alices_things(pool, urls)
    values["accounts"] = str(alice.actor_id)
    headers = await api_headers(pool, alice, SCOPES)
    async with fuzz.unraising_client(app, settings) as client:
        yield World(client, headers, values)


def test_the_targets_cover_every_door() -> None:
    described = {str(t) for t in TARGETS}
    assert "GET /api/v1/statuses/{id} {id}" in described
    assert "DELETE /api/v1/organizations/{id}/members/{user_id} {user_id}" in described
    assert "GET /api/v1/timelines/home ?since_id=" in described
    assert "GET /@{username}/{status_id} {status_id}" in described
    assert "GET /users/{username}/statuses/{status_id}/activity {status_id}" in described
    assert "GET /users/{username}/outbox ?max_id=" in described
    assert "GET /c/{username}/followers ?page=" in described


async def test_every_target_refuses_what_used_to_be_a_500(world: World) -> None:
    failures = []
    for target in TARGETS:
        for text in SWEEP:
            response = await world.send(target, text)
            if response.status_code >= 500:
                failures.append(f"{target} {text!r}: {response.status_code}")
            elif target.api and target.in_path and (response.status_code, response.json()) != (404, NOT_FOUND):
                failures.append(f"{target} {text!r}: {response.status_code} {response.text[:200]}")
            elif target.api and not target.in_path:  # a paging parameter the OpenAPI document names
                expected = {"error": f"{target.parameter} must be an id"}
                if (response.status_code, response.json()) != (400, expected):
                    failures.append(f"{target} {text!r}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


async def test_the_web_and_activitypub_doors_answer_in_their_own_way(world: World) -> None:
    for text in SWEEP:
        quoted = quote(text)
        page = await world.client.get(f"/@alice/{quoted}")
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        older = await world.client.get("/@alice", params={"max_id": text})
        assert older.status_code == 400 and "max_id" in older.text
        for path in (f"/users/alice/statuses/{quoted}", f"/users/alice/statuses/{quoted}/activity"):
            assert (await world.client.get(path, headers={"Accept": "application/activity+json"})).status_code == 404
        outbox = await world.client.get("/users/alice/outbox", params={"page": "true", "max_id": text})
        assert outbox.status_code == 400
        followers = await world.client.get("/users/alice/followers", params={"page": text})
        assert followers.status_code == 400


# Every character str.isdigit() accepts: the decimal digits of every script, which int() reads as numbers,
# and superscripts, circled and other digits ('²', '①'), which int() refuses.
DIGITS = [chr(code) for code in range(0x110000) if chr(code).isdigit()]
hostile_ids = st.one_of(
    st.text(),
    st.text(st.sampled_from(DIGITS), min_size=1, max_size=22),
    st.text(st.sampled_from("0123456789²٣\uff11 +-_.e\x00\n/%"), min_size=1, max_size=22),
    st.integers(min_value=-(2**64), max_value=2**66).map(str),
    st.integers(min_value=MAX_ID - 3, max_value=MAX_ID + 3).map(str),
    st.sampled_from(["", "0", "00", "007", "1" * 5000]),
)


@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(target=st.sampled_from(TARGETS), text=hostile_ids)
async def test_no_string_in_an_ids_place_is_a_5xx(world: World, target: Target, text: str) -> None:
    response = await world.send(target, text)
    assert response.status_code < 500, f"{target} {text!r}: {response.status_code} {response.text[:300]}"
