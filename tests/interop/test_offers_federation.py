"""Job offers and opportunities across two real instances on 127.0.0.1, each with its own database and
workers: posted on A (the JSON endpoint, and the text convention from the real Mastodon.py client), they
reach B's boards (API and HTML) with every structured field intact, read as complete posts through B's
Mastodon API, and leave B's boards when they expire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from fediverse_biz.core import accounts, follows
from tests.support.accounts import PASSWORD, api_headers
from tests.support.html import by_class, parse, text, text_of
from tests.support.instances import Instance as SharedInstance
from tests.support.instances import started
from tests.support.mastodon_client import login_mastodon
from tests.support.mastodon_schemas import assert_matches
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.social import validating_session

NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
WELDER: dict[str, Any] = {
    "kind": "job",
    "title": "Senior welder (m/f/d)",
    "description": "Gates and railings for the Rhône valley.\n\nTIG experience wanted.",
    "location": "Lyon",
    "remote": True,
    "employment_type": "FULL_TIME",
    "salary_min": 40000,
    "salary_max": 50000.5,
    "currency": "EUR",
    "apply_url": "https://forge.example/jobs/welder",
    "apply_email": "jobs@forge.example",
    "sector": "C",
    "region": "FR-69",
    "valid_through": NEXT_YEAR,
}
CAPACITY: dict[str, Any] = {
    "kind": "opportunity",
    "direction": "request",
    "title": "Laser cutting, 200 sheets a month",
    "description": "Stainless steel up to 6 mm.",
    "location": "Augsburg",
    "sector": "C",
    "region": "DE-BY",
    "budget": 12500,
    "currency": "EUR",
    "quantity": 200,
    "valid_through": NEXT_YEAR,
}
TYPED = f"""#hiring
Title: Night baker
Type: part-time
Location: Lyon
Salary: 28000-32000 EUR
Apply: https://forge.example/jobs/baker
Valid until: {NEXT_YEAR}
Sector: Accommodation and food service activities

