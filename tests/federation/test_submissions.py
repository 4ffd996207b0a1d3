"""Submissions from contributors on other servers (business/submissions.py, business/remote_contributors.py):
a direct post to an organization marked #submission, from an account the organization accepted, waits in
the review queue and is published by the organization when approved; from anyone else it is a message.

bob, on a FakePeer (tests/support/peers.py), signs and delivers as Mastodon shapes a "mentioned people
only" post; the real worker runs the inbox job. acme's team is tests/support/teams.py's.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import html5lib
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.business import approvals, remote_contributors, submissions
from fediverse_biz.db.database import Database
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.factories import deliveries
from tests.support.inbound import receive, row_of
from tests.support.mastodon_client import parse_page
from tests.support.peers import FakePeer, PeerActor, deliver
from tests.support.social import checked
from tests.support.teams import Team, make_team

TEXT = "Our new widget ships on Monday. Details: https://widgets.example/monday"


@pytest.fixture
async def team(db: Database, urls: LocalUrls, app: Starlette) -> Team:
    return await make_team(db, urls)


@pytest.fixture
def bob(peer: FakePeer) -> PeerActor:
    return peer.actor("bob")


async def accept(app: Starlette, team: Team, actor: PeerActor, visibility: str = "public") -> asyncpg.Record:
    row = await row_of(app, actor)
    await remote_contributors.add(services(app).pool, team.id, team["mia"].user_id, row, visibility)
    return row


def mastodon_dm(
    peer: FakePeer,
    author: PeerActor,
    org: asyncpg.Record,
    text: str = TEXT,
    *,
    marker: bool = True,
    to: list[str] | None = None,
    cc: list[str] | None = None,
    mentions: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Create as Mastodon sends `@acme@127.0.0.1 #submission <text>` written "mentioned people only"."""
    mention = (
        f'<span class="h-card" translate="no"><a href="{org["url"]}" class="u-url mention">'
        f"@<span>{org['username']}</span></a></span>"
    )
    hashtag = f'<a href="{peer.base}/tags/submission" class="mention hashtag" rel="tag">#<span>submission</span></a>'
    content = f"<p>{mention} {hashtag if marker else ''}</p><p>{text}</p>"
    tags: list[dict[str, Any]] = [
        {"type": "Mention", "href": uri, "name": f"@{org['username']}@127.0.0.1"} for uri in mentions or [org["uri"]]
    ]
    if marker:
        tags.append({"type": "Hashtag", "href": f"{peer.base}/tags/submission", "name": "#submission"})
    addressed = to if to is not None else [org["uri"]]
    note = peer.note(author, content, to=addressed, cc=cc or [], tag=tags, **extra)
    return peer.activity("Create", author, note, to=note["to"], cc=note["cc"])


