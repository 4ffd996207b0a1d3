"""Posts held for review: invisible everywhere until approved, published at approval, or rejected
with a reason (business/approvals.py, api/teams.py, web/review.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import html5lib
import httpx
import pytest

from fediverse_biz.core import follows
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.factories import deliveries, remote_actor
from tests.support.images import png
from tests.support.mastodon_client import parse_page
from tests.support.mastodon_schemas import assert_matches
from tests.support.social import Member, checked, error, member
from tests.support.teams import Team, make_team

AS2 = {"Accept": "application/activity+json"}
HELD_TEXT = "Exclusive: our new anvil line @fran #fair"


class World:
    """acme's team, a local follower (fran), a remote follower, and who else may look."""

    def __init__(self, team: Team, fran: Member, remote_inbox: str) -> None:
        self.team, self.fran, self.remote_inbox = team, fran, remote_inbox


@pytest.fixture
async def world(db: Database, urls: LocalUrls) -> World:
    team = await make_team(db, urls)
    fran = await member(db, urls, "fran")
    await follows.follow(db.pool, fran.actor, team.org)
    far = await remote_actor(db.pool, "far", "far.example")
    await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", far["id"], team.id)
    return World(team, fran, far["shared_inbox_url"])


async def post_held(client: httpx.AsyncClient, world: World, text: str = HELD_TEXT, **extra: Any) -> dict[str, Any]:
    status: dict[str, Any] = await checked(
        client.post("/api/v1/statuses", data={"status": text, **extra}, headers=world.team["carl"].as_org), "status"
    )
    assert status["fediverse_biz"]["approval_state"] == "pending"
    assert status["account"]["id"] == str(world.team.id)
    return status


async def listed_ids(client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None) -> set[str]:
    response = await client.get(path, headers=headers or {})
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    body = response.json()
    items = body["statuses"] if isinstance(body, dict) else body
    return {s["id"] for s in items}


async def everywhere_seen(client: httpx.AsyncClient, world: World, status: dict[str, Any]) -> list[str]:
    """Every read path (with the viewers that could see a published post) where the status shows up."""
    team, fran, acme = world.team, world.fran, world.team.id
    word = "anvil"
    paths: list[tuple[str, dict[str, str] | None]] = [
        ("/api/v1/timelines/home", fran.headers),
        ("/api/v1/timelines/home", team["alice"].as_org),
        ("/api/v1/timelines/public", None),
        ("/api/v1/timelines/public?local=true", fran.headers),
        ("/api/v1/timelines/tag/fair", None),
        (f"/api/v1/accounts/{acme}/statuses", None),
        (f"/api/v1/accounts/{acme}/statuses", team["alice"].as_org),
        (f"/api/v1/accounts/{acme}/statuses", team["carl"].as_org),
        (f"/api/v2/search?q={word}&type=statuses", fran.headers),
        (f"/api/v2/search?q={word}&type=statuses", team["carl"].as_org),
        (f"/api/v2/search?q={word}&type=statuses", team["alice"].as_org),
    ]
    seen = [
        f"{path} as {bool(headers)}"
        for path, headers in paths
        if status["id"] in await listed_ids(client, path, headers)
    ]
    outbox = (await client.get("/users/acme/outbox?page=true", headers=AS2)).json()
    if any(status["uri"] in str(item) for item in outbox["orderedItems"]):
        seen.append("outbox")
    if (await client.get(status["uri"], headers=AS2)).status_code != 404:
        seen.append("status URI")
    for page in ("/@acme", "/@acme.atom", "/@acme.rss"):
        if word in (await client.get(page)).text:
            seen.append(page)
    if (await client.get(f"/@acme/{status['id']}")).status_code != 404:
        seen.append("permalink page")
    notified = await listed_notification_statuses(client, fran.headers)
    if status["id"] in notified:
        seen.append("fran's notifications")
    return seen


