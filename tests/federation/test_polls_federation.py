"""Polls over ActivityPub against a simulated peer (tests/support/peers.py): a real Mastodon Question
(tests/fixtures/federation/mastodon/create_question.json, rewritten to the peer) is shown and voted on,
the vote leaves as a Create(Note) to the author only; votes on our polls arrive as Create(Note), are
counted once and never stored as replies, and our Update(Question) carries the counts. Hostile input:
unknown options, votes addressed to followers or the public, votes on a closed poll, an
Update(Question) from another origin, huge option counts and oversize names."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.activitypub.notes import MAX_POLL_OPTIONS, note_from_ap
from fediverse_biz.core import polls
from fediverse_biz.db.database import Database
from fediverse_biz.federation import polls as poll_federation
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.inbound import fixture, make_follow, receive, remote_status, row_of
from tests.support.peers import FakePeer, PeerActor, deliver
from tests.support.social import Member, checked, member

_votes = itertools.count(1)
FUTURE = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def mastodon_question(peer: FakePeer, author: PeerActor, number: int, **changes: Any) -> dict[str, Any]:
    """The real Question, moved to the peer's host and given an end in the future."""
    text = json.dumps(fixture("mastodon/create_question.json")["object"])
    text = text.replace("https://mastodon.sdf.org/users/rinpatch", author.uri)
    text = text.replace("https://mastodon.sdf.org/@rinpatch", f"{peer.base}/@{author.username}")
    question: dict[str, Any] = json.loads(text.replace("102070944809637304", str(number)))
    question |= {"endTime": FUTURE, **changes}
    peer.serve(question["id"], {"@context": "https://www.w3.org/ns/activitystreams", **question})
    return question


def counts(doc: dict[str, Any], key: str = "oneOf") -> list[int]:
    return [int(o["replies"]["totalItems"]) for o in doc[key]]


async def run_poll_jobs(app: Starlette, *kinds: str) -> None:
    """Make the jobs of these kinds due (the test's clock), then run them with the real worker."""
    state = services(app)
    await state.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = ANY($1::text[])", list(kinds))
    await Worker(state.pool, state.http, state.settings, poll_federation.handlers()).run_until_idle(timeout=30)


async def deliveries(pool: asyncpg.Pool, activity_type: str) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver' ORDER BY id")
    return [r["payload"] for r in rows if r["payload"]["activity"]["type"] == activity_type]


async def test_a_remote_mastodon_question_is_shown_voted_on_and_refreshed_by_its_author_only(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, other_peer: FakePeer, db: Database, urls: LocalUrls
) -> None:
    carol = await member(db, urls, "carol")
    bob = peer.actor("rinpatch")
    await make_follow(db.pool, carol.actor, await row_of(app, bob))
    question = mastodon_question(peer, bob, 1)
    create = fixture("mastodon/create_question.json") | {
        "id": f"{question['id']}/activity", "actor": bob.uri, "object": question, "cc": [bob.followers]}
    assert (await receive(app, client, create, bob))["error"] is None
    status_id = (await remote_status(db.pool, question["id"]))["id"]

    poll = await checked(client.get(f"/api/v1/polls/{status_id}", headers=carol.headers), "poll")
    assert [o["title"] for o in poll["options"]] == [
        "Dunno", "Everyone knows that!", "25 char limit is dumb", "I can't even fit a funny"]
    assert [o["votes_count"] for o in poll["options"]] == [0, 1, 0, 1]
    assert (poll["multiple"], poll["expired"], poll["voted"], poll["votes_count"]) == (False, False, False, 2)

    voted = await checked(
        client.post(f"/api/v1/polls/{status_id}/votes", json={"choices": [2]}, headers=carol.headers), "poll")
    assert voted["own_votes"] == [2] and [o["votes_count"] for o in voted["options"]] == [0, 1, 1, 1]
    (job,) = await deliveries(db.pool, "Create")
    vote = job["activity"]
    assert job["inbox"] == bob.inbox  # the author's own inbox, not the shared one
    assert vote["to"] == [bob.uri] and "cc" not in vote
    assert vote["object"] | {"id": None} == {
        "id": None, "type": "Note", "name": "25 char limit is dumb", "attributedTo": carol.actor["uri"],
        "inReplyTo": question["id"], "to": [bob.uri]}
    # the vote is no reply: nothing was stored for it, and the poll's status has no replies
    assert await db.pool.fetchval("SELECT count(*) FROM statuses") == 1

    # someone on another server claims new counts for bob's poll: refused, unchanged
    eve = other_peer.actor("eve")
    inflated = [{**o, "replies": {"type": "Collection", "totalItems": 999}} for o in question["oneOf"]]
    forged = question | {"oneOf": inflated}
    refused = await deliver(client, other_peer.activity("Update", eve, forged), eve)
    assert refused.status_code in (401, 403) and "author" in refused.json()["error"]
    poll = await checked(client.get(f"/api/v1/polls/{status_id}", headers=carol.headers), "poll")
    assert [o["votes_count"] for o in poll["options"]] == [0, 1, 1, 1]

    # bob's own Update(Question) with the counts of his server, then the closed poll
    updated = question | {"oneOf": [{**o, "replies": {"type": "Collection", "totalItems": n}}
                                     for o, n in zip(question["oneOf"], [4, 1, 2, 1], strict=True)], "votersCount": 8}
    record = await receive(app, client, peer.activity("Update", bob, updated), bob)
    assert record["error"] is None
    poll = await checked(client.get(f"/api/v1/polls/{status_id}", headers=carol.headers), "poll")
    assert [o["votes_count"] for o in poll["options"]] == [4, 1, 2, 1] and poll["voters_count"] == 8
    assert poll["own_votes"] == [2]
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    closed = updated | {"endTime": past, "closed": past}
    await receive(app, client, peer.activity("Update", bob, closed), bob)
    poll = await checked(client.get(f"/api/v1/polls/{status_id}", headers=carol.headers), "poll")
    assert poll["expired"] is True
    response = await client.post(f"/api/v1/polls/{status_id}/votes", json={"choices": [0]}, headers=carol.headers)
    assert response.status_code == 422
    # the end notifies carol, who voted (the job scheduled when the Question arrived)
    await run_poll_jobs(app, "poll_close")
    notes = await checked(client.get("/api/v1/notifications", headers=carol.headers), "notification")
    assert [(n["type"], n["status"]["id"]) for n in notes] == [("poll", str(status_id))]


