"""`/jobs` and `/opportunities`: the boards list unexpired offers, local and federated, newest first, with
a GET filter form; the member's form posts an offer (or says which field is wrong) behind a session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.business import offers
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.accounts import PASSWORD
from tests.support.html import by_class, meta, parse, text, text_of
from tests.support.mastodon_client import parse_page
from tests.support.teams import make_team

NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


async def page_of(client: httpx.AsyncClient, path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status_code == status, response.text[:500]
    return parse(response.text)


def titles(page: Any) -> list[str]:
    return [text_of(h) for entry in by_class(page, "offer") for h in entry.iter("h2")]


async def sign_in(client: httpx.AsyncClient, username: str, next_path: str) -> None:
    login = await client.get(f"/session/login?next={next_path}")
    form = parse_page(login.text).forms[0]
    response = await client.post(form.action, data={**form.hidden(), "login": username, "password": PASSWORD})
    assert response.status_code == 303, response.text


@pytest.fixture
async def fair(pool: asyncpg.Pool, urls: LocalUrls) -> dict[str, asyncpg.Record]:
    """A local forge with a job and an opportunity, and a remote job stored as a peer's post would be."""
    await accounts.create_user(pool, urls, "olga", "olga@example.com", PASSWORD)
    forge = await accounts.create_organization(pool, urls, "forge", "olga", display_name="Lyon Forge")
    await offers.create(pool, urls, "127.0.0.1", forge, {
        "kind": "job", "title": "Welder <b>TIG</b>", "employment_type": "FULL_TIME", "sector": "C", "region": "FR",
        "location": "Lyon", "salary_min": 40000, "salary_max": 50000, "currency": "EUR",
        "apply_url": "https://forge.example/apply", "valid_through": NEXT_YEAR,
    })  # fmt: skip
    await offers.create(pool, urls, "127.0.0.1", forge, {
        "kind": "opportunity", "direction": "request", "title": "Steel supplier", "region": "FR", "budget": 9000,
        "currency": "EUR",
    })  # fmt: skip
    remote = await factories.remote_actor(pool, "torino", "peer.example")
    status_id = await pool.fetchval(
        """INSERT INTO statuses (uri, url, actor_id, local, visibility, content)
           VALUES ('https://peer.example/users/torino/statuses/1', 'https://peer.example/@torino/1', $1, false,
                   'public', '<p>#hiring</p>') RETURNING id""",
        remote["id"],
    )
    async with pool.acquire() as conn:
        await offers.index(offers.Offer(kind="job", title="Toolmaker", region="IT", remote=True))(conn, status_id)
    return {"forge": forge, "remote": remote}


async def test_the_job_board_lists_local_and_federated_jobs(
    client: httpx.AsyncClient, fair: dict[str, asyncpg.Record]
) -> None:
    page = await page_of(client, "/jobs")

    assert titles(page) == ["Toolmaker", "Welder <b>TIG</b>"]  # typed markup stays text
    assert meta(page, "og:title") == "Job board"
    shown = text(page)
    assert "Full-time · Lyon, France · 40,000\u201350,000 EUR · Manufacturing" in shown
    assert "Lyon Forge @forge@127.0.0.1" in shown and "@torino@peer.example" in shown
    links = {a.get("href") for a in page.iter("a")}
    assert "https://peer.example/@torino/1" in links and "https://forge.example/apply" in links


