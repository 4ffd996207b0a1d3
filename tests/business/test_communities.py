"""Halls (business/communities.py, business/hall_moderation.py, api/communities.py, web pages):
creating and editing them, their actor documents, membership by following, moderation, and their pages.

Peers are FakePeers on 127.0.0.1 (real keys, real signatures); the app runs in-process without workers, so
what it would send is read from the queued delivery jobs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.business import communities, hall_moderation
from fediverse_biz.business.communities import Acting
from fediverse_biz.config import ConfigError, Settings, load_settings
from fediverse_biz.core import follows
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.halls import acting, make_hall
from tests.support.inbound import receive, row_of
from tests.support.peers import AS2, FakePeer
from tests.support.social import Member, checked, member

HALL = {"name": "hall7", "title": "Hall 7: machinery", "description": "Machine builders of the region.",
        "sector": "c", "region": "Bavaria", "rules": ["Be civil", "No spam"], "membership": "open"}  # fmt: skip


@pytest.fixture
async def peer() -> AsyncIterator[FakePeer]:
    server = await FakePeer().start()
    yield server
    await server.stop()


async def _jobs(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver' ORDER BY id")
    return [dict(r["payload"]) for r in rows]


async def _create(client: httpx.AsyncClient, who: Member, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = await checked(
        client.post("/api/v1/communities", json={**HALL, **overrides}, headers=who.headers), "community"
    )
    return body


# ---- creating and editing ------------------------------------------------------------------------------
async def test_a_member_creates_a_hall_that_is_a_group_actor(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    hall = await _create(client, alice)
    assert hall["title"] == "Hall 7: machinery" and hall["sector"] == "C" and hall["rules"] == ["Be civil", "No spam"]
    assert hall["account"]["group"] is True and hall["account"]["display_name"] == "Hall 7: machinery"
    assert [m["id"] for m in hall["moderators"]] == [alice.account_id]
    # the Group actor at /c/hall7: FEP-1b12 and Lemmy's fields
    doc = (await client.get("/c/hall7", headers={"Accept": AS2})).json()
    assert doc["type"] == "Group" and doc["id"] == f"{urls.base}/c/hall7"
    assert doc["attributedTo"] == f"{urls.base}/c/hall7/moderators"
    assert doc["postingRestrictedToMods"] is False and doc["manuallyApprovesFollowers"] is False
    assert "No spam" in doc["summary"] and "Machine builders" in doc["summary"]
    assert {"name": "Sector", "value": "C - Manufacturing"} in [
        {k: f[k] for k in ("name", "value")} for f in doc["attachment"]
    ]
    mods = (await client.get("/c/hall7/moderators", headers={"Accept": AS2})).json()
    assert mods["type"] == "OrderedCollection" and mods["orderedItems"] == [alice.actor["uri"]]
    # the Mastodon account of the hall says group: true
    account = (await client.get(f"/api/v1/accounts/{hall['id']}")).json()
    assert account["group"] is True
    entries = await db.pool.fetch(
        "SELECT action FROM organization_audit_log WHERE organization_id = $1", int(hall["id"])
    )
    assert [e["action"] for e in entries] == ["hall_create"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "c"}, "Validation failed: name 'c' is reserved"),
        (
            {"name": "bad name!"},
            "Validation failed: name 'bad name!' is not a valid name (1 to 30 letters, digits and underscores)",
        ),
        ({"title": " "}, "title can't be blank"),
        ({"sector": "Z"}, "sector"),
        ({"rules": [f"rule {n}" for n in range(21)]}, "rules are too many"),
        ({"membership": "closed"}, "membership must be one of open, approval"),
        ({"description": "x" * 5001}, "description is too long"),
    ],
)
async def test_invalid_hall_values_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, change: dict[str, Any], message: str
) -> None:
    alice = await member(db, urls, "alice")
    response = await client.post("/api/v1/communities", json={**HALL, **change}, headers=alice.headers)
    assert response.status_code == 422 and message in response.json()["error"]
    assert await db.pool.fetchval("SELECT count(*) FROM actors WHERE actor_type = 'Group'") == 0


async def test_a_taken_name_is_refused(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    response = await client.post("/api/v1/communities", json={**HALL, "name": "Alice"}, headers=alice.headers)
    assert (
        response.status_code == 422 and response.json()["error"] == "Validation failed: name 'Alice' is already taken"
    )


async def test_the_creation_setting_can_limit_halls_to_admins(
    db: Database, urls: LocalUrls, settings: Settings
) -> None:
    assert load_settings({}).community_creation == "any"
    assert load_settings({"FEDIVERSE_BIZ_COMMUNITY_CREATION": "Admins"}).community_creation == "admins"
    with pytest.raises(ConfigError, match="FEDIVERSE_BIZ_COMMUNITY_CREATION: must be one of any, admins"):
        load_settings({"FEDIVERSE_BIZ_COMMUNITY_CREATION": "nobody"})
    from fediverse_biz.app import create_app

    app = create_app(replace(settings, community_creation="admins"), db)
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url)
        alice = await member(db, urls, "alice")
        response = await client.post("/api/v1/communities", json=HALL, headers=alice.headers)
        assert response.status_code == 403
        await db.pool.execute("UPDATE users SET role = 'admin' WHERE actor_id = $1", alice.id)
        assert (await client.post("/api/v1/communities", json=HALL, headers=alice.headers)).status_code == 200
        await client.aclose()


async def test_only_moderators_edit_and_peers_get_the_update(
    app: Starlette, client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    hall = await _create(client, alice)
    remote = await factories.remote_actor(db.pool, "rita")
    hall_row = await db.pool.fetchrow("SELECT * FROM actors WHERE id = $1", int(hall["id"]))
    await follows.follow(db.pool, remote, hall_row)  # a remote member (rows only: the peer is not real)
    path = f"/api/v1/communities/{hall['id']}"
    assert (await client.patch(path, json={"title": "Mine now"}, headers=bob.headers)).status_code == 403
    changed = await checked(
        client.patch(path, json={"rules": ["Be civil"], "membership": "approval"}, headers=alice.headers), "community"
    )
    assert changed["rules"] == ["Be civil"] and changed["membership"] == "approval"
    assert changed["account"]["locked"] is True  # approval membership holds Follows like a locked account
    log = (await client.get(f"{path}/audit_log", headers=alice.headers)).json()
    assert [e["action"] for e in log] == ["hall_edit", "hall_create"]
    assert log[0]["details"] == {"fields": ["membership", "rules"]}
    assert (await client.get(f"{path}/audit_log", headers=bob.headers)).status_code == 403
    updates = [j for j in await _jobs(db.pool) if j["activity"]["type"] == "Update"]
    assert [j["inbox"] for j in updates] == ["https://remote.example/inbox"]
    assert updates[0]["activity"]["object"]["manuallyApprovesFollowers"] is True


# ---- membership: joining is following --------------------------------------------------------------------
async def test_an_open_hall_accepts_a_remote_follow_at_once(
    app: Starlette, client: httpx.AsyncClient, db: Database, urls: LocalUrls, peer: FakePeer
) -> None:
    alice = await factories.local_actor(db.pool, urls, "alice")
    hall = await make_hall(db.pool, urls, alice)
    rita = peer.actor("rita")
    await receive(app, client, peer.activity("Follow", rita, hall.actor["uri"]), rita)
    assert await communities.members_count(db.pool, hall.id) == 1
    assert [j["activity"]["type"] for j in await _jobs(db.pool)] == ["Accept"]


async def test_an_approval_hall_holds_the_follow_for_a_moderator(
    app: Starlette, client: httpx.AsyncClient, db: Database, urls: LocalUrls, peer: FakePeer
) -> None:
    alice = await member(db, urls, "alice")
    hall = await make_hall(db.pool, urls, alice.actor, membership="approval")
    rita, sam = peer.actor("rita"), peer.actor("sam", key=1)
    for who in (rita, sam):
        await receive(app, client, peer.activity("Follow", who, hall.actor["uri"]), who)
    assert await communities.members_count(db.pool, hall.id) == 0 and await _jobs(db.pool) == []
    path = f"/api/v1/communities/{hall.id}/join_requests"
    pending = await checked(client.get(path, headers=alice.headers), "account")
    assert {a["acct"] for a in pending} == {f"rita@{peer.host}", f"sam@{peer.host}"}
    rita_id, sam_id = (await row_of(app, rita))["id"], (await row_of(app, sam))["id"]
    assert (await client.post(f"{path}/{rita_id}/authorize", headers=alice.headers)).status_code == 200
    assert (await client.post(f"{path}/{sam_id}/reject", headers=alice.headers)).status_code == 200
    assert await communities.members_count(db.pool, hall.id) == 1
    assert [j["activity"]["type"] for j in await _jobs(db.pool)] == ["Accept", "Reject"]
    log = await db.pool.fetch("SELECT action FROM organization_audit_log WHERE organization_id = $1", hall.id)
    assert {e["action"] for e in log} == {"hall_create", "hall_approve_join", "hall_reject_join"}


async def test_a_ban_blocks_the_member_who_cannot_rejoin_until_unbanned(
    app: Starlette, client: httpx.AsyncClient, db: Database, urls: LocalUrls, peer: FakePeer
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    hall = await make_hall(db.pool, urls, alice.actor)
    rita = peer.actor("rita")
    await receive(app, client, peer.activity("Follow", rita, hall.actor["uri"]), rita)
    rita_id = (await row_of(app, rita))["id"]
    bans = f"/api/v1/communities/{hall.id}/bans"
    assert (await client.post(bans, json={"account_id": rita_id}, headers=bob.headers)).status_code == 403
    response = await client.post(bans, json={"account_id": rita_id, "reason": "spam"}, headers=alice.headers)
    assert response.status_code == 200
    assert await communities.members_count(db.pool, hall.id) == 0
    listed = (await client.get(bans, headers=alice.headers)).json()
    assert [(b["account"]["id"], b["reason"]) for b in listed] == [(str(rita_id), "spam")]
    # a new Follow meets the hall's block: Reject, as Mastodon answers a blocked follower
    await receive(app, client, peer.activity("Follow", rita, hall.actor["uri"]), rita)
    assert await communities.members_count(db.pool, hall.id) == 0
    assert [j["activity"]["type"] for j in await _jobs(db.pool)] == ["Accept", "Block", "Reject"]
    assert (await client.delete(f"{bans}/{rita_id}", headers=alice.headers)).status_code == 200
    assert [j["activity"]["type"] for j in await _jobs(db.pool)][-1] == "Undo"
    # moderators cannot be banned
    response = await client.post(bans, json={"account_id": alice.id}, headers=alice.headers)
    assert response.status_code == 422


async def test_moderators_are_added_and_removed_but_one_always_stays(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    hall = await make_hall(db.pool, urls, alice.actor)
    path = f"/api/v1/communities/{hall.id}/moderators"
    assert (await client.post(path, json={"account_id": alice.id}, headers=bob.headers)).status_code == 403
    mods = await checked(client.post(path, json={"account_id": bob.id}, headers=alice.headers), "account")
    assert {m["id"] for m in mods} == {alice.account_id, bob.account_id}
    # bob, now a moderator, removes alice; then cannot remove himself, the last one
    assert (await client.delete(f"{path}/{alice.id}", headers=bob.headers)).status_code == 200
    assert (await client.delete(f"{path}/{bob.id}", headers=bob.headers)).status_code == 422
    assert [m["id"] for m in await communities.moderators(db.pool, hall.id)] == [bob.id]
    assert (
        await client.patch(f"/api/v1/communities/{hall.id}", json={"title": "x"}, headers=alice.headers)
    ).status_code == 403


# ---- posts: relay, removal, pins --------------------------------------------------------------------------
async def test_a_members_post_is_announced_both_ways_and_reaches_members_home_feeds(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, carol = [await member(db, urls, n) for n in ("alice", "bob", "carol")]
    hall = await make_hall(db.pool, urls, alice.actor)
    for who in (bob, carol):
        await follows.follow(db.pool, who.actor, hall.actor)  # local members join
    remote = await factories.remote_actor(db.pool, "rita")
    await follows.follow(db.pool, remote, hall.actor)  # and a remote one (rows only)
    post = await checked(
        client.post("/api/v1/statuses", json={"status": "@hall7 new lathe for sale"}, headers=bob.headers), "status"
    )
    row = await db.pool.fetchrow("SELECT * FROM statuses WHERE id = $1", int(post["id"]))
    assert communities.hall_of(row) == hall.id and communities.hall_of({"id": 1}) is None
    # carol (a member, not following bob) has the thread in her home timeline, as the hall's boost
    home = await checked(client.get("/api/v1/timelines/home", headers=carol.headers), "status")
    assert [(s["account"]["acct"], s["reblog"]["id"]) for s in home] == [("hall7", post["id"])]
    # the remote member's server gets the wrapped Create (unchanged) and the plain boost
    jobs = [j for j in await _jobs(db.pool) if j["inbox"] == "https://remote.example/inbox"]
    wrapped, plain = (j["activity"] for j in jobs)
    assert wrapped["type"] == "Announce" and wrapped["actor"] == hall.actor["uri"]
    assert wrapped["object"]["type"] == "Create" and wrapped["object"]["object"]["id"] == row["uri"]
    assert wrapped["object"]["object"]["audience"] == hall.actor["uri"]
    assert plain["type"] == "Announce" and plain["object"] == row["uri"]
    # a non-member's post mentioning the hall is not relayed
    dave = await member(db, urls, "dave")
    await client.post("/api/v1/statuses", json={"status": "@hall7 cheap watches"}, headers=dave.headers)
    assert len([j for j in await _jobs(db.pool) if j["inbox"] == "https://remote.example/inbox"]) == 2
    assert await db.pool.fetchval("SELECT count(*) FROM statuses WHERE community_id = $1", hall.id) == 2  # post, boost


async def test_a_moderator_removes_a_post_and_pins_another(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    hall = await make_hall(db.pool, urls, alice.actor)
    await follows.follow(db.pool, bob.actor, hall.actor)
    await follows.follow(db.pool, await factories.remote_actor(db.pool, "rita"), hall.actor)
    first = await factories.post(db.pool, urls, bob.actor, "@hall7 first")
    second = await factories.post(db.pool, urls, bob.actor, "@hall7 second")
    base = f"/api/v1/communities/{hall.id}/statuses"
    assert (await client.delete(f"{base}/{first}", headers=bob.headers)).status_code == 403
    assert (await client.delete(f"{base}/{first}?reason=off+topic", headers=alice.headers)).status_code == 200
    row = await db.pool.fetchrow("SELECT * FROM statuses WHERE id = $1", first)
    assert row is not None and row["community_id"] is None  # bob keeps his post; it left the hall
    assert not await db.pool.fetchval("SELECT 1 FROM statuses WHERE reblog_of_id = $1", first)
    removal = (await _jobs(db.pool))[-1]["activity"]
    assert removal["type"] == "Announce" and removal["object"]["type"] == "Delete"
    assert removal["object"]["object"] == row["uri"] and removal["object"]["actor"] == alice.actor["uri"]
    assert removal["object"]["summary"] == "off topic"
    # pinning
    pinned = await checked(client.post(f"{base}/{second}/pin", headers=alice.headers), "status")
    assert pinned["id"] == str(second)
    featured = (await client.get("/c/hall7/collections/featured", headers={"Accept": AS2})).json()
    second_uri = await db.pool.fetchval("SELECT uri FROM statuses WHERE id = $1", second)
    assert featured["orderedItems"] == [second_uri]
    assert (await _jobs(db.pool))[-1]["activity"]["type"] == "Add"
    threads = await checked(client.get(base), "status")
    assert [s["id"] for s in threads] == [str(second)]
    log = await db.pool.fetch("SELECT action FROM organization_audit_log WHERE organization_id = $1", hall.id)
    assert {"hall_remove_post", "hall_pin"} <= {e["action"] for e in log}


async def test_moderation_as_an_organization_needs_a_managing_role(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    from tests.support.teams import make_team

    team = await make_team(db, urls)
    hall = await make_hall(db.pool, urls, team.org)
    bob = await member(db, urls, "bob")
    await follows.follow(db.pool, bob.actor, hall.actor)
    post = await factories.post(db.pool, urls, bob.actor, "@hall7 hello")
    path = f"/api/v1/communities/{hall.id}/statuses/{post}/pin"
    assert (await client.post(path, headers=team["eddie"].as_org)).status_code == 403  # an editor
    assert (await client.post(path, headers=team["mia"].as_org)).status_code == 200  # a manager


# ---- pages ------------------------------------------------------------------------------------------------
async def test_the_hall_page_feed_and_list(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    await _create(client, alice)
    hall = await communities.find_hall(db.pool, "hall7")
    assert hall is not None
    await follows.follow(db.pool, bob.actor, hall.actor)
    await factories.post(db.pool, urls, bob.actor, "@hall7 We exhibit the new press")
    await factories.post(db.pool, urls, bob.actor, "@hall7 only for my followers", visibility="private")
    page = await client.get("/c/hall7", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    shown = ("Hall 7: machinery", "Machine builders", "No spam", "Bavaria", "exhibit the new press")
    for text in (*shown, "<li><strong>1</strong> member</li>"):  # bob; never "1 members"
        assert text in page.text
    assert "only for my followers" not in page.text
    feed = await client.get("/c/hall7.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert "exhibit the new press" in feed.text and "only for my followers" not in feed.text
    listing = await client.get("/communities?sector=C")
    assert listing.status_code == 200 and "Hall 7: machinery" in listing.text
    assert '<span class="badge">1 member</span>' in listing.text
    assert "Hall 7: machinery" not in (await client.get("/communities?sector=F")).text
    assert (await client.get("/c/nohall")).status_code == 404
    assert (await client.get("/c/nohall.atom")).status_code == 404
    api_list = await checked(client.get("/api/v1/communities?q=machinery"), "community")
    assert [h["name"] for h in api_list] == ["hall7"]


async def test_direct_domain_calls_check_the_moderator(db: Database, urls: LocalUrls) -> None:
    alice = await factories.local_actor(db.pool, urls, "alice")
    bob = await factories.local_actor(db.pool, urls, "bob")
    hall = await make_hall(db.pool, urls, alice)
    from fediverse_biz.core.errors import DomainError

    with pytest.raises(DomainError) as refused:
        await hall_moderation.ban(db.pool, hall.id, await acting(db.pool, bob), alice["id"])
    assert refused.value.status == 403
    admin = Acting(bob["id"], int(await db.pool.fetchval("SELECT id FROM users WHERE actor_id = $1", bob["id"])), True)
    await hall_moderation.add_moderator(db.pool, hall.id, admin, bob["id"])  # same-server admins may act
    assert await communities.is_moderator(db.pool, hall.id, bob["id"])