def test_huge_and_oversize_questions_are_cut_to_size(peer: FakePeer) -> None:
    bob = peer.actor("bob")
    options = [{"type": "Note", "name": f"{i}" + "x" * 100_000, "replies": {"totalItems": 10**30}} for i in range(5000)]
    question = mastodon_question(peer, bob, 2, oneOf=options)
    parsed = note_from_ap(question, actor_followers_url=bob.followers).poll
    assert parsed is not None and len(parsed["options"]) == MAX_POLL_OPTIONS
    assert all(len(o["title"]) <= 200 for o in parsed["options"])
    assert all(isinstance(o["votes_count"], int) for o in parsed["options"])


async def local_poll(pool: asyncpg.Pool, urls: LocalUrls, author: Member, *, multiple: bool = False) -> tuple[int, str]:
    draft = polls.PollDraft(options=["Berlin", "Lyon"], expires_in=3600, multiple=multiple)
    status_id = await factories.post(pool, urls, author.actor, "Which fair?", poll=draft)
    return status_id, await pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id)


def vote_note(peer: FakePeer, voter: PeerActor, question: str, option: str, to: list[str], **extra: Any) -> Any:
    # Mastodon's poll_vote.json, rewritten to the peer
    base = fixture("mastodon/poll_vote.json")
    number = next(_votes)
    note = base["object"] | {"id": f"{voter.uri}#votes/{number}", "name": option, "attributedTo": voter.uri,
                             "inReplyTo": question, "to": to, **extra}
    return base | {"id": f"{note['id']}/activity", "actor": voter.uri, "object": note, "to": to}


@pytest.mark.parametrize(
    ("option", "addressing", "reason"),
    [
        ("Madrid", "author", "does not count"),
        ("x" * 100_000, "author", "does not count"),
        ("Berlin", "public", "author only"),
        ("Berlin", "followers", "author only"),
        ("Berlin", "author and followers", "author only"),
    ],
)
async def test_hostile_votes_are_neither_counted_nor_stored(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, db: Database, urls: LocalUrls,
    option: str, addressing: str, reason: str,
) -> None:
    alice = await member(db, urls, "alice")
    _, uri = await local_poll(db.pool, urls, alice)
    bob = peer.actor("bob")
    to = {"author": [alice.actor["uri"]], "public": [PUBLIC], "followers": [bob.followers],
          "author and followers": [alice.actor["uri"], bob.followers]}[addressing]
    record = await receive(app, client, vote_note(peer, bob, uri, option, to), bob)
    assert reason in record["error"]
    assert await db.pool.fetchval("SELECT count(*) FROM poll_votes") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM statuses") == 1
    assert await db.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'poll_update'") == 0