Sourdough from 3 am.
"""
# What an offer is, apart from where it lives: these must cross the federation unchanged.
OFFER_FIELDS = ("kind", "title", "description", "location", "remote", "employment_type", "salary_min", "salary_max",
                "currency", "apply_url", "apply_email", "direction", "sector", "sector_label", "region", "region_name",
                "budget", "quantity", "valid_through", "expired")  # fmt: skip


class Instance(SharedInstance):
    """The shared live instance, plus what this test reads from it."""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.server.base_url) as http:
            return await http.get(path, **kwargs)

    async def board(self, query: str = "") -> list[dict[str, Any]]:
        response = await self.get(f"/api/v1/offers{query}")
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()
        for entry in entries:
            assert_matches("offer", entry)
        return entries


@pytest.fixture
async def pair(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[tuple[Instance, Instance]]:
    async with started(live_server_factory, 2, Instance) as (a, b):
        yield a, b


def fields_of(entry: dict[str, Any]) -> dict[str, Any]:
    return {name: entry[name] for name in OFFER_FIELDS}


async def test_offers_posted_on_a_reach_bs_boards_intact_and_expire_there(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    # given a forge on A, and a bakery on B that follows it
    olga = await accounts.create_user(a.pool, a.urls, "olga", "olga@example.com", PASSWORD)
    forge = await accounts.create_organization(a.pool, a.urls, "forge", "olga", display_name="Lyon Forge")
    await accounts.create_user(b.pool, b.urls, "bea", "bea@example.com", PASSWORD)
    bakery = await accounts.create_organization(b.pool, b.urls, "bakery", "bea", display_name="Bakery")
    forge_on_b = await b.resolve(f"forge@{a.domain}")
    await follows.follow(b.pool, bakery, forge_on_b)
    await eventually(
        lambda: b.pool.fetchval(
            "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", bakery["id"], forge_on_b["id"]
        ),
        "A accepts the bakery's follow",
    )

    # when the forge posts a job and an opportunity through A's JSON endpoint
    headers = await api_headers(a.pool, olga, actor_id=forge["id"])
    posted = {}
    async with httpx.AsyncClient(base_url=a.server.base_url) as http:
        for values in (WELDER, CAPACITY):
            response = await http.post("/api/v1/offers", json=values, headers=headers)
            assert response.status_code == 200, response.text
            assert_matches("offer", response.json())
            posted[values["kind"]] = response.json()

    # then B lists both, every structured field intact, as remote entries of the forge
    listed = await eventually(lambda: _when_both(b), "B's board lists both offers")
    by_kind = {entry["kind"]: entry for entry in listed}
    for kind, original in posted.items():
        assert fields_of(by_kind[kind]) == fields_of(original), kind
        assert by_kind[kind]["local"] is False and by_kind[kind]["account"]["acct"] == f"forge@{a.domain}"
        assert by_kind[kind]["uri"] == original["uri"]
    assert [entry["title"] for entry in await b.board("?kind=job&sector=C&region=FR")] == [WELDER["title"]]
    assert [entry["title"] for entry in await b.board("?kind=opportunity&direction=request")] == [CAPACITY["title"]]
    # ... on its HTML job board too
    page = parse((await b.get("/jobs")).text)
    assert [text_of(h) for e in by_class(page, "offer") for h in e.iter("h2")] == [WELDER["title"]]
    assert "Full-time · Lyon, Rhône, France · Remote · 40,000\u201350,000.50 EUR" in text(page)

    # and B's Mastodon API shows the job as a complete, readable post
    job_on_b = by_kind["job"]
    status = await asyncio.to_thread(_read_with_mastodon_py, b.server, int(job_on_b["id"]))
    facts = (WELDER["title"], "Type: full-time", "Location: Lyon", "Remote: yes", "40,000\u201350,000.50 EUR",
             "Apply: ", "forge.example/jobs/welder", f"Valid until: {NEXT_YEAR}", "Gates and railings")  # fmt: skip
    for fact in facts:
        assert fact in status["content"], fact
    assert status["fediverse_biz"]["offer"]["title"] == WELDER["title"]

    # when the job's date passes on B (the clock moved), it leaves B's boards, API and HTML
    await b.pool.execute(
        "UPDATE offers SET valid_through = now() - interval '1 minute' WHERE status_id = $1", int(job_on_b["id"])
    )
    assert await b.board("?kind=job") == []
    assert by_class(parse((await b.get("/jobs")).text), "offer") == []
    assert [entry["kind"] for entry in await b.board()] == ["opportunity"]


async def _when_both(instance: Instance) -> list[dict[str, Any]] | None:
    entries = await instance.board()
    return entries if len(entries) == 2 else None


def _read_with_mastodon_py(server: LiveServer, status_id: int) -> Any:
    api = login_mastodon(server.base_url, "bea", PASSWORD)
    api.session, _ = validating_session()
    return api.status(status_id)


async def test_a_job_typed_in_mastodon_py_on_a_is_on_both_boards(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    await accounts.create_user(a.pool, a.urls, "olga", "olga@example.com", PASSWORD)
    await accounts.create_organization(a.pool, a.urls, "forge", "olga", display_name="Lyon Forge")
    await accounts.create_user(b.pool, b.urls, "bea", "bea@example.com", PASSWORD)
    bea = await b.pool.fetchrow("SELECT * FROM actors WHERE username = 'bea'")
    forge_on_b = await b.resolve(f"forge@{a.domain}")
    await follows.follow(b.pool, bea, forge_on_b)
    await eventually(lambda: b.pool.fetchval("SELECT 1 FROM follows WHERE actor_id = $1", bea["id"]), "follow")

    # olga posts for the forge from the real Mastodon.py client, by the text convention
    posted = await asyncio.to_thread(_post_with_mastodon_py, a.server)

    row = await a.pool.fetchrow("SELECT * FROM offers WHERE status_id = $1", int(posted["id"]))
    assert row is not None and (row["title"], row["employment_type"], row["sector"]) == (
        "Night baker",
        "PART_TIME",
        "I",
    )
    assert [entry["id"] for entry in await a.board("?kind=job")] == [str(posted["id"])]
    on_b = await eventually(lambda: b.board("?kind=job"), "B lists the typed job")
    assert fields_of(on_b[0]) == fields_of((await a.board("?kind=job"))[0])
    assert (on_b[0]["salary_min"], on_b[0]["salary_max"], on_b[0]["apply_url"]) == (
        28000, 32000, "https://forge.example/jobs/baker",
    )  # fmt: skip


def _post_with_mastodon_py(server: LiveServer) -> Any:
    api = login_mastodon(server.base_url, "olga", PASSWORD, actor="forge")
    api.session, _ = validating_session()
    posted = api.status_post(TYPED)
    assert "Night baker" in api.status(posted["id"])["content"]
    return posted