async def queued(pool: asyncpg.Pool, org_id: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT s.*, sub.actor_id AS submitted_by, sub.object_uri FROM statuses s
             JOIN organization_submissions sub ON sub.status_id = s.id
            WHERE s.actor_id = $1 AND s.approval_state = 'pending' ORDER BY s.id""",
        org_id,
    )


async def stored_as_message(pool: asyncpg.Pool, note: dict[str, Any]) -> bool:
    return bool(await pool.fetchval("SELECT 1 FROM statuses WHERE uri = $1 AND NOT local", note["id"]))


# ---- what is a submission ----------------------------------------------------------------------------
async def test_a_contributors_direct_post_marked_submission_waits_in_the_queue(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor
) -> None:
    pool = services(app).pool
    bob_row = await accept(app, team, bob)
    create = mastodon_dm(peer, bob, team.org)
    record = await receive(app, client, create, bob)
    assert record["error"] is None and record["processed_at"] is not None
    [held] = await queued(pool, team.id)
    # a held post of the organization, with the remote author recorded; the text is the submission's
    # without its addressing, and names the author
    assert held["local"] and held["created_by_user_id"] is None and held["submitted_by"] == bob_row["id"]
    assert held["object_uri"] == create["object"]["id"] and held["visibility"] == "public"
    assert held["source_text"] == f"{TEXT}\n\nContributed by @bob@{peer.host}"
    assert "#submission" not in held["content"] and "widgets.example/monday" in held["content"]
    # nothing else happened: no message stored, no notification, no delivery
    assert not await stored_as_message(pool, create["object"])
    assert await pool.fetchval("SELECT count(*) FROM notifications") == 0
    assert await deliveries(pool) == []
    # reviewers see it in the queue, with who sent it
    body = await checked(client.get(team.path("/pending_statuses"), headers=team["mia"].personal), "status")
    assert [s["id"] for s in body] == [str(held["id"])]
    extension = body[0]["fediverse_biz"]
    assert extension["written_by"] is None
    assert extension["submitted_by"]["account"]["acct"] == f"bob@{peer.host}"
    assert extension["submitted_by"]["uri"] == create["object"]["id"]
    # and so does the review page
    login = parse_page((await client.get("/session/login?next=/review/acme")).text).forms[0]
    await client.post(login.action, data={**login.hidden(), "login": "mia", "password": PASSWORD})
    page = await client.get("/review/acme")
    html5lib.HTMLParser(strict=True).parse(page.text)
    assert f"@bob@{peer.host}" in page.text and "Submitted from another server" in page.text
    assert f"/review/acme/{held['id']}/approve" in page.text


async def test_redelivery_queues_nothing_twice(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor
) -> None:
    await accept(app, team, bob)
    create = mastodon_dm(peer, bob, team.org)
    await receive(app, client, create, bob)
    # the same activity again, and the same post under another activity id (a second inbox)
    await deliver(client, create, bob)
    again = {**create, "id": f"{create['id']}-again"}
    await receive(app, client, again, bob)
    assert len(await queued(services(app).pool, team.id)) == 1


async def test_a_strangers_identical_message_is_an_ordinary_one(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor
) -> None:
    pool = services(app).pool
    create = mastodon_dm(peer, bob, team.org)
    await receive(app, client, create, bob)
    assert await queued(pool, team.id) == []
    assert await stored_as_message(pool, create["object"])
    assert await pool.fetchval("SELECT type FROM notifications WHERE actor_id = $1", team.id) == "mention"


async def test_a_removed_contributors_later_message_is_an_ordinary_one(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor
) -> None:
    pool = services(app).pool
    bob_row = await accept(app, team, bob)
    first = mastodon_dm(peer, bob, team.org, "Before the end of our contract")
    await receive(app, client, first, bob)
    await remote_contributors.remove(pool, team.id, team["alice"].user_id, bob_row["id"])
    later = mastodon_dm(peer, bob, team.org, "After the end of our contract")
    await receive(app, client, later, bob)
    # what was sent while accepted stays for the reviewers; the later one is a message
    [held] = await queued(pool, team.id)
    assert held["object_uri"] == first["object"]["id"]
    assert await stored_as_message(pool, later["object"])


@pytest.mark.parametrize(
    "shape",
    ["no marker", "public", "unlisted", "followers", "also to someone else", "mentions someone else"],
)
async def test_only_a_direct_post_to_the_organization_alone_with_the_marker_is_a_submission(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor, shape: str
) -> None:
    await accept(app, team, bob)
    org, other = team.org, team["carl"].actor["uri"]
    shaped: dict[str, dict[str, Any]] = {
        "no marker": {"marker": False},
        "public": {"to": [PUBLIC], "cc": [org["uri"]]},
        "unlisted": {"to": [bob.followers], "cc": [PUBLIC, org["uri"]]},
        "followers": {"to": [bob.followers, org["uri"]]},
        "also to someone else": {"to": [org["uri"], other]},
        "mentions someone else": {"to": [org["uri"], other], "mentions": [org["uri"], other]},
    }
    create = mastodon_dm(peer, bob, org, **shaped[shape])
    await receive(app, client, create, bob)
    assert await queued(services(app).pool, team.id) == []
    assert await stored_as_message(services(app).pool, create["object"])


async def test_the_text_alone_carries_the_marker_for_servers_that_send_no_hashtag_tag(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor
) -> None:
    await accept(app, team, bob)
    note = peer.note(
        bob,
        "<p>Spring catalogue is ready #submission @acme@127.0.0.1</p>",
        to=[team.org["uri"]],
        cc=[],
        tag=[{"type": "Mention", "href": team.org["uri"], "name": "@acme@127.0.0.1"}],
    )
    await receive(app, client, peer.activity("Create", bob, note), bob)
    [held] = await queued(services(app).pool, team.id)
    assert held["source_text"] == f"Spring catalogue is ready\n\nContributed by @bob@{peer.host}"


async def test_a_submission_cannot_choose_the_audience_the_organization_allows(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor, urls: LocalUrls
) -> None:
    # given bob accepted for followers-only publication
    await accept(app, team, bob, "private")
    # when he sends a submission that claims a public audience in every way a peer could
    create = mastodon_dm(peer, bob, team.org, visibility="public", directMessage=False)
    create["visibility"] = "public"
    await receive(app, client, create, bob)
    # then it is held followers-only, and published so
    [held] = await queued(services(app).pool, team.id)
    assert held["visibility"] == "private"
    new_id = await approvals.approve(services(app).pool, urls, team.id, held["id"], team["mia"].user_id)
    assert await services(app).pool.fetchval("SELECT visibility FROM statuses WHERE id = $1", new_id) == "private"
    # and a submission addressed to the public is no submission at all
    public = mastodon_dm(peer, bob, team.org, to=[PUBLIC], cc=[team.org["uri"]])
    await receive(app, client, public, bob)
    assert await queued(services(app).pool, team.id) == []


async def test_a_forged_actor_is_refused_at_the_door_and_nothing_is_queued(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor
) -> None:
    await accept(app, team, bob)
    eve = peer.actor("eve", key=1)
    # eve signs, with her own valid key, a submission that claims to be bob's
    response = await deliver(client, mastodon_dm(peer, bob, team.org), eve)
    assert response.status_code == 401
    assert await services(app).pool.fetchval("SELECT count(*) FROM inbox_activities") == 0
    assert await queued(services(app).pool, team.id) == []


async def test_a_submission_with_nothing_but_its_addressing_is_kept_as_a_message(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor
) -> None:
    await accept(app, team, bob)
    create = mastodon_dm(peer, bob, team.org, "")
    await receive(app, client, create, bob)
    assert await queued(services(app).pool, team.id) == []
    assert await stored_as_message(services(app).pool, create["object"])


async def test_deleting_the_post_withdraws_the_submission(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor
) -> None:
    await accept(app, team, bob)
    create = mastodon_dm(peer, bob, team.org)
    await receive(app, client, create, bob)
    delete = peer.activity("Delete", bob, {"id": create["object"]["id"], "type": "Tombstone"})
    await receive(app, client, delete, bob)
    assert await queued(services(app).pool, team.id) == []
    assert await services(app).pool.fetchval("SELECT count(*) FROM organization_submissions") == 0
    # and the Create delivered again later is not queued again
    await receive(app, client, {**create, "id": f"{create['id']}-late"}, bob)
    assert await queued(services(app).pool, team.id) == []


# ---- the review ----------------------------------------------------------------------------------
async def test_approval_publishes_it_as_the_organizations_post_naming_the_author(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor
) -> None:
    pool = services(app).pool
    bob_row = await accept(app, team, bob)
    await receive(app, client, mastodon_dm(peer, bob, team.org), bob)
    [held] = await queued(pool, team.id)
    approving = client.post(team.path(f"/pending_statuses/{held['id']}/approve"), headers=team["mia"].personal)
    published = await checked(approving, "status")
    assert published["account"]["id"] == str(team.id) and published["visibility"] == "public"
    assert [m["acct"] for m in published["mentions"]] == [f"bob@{peer.host}"]
    assert "Contributed by" in published["content"]
    # delivered to bob (the mention tells him it is out), and the submission follows the post
    sent = await deliveries(pool)
    assert sent and all(kind == "Create" for _, kind in sent)
    assert {bob_row["inbox_url"], bob_row["shared_inbox_url"]} & {inbox for inbox, _ in sent}
    assert await submissions.author_handle(pool, int(published["id"])) == f"@bob@{peer.host}"
    entry = await pool.fetchrow("SELECT * FROM organization_audit_log WHERE action = 'approve'")
    assert entry["details"]["author"] == f"@bob@{peer.host}"


async def test_rejection_publishes_nothing_and_answers_the_author_directly(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor
) -> None:
    pool = services(app).pool
    bob_row = await accept(app, team, bob)
    create = mastodon_dm(peer, bob, team.org)
    await receive(app, client, create, bob)
    [held] = await queued(pool, team.id)
    rejecting = client.post(
        team.path(f"/pending_statuses/{held['id']}/reject"),
        data={"reason": "We announce products ourselves: ask @carl"},
        headers=team["alice"].as_org,
    )
    rejected = await checked(rejecting, "status")
    assert rejected["fediverse_biz"]["approval_state"] == "rejected"
    # the only thing sent is a direct message from acme to bob, with the reason and his post's link
    answer = await pool.fetchrow("SELECT * FROM statuses WHERE actor_id = $1 AND visibility = 'direct'", team.id)
    assert answer["approval_state"] == "published" and answer["created_by_user_id"] == team["alice"].user_id
    assert (
        "We announce products ourselves" in answer["source_text"] and create["object"]["url"] in answer["source_text"]
    )
    # a handle in the reason mentions nobody: the message goes to bob alone
    mentioned = await pool.fetch("SELECT actor_id FROM status_mentions WHERE status_id = $1", answer["id"])
    assert [r["actor_id"] for r in mentioned] == [bob_row["id"]]
    [(inbox, kind)] = await deliveries(pool)
    assert kind == "Create" and inbox in (bob_row["inbox_url"], bob_row["shared_inbox_url"])
    entry = await pool.fetchrow("SELECT * FROM organization_audit_log WHERE action = 'reject'")
    assert entry["details"]["author"] == f"@bob@{peer.host}"


# ---- the text ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<p><span class="h-card"><a href="x" class="u-url mention">@<span>acme</span></a></span> hello</p>', "hello"),
        ("<p>@acme@biz.example #submission</p><p>line one<br>line two</p>", "line one\nline two"),
        ("<p>Thanks to @acme for this #Submission</p>", "Thanks to @acme for this"),
        (
            "<p>Working with @acme is great, @acme_corp too</p><p>#submission</p>",
            "Working with @acme is great, @acme_corp too",
        ),
        ("<p>my #submissions are here</p>", "my #submissions are here"),
    ],
)
def test_the_addressing_is_taken_out_of_the_text(html: str, expected: str) -> None:
    assert submissions.submission_text(html, "acme", "@bob@b.example") == f"{expected}\n\nContributed by @bob@b.example"


async def test_a_contributor_of_one_organization_is_a_stranger_to_another(
    app: Starlette,
    client: httpx.AsyncClient,
    db: Database,
    urls: LocalUrls,
    peer: FakePeer,
    team: Team,
    bob: PeerActor,
) -> None:
    await accept(app, team, bob)
    globex = await make_team(db, urls, "globex", {"gina": "owner"})
    create = mastodon_dm(peer, bob, globex.org)
    await receive(app, client, create, bob)
    assert await queued(services(app).pool, globex.id) == [] and await queued(services(app).pool, team.id) == []
    assert await stored_as_message(services(app).pool, create["object"])


async def test_a_manager_may_edit_a_submission_before_approving_it(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, team: Team, bob: PeerActor
) -> None:
    await accept(app, team, bob)
    await receive(app, client, mastodon_dm(peer, bob, team.org), bob)
    [held] = await queued(services(app).pool, team.id)
    edited_text = f"Widgets ship on Monday.\n\nContributed by @bob@{peer.host}"
    editing = client.put(f"/api/v1/statuses/{held['id']}", data={"status": edited_text}, headers=team["mia"].as_org)
    edited = await checked(editing, "status")
    assert edited["fediverse_biz"]["approval_state"] == "pending"
    # an editor, who does not see held posts, may not
    response = await client.put(f"/api/v1/statuses/{held['id']}", data={"status": "x"}, headers=team["eddie"].as_org)
    assert response.status_code == 404
    [still] = await queued(services(app).pool, team.id)
    assert still["source_text"] == edited_text