async def test_remote_votes_count_once_and_the_counts_go_out_in_one_update(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    status_id, uri = await local_poll(db.pool, urls, alice)
    bob, dora = peer.actor("bob"), peer.actor("dora", key=1)
    author = [alice.actor["uri"]]
    assert (await receive(app, client, vote_note(peer, bob, uri, "Lyon", author), bob))["error"] is None
    again = await receive(app, client, vote_note(peer, bob, uri, "Lyon", author), bob)  # new id, same vote
    assert "does not count" in again["error"]
    other = await receive(app, client, vote_note(peer, bob, uri, "Berlin", author), bob)  # a single-choice poll
    assert "does not count" in other["error"]
    assert (await receive(app, client, vote_note(peer, dora, uri, "Lyon", author), dora))["error"] is None
    poll = await checked(client.get(f"/api/v1/polls/{status_id}"), "poll")
    assert [o["votes_count"] for o in poll["options"]] == [0, 2] and poll["voters_count"] == 2
    assert await db.pool.fetchval("SELECT count(*) FROM statuses") == 1  # no reply was stored
    assert await db.pool.fetchval("SELECT replies_count FROM statuses WHERE id = $1", status_id) == 0
    assert await db.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'poll_update'") == 1

    await run_poll_jobs(app, "poll_update")
    (update,) = await deliveries(db.pool, "Update")
    assert update["inbox"] == f"{peer.base}/inbox"  # the voters' server
    question = update["activity"]["object"]
    assert question["type"] == "Question" and question["id"] == uri
    assert counts(question) == [0, 2] and question["votersCount"] == 2 and "closed" not in question
    assert [o["name"] for o in question["oneOf"]] == ["Berlin", "Lyon"]

    # the end: a final Update(Question), closed
    await db.pool.execute(
        "UPDATE statuses SET extra = jsonb_set(extra, '{poll,expires_at}', to_jsonb($2::text)) WHERE id = $1",
        status_id, (datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
    )
    eli = peer.actor("eli", key=2)
    late = await receive(app, client, vote_note(peer, eli, uri, "Berlin", author), eli)
    assert "does not count" in late["error"]  # a vote on a closed poll
    await run_poll_jobs(app, "poll_close")
    final = (await deliveries(db.pool, "Update"))[-1]["activity"]["object"]
    assert "closed" in final and counts(final) == [0, 2]


async def test_our_poll_is_a_question_for_peers_that_fetch_it(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    _, uri = await local_poll(db.pool, urls, alice, multiple=True)
    response = await client.get(uri.removeprefix(urls.base), headers={"Accept": "application/activity+json"})
    doc = response.json()
    assert doc["type"] == "Question" and counts(doc, "anyOf") == [0, 0] and "oneOf" not in doc
    assert doc["votersCount"] == 0 and doc["endTime"].endswith("Z")
    assert "toot" in json.dumps(doc["@context"])  # votersCount is Mastodon's toot: term


async def test_an_author_who_changes_the_options_voids_our_votes_on_them(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, db: Database, urls: LocalUrls
) -> None:
    carol = await member(db, urls, "carol")
    bob = peer.actor("rinpatch")
    await make_follow(db.pool, carol.actor, await row_of(app, bob))
    question = mastodon_question(peer, bob, 3)
    await receive(app, client, peer.activity("Create", bob, question), bob)
    status_id = (await remote_status(db.pool, question["id"]))["id"]
    await checked(client.post(f"/api/v1/polls/{status_id}/votes", json={"choices": [3]}, headers=carol.headers),
                  "poll")
    # a count update keeps the vote; an edit of the options does not
    await receive(app, client, peer.activity("Update", bob, question | {"votersCount": 3}), bob)
    assert await db.pool.fetchval("SELECT count(*) FROM poll_votes") == 1
    options = [{"type": "Note", "name": name, "replies": {"type": "Collection", "totalItems": 0}}
               for name in ("Cute", "Very cute")]
    edited = question | {"oneOf": options, "updated": "2030-01-01T00:00:00Z"}
    assert (await receive(app, client, peer.activity("Update", bob, edited), bob))["error"] is None
    poll = await checked(client.get(f"/api/v1/polls/{status_id}", headers=carol.headers), "poll")
    assert [o["title"] for o in poll["options"]] == ["Cute", "Very cute"]
    assert (poll["voted"], poll["own_votes"]) == (False, [])
    assert await db.pool.fetchval("SELECT count(*) FROM poll_votes") == 0
