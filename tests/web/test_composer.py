"""Acting as an organization and writing a post on a page: the switcher, the composer, a contributor's post
held for review and the page saying so, the queue's count for reviewers, and the refusals (403) for an
account the person is not, or no longer, on the team of — the same rules as the API's (business/roles.py)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.business import teams
from fediverse_biz.db.database import Database
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.halls import make_hall
from tests.support.html import by_class, parse, text, text_of
from tests.support.images import png
from tests.support.mastodon_client import parse_page
from tests.support.teams import Team, make_team


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


@pytest.fixture
async def team(db: Database, urls: LocalUrls, app: Starlette) -> Team:
    return await make_team(db, urls, "acme")  # alice owner, mia manager, eddie editor, carl contributor


async def sign_in(client: httpx.AsyncClient, username: str) -> None:
    forms = parse_page((await client.get("/session/login?next=/compose")).text).forms
    form = next(f for f in forms if f.action.endswith("/session/login"))  # signed in: Sign out comes first
    response = await client.post(form.action, data={**form.hidden(), "login": username, "password": PASSWORD})
    assert response.status_code == 303, response.text


async def act_as(client: httpx.AsyncClient, actor_id: int) -> httpx.Response:
    form = parse_page((await client.get("/act-as")).text).forms[-1]
    return await client.post(form.action, data={**form.hidden(), "actor": str(actor_id)})


async def composer_form(client: httpx.AsyncClient) -> dict[str, str]:
    return parse_page((await client.get("/compose")).text).forms[-1].hidden()


async def test_the_switcher_lists_the_person_and_each_organization_with_the_role(
    client: httpx.AsyncClient, team: Team
) -> None:
    await sign_in(client, "carl")
    page = parse((await client.get("/act-as")).text)
    choices = [text_of(label) for label in page.iter("label") if "inline" in (label.get("class") or "")]
    assert choices == ["carl (@carl) — your own account", "ACME (@acme) — contributor"]
    assert "Acting as carl (your own account)" in text(page)

    chosen = await act_as(client, team.id)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/compose"
    for path in ("/compose", "/act-as", "/session/sessions", "/directory"):
        assert "Acting as ACME (contributor)" in text(parse((await client.get(path)).text)), path


async def test_acting_as_an_organization_one_is_not_on_is_refused(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, team: Team
) -> None:
    other = await make_team(db, urls, "globex", {"olga": "owner"})
    await sign_in(client, "carl")
    refused = await act_as(client, other.id)
    assert refused.status_code == 403
    assert "Acting as carl (your own account)" in text(parse((await client.get("/compose")).text))
    form = await composer_form(client)
    forged = await client.post("/compose", data={**form, "as": str(other.id), "text": "Hello from Globex"})
    assert forged.status_code == 403


async def test_a_member_removed_from_the_team_cannot_send_the_form_shown_before(
    client: httpx.AsyncClient, pool: asyncpg.Pool, team: Team
) -> None:
    await sign_in(client, "eddie")
    await act_as(client, team.id)
    form = await composer_form(client)
    assert form["as"] == str(team.id)
    await teams.remove_member(pool, team.id, team["alice"].user.user_id, team["eddie"].user.user_id)

    refused = await client.post("/compose", data={**form, "text": "Written as ACME"})

    assert refused.status_code == 403
    assert not await pool.fetchval("SELECT count(*) FROM statuses")
    # and the header no longer claims the organization
    assert "Acting as eddie (your own account)" in text(parse((await client.get("/compose")).text))


async def test_an_editor_posts_as_the_organization_with_an_image_into_a_hall(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, team: Team
) -> None:
    hall = await make_hall(pool, urls, team.org, "metalworks")
    await sign_in(client, "eddie")
    await act_as(client, team.id)
    form = await composer_form(client)
    fields = {**form, "text": "New forge open", "spoiler_text": "Heat", "visibility": "unlisted", "language": "fr",
              "hall_id": str(hall.actor["id"]), "description0": "The forge at night"}  # fmt: skip

    response = await client.post("/compose", data=fields, files={"file0": ("forge.png", png(), "image/png")})

    assert response.status_code == 303, response.text
    status_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert response.headers["location"] == f"/@acme/{status_id}"
    row = await pool.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    assert (row["actor_id"], row["visibility"], row["spoiler_text"], row["language"]) == (
        team.id, "unlisted", "Heat", "fr")  # fmt: skip
    assert row["approval_state"] == "published" and row["created_by_user_id"] == team["eddie"].user.user_id
    assert row["source_text"].startswith("@metalworks ")  # into the hall: the post mentions it
    medium = await pool.fetchrow("SELECT * FROM media_attachments WHERE status_id = $1", status_id)
    assert medium["description"] == "The forge at night" and medium["actor_id"] == team.id
    entry = await pool.fetchrow("SELECT * FROM organization_audit_log WHERE action = 'post'")
    assert entry["username"] == "eddie" and entry["details"]["approval_state"] == "published"


async def test_a_contributors_post_waits_and_the_page_says_so_and_managers_see_the_count(
    client: httpx.AsyncClient, pool: asyncpg.Pool, team: Team
) -> None:
    await sign_in(client, "carl")
    await act_as(client, team.id)
    page = await client.get("/compose")
    assert "wait for approval" in text(parse(page.text)) and "Review queue" not in page.text
    form = parse_page(page.text).forms[-1].hidden()

    response = await client.post("/compose", data={**form, "text": "Our new catalogue is out"})

    assert response.status_code == 303 and response.headers["location"] == "/compose?done=held"
    said = parse((await client.get("/compose?done=held")).text)
    assert "Your post waits for approval" in text_of(by_class(said, "notice")[0])
    assert await pool.fetchval("SELECT approval_state FROM statuses") == "pending"

    client.cookies.clear()
    await sign_in(client, "mia")
    await act_as(client, team.id)
    manager = parse((await client.get("/compose")).text)
    queue_links = [a for a in manager.iter("a") if (a.get("href") or "").endswith("/review/acme")]
    assert [text_of(a) for a in queue_links] == ["Review queue: 1 post waiting"]


async def test_the_form_says_every_problem_beside_its_field_and_keeps_the_text(
    client: httpx.AsyncClient, pool: asyncpg.Pool, team: Team
) -> None:
    await sign_in(client, "alice")
    form = await composer_form(client)
    response = await client.post("/compose", data={**form, "text": "x" * 5001, "spoiler_text": "Careful"})
    assert response.status_code == 422
    page = parse(response.text)
    assert [text_of(e) for e in by_class(page, "field-error")] == [
        "The text: Text character limit of 5000 exceeded."
    ]
    kept = [e for e in page.iter("input") if e.get("name") == "spoiler_text"]
    assert kept[0].get("value") == "Careful"
    assert not await pool.fetchval("SELECT count(*) FROM statuses")


async def test_the_new_pages_need_a_session_and_a_csrf_token(client: httpx.AsyncClient, team: Team) -> None:
    for path in ("/compose", "/act-as", "/session/sessions", "/session/password"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"] == f"/session/login?next={path}"
    await sign_in(client, "alice")
    assert (await client.post("/compose", data={"csrf_token": "x", "text": "hi"})).status_code == 403
    assert (await client.post("/act-as", data={"csrf_token": "x", "actor": str(team.id)})).status_code == 403


@pytest.mark.parametrize("username", ["eddie", "carl"])  # an editor and a contributor do not review
async def test_roles_that_do_not_review_are_refused_the_queue_and_its_count(
    client: httpx.AsyncClient, pool: asyncpg.Pool, team: Team, username: str
) -> None:
    await sign_in(client, username)
    await act_as(client, team.id)
    composer = await client.get("/compose")
    assert "Review queue" not in composer.text
    assert (await client.get("/review/acme")).status_code == 403
    token = parse_page(composer.text).forms[-1].hidden()["csrf_token"]
    held = await pool.fetchval(
        """INSERT INTO statuses (uri, actor_id, local, visibility, content, approval_state, created_by_user_id)
           VALUES ('http://127.0.0.1/held/1', $1, true, 'public', '<p>held</p>', 'pending', $2) RETURNING id""",
        team.id, team["carl"].user_id,
    )  # fmt: skip
    approve = await client.post(f"/review/acme/{held}/approve", data={"csrf_token": token})
    assert approve.status_code == 403
    assert await pool.fetchval("SELECT approval_state FROM statuses WHERE id = $1", held) == "pending"


async def test_a_post_that_follows_the_offer_convention_is_filed_as_an_offer(
    client: httpx.AsyncClient, pool: asyncpg.Pool, team: Team
) -> None:
    await sign_in(client, "alice")
    form = await composer_form(client)
    typed = "#hiring\nTitle: Senior welder (m/f/d)\nLocation: Lyon\nSalary: 40,000-50,000 EUR"
    response = await client.post("/compose", data={**form, "text": typed})
    assert response.status_code == 303, response.text
    assert await pool.fetchval("SELECT title FROM offers") == "Senior welder (m/f/d)"
    wrong = await client.post("/compose", data={**form, "text": "#hiring\nTitle: Welder\nSalary: lots"})
    assert wrong.status_code == 422 and "Salary" in text_of(by_class(parse(wrong.text), "field-error")[0])
