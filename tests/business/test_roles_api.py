"""Every role limit on every endpoint that acts for an organization, and the audit log of who did what.

The expectations below are written out by hand (the table in docs/teams.md, "Roles"), not derived from
business/roles.py, so a wrong permission table fails here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from fediverse_biz.business import approvals, roles, teams
from fediverse_biz.core import follows, profiles
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.images import png
from tests.support.social import Member, member
from tests.support.teams import STAFF, Team, make_team

ROLES = ("owner", "manager", "editor", "contributor")
NOBODY: frozenset[str] = frozenset()
CONTRIBUTORS = frozenset({"contributor"})
BELOW_MANAGER = frozenset({"editor", "contributor"})
BELOW_OWNER = frozenset({"manager", "editor", "contributor"})


@dataclass
class World:
    team: Team
    bob: Member  # someone outside the team, who follows it
    fay: Member  # someone who asked to follow it
    others_post: str  # published by the editor, for the organization
    contributors_published: str  # carl's post, approved
    held: str  # carl's post awaiting review
    bobs_post: str
    nina: int  # user id of a contributor everyone may try to change
    otto: int  # user id of a second owner


async def build(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> World:
    team = await make_team(db, urls, staff={**STAFF, "nina": "contributor", "otto": "owner"})
    bob = await member(db, urls, "bob")
    post = await _post(client, team["eddie"].as_org, "From the editor")
    published = await _post(client, team["carl"].as_org, "Approved contribution")
    new_id = await approvals.approve(db.pool, urls, team.id, int(published), team["alice"].user_id)
    held = await _post(client, team["carl"].as_org, "Waiting contribution")
    bobs = await _post(client, bob.headers, "Bob's news")
    # pinned and boosted already, so that unpin / unreblog / unfavourite have something to undo
    for verb in ("pin", "reblog"):
        assert (await client.post(f"/api/v1/statuses/{post}/{verb}", headers=team["alice"].as_org)).status_code == 200
    assert (await client.post(f"/api/v1/statuses/{bobs}/favourite", headers=team["alice"].as_org)).status_code == 200
    # bob follows acme (so it can remove him); then acme locks and fay asks (a request to answer)
    await follows.follow(db.pool, bob.actor, team.org)
    fay = await member(db, urls, "fay")
    locked = await db.pool.fetchrow("UPDATE actors SET locked = true WHERE id = $1 RETURNING *", team.id)
    await follows.follow(db.pool, fay.actor, locked)
    assert await db.pool.fetchval("SELECT 1 FROM follow_requests WHERE actor_id = $1", fay.id)
    return World(team, bob, fay, post, str(new_id), held, bobs, team["nina"].user_id, team["otto"].user_id)


async def _post(client: httpx.AsyncClient, headers: dict[str, str], text: str) -> str:
    response = await client.post("/api/v1/statuses", data={"status": text}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


Call = Callable[[httpx.AsyncClient, World, dict[str, str]], Awaitable[httpx.Response]]


def post_to(path: Callable[[World], str], **data: str) -> Call:
    async def call(client: httpx.AsyncClient, world: World, headers: dict[str, str]) -> httpx.Response:
        return await client.post(path(world), data=data, headers=headers)

    return call


def request(method: str, path: Callable[[World], str], **data: str) -> Call:
    async def call(client: httpx.AsyncClient, world: World, headers: dict[str, str]) -> httpx.Response:
        if method == "GET":
            return await client.get(path(world), headers=headers)
        return await client.request(method, path(world), data=data or None, headers=headers)

    return call


async def upload(client: httpx.AsyncClient, world: World, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/api/v2/media", files={"file": ("a.png", png(), "image/png")}, headers=headers)


def status(world: World, which: str, verb: str = "") -> str:
    return f"/api/v1/statuses/{getattr(world, which)}" + (f"/{verb}" if verb else "")


def account(verb: str) -> Callable[[World], str]:
    return lambda w: f"/api/v1/accounts/{w.bob.id}/{verb}"


def org(tail: str) -> Callable[[World], str]:
    return lambda w: w.team.path(tail.format(held=w.held, nina=w.nina, otto=w.otto))


# (name, roles that must get 403, the call made with a token acting as the organization)
ACTIONS: list[tuple[str, frozenset[str], Call]] = [
    ("post", NOBODY, post_to(lambda w: "/api/v1/statuses", status="Hello")),
    ("upload media", NOBODY, upload),
    ("bookmark", NOBODY, post_to(lambda w: status(w, "bobs_post", "bookmark"))),
    ("edit another's post", CONTRIBUTORS, request("PUT", lambda w: status(w, "others_post"), status="Changed")),
    ("delete another's post", CONTRIBUTORS, request("DELETE", lambda w: status(w, "others_post"))),
    (
        "edit own published post",
        CONTRIBUTORS,
        request("PUT", lambda w: status(w, "contributors_published"), status="x"),
    ),
    ("favourite", CONTRIBUTORS, post_to(lambda w: status(w, "bobs_post", "favourite"))),
    ("unfavourite", CONTRIBUTORS, post_to(lambda w: status(w, "bobs_post", "unfavourite"))),
    ("reblog", CONTRIBUTORS, post_to(lambda w: status(w, "bobs_post", "reblog"))),
    ("unreblog", CONTRIBUTORS, post_to(lambda w: status(w, "others_post", "unreblog"))),
    ("pin", CONTRIBUTORS, post_to(lambda w: status(w, "contributors_published", "pin"))),
    ("unpin", CONTRIBUTORS, post_to(lambda w: status(w, "others_post", "unpin"))),
    ("follow", CONTRIBUTORS, post_to(account("follow"))),
    ("unfollow", CONTRIBUTORS, post_to(account("unfollow"))),
    ("authorize follow request", CONTRIBUTORS, post_to(lambda w: f"/api/v1/follow_requests/{w.fay.id}/authorize")),
    ("reject follow request", CONTRIBUTORS, post_to(lambda w: f"/api/v1/follow_requests/{w.fay.id}/reject")),
    ("block", BELOW_MANAGER, post_to(account("block"))),
    ("unblock", BELOW_MANAGER, post_to(account("unblock"))),
    ("mute", BELOW_MANAGER, post_to(account("mute"))),
    ("unmute", BELOW_MANAGER, post_to(account("unmute"))),
    ("remove from followers", BELOW_MANAGER, post_to(account("remove_from_followers"))),
    ("edit profile", BELOW_MANAGER, request("PATCH", lambda w: "/api/v1/accounts/update_credentials", note="New")),
    ("see the queue", NOBODY, request("GET", org("/pending_statuses"))),
    ("approve", BELOW_MANAGER, post_to(org("/pending_statuses/{held}/approve"))),
    ("reject", BELOW_MANAGER, post_to(org("/pending_statuses/{held}/reject"), reason="No")),
    ("list members", NOBODY, request("GET", org("/members"))),
    ("add a member", BELOW_MANAGER, post_to(org("/members"), username="bob", role="editor")),
    ("change a role", BELOW_MANAGER, request("PATCH", org("/members/{nina}"), role="editor")),
    ("remove a member", BELOW_MANAGER, request("DELETE", org("/members/{nina}"))),
    ("invite", BELOW_MANAGER, post_to(org("/invitations"), role="contributor")),
    ("list invitations", BELOW_MANAGER, request("GET", org("/invitations"))),
    ("read the audit log", BELOW_MANAGER, request("GET", org("/audit_log"))),
    ("invite an owner", BELOW_OWNER, post_to(org("/invitations"), role="owner")),
    ("make an owner", BELOW_OWNER, request("PATCH", org("/members/{nina}"), role="owner")),
    ("demote an owner", BELOW_OWNER, request("PATCH", org("/members/{otto}"), role="manager")),
    ("remove an owner", BELOW_OWNER, request("DELETE", org("/members/{otto}"))),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "forbidden", "call"), ACTIONS, ids=[a[0] for a in ACTIONS])
async def test_each_role_limit(
    client: httpx.AsyncClient,
    db: Database,
    urls: LocalUrls,
    role: str,
    name: str,
    forbidden: frozenset[str],
    call: Call,
) -> None:
    # given an organization with one member per role, when each acts for it
    world = await build(client, db, urls)
    response = await call(client, world, world.team.of_role(role).as_org)
    # then exactly the roles without the permission are refused, and the others succeed
    if role in forbidden:
        assert response.status_code == 403, f"{name} as {role}: {response.status_code} {response.text[:300]}"
        assert response.json()["error"]
    else:
        assert response.status_code == 200, f"{name} as {role}: {response.status_code} {response.text[:300]}"


async def test_a_refused_action_changes_nothing(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    world = await build(client, db, urls)
    carl = world.team["carl"]
    assert (await client.post(f"/api/v1/accounts/{world.bob.id}/follow", headers=carl.as_org)).status_code == 403
    assert not await db.pool.fetchval("SELECT 1 FROM follows WHERE actor_id = $1", world.team.id)
    assert (await client.delete(status(world, "others_post"), headers=carl.as_org)).status_code == 403
    assert await db.pool.fetchval("SELECT 1 FROM statuses WHERE id = $1", int(world.others_post))
    # his personal account is his own: no team role limits it
    assert (await client.post(f"/api/v1/accounts/{world.bob.id}/follow", headers=carl.personal)).status_code == 200


async def test_a_contributor_edits_and_deletes_own_held_post(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    world = await build(client, db, urls)
    carl, eddie = world.team["carl"], world.team["eddie"]
    edited = await client.put(status(world, "held"), data={"status": "Reworded"}, headers=carl.as_org)
    assert edited.status_code == 200 and edited.json()["fediverse_biz"]["approval_state"] == "pending"
    # the editor acts as the same organization but may not see someone's held post
    assert (await client.delete(status(world, "held"), headers=eddie.as_org)).status_code == 404
    assert (await client.delete(status(world, "held"), headers=carl.as_org)).status_code == 200


def test_the_permission_table_agrees_with_the_profile_rule() -> None:
    # core.profiles enforces profile edits itself; both must name the same roles
    assert {r.value for r in roles.PERMISSIONS[roles.Permission.PROFILE]} == set(profiles.PROFILE_EDITORS)
    assert roles.allows(None, roles.Permission.OWNERS)  # a personal account is not limited
    assert not roles.member_may(None, roles.Permission.POST)  # but "no role" in a team is no member


# ---- the audit log -------------------------------------------------------------------------------
async def test_the_audit_log_names_who_did_what(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    team = await make_team(db, urls)
    bob = await member(db, urls, "bob")
    alice, mia, eddie, carl = (team[n] for n in ("alice", "mia", "eddie", "carl"))
    post = await _post(client, eddie.as_org, "Editor's news")
    await client.put(f"/api/v1/statuses/{post}", data={"status": "Editor's news, edited"}, headers=mia.as_org)
    await client.post(f"/api/v1/statuses/{post}/reblog", headers=eddie.as_org)
    await client.delete(f"/api/v1/statuses/{post}", headers=alice.as_org)
    held = await _post(client, carl.as_org, "Contribution")
    other = await _post(client, carl.as_org, "Another contribution")
    await client.post(team.path(f"/pending_statuses/{held}/approve"), headers=mia.personal)
    await client.post(
        team.path(f"/pending_statuses/{other}/reject"), data={"reason": "Off topic"}, headers=alice.as_org
    )
    await client.post(f"/api/v1/accounts/{bob.id}/follow", headers=eddie.as_org)
    await client.post(f"/api/v1/accounts/{bob.id}/unfollow", headers=eddie.as_org)
    await client.post(f"/api/v1/accounts/{bob.id}/block", headers=mia.as_org)
    await client.patch("/api/v1/accounts/update_credentials", data={"note": "Anvils"}, headers=alice.as_org)
    await client.patch(team.path(f"/members/{carl.user_id}"), data={"role": "editor"}, headers=mia.personal)
    invitation = (await client.post(team.path("/invitations"), data={"role": "editor"}, headers=alice.personal)).json()
    await client.post(f"/api/v1/invitations/{invitation['token']}/accept", headers=bob.headers)
    await client.delete(team.path(f"/members/{bob.user.user_id}"), headers=mia.personal)
    await _post(client, bob.headers, "my own post, not the company's")  # personal: not in the log

    response = await client.get(team.path("/audit_log?limit=80"), headers=mia.personal)
    log = [(e["action"], e["user"]["username"]) for e in reversed(response.json())]
    assert log == [
        *[("add_member", "alice")] * 3,  # make_team
        ("post", "eddie"),
        ("edit", "mia"),
        ("boost", "eddie"),
        ("delete", "alice"),
        ("post", "carl"),
        ("post", "carl"),
        ("approve", "mia"),
        ("reject", "alice"),
        ("follow", "eddie"),
        ("unfollow", "eddie"),
        ("block", "mia"),
        ("profile_update", "alice"),
        ("role_change", "mia"),
        ("invite", "alice"),
        ("accept_invitation", "bob"),
        ("remove_member", "mia"),
    ]
    entries = {e["action"]: e for e in response.json()}
    assert entries["reject"]["details"]["reason"] == "Off topic" and entries["reject"]["details"]["author"] == "carl"
    assert entries["role_change"]["details"] == {"from": "contributor", "to": "editor"}
    assert entries["role_change"]["target"] == "carl" and entries["follow"]["target"] == "bob"
    assert entries["approve"]["user"]["account_id"] == str(mia.actor["id"])
    # paged like every Mastodon list
    first = await client.get(team.path("/audit_log?limit=5"), headers=mia.personal)
    assert len(first.json()) == 5 and 'rel="next"' in first.headers["link"]
    assert (await teams.member_role(db.pool, team.id, bob.user.user_id)) is None
