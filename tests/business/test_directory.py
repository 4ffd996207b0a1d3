"""The directory: who is listed, filters, paging and order (business/directory.py, api/directory.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from fediverse_biz.business import directory, organizations
from fediverse_biz.core import accounts
from fediverse_biz.core.errors import DomainError
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.factories import local_actor, post, remote_actor
from tests.support.mastodon_schemas import assert_matches
from tests.support.social import checked, error

DIRECTORY = "/api/v1/directory"


@dataclass
class Fair:
    """Everyone the directory must list, and everyone it must not."""

    listed: dict[str, asyncpg.Record]
    hidden: dict[str, asyncpg.Record]


async def org_with_profile(db: Database, urls: LocalUrls, username: str, owner: str, **profile: Any) -> asyncpg.Record:
    org = await accounts.create_organization(db.pool, urls, username, owner, display_name=username.title())
    owner_id = await db.pool.fetchval(
        "SELECT u.id FROM users u JOIN actors a ON a.id = u.actor_id WHERE a.username = $1", owner
    )
    if profile:
        await organizations.update_profile(db.pool, urls, org, owner_id, profile)
    return await db.pool.fetchrow("SELECT * FROM actors WHERE id = $1", org["id"])


async def remote_org(db: Database, username: str, domain: str = "remote.example", **profile: Any) -> asyncpg.Record:
    row = await remote_actor(db.pool, username, domain)
    await db.pool.execute("UPDATE actors SET actor_type = 'Organization', discoverable = true WHERE id = $1", row["id"])
    doc = {"type": "Organization", "legalName": profile.pop("legal_name", None), "isicV4": profile.pop("sector", None),
           "address": {"addressCountry": profile.pop("country", None)}}  # fmt: skip
    assert not profile
    await organizations.store_remote_profile(db.pool, row["id"], {k: v for k, v in doc.items() if v})
    return await db.pool.fetchrow("SELECT * FROM actors WHERE id = $1", row["id"])


@pytest.fixture
async def fair(db: Database, urls: LocalUrls) -> Fair:
    alice = await local_actor(db.pool, urls, "alice")
    acme = await org_with_profile(db, urls, "acme", "alice", sector="C", country="DE", legal_name="ACME Anvils GmbH")
    beta = await org_with_profile(db, urls, "beta", "alice", sector="J", country="FR", legal_name="Beta 100% SAS")
    plain = await org_with_profile(db, urls, "plainco", "alice")
    faraway = await remote_org(db, "faraway", sector="C", country="DE", legal_name="Faraway Forge AG")
    async with db.pool.acquire() as conn:
        hall = await accounts.insert_local_actor(conn, urls, "hall7", actor_type="Group", display_name="Hall 7")
    # and those who must never be listed, several of them matching every filter
    secret = await org_with_profile(db, urls, "secretco", "alice", sector="C", country="DE", legal_name="ACME Secret")
    await db.pool.execute("UPDATE actors SET discoverable = false WHERE id = $1", secret["id"])
    shy = await remote_org(db, "shy", sector="C", country="DE", legal_name="ACME Shy")
    await db.pool.execute("UPDATE actors SET discoverable = false WHERE id = $1", shy["id"])
    banned = await org_with_profile(db, urls, "bannedco", "alice", sector="C", country="DE", legal_name="ACME Banned")
    await db.pool.execute("UPDATE actors SET suspended_at = now() WHERE id = $1", banned["id"])
    blocked = await remote_org(db, "blocked", "evil.example", sector="C", country="DE", legal_name="ACME Evil")
    await db.pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ('evil.example', 'silence')")
    pending = await local_actor(db.pool, urls, "pending")
    await db.pool.execute("UPDATE users SET approved = false WHERE actor_id = $1", pending["id"])
    moved = await local_actor(db.pool, urls, "moved")
    await db.pool.execute("UPDATE actors SET moved_to_actor_id = $2 WHERE id = $1", moved["id"], alice["id"])
    instance = await accounts.ensure_instance_actor(db.pool, urls, "127.0.0.1")
    await db.pool.execute("UPDATE actors SET discoverable = true WHERE id = $1", instance["id"])  # even then
    return Fair(
        listed={"alice": alice, "acme": acme, "beta": beta, "plainco": plain, "faraway": faraway, "hall7": hall},
        hidden={
            "secretco": secret,
            "shy": shy,
            "bannedco": banned,
            "blocked": blocked,
            "pending": pending,
            "moved": moved,
            instance["username"]: instance,
        },
    )


async def names(client: httpx.AsyncClient, query: str = "") -> list[str]:
    accounts_ = await checked(client.get(f"{DIRECTORY}?{query}"), "account")
    return [a["username"] for a in accounts_]


# ---- who is listed -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    ["", "order=new", "local=true", "sector=C", "country=DE", "sector=C&country=DE&type=Organization", "q=acme",
     "type=Person", "limit=80&offset=0"],
)  # fmt: skip
async def test_only_discoverable_active_accounts_are_ever_listed(
    client: httpx.AsyncClient, fair: Fair, query: str
) -> None:
    listed = await names(client, query)
    assert listed, "every query here matches someone listable"
    assert not set(listed) & set(fair.hidden)
    assert set(listed) <= set(fair.listed)


async def test_without_filters_everyone_listable_is_there_remote_organizations_included(
    client: httpx.AsyncClient, fair: Fair
) -> None:
    assert sorted(await names(client)) == sorted(fair.listed)
    assert sorted(await names(client, "local=true")) == sorted(set(fair.listed) - {"faraway"})


# ---- filters -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sector=C", {"acme", "faraway"}),
        ("sector=c&country=de", {"acme", "faraway"}),
        ("sector=C&local=true", {"acme"}),
        ("country=FR", {"beta"}),
        ("sector=J&country=DE", set()),
        ("type=Organization", {"acme", "beta", "plainco", "faraway"}),
        ("type=Group", {"hall7"}),
        ("type=Person", {"alice"}),
        ("q=forge", {"faraway"}),  # the legal name
        ("q=Hall", {"hall7"}),  # the display name
        ("q=@plain", {"plainco"}),  # the username
        ("q=100%25", {"beta"}),  # % is a character, not a wildcard
        ("q=_", set()),
        ("q=acme&type=Person", set()),
        ("q=a&sector=C&country=DE&type=Organization", {"acme", "faraway"}),
    ],
)
async def test_filters_combine(client: httpx.AsyncClient, fair: Fair, query: str, expected: set[str]) -> None:
    assert set(await names(client, query)) == expected


async def test_organizations_carry_their_structured_profile(client: httpx.AsyncClient, fair: Fair) -> None:
    found = {a["username"]: a for a in await checked(client.get(f"{DIRECTORY}?type=Organization"), "account")}
    acme = found["acme"]["fediverse_biz"]
    assert acme["actor_type"] == "Organization"
    assert_matches("organization_profile", acme["organization"])
    assert acme["organization"]["sector"] == "C" and acme["organization"]["legal_name"] == "ACME Anvils GmbH"
    assert found["faraway"]["fediverse_biz"]["organization"]["country"] == "DE"
    assert found["plainco"]["fediverse_biz"]["organization"] is None  # an organization with no profile yet
    people = await checked(client.get(f"{DIRECTORY}?type=Person"), "account")
    assert "organization" not in people[0]["fediverse_biz"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sector=Z", "Validation failed: sector 'Z' is not a NACE Rev. 2 section code (A to U)"),
        ("country=XX", "Validation failed: country 'XX' is not an ISO 3166-1 alpha-2 country code"),
        ("type=Service", "Validation failed: type must be one of Person, Organization, Group"),
        ("order=popular", "Validation failed: order must be one of active, new"),
        ("offset=-1", "Validation failed: offset must be between 0 and 100000"),
        ("q=" + "x" * 101, "Validation failed: q is too long (maximum is 100 characters)"),
    ],
)
async def test_invalid_parameters_are_named(client: httpx.AsyncClient, fair: Fair, query: str, message: str) -> None:
    assert await error(client.get(f"{DIRECTORY}?{query}"), 422) == message


# ---- paging and order ----------------------------------------------------------------------------
async def test_pages_with_offset_and_limit_cover_the_list_once(client: httpx.AsyncClient, fair: Fair) -> None:
    everyone = await names(client, "order=new")
    pages = [await names(client, f"order=new&limit=2&offset={offset}") for offset in range(0, 8, 2)]
    assert [len(p) for p in pages] == [2, 2, 2, 0]
    assert [n for page in pages for n in page] == everyone
    assert len(await names(client, "limit=500")) == len(everyone)  # clamped to 80, as Mastodon does


async def test_order_new_is_by_arrival_and_active_by_latest_post(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, fair: Fair
) -> None:
    by_arrival = sorted(fair.listed.values(), key=lambda row: row["id"], reverse=True)
    assert await names(client, "order=new") == [row["username"] for row in by_arrival]
    # given acme posted, then alice, then acme's post is the older one
    await post(db.pool, urls, fair.listed["acme"], "old news")
    await post(db.pool, urls, fair.listed["alice"], "fresh news")
    active = await names(client, "order=active")
    assert active[:2] == ["alice", "acme"]
    # the silent ones follow, newest first
    assert active[2:] == [row["username"] for row in by_arrival if row["username"] not in ("alice", "acme")]
    assert await names(client) == active  # active is the default


async def test_a_held_post_does_not_make_an_account_active(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, fair: Fair
) -> None:
    await post(db.pool, urls, fair.listed["alice"], "published")
    held = await post(db.pool, urls, fair.listed["beta"], "waiting for review")
    await db.pool.execute("UPDATE statuses SET approval_state = 'pending' WHERE id = $1", held)
    assert (await names(client, "order=active"))[0] == "alice"


# ---- the function the HTML directory page uses ---------------------------------------------------
async def test_search_is_the_same_rule_for_every_door(db: Database, fair: Fair) -> None:
    rows = await directory.search(db.pool, sector="C", country="DE", actor_type="Organization", q="a")
    assert {r["username"] for r in rows} == {"acme", "faraway"}
    assert set(rows[0].keys()) >= {"id", "username", "domain", "actor_type", "discoverable"}
    everyone = await directory.search(db.pool, limit=directory.MAX_LIMIT)
    assert {r["username"] for r in everyone} == set(fair.listed)
    assert await directory.search(db.pool, sector="", country="", actor_type="", q="  ") == await directory.search(
        db.pool
    )
    for bad in ({"limit": 0}, {"limit": 81}, {"offset": -1}, {"order": "hot"}, {"sector": "CC"}):
        with pytest.raises(DomainError):
            await directory.search(db.pool, **bad)


# ---- region and full-text search -----------------------------------------------------------------
@pytest.fixture
async def regions(db: Database, urls: LocalUrls) -> dict[str, asyncpg.Record]:
    """Companies whose regions are typed three ways, one in another country, and a person with a bio."""
    await local_actor(db.pool, urls, "alice")
    made = {
        "munich": await org_with_profile(db, urls, "munich", "alice", country="DE", region="DE-BY"),
        "nuremberg": await org_with_profile(db, urls, "nuremberg", "alice", country="DE", region="Bayern"),
        "passau": await org_with_profile(db, urls, "passau", "alice", country="DE", region="by"),
        "cologne": await org_with_profile(db, urls, "cologne", "alice", country="DE", region="Nordrhein-Westfalen"),
        "salzburg": await org_with_profile(db, urls, "salzburg", "alice", country="AT", region="AT-5"),
    }
    bio = "<p>We machine titanium impellers for pumps.</p>"
    await db.pool.execute("UPDATE actors SET note = $2 WHERE id = $1", made["cologne"]["id"], bio)
    return made


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("region=DE-BY", {"munich", "nuremberg", "passau"}),
        ("region=de-by", {"munich", "nuremberg", "passau"}),
        ("region=DE", {"munich", "nuremberg", "passau", "cologne"}),
        ("region=DE-NW", {"cologne"}),
        ("region=AT", {"salzburg"}),
        ("region=DE-BY&q=passau", {"passau"}),
        ("region=FR", set()),
    ],
)
async def test_region_is_an_iso_3166_2_code_and_a_country_covers_its_subdivisions(
    client: httpx.AsyncClient, regions: dict[str, asyncpg.Record], query: str, expected: set[str]
) -> None:
    assert set(await names(client, query)) == expected


@pytest.mark.parametrize("bad", ["Bavaria", "XX", "DE-BAYERN", "D"])
async def test_an_invalid_region_is_named(
    client: httpx.AsyncClient, regions: dict[str, asyncpg.Record], bad: str
) -> None:
    assert (await error(client.get(f"{DIRECTORY}?region={bad}"), 422)).startswith("Validation failed: region ")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("impellers", ["cologne"]),  # a word of the bio
        ("TITANIUM pumps", ["cologne"]),  # several words, any case
        ('"titanium impellers"', ["cologne"]),  # a phrase
        ("impellers -titanium", []),
        ("Nordrhein", ["cologne"]),  # a word of a place in the profile
        ("munih", ["munich"]),  # a name with a typo
        ("nurem", ["nuremberg"]),  # part of a name
        ("p", ["passau"]),  # no word: nothing but the names that contain it
    ],
)
async def test_search_covers_name_handle_and_bio(
    client: httpx.AsyncClient, regions: dict[str, asyncpg.Record], q: str, expected: list[str]
) -> None:
    assert await names(client, f"q={q}&type=Organization") == expected


async def test_search_ranks_a_name_above_a_bio(
    db: Database, urls: LocalUrls, regions: dict[str, asyncpg.Record]
) -> None:
    pumps = await org_with_profile(db, urls, "pumpworks", "alice", country="DE")
    await db.pool.execute("UPDATE actors SET display_name = 'Impellers United' WHERE id = $1", pumps["id"])
    rows = await directory.search(db.pool, q="impellers", order="new")
    assert [r["username"] for r in rows] == ["pumpworks", "cologne"]
