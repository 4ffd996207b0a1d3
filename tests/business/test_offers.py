"""Job offers and opportunities as a domain (business/offers.py): one transaction for the post and its
board row, the rules with nothing stored on a refusal, the boards' filters and expiry, review, halls, and
offers arriving from peers through the real inbox (structured, FEP-0837, and the text convention)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.business import approvals, offers
from fediverse_biz.business._offer_values import DEFAULT_VALIDITY
from fediverse_biz.core import accounts, follows
from fediverse_biz.core.paging import Page
from fediverse_biz.db.database import Database
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.halls import make_hall
from tests.support.inbound import make_follow, receive, remote_status, row_of
from tests.support.peers import FakePeer
from tests.support.teams import make_team

NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
NOW = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # a peer's `published`: dates count from it
WELDER: dict[str, Any] = {
    "kind": "job",
    "title": "Senior welder (m/f/d)",
    "description": "Gates and railings for the Rhône valley.",
    "location": "Lyon",
    "remote": False,
    "employment_type": "FULL_TIME",
    "salary_min": 40000,
    "salary_max": 50000,
    "currency": "EUR",
    "apply_url": "https://forge.example/jobs/welder",
    "sector": "C",
    "region": "FR",
    "valid_through": NEXT_YEAR,
}
CAPACITY: dict[str, Any] = {
    "kind": "opportunity",
    "direction": "offer",
    "title": "Laser cutting capacity",
    "description": "200 sheets a month, stainless up to 6 mm.",
    "sector": "C",
    "region": "DE-BY",
    "budget": 12500,
    "currency": "EUR",
    "quantity": 200,
    "valid_through": NEXT_YEAR,
}


@pytest.fixture
def pool(db: Database) -> asyncpg.Pool:
    return db.pool


@pytest.fixture
async def forge(pool: asyncpg.Pool, urls: LocalUrls) -> asyncpg.Record:
    await accounts.create_user(pool, urls, "olga", "olga@example.com", factories.PASSWORD)
    return await accounts.create_organization(pool, urls, "forge", "olga", display_name="Lyon Forge")


async def create(pool: asyncpg.Pool, urls: LocalUrls, author: asyncpg.Record, values: dict[str, Any], **kw: Any) -> int:
    return await offers.create(pool, urls, "127.0.0.1", author, values, **kw)


async def counts(pool: asyncpg.Pool) -> tuple[int, int, int]:
    return (
        await pool.fetchval("SELECT count(*) FROM statuses"),
        await pool.fetchval("SELECT count(*) FROM offers"),
        await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'deliver'"),
    )


async def board_titles(pool: asyncpg.Pool, **filters: Any) -> list[str]:
    rows = await offers.board(pool, offers.BoardFilter(**filters), Page(limit=40))
    return [row["title"] for row in rows]


# ---- posting -------------------------------------------------------------------------------------------
async def test_a_structured_job_is_a_readable_post_with_its_board_row(
    pool: asyncpg.Pool, urls: LocalUrls, forge: asyncpg.Record
) -> None:
    follower = await factories.remote_actor(pool, "hr", "peer.example")
    await pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", follower["id"], forge["id"])

    status_id = await create(pool, urls, forge, WELDER)

    status = await pool.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    assert status["object_type"] == "Note" and status["visibility"] == "public"  # Mastodon shows a Note whole
    for fact in ("Senior welder (m/f/d)", "Type: full-time", "Location: Lyon", "40,000\u201350,000 EUR",
                 "https://forge.example/jobs/welder", f"Valid until: {NEXT_YEAR}", "Gates and railings"):  # fmt: skip
        assert fact in status["source_text"]
    tags = await pool.fetch(
        "SELECT t.name FROM status_tags st JOIN tags t ON t.id = st.tag_id WHERE st.status_id = $1", status_id
    )
    assert {t["name"] for t in tags} == {"hiring", "jobs", "Manufacturing"}
    row = await pool.fetchrow("SELECT * FROM offers WHERE status_id = $1", status_id)
    assert offers.offer_of(row) == offers.Offer.from_json(status["extra"]["offer"])
    assert (row["kind"], row["salary_min"], row["currency"], row["local"]) == ("job", Decimal(40000), "EUR", True)
    # the delivery to the follower's server carries the structure next to the text
    [job] = await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver'")
    note = job["payload"]["activity"]["object"]
    posting = note["mainEntity"]
    assert note["type"] == "Note" and posting["type"] == "JobPosting"
    assert posting["title"] == WELDER["title"] and posting["employmentType"] == "FULL_TIME"
    assert posting["baseSalary"] == {
        "type": "MonetaryAmount",
        "currency": "EUR",
        "value": {"type": "QuantitativeValue", "unitText": "YEAR", "minValue": 40000, "maxValue": 50000},
    }
    assert posting["hiringOrganization"] == {"type": "Organization", "id": forge["uri"], "name": "Lyon Forge"}


async def test_an_opportunity_is_posted_with_its_direction_tag(
    pool: asyncpg.Pool, urls: LocalUrls, forge: asyncpg.Record
) -> None:
    status_id = await create(pool, urls, forge, CAPACITY)

    text = await pool.fetchval("SELECT source_text FROM statuses WHERE id = $1", status_id)
    assert text.startswith("#offer\nTitle: Laser cutting capacity") and "#opportunities #Manufacturing" in text
    row = await pool.fetchrow("SELECT * FROM offers WHERE status_id = $1", status_id)
    assert (row["direction"], row["region"], row["budget"], row["quantity"]) == ("offer", "DE-BY", 12500, 200)


async def test_an_offer_without_a_date_expires_after_the_default_validity(
    pool: asyncpg.Pool, urls: LocalUrls, forge: asyncpg.Record
) -> None:
    status_id = await create(pool, urls, forge, {"kind": "job", "title": "Apprentice"})

    valid_through = await pool.fetchval("SELECT valid_through FROM offers WHERE status_id = $1", status_id)
    assert abs(valid_through - (datetime.now(UTC) + DEFAULT_VALIDITY)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": None}, "title", "can't be blank"),
        ({"title": "   "}, "title", "can't be blank"),
        ({"employment_type": "SLAVERY"}, "employment_type", "is not one of FULL_TIME"),
        ({"valid_through": "2020-01-31"}, "valid_through", "is in the past"),
        ({"valid_through": "2099-01-31"}, "valid_through", "is more than 2 years ahead"),
        ({"valid_through": "9999-12-31T23:00:00-05:00"}, "valid_through", "is not a date this server can keep"),
        ({"description": "x" * 5001}, "description", "is longer than 5000 characters"),
        ({"currency": "EUROS"}, "currency", "is not an ISO 4217 currency code"),
        ({"currency": None}, "currency", "is required with an amount of money"),
        ({"sector": "Z"}, "sector", "is not a NACE Rev. 2 section code"),
        ({"region": "XX"}, "region", "is not an ISO 3166-1 alpha-2 country code"),
        ({"apply_url": "javascript:alert(1)"}, "apply_url", "is not an http(s) address"),
        ({"apply_email": "nobody"}, "apply_email", "is not an email address"),
        ({"salary_min": 60000}, "salary_max", "is below salary_min"),
        ({"salary_min": "lots"}, "salary_min", "is not a number"),
        ({"budget": 5}, "budget", "does not apply to jobs"),
        ({"salary": 5}, "salary", "is not an offer field"),
        ({"kind": "gig"}, "kind", "must be one of job, opportunity"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    pool: asyncpg.Pool, urls: LocalUrls, forge: asyncpg.Record, change: dict[str, Any], field: str, message: str
) -> None:
    before = await counts(pool)

    with pytest.raises(offers.OfferInvalid) as refused:
        await create(pool, urls, forge, {**WELDER, **change})

    assert refused.value.status == 422 and refused.value.field == field
    assert str(refused.value).startswith(f"Validation failed: {field} ") and message in str(refused.value)
    assert await counts(pool) == before


async def test_an_opportunity_needs_a_direction_and_a_real_quantity(
    pool: asyncpg.Pool, urls: LocalUrls, forge: asyncpg.Record
) -> None:
    with pytest.raises(offers.OfferInvalid, match="direction must be one of offer, request"):
        await create(pool, urls, forge, {**CAPACITY, "direction": None})
    with pytest.raises(offers.OfferInvalid, match="quantity must be more than 0"):
        await create(pool, urls, forge, {**CAPACITY, "quantity": 0})
    assert await counts(pool) == (0, 0, 0)


# ---- the boards ----------------------------------------------------------------------------------------
async def test_the_boards_filter_and_list_newest_first(
    pool: asyncpg.Pool, urls: LocalUrls, forge: asyncpg.Record
) -> None:
    baker = await factories.local_actor(pool, urls, "baker")
    await create(pool, urls, forge, WELDER)
    await create(pool, urls, forge, CAPACITY)
    await create(pool, urls, baker, {"kind": "job", "title": "Night baker", "sector": "I", "region": "DE-BE",
                                     "employment_type": "part-time", "remote": True, "location": "Berlin"})  # fmt: skip
    await create(pool, urls, baker, {"kind": "opportunity", "direction": "request", "title": "Flour supplier",
                                     "description": "Organic rye, 2 t a week", "region": "DE"})  # fmt: skip

    assert await board_titles(pool, kind="job") == ["Night baker", "Senior welder (m/f/d)"]
    assert await board_titles(pool, kind="opportunity") == ["Flour supplier", "Laser cutting capacity"]
    assert await board_titles(pool) == ["Flour supplier", "Night baker", "Laser cutting capacity",
                                        "Senior welder (m/f/d)"]  # fmt: skip
    assert await board_titles(pool, kind="job", sector="C") == ["Senior welder (m/f/d)"]
    assert await board_titles(pool, region="DE") == ["Flour supplier", "Night baker", "Laser cutting capacity"]
    assert await board_titles(pool, region="DE-BY") == ["Laser cutting capacity"]
    assert await board_titles(pool, q="rye") == ["Flour supplier"]
    assert await board_titles(pool, q="berlin") == ["Night baker"]
    assert await board_titles(pool, q="100%_") == []  # LIKE wildcards typed by a visitor match literally
    assert await board_titles(pool, kind="opportunity", direction="request") == ["Flour supplier"]
    assert await board_titles(pool, kind="job", employment_type="PART_TIME", remote=True) == ["Night baker"]
    assert await board_titles(pool, local=True, kind="job") == ["Night baker", "Senior welder (m/f/d)"]


async def test_expired_offers_leave_the_boards_but_stay_readable(
    pool: asyncpg.Pool, urls: LocalUrls, forge: asyncpg.Record
) -> None:
    welder = await create(pool, urls, forge, WELDER)
    soon = await create(pool, urls, forge, {**WELDER, "title": "Seasonal help"})
    assert await board_titles(pool, kind="job") == ["Seasonal help", "Senior welder (m/f/d)"]

    # the clock moves past the date: the row says so, and the board drops it with no job to run
    await pool.execute("UPDATE offers SET valid_through = now() - interval '1 second' WHERE status_id = $1", soon)

    assert await board_titles(pool, kind="job") == ["Senior welder (m/f/d)"]
    expired = await offers.get(pool, soon)
    assert expired is not None and expired["valid_through"] < datetime.now(UTC)
    assert (await offers.get(pool, welder)) is not None


async def test_only_public_published_offers_are_listed(pool: asyncpg.Pool, urls: LocalUrls, db: Database) -> None:
    team = await make_team(db, urls, "acme")
    carl = team["carl"]  # a contributor: his posts wait for review
    held = await create(pool, urls, team.org, {**WELDER, "title": "Held job"}, hold_for_approval=True,
                        created_by_user_id=carl.user_id)  # fmt: skip
    assert await board_titles(pool) == []
    assert await offers.get(pool, held) is None and await offers.get(pool, held, published_only=False) is not None

    published = await approvals.approve(pool, urls, team.id, held, team["mia"].user_id)

    assert await board_titles(pool) == ["Held job"]
    assert (await offers.get(pool, published))["status_id"] == published  # the row followed the new id
    await pool.execute("UPDATE statuses SET visibility = 'private' WHERE id = $1", published)
    assert await board_titles(pool) == []


async def test_an_offer_posted_into_a_remote_hall_is_on_that_halls_board(
    pool: asyncpg.Pool, urls: LocalUrls, forge: asyncpg.Record
) -> None:
    hall = await factories.remote_actor(pool, "metalworkers", "fair.example")
    await pool.execute("UPDATE actors SET actor_type = 'Group' WHERE id = $1", hall["id"])
    hall = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", hall["id"])

    in_hall = await create(pool, urls, forge, WELDER, hall=hall)
    await create(pool, urls, forge, CAPACITY)

    text = await pool.fetchval("SELECT source_text FROM statuses WHERE id = $1", in_hall)
    assert text.endswith("@metalworkers@fair.example")
    assert await pool.fetchval("SELECT actor_id FROM status_mentions WHERE status_id = $1", in_hall) == hall["id"]
    assert await board_titles(pool, hall=hall["id"]) == ["Senior welder (m/f/d)"]
    with pytest.raises(offers.OfferInvalid, match="hall_id is not a community"):
        await create(pool, urls, forge, WELDER, hall=forge)


async def test_a_local_halls_board_lists_its_members_offers_only(
    pool: asyncpg.Pool, urls: LocalUrls, forge: asyncpg.Record
) -> None:
    hall = (await make_hall(pool, urls, forge, "metalworkers")).actor
    stranger = await factories.local_actor(pool, urls, "stranger")
    await follows.follow(pool, forge, hall)  # joining is following; an open hall accepts at once

    await create(pool, urls, forge, WELDER, hall=hall)
    await create(pool, urls, stranger, {**WELDER, "title": "Not a member"}, hall=hall)

    # the hall accepted its member's post (business.communities.hall_of) and refused the stranger's
    assert await board_titles(pool, hall=hall["id"]) == [WELDER["title"]]
    assert await board_titles(pool) == ["Not a member", WELDER["title"]]


# ---- offers from peers, through the inbox ---------------------------------------------------------------
@pytest.fixture
async def peer() -> AsyncIterator[FakePeer]:
    server = await FakePeer().start()
    yield server
    await server.stop()


async def test_a_peers_job_posting_is_parsed_into_the_same_structure(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer
) -> None:
    pool = services(app).pool
    alice = await factories.local_actor(pool, services(app).urls, "alice")
    acme = peer.actor("acme", actor_type="Organization")
    await make_follow(pool, alice, await row_of(app, acme))
    posting = {
        "type": "JobPosting",
        "title": "Toolmaker",
        "description": "CNC and manual milling.",
        "employmentType": ["PART_TIME", "CONTRACTOR"],
        "jobLocation": {
            "type": "Place",
            "address": {"type": "PostalAddress", "addressLocality": "Turin", "addressCountry": "IT"},
        },
        "jobLocationType": "TELECOMMUTE",
        "baseSalary": {
            "type": "MonetaryAmount",
            "currency": "eur",
            "value": {"type": "QuantitativeValue", "value": "32000", "unitText": "YEAR"},
        },
        "website": "https://acme.example/apply",
        "directApply": True,
        "isicV4": "2511",  # a class code: filed under its section, C
        "validThrough": NEXT_YEAR + "T12:00:00Z",
    }
    note = peer.note(acme, "<p>#hiring Toolmaker</p>", published=NOW, mainEntity=posting)

    await receive(app, client, peer.activity("Create", acme, note), acme)

    status = await remote_status(pool, note["id"])
    row = await pool.fetchrow("SELECT * FROM offers WHERE status_id = $1", status["id"])
    assert offers.offer_of(row) == offers.Offer(
        kind="job",
        title="Toolmaker",
        description="CNC and manual milling.",
        location="Turin",
        remote=True,
        employment_type="PART_TIME",
        salary_min=Decimal(32000),
        salary_max=Decimal(32000),
        currency="EUR",
        apply_url="https://acme.example/apply",
        sector="C",
        region="IT",
        valid_through=datetime.fromisoformat(NEXT_YEAR + "T12:00:00+00:00"),
    )
    assert row["local"] is False and status["extra"]["offer"]["title"] == "Toolmaker"


async def test_hostile_values_from_a_peer_are_dropped_not_stored(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer
) -> None:
    pool = services(app).pool
    alice = await factories.local_actor(pool, services(app).urls, "alice")
    mallory = peer.actor("mallory")
    await make_follow(pool, alice, await row_of(app, mallory))
    hostile = {
        "type": "JobPosting",
        "title": ["Job\u202e title " + "x" * 300],  # NUL is refused by the inbox itself
        "description": {"html": "<script>"},
        "employmentType": "SLAVERY",
        "baseSalary": {"currency": "XXX", "value": {"minValue": True, "maxValue": -5}},
        "website": "javascript:alert(1)",
        "applicationContact": {"email": ["not an email"]},
        "isicV4": 99.5,
        "jobLocation": [[{"address": {"addressCountry": "ZZ", "addressRegion": "'; DROP TABLE offers"}}]],
        "validThrough": "soon",
    }
    note = peer.note(mallory, "<p>jobs!</p>", mainEntity=[hostile])
    untitled = peer.note(mallory, "<p>no title</p>", mainEntity={"type": "JobPosting", "title": ""})

    await receive(app, client, peer.activity("Create", mallory, note), mallory)
    await receive(app, client, peer.activity("Create", mallory, untitled), mallory)

    row = await pool.fetchrow("SELECT * FROM offers")
    offer = offers.offer_of(row)
    assert offer.title.startswith("Job") and len(offer.title) <= 200 and "\u202e" not in offer.title
    assert (offer.employment_type, offer.currency, offer.apply_url, offer.apply_email) == (None, None, None, None)
    assert (offer.salary_min, offer.salary_max, offer.sector, offer.region, offer.description) == (
        None, None, None, None, "",
    )  # fmt: skip
    assert offer.valid_through is not None  # no usable date: published + the default validity
    assert await pool.fetchval("SELECT count(*) FROM offers") == 1  # the untitled one is just a post
    assert await remote_status(pool, untitled["id"]) is not None


async def test_an_fep_0837_proposal_becomes_an_opportunity(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer
) -> None:
    pool = services(app).pool
    alice = await factories.local_actor(pool, services(app).urls, "alice")
    market = peer.actor("market")
    await make_follow(pool, alice, await row_of(app, market))
    # FEP-0837's "full example", as a Note (which the FEP allows), with our schema.org additions
    note = peer.note(
        market,
        "<p>Blue one-speed bike, 15 years old, some rust</p>",
        published=NOW,
        name="Offering used bike",
        purpose="offer",
        publishes={
            "type": "Intent",
            "action": "transfer",
            "resourceConformsTo": "https://www.wikidata.org/wiki/Q11442",
            "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "1"},
        },
        reciprocal={
            "type": "Intent",
            "action": "transfer",
            "currency": "USD",
            "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "30"},
        },
        unitBased=False,
        location={"type": "Place", "longitude": -71.0, "latitude": 25.0},
        validThrough=NEXT_YEAR,
        isicV4="G",
    )

    await receive(app, client, peer.activity("Create", market, note), market)

    row = await pool.fetchrow("SELECT * FROM offers")
    assert (row["kind"], row["direction"], row["title"]) == ("opportunity", "offer", "Offering used bike")
    assert row["description"] == "Blue one-speed bike, 15 years old, some rust"  # FEP-0837: content describes
    assert (row["quantity"], row["budget"], row["currency"], row["sector"]) == (1, 30, "USD", "G")


async def test_a_peers_opportunity_stating_an_empty_description_has_none(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer
) -> None:
    pool = services(app).pool
    alice = await factories.local_actor(pool, services(app).urls, "alice")
    market = peer.actor("market")
    await make_follow(pool, alice, await row_of(app, market))
    # What a fediverse_biz peer sends for an opportunity posted without a description.
    content = "<p>#request</p><p>Title: Laser cutting<br>Budget: 12,500 EUR</p><p>#opportunities</p>"
    note = peer.note(
        market,
        content,
        published=NOW,
        name="Laser cutting",
        purpose="request",
        publishes={"type": "Intent", "action": "deliverService"},
        unitBased=False,
        description="",
    )

    await receive(app, client, peer.activity("Create", market, note), market)

    row = await pool.fetchrow("SELECT * FROM offers")
    assert (row["kind"], row["title"], row["description"]) == ("opportunity", "Laser cutting", "")
    status = await remote_status(pool, note["id"])
    assert status["extra"]["offer"]["description"] == ""


async def test_a_mastodon_users_text_convention_is_recognised_and_an_edit_can_withdraw_it(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer
) -> None:
    pool = services(app).pool
    alice = await factories.local_actor(pool, services(app).urls, "alice")
    bob = peer.actor("bob")
    await make_follow(pool, alice, await row_of(app, bob))
    content = (
        '<p><a href="https://m.example/tags/hiring" class="mention hashtag" rel="tag">#<span>hiring</span></a><br />'
        "Title: Barista<br />Type: part-time<br />Location: Vienna</p><p>Weekends only.</p>"
    )
    note = peer.note(bob, content, to=[PUBLIC], published="2026-05-01T12:00:00Z")

    await receive(app, client, peer.activity("Create", bob, note), bob)

    status = await remote_status(pool, note["id"])
    row = await pool.fetchrow("SELECT * FROM offers WHERE status_id = $1", status["id"])
    assert (row["title"], row["employment_type"], row["location"]) == ("Barista", "PART_TIME", "Vienna")
    assert row["description"] == "Weekends only."
    # bob edits the post into a plain one: it leaves the board
    edited = {**note, "content": "<p>Position filled, thanks!</p>", "updated": "2026-05-02T12:00:00Z"}
    peer.serve(note["id"], {"@context": "https://www.w3.org/ns/activitystreams", **edited})
    await receive(app, client, peer.activity("Update", bob, edited), bob)
    assert await pool.fetchval("SELECT count(*) FROM offers") == 0
    assert "offer" not in (await remote_status(pool, note["id"]))["extra"]