async def test_the_boards_filter_by_the_form_and_ignore_bad_codes(
    client: httpx.AsyncClient, fair: dict[str, asyncpg.Record]
) -> None:
    assert titles(await page_of(client, "/jobs?region=IT")) == ["Toolmaker"]
    assert titles(await page_of(client, "/jobs?sector=C&local=1")) == ["Welder <b>TIG</b>"]
    assert titles(await page_of(client, "/jobs?remote=1")) == ["Toolmaker"]
    searched = await page_of(client, "/jobs?q=weld")
    assert titles(searched) == ["Welder <b>TIG</b>"]
    assert meta(searched, "robots") == "noindex"  # one indexed board; filtered variants are endless
    ignored = await page_of(client, "/jobs?sector=Z&region=Atlantis")
    assert titles(ignored) == ["Toolmaker", "Welder <b>TIG</b>"]
    assert "Ignored: unknown sector 'Z'; unknown region 'Atlantis'." in text(ignored)
    assert meta(ignored, "robots") is None  # nothing was applied: this is the board itself
    opportunities = await page_of(client, "/opportunities?direction=request")
    assert titles(opportunities) == ["Steel supplier"] and "Wanted" in text(opportunities)


async def test_expired_offers_leave_the_board(
    client: httpx.AsyncClient, pool: asyncpg.Pool, fair: dict[str, asyncpg.Record]
) -> None:
    await pool.execute("UPDATE offers SET valid_through = now() - interval '1 hour' WHERE title = 'Toolmaker'")

    assert titles(await page_of(client, "/jobs")) == ["Welder <b>TIG</b>"]


async def test_posting_needs_a_session(client: httpx.AsyncClient) -> None:
    response = await client.get("/jobs/new", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/session/login?next=/jobs/new"


async def test_a_member_posts_a_job_for_their_organization(
    client: httpx.AsyncClient, pool: asyncpg.Pool, fair: dict[str, asyncpg.Record]
) -> None:
    await sign_in(client, "olga", "/jobs/new")
    form_page = await client.get("/jobs/new")
    parse(form_page.text)  # valid HTML5
    form = parse_page(form_page.text).forms[-1]
    identities = [value for value, _ in form.selects["as"]]
    assert identities == [str(await pool.fetchval("SELECT actor_id FROM users")), str(fair["forge"]["id"])]

    fields = {**form.hidden(), "as": str(fair["forge"]["id"]), "title": "Blacksmith", "employment_type": "PART_TIME",
              "location": "Lyon", "remote": "1", "salary_min": "30000", "currency": "EUR", "sector": "C",
              "region": "FR", "apply": "jobs@forge.example", "valid_through": NEXT_YEAR,
              "description": "Hammer & tongs."}  # fmt: skip
    response = await client.post(form.action, data=fields, follow_redirects=False)

    assert response.status_code == 303
    status_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert response.headers["location"] == f"/@forge/{status_id}"
    row = await pool.fetchrow("SELECT * FROM offers WHERE status_id = $1", status_id)
    assert (row["title"], row["employment_type"], row["remote"], row["apply_email"]) == (
        "Blacksmith", "PART_TIME", True, "jobs@forge.example",
    )  # fmt: skip
    assert await pool.fetchval("SELECT actor_id FROM statuses WHERE id = $1", status_id) == fair["forge"]["id"]
    assert "Blacksmith" in titles(await page_of(client, "/jobs"))
    # The organization's audit log names the post, as the API's entry does.
    entry = await pool.fetchrow("SELECT action, target, details FROM organization_audit_log WHERE action = 'post'")
    assert entry["target"] == await pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id)
    assert entry["details"] == {"status_id": str(status_id), "approval_state": "published", "offer": "job"}


async def test_a_wrong_field_is_named_and_nothing_is_posted(
    client: httpx.AsyncClient, pool: asyncpg.Pool, fair: dict[str, asyncpg.Record]
) -> None:
    await sign_in(client, "olga", "/opportunities/new")
    form = parse_page((await client.get("/opportunities/new")).text).forms[-1]
    before = await pool.fetchval("SELECT count(*) FROM statuses")

    response = await client.post(form.action, data={**form.hidden(), "title": "Steel", "direction": "offer",
                                                    "valid_through": "2020-01-01"})  # fmt: skip
    forged = await client.post(form.action, data={"csrf_token": "1.forged", "title": "Steel", "direction": "offer"})

    assert response.status_code == 422
    page = parse(response.text)
    assert "The end date is in the past (2020-01-01)." in text(page)
    assert [e.get("name") for e in page.iter("input") if e.get("aria-invalid") == "true"] == ["valid_through"]
    assert [e.get("value") for e in page.iter("input") if e.get("name") == "title"] == ["Steel"]  # kept
    assert forged.status_code == 403
    assert await pool.fetchval("SELECT count(*) FROM statuses") == before