async def listed_notification_statuses(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    body = (await client.get("/api/v1/notifications", headers=headers)).json()
    return {n["status"]["id"] for n in body if n.get("status")}


# ---- held ------------------------------------------------------------------------------------------
async def test_a_contributors_post_is_held_out_of_sight(client: httpx.AsyncClient, db: Database, world: World) -> None:
    held = await post_held(client, world)
    assert await everywhere_seen(client, world, held) == []
    assert await deliveries(db.pool) == []
    team = world.team
    # visible to its author (acting as the organization or as himself) and to owners and managers
    for headers in (team["carl"].as_org, team["carl"].personal, team["mia"].personal, team["alice"].as_org):
        shown = await checked(client.get(f"/api/v1/statuses/{held['id']}", headers=headers), "status")
        assert shown["fediverse_biz"]["approval_state"] == "pending"
    # to nobody else, not even the editor acting as the organization
    for headers in (team["eddie"].as_org, world.fran.headers, {}):
        await error(client.get(f"/api/v1/statuses/{held['id']}", headers=headers), 404)
    await error(client.post(f"/api/v1/statuses/{held['id']}/favourite", headers=world.fran.headers), 404)
    await error(
        client.post(
            "/api/v1/statuses", data={"status": "re", "in_reply_to_id": held["id"]}, headers=world.fran.headers
        ),
        404,
    )


async def test_the_queue(client: httpx.AsyncClient, db: Database, urls: LocalUrls, world: World) -> None:
    team = world.team
    held = await post_held(client, world)
    queued = await checked(client.get(team.path("/pending_statuses"), headers=team["mia"].personal), "status")
    assert [s["id"] for s in queued] == [held["id"]]
    assert queued[0]["fediverse_biz"]["written_by"] == {"user_id": str(team["carl"].user_id), "username": "carl"}
    assert await listed_ids(client, team.path("/pending_statuses"), team["carl"].personal) == {held["id"]}
    assert await listed_ids(client, team.path("/pending_statuses"), team["eddie"].personal) == set()  # own only


# ---- approved ----------------------------------------------------------------------------------
async def test_approval_publishes_at_approval_time_and_federates(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, world: World
) -> None:
    team = world.team
    media = (
        await client.post("/api/v2/media", files={"file": ("a.png", png(), "image/png")}, headers=team["carl"].as_org)
    ).json()
    held = await post_held(client, world, media_ids=[media["id"]])
    earlier = await checked(
        client.post("/api/v1/statuses", data={"status": "meanwhile"}, headers=team["eddie"].as_org), "status"
    )
    published = await checked(
        client.post(team.path(f"/pending_statuses/{held['id']}/approve"), headers=team["mia"].personal), "status"
    )
    # a new id that sorts after what was posted while it waited, a new URI, published now
    assert int(published["id"]) > int(earlier["id"]) > int(held["id"])
    assert published["uri"] == f"{urls.base}/users/acme/statuses/{published['id']}"
    assert "fediverse_biz" not in published and published["edited_at"] is None
    approved_at = datetime.fromisoformat(published["created_at"].replace("Z", "+00:00"))
    assert approved_at > datetime.now(UTC) - timedelta(seconds=30)
    assert published["content"] == held["content"] and [m["id"] for m in published["media_attachments"]] == [
        media["id"]
    ]
    assert [t["name"] for t in published["tags"]] == ["fair"] and published["mentions"][0]["username"] == "fran"
    await error(client.get(f"/api/v1/statuses/{held['id']}", headers=team["carl"].as_org), 404)  # the old id is gone
    # now everywhere a public post goes, and one Create to the remote follower's server
    seen = await everywhere_seen(client, world, published)
    assert "/api/v1/timelines/home as True" in seen and "outbox" in seen and "status URI" in seen
    assert len(seen) == 18, seen  # every place everywhere_seen looks
    assert (world.remote_inbox, "Create") in await deliveries(db.pool)
    job = await db.pool.fetchval(
        """SELECT payload FROM jobs
            WHERE payload->'activity'->>'type' = 'Create' AND payload->'activity'->'object'->>'id' = $1""",
        published["uri"],
    )
    assert job is not None and job["activity"]["object"]["published"].startswith(published["created_at"][:19])
    # the author hears that it went out
    carl_sees = await listed_notification_statuses(client, team["carl"].personal)
    assert published["id"] in carl_sees
    assert (
        await client.post(team.path(f"/pending_statuses/{held['id']}/approve"), headers=team["mia"].personal)
    ).status_code == 404


async def test_a_held_reply_joins_its_thread_only_when_approved(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    team, fran = world.team, world.fran
    parent = await checked(
        client.post("/api/v1/statuses", data={"status": "Who sells anvils?"}, headers=fran.headers), "status"
    )
    held = await post_held(client, world, "@fran we do", in_reply_to_id=parent["id"])
    assert (await client.get(f"/api/v1/statuses/{parent['id']}", headers=fran.headers)).json()["replies_count"] == 0
    context = (await client.get(f"/api/v1/statuses/{parent['id']}/context", headers=team["mia"].personal)).json()
    assert context["descendants"] == []  # not even a reviewer sees it in the thread
    published = (
        await client.post(team.path(f"/pending_statuses/{held['id']}/approve"), headers=team["mia"].personal)
    ).json()
    assert published["in_reply_to_id"] == parent["id"]
    assert (await client.get(f"/api/v1/statuses/{parent['id']}", headers=fran.headers)).json()["replies_count"] == 1
    context = (await client.get(f"/api/v1/statuses/{parent['id']}/context", headers=fran.headers)).json()
    assert [s["id"] for s in context["descendants"]] == [published["id"]]
    contexts = await db.pool.fetch(
        "SELECT conversation_uri FROM statuses WHERE id = ANY($1::bigint[])", [int(parent["id"]), int(published["id"])]
    )
    assert len({r["conversation_uri"] for r in contexts}) == 1


async def test_the_idempotency_key_follows_the_approved_post(client: httpx.AsyncClient, world: World) -> None:
    # its row points at the held status and must move to the new id with it
    team = world.team
    headers = {**team["carl"].as_org, "Idempotency-Key": "same"}
    held = (await client.post("/api/v1/statuses", data={"status": "once"}, headers=headers)).json()
    published = (
        await client.post(team.path(f"/pending_statuses/{held['id']}/approve"), headers=team["alice"].personal)
    ).json()
    again = (await client.post("/api/v1/statuses", data={"status": "once"}, headers=headers)).json()
    assert again["id"] == published["id"]


async def test_approval_refuses_a_text_changed_since_it_was_read(client: httpx.AsyncClient, world: World) -> None:
    team = world.team
    held = await post_held(client, world)
    [queued] = (await client.get(team.path("/pending_statuses"), headers=team["mia"].personal)).json()
    seen_version = queued["fediverse_biz"]["version"]
    edited = await checked(
        client.put(
            f"/api/v1/statuses/{held['id']}", data={"status": "Edited before review"}, headers=team["carl"].as_org
        ),
        "status",
    )
    assert edited["fediverse_biz"]["approval_state"] == "pending"
    approve = team.path(f"/pending_statuses/{held['id']}/approve")
    assert "edited after" in await error(
        client.post(approve, data={"version": seen_version}, headers=team["mia"].personal), 409
    )
    [queued] = (await client.get(team.path("/pending_statuses"), headers=team["mia"].personal)).json()
    published = (
        await client.post(approve, data={"version": queued["fediverse_biz"]["version"]}, headers=team["mia"].personal)
    ).json()
    assert "Edited before review" in published["content"] and published["edited_at"] is None  # drafts are not history
    history = (await client.get(f"/api/v1/statuses/{published['id']}/history")).json()
    assert len(history) == 1


# ---- rejected ----------------------------------------------------------------------------------
async def test_rejection_keeps_the_post_in_and_tells_the_author_why(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    team = world.team
    held = await post_held(client, world)
    reject = team.path(f"/pending_statuses/{held['id']}/reject")
    assert "reason" in await error(client.post(reject, headers=team["mia"].personal), 422)
    rejected = await checked(
        client.post(reject, data={"reason": "Not before the fair opens"}, headers=team["mia"].personal), "status"
    )
    assert rejected["fediverse_biz"]["approval_state"] == "rejected"
    assert rejected["fediverse_biz"]["rejection_reason"] == "Not before the fair opens"
    assert await everywhere_seen(client, world, held) == []
    assert await deliveries(db.pool) == []
    await error(client.post(team.path(f"/pending_statuses/{held['id']}/approve"), headers=team["mia"].personal), 409)
    notifications = await checked(client.get("/api/v1/notifications", headers=team["carl"].personal), "notification")
    [warning] = [n for n in notifications if n["type"] == "moderation_warning"]
    assert warning["account"]["username"] == "acme"
    assert warning["moderation_warning"]["text"] == "Not before the fair opens"
    assert warning["moderation_warning"]["status_ids"] == [held["id"]]
    assert warning["moderation_warning"]["target_account"]["username"] == "carl"
    assert_matches("notification", warning)
    assert await listed_ids(client, team.path("/pending_statuses?state=rejected"), team["carl"].personal) == {
        held["id"]
    }
    # the author may still read it, and delete it; nothing is sent anywhere
    await checked(client.get(f"/api/v1/statuses/{held['id']}", headers=team["carl"].personal), "status")
    await checked(client.delete(f"/api/v1/statuses/{held['id']}", headers=team["carl"].as_org), "status")
    assert await deliveries(db.pool) == []


# ---- the web page ------------------------------------------------------------------------------
async def sign_in(client: httpx.AsyncClient, username: str, next_path: str) -> None:
    page = await client.get(f"/session/login?next={next_path}")
    form = parse_page(page.text).forms[0]
    response = await client.post(form.action, data={**form.hidden(), "login": username, "password": PASSWORD})
    assert response.status_code == 303, response.text


async def test_the_review_page(client: httpx.AsyncClient, db: Database, world: World) -> None:
    team = world.team
    first = await post_held(client, world)
    second = await post_held(client, world, "Second <b>draft</b> for the anvil fair")
    assert (await client.get("/review/acme", follow_redirects=False)).headers[
        "location"
    ] == "/session/login?next=/review/acme"
    await sign_in(client, "mia", "/review/acme")
    overview = await client.get("/review")
    assert "2 waiting" in overview.text
    page = await client.get("/review/acme")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    html5lib.HTMLParser(strict=True).parse(page.text)
    assert "&lt;b&gt;draft&lt;/b&gt;" in page.text and "<b>draft</b>" not in page.text  # typed HTML stays text
    forms = {f.action: f for f in parse_page(page.text).forms}
    approve = forms[f"/review/acme/{first['id']}/approve"]
    forged = await client.post(approve.action, data={**approve.hidden(), "csrf_token": "1.forged"})
    assert forged.status_code == 403
    done = await client.post(approve.action, data=approve.hidden(), follow_redirects=True)
    assert done.status_code == 200 and "The post is published." in done.text
    reject = forms[f"/review/acme/{second['id']}/reject"]
    await client.post(reject.action, data={**reject.hidden(), "reason": "Typo in the title"})
    states = await db.pool.fetch(
        "SELECT approval_state, rejection_reason FROM statuses WHERE actor_id = $1 ORDER BY id", team.id
    )
    assert [(r["approval_state"], r["rejection_reason"]) for r in states] == [
        ("rejected", "Typo in the title"),
        ("published", None),
    ]
    assert "Nothing is waiting for review." in (await client.get("/review/acme")).text


async def test_the_review_page_is_for_owners_and_managers(client: httpx.AsyncClient, world: World) -> None:
    await post_held(client, world)
    await sign_in(client, "eddie", "/review/acme")
    page = await client.get("/review/acme")
    assert page.status_code == 403 and "Only owners and managers" in page.text
    html5lib.HTMLParser(strict=True).parse(page.text)
