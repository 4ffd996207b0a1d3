"""Accepting and removing contributors on other servers (api/teams.py, business/remote_contributors.py):
owners and managers do it, by handle (WebFinger) or actor URI, and the audit log records both.

The remote accounts live on a FakePeer (tests/support/peers.py) that also answers WebFinger.
"""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import peers
from tests.support.peers import FakePeer, PeerActor
from tests.support.social import error, member
from tests.support.teams import Team, make_team

peer = peers.peer  # the fixture: a running FakePeer


@pytest.fixture
async def team(db: Database, urls: LocalUrls, app: Starlette) -> Team:
    return await make_team(db, urls)


@pytest.fixture
def bob(peer: FakePeer) -> PeerActor:
    actor = peer.actor("bob")
    jrd = {
        "subject": f"acct:bob@{peer.host}",
        "links": [{"rel": "self", "type": "application/activity+json", "href": actor.uri}],
    }
    peer.serve(f"{peer.base}/.well-known/webfinger", jrd)
    return actor


async def audit_actions(db: Database, team: Team) -> list[tuple[str, str, str]]:
    rows = await db.pool.fetch(
        "SELECT action, username, target FROM organization_audit_log WHERE organization_id = $1 ORDER BY id",
        team.id,
    )
    return [(r["action"], r["username"], r["target"]) for r in rows if "remote" in r["action"]]


async def test_a_manager_accepts_an_account_by_handle_and_removes_it(
    client: httpx.AsyncClient, db: Database, team: Team, peer: FakePeer, bob: PeerActor
) -> None:
    # when mia, a manager, accepts @bob@peer, to be published unlisted
    added = await client.post(
        team.path("/remote_contributors"),
        data={"account": f"@bob@{peer.host}", "visibility": "unlisted"},
        headers=team["mia"].personal,
    )
    assert added.status_code == 200, added.text
    entry = added.json()
    assert entry["account"]["acct"] == f"bob@{peer.host}" and entry["visibility"] == "unlisted"
    # then every member sees it in the list
    listed = await client.get(team.path("/remote_contributors"), headers=team["carl"].as_org)
    assert [e["account"]["id"] for e in listed.json()] == [entry["account"]["id"]]
    # and accepting it twice is a conflict
    await error(
        client.post(team.path("/remote_contributors"), data={"account": bob.uri}, headers=team["alice"].as_org), 409
    )
    # when mia removes it
    removed = await client.delete(
        team.path(f"/remote_contributors/{entry['account']['id']}"), headers=team["mia"].personal
    )
    assert removed.status_code == 200 and removed.json() == {}
    assert (await client.get(team.path("/remote_contributors"), headers=team["carl"].as_org)).json() == []
    await error(
        client.delete(team.path(f"/remote_contributors/{entry['account']['id']}"), headers=team["mia"].personal), 404
    )
    # and the log says who did both
    handle = f"@bob@{peer.host}"
    assert await audit_actions(db, team) == [
        ("add_remote_contributor", "mia", handle),
        ("remove_remote_contributor", "mia", handle),
    ]


async def test_an_owner_accepts_by_actor_uri_with_the_public_audience_by_default(
    client: httpx.AsyncClient, team: Team, bob: PeerActor
) -> None:
    added = await client.post(
        team.path("/remote_contributors"), data={"account": bob.uri}, headers=team["alice"].as_org
    )
    assert added.status_code == 200, added.text
    assert added.json()["visibility"] == "public"


@pytest.mark.parametrize("who", ["eddie", "carl"])
async def test_editors_and_contributors_may_not_accept_or_remove(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, team: Team, bob: PeerActor, who: str
) -> None:
    await error(
        client.post(team.path("/remote_contributors"), data={"account": bob.uri}, headers=team[who].as_org), 403
    )
    added = await client.post(
        team.path("/remote_contributors"), data={"account": bob.uri}, headers=team["mia"].personal
    )
    account_id = added.json()["account"]["id"]
    await error(client.delete(team.path(f"/remote_contributors/{account_id}"), headers=team[who].personal), 403)
    # nor may someone outside the team, even to look
    stranger = await member(db, urls, "stranger")
    await error(client.get(team.path("/remote_contributors"), headers=stranger.headers), 403)
    assert len((await client.get(team.path("/remote_contributors"), headers=team[who].as_org)).json()) == 1


@pytest.mark.parametrize(
    "data",
    [
        {"account": "@carl@127.0.0.1"},  # a local account joins the team as a member instead
        {"account": "http://127.0.0.1/users/carl"},
        {"account": "@nobody@127.0.0.1:1"},  # nobody answers there
        {"account": ""},
        {"account": "bob"},  # no host
        {"account": "{bob}", "visibility": "direct"},  # the organization would whisper to strangers
    ],
)
async def test_what_cannot_be_accepted(
    client: httpx.AsyncClient, team: Team, bob: PeerActor, data: dict[str, str]
) -> None:
    data = {key: value.format(bob=bob.uri) for key, value in data.items()}
    await error(client.post(team.path("/remote_contributors"), data=data, headers=team["alice"].as_org), 422)
    assert (await client.get(team.path("/remote_contributors"), headers=team["alice"].as_org)).json() == []