async def test_posting_as_an_organization_one_is_not_on_is_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, fair: dict[str, asyncpg.Record]
) -> None:
    await accounts.create_user(pool, urls, "nina", "nina@example.com", PASSWORD)
    await sign_in(client, "nina", "/jobs/new")
    form = parse_page((await client.get("/jobs/new")).text).forms[-1]
    before = await pool.fetchval("SELECT count(*) FROM statuses")

    response = await client.post(form.action, data={**form.hidden(), "as": str(fair["forge"]["id"]), "title": "Smith"})

    assert response.status_code == 403 and "not on its team" in response.text
    assert await pool.fetchval("SELECT count(*) FROM statuses") == before


async def test_every_wrong_field_is_said_in_words_beside_it_at_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool, fair: dict[str, asyncpg.Record]
) -> None:
    await sign_in(client, "olga", "/jobs/new")
    form = parse_page((await client.get("/jobs/new")).text).forms[-1]

    response = await client.post(form.action, data={**form.hidden(), "title": "Welder", "salary_min": "abc",
                                                    "salary_max": "10", "region": "Bavaria",
                                                    "valid_through": "2020-01-01", "apply": "nowhere"})  # fmt: skip

    assert response.status_code == 422
    page = parse(response.text)
    beside = {e.get("id"): text_of(e) for e in page.iter("span") if "field-error" in (e.get("class") or "")}
    assert beside == {
        "error-salary_min": "The lowest salary, 'abc', is not a number.",
        "error-region": "The region, 'BAVARIA', is not a country code (DE) or subdivision code (DE-BY).",
        "error-apply": "How to apply, 'nowhere', is not an http(s) address.",
        "error-valid_through": "The end date is in the past (2020-01-01).",
        "error-currency": "The currency is required with an amount of money.",
    }
    invalid = [e.get("name") for e in page.iter() if e.get("aria-invalid") == "true"]
    assert invalid == ["salary_min", "currency", "region", "apply", "valid_through"]
    for name in invalid:  # each marked field points at its sentence
        field = next(e for e in page.iter() if e.get("name") == name)
        assert field.get("aria-describedby") == f"error-{name}"
    summary = [text_of(a) for a in by_class(page, "errors")[0].iter("a")]
    assert summary == list(beside.values())  # the same sentences, in the order of the form
    assert "salary_min" not in text(page) and "Validation failed" not in text(page)
    kept = {e.get("name"): e.get("value") for e in page.iter("input") if e.get("type") == "text"}
    assert (kept["salary_min"], kept["region"], kept["apply"]) == ("abc", "Bavaria", "nowhere")


async def test_a_contributors_offer_is_held_for_review(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    team = await make_team(db, urls, "acme")
    await sign_in(client, "carl", "/jobs/new")
    form = parse_page((await client.get("/jobs/new")).text).forms[-1]

    response = await client.post(form.action, data={**form.hidden(), "as": str(team.id), "title": "Driver"},
                                 follow_redirects=False)  # fmt: skip

    assert response.headers["location"] == "/jobs?held=1"
    page = await page_of(client, "/jobs?held=1")
    assert "awaits review" in text(page) and titles(page) == []
    assert await db.pool.fetchval("SELECT approval_state FROM statuses") == "pending"
    held = await db.pool.fetchrow("SELECT id, uri FROM statuses")
    entry = await db.pool.fetchrow("SELECT target, details FROM organization_audit_log WHERE action = 'post'")
    assert entry["target"] == held["uri"]
    assert entry["details"] == {"status_id": str(held["id"]), "approval_state": "pending", "offer": "job"}
