"""Discovery: a server pulls the public directory of a server it meets, and its own directory then finds
that server's companies by region and by a word of their bio; a remote hall's members lead it to their
servers. Real servers on 127.0.0.1, each with its own database and workers (federation/directory_pull.py,
directory_sources.py, hall_members.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from fediverse_biz.business import organizations
from fediverse_biz.core import accounts, follows
from fediverse_biz.federation.directory_sources import PULL_DIRECTORY, PULL_HALL_MEMBERS
from tests.support.halls import make_hall
from tests.support.html import by_class, parse, text_of
from tests.support.instances import Instance, started
from tests.support.polling import eventually
from tests.support.servers import LiveServer

PASSWORD = "correct horse battery"


@pytest.fixture
async def pair(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[tuple[Instance, Instance]]:
    async with started(live_server_factory, 2, Instance) as (a, b):
        yield a, b


@pytest.fixture
async def trio(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[tuple[Instance, Instance, Instance]]:
    async with started(live_server_factory, 3, Instance) as (a, b, c):
        yield a, b, c


async def fair_on(b: Instance) -> None:
    """B: a discoverable Bavarian pump maker with a bio, a company that opted out, and a member."""
    owner = await accounts.create_user(b.pool, b.urls, "olivia", "olivia@example.com", PASSWORD)
    pumps = await accounts.create_organization(b.pool, b.urls, "pumps", "olivia", display_name="Isar Pumps")
    profile = {"legal_name": "Isar Pumpen GmbH", "sector": "C", "country": "DE", "region": "DE-BY"}
    await organizations.update_profile(b.pool, b.urls, pumps, owner.user_id, profile)
    shy = await accounts.create_organization(b.pool, b.urls, "shyco", "olivia", display_name="Shy Impellers")
    await organizations.update_profile(b.pool, b.urls, shy, owner.user_id, {"country": "DE", "region": "DE-BY"})
    await b.pool.execute(
        "UPDATE actors SET note = '<p>We machine titanium impellers.</p>', discoverable = (username <> 'shyco')"
        " WHERE id = ANY($1::bigint[])",
        [pumps["id"], shy["id"]],
    )
    await b.pool.execute("UPDATE actors SET discoverable = true WHERE id = $1", owner.actor_id)


async def directory(server: Instance, query: str) -> list[str]:
    async with httpx.AsyncClient(base_url=server.server.base_url) as http:
        response = await http.get(f"/api/v1/directory?{query}")
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return [account["acct"] for account in body]


async def page_names(server: Instance, query: str) -> list[str]:
    async with httpx.AsyncClient(base_url=server.server.base_url) as http:
        response = await http.get(f"/directory?{query}")
    assert response.status_code == 200, response.text[:300]
    return [text_of(h) for entry in by_class(parse(response.text), "entry") for h in entry.iter("h2")]


async def meet(a: Instance, b: Instance) -> None:
    """A meets B (a member of A looks one of B's members up) and its first pull is queued within 2 min."""
    await a.resolve(f"olivia@{b.domain}")
    job = await a.pool.fetchrow("SELECT *, run_at - now() AS due_in FROM jobs WHERE kind = $1", PULL_DIRECTORY)
    assert job is not None and job["host"] == b.domain
    assert job["due_in"] <= timedelta(minutes=2)
    await a.pool.execute("UPDATE jobs SET run_at = now() WHERE id = $1", job["id"])  # not wait those seconds


async def pulled(a: Instance, b: Instance) -> Any:
    return await a.pool.fetchrow("SELECT * FROM directory_sources WHERE host = $1 AND pulled_at IS NOT NULL", b.domain)


async def test_a_server_met_is_pulled_and_its_companies_are_found_by_region_and_bio(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    await fair_on(b)
    await meet(a, b)
    await meet_again_adds_no_second_pull(a, b)

    source = await eventually(lambda: pulled(a, b), "A pulls B's directory")
    assert source["last_outcome"].startswith("ok")

    pumps = f"pumps@{b.domain}"
    assert await directory(a, "region=DE-BY") == [pumps]
    assert await directory(a, "region=DE") == [pumps]
    assert await directory(a, "q=impellers") == [pumps]
    assert await directory(a, "q=impellers&region=DE-BY&sector=C") == [pumps]
    assert await directory(a, "region=AT") == []
    assert await page_names(a, "region=DE-BY") == ["Isar Pumps"]
    assert await page_names(a, "q=titanium") == ["Isar Pumps"]
    profile = await organizations.get_profile(
        a.pool, await a.pool.fetchval("SELECT id FROM actors WHERE username = 'pumps'")
    )
    assert profile is not None and profile.legal_name == "Isar Pumpen GmbH" and profile.region == "DE-BY"
    # the company that opted out was not even fetched
    assert await a.pool.fetchval("SELECT count(*) FROM actors WHERE username = 'shyco'") == 0
    # and the next pull is queued for a day later, once
    due = await a.pool.fetch("SELECT run_at - now() AS due_in FROM jobs WHERE kind = $1", PULL_DIRECTORY)
    assert len(due) == 1 and timedelta(hours=23) < due[0]["due_in"] <= timedelta(hours=24)


async def meet_again_adds_no_second_pull(a: Instance, b: Instance) -> None:
    await a.resolve(f"olivia@{b.domain}")
    await a.pool.execute("UPDATE actors SET fetched_at = now() - interval '2 days' WHERE domain = $1", b.domain)
    await a.resolve(f"olivia@{b.domain}")  # stored again: met again
    assert await a.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = $1", PULL_DIRECTORY) == 1


async def test_a_domain_blocked_server_is_not_pulled(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    await fair_on(b)
    await a.pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ($1, 'silence')", b.domain)
    await meet(a, b)
    source = await eventually(lambda: pulled(a, b), "A runs the pull of B")
    assert source["last_outcome"] == "domain blocked"
    assert await a.pool.fetchval("SELECT count(*) FROM actors WHERE username = 'pumps'") == 0
    assert await directory(a, "region=DE-BY") == []


async def join(instance: Instance, member: asyncpg.Record, hall_handle: str) -> asyncpg.Record:
    hall = await instance.resolve(hall_handle)
    await follows.follow(instance.pool, member, hall)
    await eventually(
        lambda: instance.pool.fetchval(
            "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", member["id"], hall["id"]
        ),
        f"{member['username']} joins the hall (its Accept arrives)",
    )
    return hall


async def run_now(server: Instance, kind: str, host: str) -> None:
    """The job of `kind` for `host`, once queued, runs now rather than in its seconds."""
    job = await eventually(
        lambda: server.pool.fetchrow(
            "SELECT *, run_at - now() AS due_in FROM jobs WHERE kind = $1 AND host = $2 AND attempts = 0", kind, host
        ),
        f"a {kind} job for {host} is queued",
    )
    assert job["due_in"] <= timedelta(minutes=2)
    await server.pool.execute("UPDATE jobs SET run_at = now() WHERE id = $1", job["id"])


async def test_a_remote_halls_members_lead_to_their_servers_directories(
    trio: tuple[Instance, Instance, Instance],
) -> None:
    a, b, c = trio
    await make_hall(b.pool, b.urls, await b.user("hanna"))
    hall = f"hall7@{b.domain}"
    await fair_on(c)
    await join(c, await c.pool.fetchrow("SELECT * FROM actors WHERE username = 'pumps'"), hall)

    # A's member joins B's hall: A reads the hall's members, meets C through pumps, pulls C's directory
    hall_on_a = await join(a, await a.user("alice"), hall)
    await run_now(a, PULL_HALL_MEMBERS, b.domain)
    await run_now(a, PULL_DIRECTORY, c.domain)
    source = await eventually(lambda: pulled(a, c), "A pulls C's directory")
    assert source["last_outcome"].startswith("ok")

    # listed from C's own documents, never from the hall's collection
    assert await directory(a, "region=DE-BY") == [f"pumps@{c.domain}"]
    assert await a.pool.fetchval("SELECT count(*) FROM actors WHERE username = 'shyco'") == 0
    # and the hall is read again a day later, once
    due = await a.pool.fetch("SELECT run_at - now() AS due_in, payload FROM jobs WHERE kind = $1", PULL_HALL_MEMBERS)
    assert len(due) == 1 and due[0]["payload"] == {"hall": hall_on_a["uri"]}
    assert timedelta(hours=23) < due[0]["due_in"] <= timedelta(hours=24)
