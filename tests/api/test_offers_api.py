"""Offers in the client API (api/offers.py): the structured endpoint, the boards' filters and paging, the
text convention through POST/PUT /api/v1/statuses, Status.fediverse_biz.offer, and the real Mastodon.py
client posting by the convention. Every body is checked against schemas/mastodon/ (offer, status, error)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from mastodon import Mastodon, MastodonAPIError

from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.accounts import PASSWORD, create_user_sync, run_sync
from tests.support.mastodon_client import login_mastodon
from tests.support.servers import LiveServer
from tests.support.social import Member, checked, error, member, token, validating_session
from tests.support.teams import make_team

NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
WELDER: dict[str, Any] = {
    "kind": "job",
    "title": "Senior welder",
    "description": "Gates and railings.",
    "location": "Lyon",
    "employment_type": "FULL_TIME",
    "salary_min": 40000,
    "salary_max": 50000,
    "currency": "EUR",
    "apply_url": "https://forge.example/apply",
    "sector": "C",
    "region": "FR",
    "valid_through": NEXT_YEAR,
}
TYPED = f"""#hiring
Title: Night baker
Type: part-time
Location: Berlin
Salary: 28000-32000 EUR
Apply: jobs@bakery.example
Valid until: {NEXT_YEAR}

Sourdough, from 3 am.
"""


async def counts(db: Database) -> tuple[int, int]:
    return (
        await db.pool.fetchval("SELECT count(*) FROM statuses"),
        await db.pool.fetchval("SELECT count(*) FROM offers"),
    )


@pytest.fixture
async def olga(db: Database, urls: LocalUrls) -> Member:
    return await member(db, urls, "olga")


async def post_offer(client: httpx.AsyncClient, who: Member, values: dict[str, Any], status: int = 200) -> Any:
    return await checked(client.post("/api/v1/offers", json=values, headers=who.headers), "offer", status)


async def board(client: httpx.AsyncClient, query: str = "") -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = await checked(client.get(f"/api/v1/offers{query}"), "offer")
    return body


# ---- the structured endpoint ---------------------------------------------------------------------------
async def test_post_then_read_an_offer_and_its_status(client: httpx.AsyncClient, olga: Member) -> None:
    offer = await post_offer(client, olga, WELDER)

    assert {k: offer[k] for k in WELDER if k != "valid_through"} == {
        k: v for k, v in WELDER.items() if k != "valid_through"
    }
    assert offer["valid_through"] == f"{NEXT_YEAR}T23:59:59.000Z" and offer["expired"] is False
    assert offer["sector_label"] == "Manufacturing" and offer["region_name"] == "France"
    assert offer["account"]["username"] == "olga" and offer["local"] is True and offer["hall_id"] is None
    assert await checked(client.get(f"/api/v1/offers/{offer['id']}"), "offer") == offer
    status = await checked(client.get(f"/api/v1/statuses/{offer['id']}"), "status")
    assert "Senior welder" in status["content"] and "40,000" in status["content"]
    assert status["fediverse_biz"]["offer"] == {k: v for k, v in offer.items() if k in status["fediverse_biz"]["offer"]}
    assert {t["name"] for t in status["tags"]} == {"hiring", "jobs", "Manufacturing"}


async def test_form_fields_work_as_json_does(client: httpx.AsyncClient, olga: Member) -> None:
    form = {"kind": "opportunity", "direction": "request", "title": "Flour", "budget": "1200.50", "currency": "eur",
            "quantity": "2", "region": "de-be"}  # fmt: skip
    offer = await checked(client.post("/api/v1/offers", data=form, headers=olga.headers), "offer")

    assert (offer["budget"], offer["currency"], offer["quantity"], offer["region"]) == (1200.5, "EUR", 2, "DE-BE")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": ""}, "Validation failed: title can't be blank"),
        ({"employment_type": "GIG"}, "Validation failed: employment_type 'GIG' is not one of FULL_TIME"),
        ({"valid_through": "2021-03-01"}, "Validation failed: valid_through is in the past (2021-03-01)"),
        ({"description": "y" * 5001}, "Validation failed: description is longer than 5000 characters"),
        ({"apply_url": "ftp://x.example"}, "Validation failed: apply_url 'ftp://x.example' is not an http(s) address"),
        ({"colour": "blue"}, "Validation failed: colour is not an offer field"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, olga: Member, change: dict[str, Any], message: str
) -> None:
    message_got = await error(client.post("/api/v1/offers", json={**WELDER, **change}, headers=olga.headers), 422)

    assert message_got.startswith(message)
    assert await counts(db) == (0, 0)


async def test_posting_needs_a_token_with_write_scope(client: httpx.AsyncClient, db: Database, olga: Member) -> None:
    await error(client.post("/api/v1/offers", json=WELDER), 401)
    await error(client.post("/api/v1/offers", json=WELDER, headers=await token(db, olga, "read")), 403)
    assert await counts(db) == (0, 0)


async def test_a_contributors_offer_waits_for_review(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    team = await make_team(db, urls, "acme")

    held = await checked(client.post("/api/v1/offers", json=WELDER, headers=team["carl"].as_org), "offer")

    assert held["account"]["username"] == "acme"
    # Says it is held, and links to no page: the post has none until approval publishes it (under a new id).
    assert held["approval_state"] == "pending" and held["url"] is None and held["uri"].startswith("http")
    assert await board(client) == []
    entry = await db.pool.fetchrow("SELECT target, details FROM organization_audit_log WHERE action = 'post'")
    assert entry["target"] == held["uri"]
    assert entry["details"] == {"status_id": held["id"], "approval_state": "pending", "offer": "job"}


async def test_a_held_offer_is_read_by_its_author_and_the_reviewers_only(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, olga: Member
) -> None:
    team = await make_team(db, urls, "acme")
    held = await checked(client.post("/api/v1/offers", json=WELDER, headers=team["carl"].as_org), "offer")
    path = f"/api/v1/offers/{held['id']}"

    # The author, as the organization or as themselves, and the owner and the manager (either token).
    for headers in (team["carl"].as_org, team["carl"].personal, team["alice"].as_org, team["mia"].personal):
        assert await checked(client.get(path, headers=headers), "offer") == held
    # Not the editor (on the team, acting as the same organization, but no review right), not another
    # user, not an anonymous reader: for them the offer does not exist.
    for headers in (team["eddie"].as_org, team["eddie"].personal, olga.headers, {}):
        assert await error(client.get(path, headers=headers), 404) == "Record not found"

    rejected = await client.post(team.path(f"/pending_statuses/{held['id']}/reject"), data={"reason": "Salary?"},
                                 headers=team["alice"].as_org)  # fmt: skip
    assert rejected.status_code == 200, rejected.text
    seen = await checked(client.get(path, headers=team["carl"].as_org), "offer")
    assert (seen["approval_state"], seen["url"], seen["title"]) == ("rejected", None, "Senior welder")
    await error(client.get(path, headers=team["eddie"].as_org), 404)
    await error(client.get(path), 404)


async def test_a_published_offer_says_so_and_its_audit_entry_too(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    team = await make_team(db, urls, "acme")

    offer = await checked(client.post("/api/v1/offers", json=WELDER, headers=team["eddie"].as_org), "offer")

    assert offer["approval_state"] == "published" and offer["url"] == f"{urls.base}/@acme/{offer['id']}"
    assert await checked(client.get(f"/api/v1/offers/{offer['id']}"), "offer") == offer
    entry = await db.pool.fetchrow("SELECT target, details FROM organization_audit_log WHERE action = 'post'")
    assert entry["target"] == offer["uri"]
    assert entry["details"] == {"status_id": offer["id"], "approval_state": "published", "offer": "job"}


async def test_an_offer_into_a_hall_and_the_halls_board(client: httpx.AsyncClient, db: Database, olga: Member) -> None:
    hall = await factories.remote_actor(db.pool, "metal", "fair.example")
    await db.pool.execute("UPDATE actors SET actor_type = 'Group' WHERE id = $1", hall["id"])
    await error(client.post("/api/v1/offers", json={**WELDER, "hall_id": str(olga.id)}, headers=olga.headers), 422)

    offer = await post_offer(client, olga, {**WELDER, "hall_id": str(hall["id"])})
    await post_offer(client, olga, {**WELDER, "title": "Elsewhere"})

    assert offer["hall_id"] == str(hall["id"])
    assert [o["title"] for o in await board(client, f"?hall={hall['id']}")] == ["Senior welder"]


# ---- the boards ----------------------------------------------------------------------------------------
async def test_the_boards_filter_page_and_drop_expired_offers(
    client: httpx.AsyncClient, db: Database, olga: Member
) -> None:
    welder = await post_offer(client, olga, WELDER)
    await post_offer(client, olga, {**WELDER, "title": "Cook", "sector": "I", "region": "DE-BY", "remote": True})
    await post_offer(client, olga, {"kind": "opportunity", "direction": "offer", "title": "Spare CNC time",
                                    "sector": "C", "region": "DE"})  # fmt: skip

    assert [o["title"] for o in await board(client)] == ["Spare CNC time", "Cook", "Senior welder"]
    assert [o["title"] for o in await board(client, "?kind=job")] == ["Cook", "Senior welder"]
    assert [o["title"] for o in await board(client, "?kind=job&sector=c")] == ["Senior welder"]
    assert [o["title"] for o in await board(client, "?region=DE")] == ["Spare CNC time", "Cook"]
    assert [o["title"] for o in await board(client, "?kind=job&remote=true")] == ["Cook"]
    assert [o["title"] for o in await board(client, "?q=CNC&local=true")] == ["Spare CNC time"]
    assert [o["title"] for o in await board(client, "?kind=opportunity&direction=request")] == []
    # Mastodon's paging: Link to the older page
    first = await client.get("/api/v1/offers?limit=2")
    assert [o["title"] for o in first.json()] == ["Spare CNC time", "Cook"]
    older = first.links["next"]["url"]
    assert [o["title"] for o in (await client.get(older)).json()] == ["Senior welder"]
    # the clock passes the welder's date: the boards drop it, its own address still answers
    await db.pool.execute("UPDATE offers SET valid_through = now() - interval '1 minute' WHERE status_id = $1",
                          int(welder["id"]))  # fmt: skip
    assert [o["title"] for o in await board(client, "?kind=job")] == ["Cook"]
    assert (await checked(client.get(f"/api/v1/offers/{welder['id']}"), "offer"))["expired"] is True


@pytest.mark.parametrize(
    "query",
    ["?kind=gig", "?sector=Z", "?region=Atlantis", "?employment_type=GIG", "?direction=sideways", "?hall=x",
     "?remote=maybe"],
)  # fmt: skip
async def test_a_bad_filter_is_a_422(client: httpx.AsyncClient, query: str) -> None:
    assert (await error(client.get(f"/api/v1/offers{query}"), 422)).startswith("Validation failed: ")


async def test_an_unknown_offer_is_a_404(client: httpx.AsyncClient, olga: Member) -> None:
    plain = await checked(client.post("/api/v1/statuses", data={"status": "hello"}, headers=olga.headers), "status")
    await error(client.get(f"/api/v1/offers/{plain['id']}"), 404)
    await error(client.get("/api/v1/offers/nope"), 404)


# ---- the text convention through the Mastodon API -----------------------------------------------------
async def test_a_status_typed_by_the_convention_is_an_offer(client: httpx.AsyncClient, olga: Member) -> None:
    status = await checked(client.post("/api/v1/statuses", data={"status": TYPED}, headers=olga.headers), "status")

    offer = status["fediverse_biz"]["offer"]
    assert (offer["kind"], offer["title"], offer["employment_type"]) == ("job", "Night baker", "PART_TIME")
    assert (offer["salary_min"], offer["salary_max"], offer["apply_email"]) == (28000, 32000, "jobs@bakery.example")
    assert [o["id"] for o in await board(client)] == [status["id"]]


async def test_a_status_breaking_the_convention_is_a_422_naming_the_line(
    client: httpx.AsyncClient, db: Database, olga: Member
) -> None:
    typed = TYPED.replace("Type: part-time", "Type: whenever")

    message = await error(client.post("/api/v1/statuses", data={"status": typed}, headers=olga.headers), 422)

    assert (
        message.startswith("Validation failed: employment_type 'whenever' is not one of")
        and "('Type:' line)" in message
    )
    assert await counts(db) == (0, 0)


async def test_editing_the_post_edits_or_withdraws_the_offer(client: httpx.AsyncClient, olga: Member) -> None:
    status = await checked(client.post("/api/v1/statuses", data={"status": TYPED}, headers=olga.headers), "status")

    edited = TYPED.replace("Night baker", "Head baker")
    await checked(
        client.put(f"/api/v1/statuses/{status['id']}", data={"status": edited}, headers=olga.headers), "status"
    )
    assert [o["title"] for o in await board(client)] == ["Head baker"]

    plain = await checked(
        client.put(f"/api/v1/statuses/{status['id']}", data={"status": "Position filled!"}, headers=olga.headers),
        "status",
    )
    assert "offer" not in plain.get("fediverse_biz", {}) and await board(client) == []


def test_mastodon_py_posts_by_the_convention_and_reads_the_post_back(live_server: LiveServer) -> None:
    create_user_sync(live_server, "bakery")
    api: Mastodon = login_mastodon(live_server.base_url, "bakery", PASSWORD)
    api.session, _ = validating_session()

    posted = api.status_post(TYPED)
    shown = api.status(posted["id"])

    for fact in ("Night baker", "part-time", "Berlin", "28000-32000 EUR", "jobs@bakery.example", NEXT_YEAR):
        assert fact in shown["content"]
    listed = httpx.get(f"{live_server.base_url}/api/v1/offers?kind=job").json()
    assert [o["id"] for o in listed] == [str(posted["id"])]
    assert listed[0]["salary_min"] == 28000 and listed[0]["location"] == "Berlin"
    with pytest.raises(MastodonAPIError, match="Valid until"):  # the app shows our message as it is
        api.status_post(TYPED.replace(f"Valid until: {NEXT_YEAR}", "Valid until: 2020-01-01"))
    assert run_sync(lambda: _count_offers(live_server)) == 1


async def _count_offers(server: LiveServer) -> int:
    import asyncpg

    conn = await asyncpg.connect(server.dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM offers"))
    finally:
        await conn.close()
