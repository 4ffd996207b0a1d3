"""Polls through the client API: posting one (form and JSON), the Poll entity, GET /api/v1/polls/:id,
voting, edits that reset the votes, and the end of a poll with its notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.core import follows, polls
from fediverse_biz.db.database import Database
from fediverse_biz.federation import polls as poll_federation
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.mastodon_schemas import assert_matches
from tests.support.social import Member, checked, count_statuses, error, member, token

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def post_poll(
    client: httpx.AsyncClient, who: Member, options: list[str], *, visibility: str = "public", **poll: Any
) -> dict[str, Any]:
    body = {"status": "Which fair do we attend?", "visibility": visibility,
            "poll": {"options": options, "expires_in": 3600, **poll}}
    status: dict[str, Any] = await checked(client.post("/api/v1/statuses", json=body, headers=who.headers), "status")
    return status


async def vote(client: httpx.AsyncClient, who: Member, poll_id: str, choices: list[int]) -> httpx.Response:
    return await client.post(f"/api/v1/polls/{poll_id}/votes", json={"choices": choices}, headers=who.headers)


async def run_poll_jobs(app: Starlette) -> None:
    """Run the poll jobs that are due, with the real worker; the test makes them due."""
    state = services(app)
    await Worker(state.pool, state.http, state.settings, poll_federation.handlers()).run_until_idle(timeout=30)


async def test_mastodon_py_form_creates_a_poll_and_the_entity_is_mastodons(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    form = ("status=Trade+fair%3F&poll%5Boptions%5D%5B%5D=Berlin&poll%5Boptions%5D%5B%5D=Lyon"
            "&poll%5Bexpires_in%5D=300&poll%5Bmultiple%5D=true&poll%5Bhide_totals%5D=false")
    status = await checked(client.post("/api/v1/statuses", content=form, headers={**alice.headers, **FORM}), "status")
    poll = status["poll"]
    assert_matches("poll", poll)
    assert poll["id"] == status["id"] and poll["multiple"] is True and poll["expired"] is False
    assert poll["options"] == [{"title": "Berlin", "votes_count": 0}, {"title": "Lyon", "votes_count": 0}]
    assert (poll["votes_count"], poll["voters_count"], poll["voted"], poll["own_votes"]) == (0, 0, True, [])
    end = datetime.fromisoformat(poll["expires_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=295) < end - datetime.now(UTC) <= timedelta(seconds=300)
    # the end is scheduled with the poll
    job = await db.pool.fetchrow("SELECT * FROM jobs WHERE kind = 'poll_close'")
    assert job["payload"] == {"status_id": int(status["id"])} and abs(job["run_at"] - end) < timedelta(seconds=1)
    # anonymous readers see it too, without voted/own_votes
    shown = await checked(client.get(f"/api/v1/polls/{poll['id']}"), "poll")
    assert "voted" not in shown and shown["options"] == poll["options"]


@pytest.mark.parametrize(
    ("poll", "message"),
    [
        ({"options": ["only one"], "expires_in": 3600}, "at least 2"),
        ({"options": ["a", "b", "c", "d", "e"], "expires_in": 3600}, "more than 4"),
        ({"options": ["a"] * 10_000, "expires_in": 3600}, "more than 4"),
        ({"options": ["a", "x" * 51], "expires_in": 3600}, "longer than 50"),
        ({"options": ["a", "a"], "expires_in": 3600}, "duplicate"),
        ({"options": ["a", " "], "expires_in": 3600}, "blank"),
        ({"options": ["a", "b"], "expires_in": 299}, "too short"),
        ({"options": ["a", "b"], "expires_in": 2_629_747}, "too long"),
        ({"options": ["a", "b"], "expires_in": 10**30}, "too long"),
        ({"options": ["a", "b"]}, "expires_in"),
        ({"options": ["a", "b"], "expires_in": "soon"}, "whole number"),
        ({"options": ["a", {"x": 1}], "expires_in": 3600}, "strings"),
        ({"options": ["a", "b"], "expires_in": 3600, "multiple": "perhaps"}, "true or false"),
        ("a poll", "object"),
    ],
)
async def test_polls_outside_the_advertised_limits_are_422_and_save_nothing(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, poll: Any, message: str
) -> None:
    alice = await member(db, urls, "alice")
    body = {"status": "x", "poll": poll}
    text = await error(client.post("/api/v1/statuses", json=body, headers=alice.headers), 422)
    assert message in text
    assert await count_statuses(db) == 0
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_the_limits_are_the_advertised_ones(client: httpx.AsyncClient) -> None:
    instance = (await client.get("/api/v2/instance")).json()
    assert instance["configuration"]["polls"] == polls.POLL_LIMITS
    assert polls.POLL_LIMITS["max_options"] == polls.MAX_OPTIONS == 4


async def test_a_poll_with_media_is_refused(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    body = {"status": "x", "media_ids": ["1"], "poll": {"options": ["a", "b"], "expires_in": 3600}}
    assert "poll" in await error(client.post("/api/v1/statuses", json=body, headers=alice.headers), 422)


async def test_voting_once_with_the_rules_and_errors_of_mastodon(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, carol = [await member(db, urls, n) for n in ("alice", "bob", "carol")]
    single = (await post_poll(client, alice, ["Berlin", "Lyon", "Porto"]))["poll"]
    assert "own poll" in await error(vote(client, alice, single["id"], [0]), 422)
    assert "does not exist" in await error(vote(client, bob, single["id"], [3]), 422)
    assert "option indexes" in await error(vote(client, bob, single["id"], [-1]), 422)
    assert "only one" in await error(vote(client, bob, single["id"], [0, 1]), 422)
    assert "blank" in await error(vote(client, bob, single["id"], []), 422)
    voted = await checked(vote(client, bob, single["id"], [1]), "poll")
    assert (voted["voted"], voted["own_votes"], voted["votes_count"], voted["voters_count"]) == (True, [1], 1, 1)
    assert [o["votes_count"] for o in voted["options"]] == [0, 1, 0]
    assert "already voted" in await error(vote(client, bob, single["id"], [2]), 422)
    await checked(vote(client, carol, single["id"], [1]), "poll")
    # as each of them sees it, and the author
    seen = await checked(client.get(f"/api/v1/polls/{single['id']}", headers=alice.headers), "poll")
    assert (seen["voted"], seen["own_votes"], seen["votes_count"], seen["voters_count"]) == (True, [], 2, 2)
    status = await checked(client.get(f"/api/v1/statuses/{single['id']}", headers=carol.headers), "status")
    assert status["poll"]["own_votes"] == [1]

    multiple = (await post_poll(client, alice, ["a", "b", "c"], multiple=True))["poll"]
    voted = await checked(
        client.post(f"/api/v1/polls/{multiple['id']}/votes", content="choices%5B%5D=0&choices%5B%5D=2",
                    headers={**bob.headers, **FORM}),
        "poll",
    )
    assert (voted["own_votes"], voted["votes_count"], voted["voters_count"]) == ([0, 2], 2, 1)
    assert "duplicates" in await error(vote(client, carol, multiple["id"], [1, 1]), 422)


async def test_hidden_totals_until_the_end_and_no_vote_after_it(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, carol = [await member(db, urls, n) for n in ("alice", "bob", "carol")]
    poll = (await post_poll(client, alice, ["yes", "no"], hide_totals=True))["poll"]
    voted = await checked(vote(client, bob, poll["id"], [0]), "poll")
    assert [o["votes_count"] for o in voted["options"]] == [None, None] and voted["votes_count"] == 1
    # hidden totals are not sent to peers either, until the end's Update(Question)
    assert await db.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'poll_update'") == 0
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    await db.pool.execute(
        "UPDATE statuses SET extra = jsonb_set(extra, '{poll,expires_at}', to_jsonb($2::text)) WHERE id = $1",
        int(poll["id"]), past,
    )
    assert "already ended" in await error(vote(client, carol, poll["id"], [1]), 422)
    ended = await checked(client.get(f"/api/v1/polls/{poll['id']}", headers=carol.headers), "poll")
    assert ended["expired"] is True and [o["votes_count"] for o in ended["options"]] == [1, 0]


async def test_a_followers_only_poll_is_neither_shown_nor_votable_by_others(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, follower, stranger = [await member(db, urls, n) for n in ("alice", "follower", "stranger")]
    async with db.pool.acquire() as conn, conn.transaction():
        await follows.accept_follow(conn, follower.actor, alice.actor, None)
    poll = (await post_poll(client, alice, ["a", "b"], visibility="private"))["poll"]
    await error(client.get(f"/api/v1/polls/{poll['id']}", headers=stranger.headers), 404)
    await error(client.get(f"/api/v1/polls/{poll['id']}"), 404)
    await error(vote(client, stranger, poll["id"], [0]), 404)
    assert await db.pool.fetchval("SELECT count(*) FROM poll_votes") == 0
    await checked(vote(client, follower, poll["id"], [0]), "poll")


async def test_scopes_tokens_and_unknown_ids(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    poll = (await post_poll(client, alice, ["a", "b"]))["poll"]
    plain = await checked(client.post("/api/v1/statuses", json={"status": "no poll"}, headers=alice.headers), "status")
    await error(client.post(f"/api/v1/polls/{poll['id']}/votes", json={"choices": [0]}), 401)
    bad = {"Authorization": "Bearer nope"}
    await error(client.post(f"/api/v1/polls/{poll['id']}/votes", json={"choices": [0]}, headers=bad), 401)
    read_only = await token(db, bob, "read")
    await error(client.post(f"/api/v1/polls/{poll['id']}/votes", json={"choices": [0]}, headers=read_only), 403)
    write_only = await token(db, bob, "write:favourites")
    await error(client.get(f"/api/v1/polls/{poll['id']}", headers=write_only), 403)
    await error(client.get(f"/api/v1/polls/{plain['id']}"), 404)  # a status without a poll
    await error(client.get("/api/v1/polls/999999999"), 404)
    await error(client.get("/api/v1/polls/abc"), 404)
    await error(vote(client, bob, "999999999", [0]), 404)


async def test_an_edit_that_changes_the_options_resets_the_votes(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    poll = (await post_poll(client, alice, ["Berlin", "Lyon"]))["poll"]
    await checked(vote(client, bob, poll["id"], [0]), "poll")

    async def edit(options: list[str], **extra: Any) -> dict[str, Any]:
        body = {"status": "Which fair?", "poll": {"options": options, "expires_in": 7200, **extra}}
        edited: dict[str, Any] = await checked(
            client.put(f"/api/v1/statuses/{poll['id']}", json=body, headers=alice.headers), "status"
        )
        result: dict[str, Any] = edited["poll"]
        return result

    same = await edit(["Berlin", "Lyon"])
    assert same["votes_count"] == 1 and same["voters_count"] == 1  # same options: the votes stay
    assert same["expires_at"] > poll["expires_at"]  # counted again from the edit
    changed = await edit(["Berlin", "Porto"])
    assert changed["votes_count"] == 0 and changed["voters_count"] == 0
    assert await db.pool.fetchval("SELECT count(*) FROM poll_votes") == 0
    seen = await checked(client.get(f"/api/v1/polls/{poll['id']}", headers=bob.headers), "poll")
    assert seen["voted"] is False and seen["own_votes"] == []
    await checked(vote(client, bob, poll["id"], [1]), "poll")  # a new vote on the new options
    assert (await edit(["Berlin", "Porto"], multiple=True))["votes_count"] == 0  # another mode resets too
    removed = await checked(
        client.put(f"/api/v1/statuses/{poll['id']}", json={"status": "no poll now"}, headers=alice.headers), "status"
    )
    assert removed["poll"] is None
    await error(client.get(f"/api/v1/polls/{poll['id']}"), 404)


async def test_the_end_of_a_poll_notifies_voters_and_author_once(
    app: Starlette, client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    poll = (await post_poll(client, alice, ["a", "b"]))["poll"]
    await checked(vote(client, bob, poll["id"], [1]), "poll")
    await run_poll_jobs(app)  # not yet due: nothing happens
    assert await db.pool.fetchval("SELECT count(*) FROM notifications WHERE type = 'poll'") == 0

    # the end comes: the test moves it instead of waiting
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    await db.pool.execute(
        "UPDATE statuses SET extra = jsonb_set(extra, '{poll,expires_at}', to_jsonb($2::text)) WHERE id = $1",
        int(poll["id"]), past,
    )
    await db.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'poll_close'")
    await run_poll_jobs(app)
    for who in (alice, bob):
        notes = await checked(client.get("/api/v1/notifications", headers=who.headers), "notification")
        assert [(n["type"], n["status"]["id"]) for n in notes] == [("poll", poll["id"])]
        assert notes[0]["status"]["poll"]["expired"] is True
    # a second run of the job (a re-delivery) notifies nobody again
    await db.pool.execute(
        "INSERT INTO jobs (kind, payload) VALUES ('poll_close', jsonb_build_object('status_id', $1::bigint))",
        int(poll["id"]),
    )
    await run_poll_jobs(app)
    assert await db.pool.fetchval("SELECT count(*) FROM notifications WHERE type = 'poll'") == 2


async def test_votes_in_a_burst_make_one_update_job(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    poll = (await post_poll(client, alice, ["a", "b"]))["poll"]
    for name in ("bob", "carol", "dave"):
        await checked(vote(client, await member(db, urls, name), poll["id"], [0]), "poll")
    jobs = await db.pool.fetch("SELECT * FROM jobs WHERE kind = 'poll_update'")
    assert len(jobs) == 1 and jobs[0]["payload"] == {"status_id": int(poll["id"])}
    assert jobs[0]["run_at"] > await db.pool.fetchval("SELECT now()")  # a few seconds later
