"""Polls: the options of a status that people vote on, with Mastodon's limits and rules.

A poll lives in its status's `extra["poll"]` (migration 0020 says why), for our polls and remote
Questions alike:
    {"options": [{"title": str, "votes_count": int}], "multiple": bool, "hide_totals": bool,
     "expires_at": ISO 8601 or None, "closed": bool, "voters_count": int or None}
plus "notified" once the expiry job has told the voters. Votes are rows of `poll_votes`: every vote on a
local poll (cast here or arriving from a peer) and our members' votes on remote polls.

The rules are Mastodon's (app/models/poll.rb, app/validators/poll_options_validator.rb,
app/validators/vote_validator.rb, https://docs.joinmastodon.org/methods/polls/): one vote per account
(several choices on a multiple-choice poll, cast at once), none after the end, none on one's own poll.
Counts of a local poll are recounted from its votes; those of a remote poll are the author's (its
Update(Question)), plus our members' votes until the next Update arrives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import asyncpg

from fediverse_biz.core import hooks, notifications
from fediverse_biz.core.errors import DomainError, not_found
from fediverse_biz.core.visibility import can_see
from fediverse_biz.jobs import queue

MAX_OPTIONS: Final = 4
MAX_OPTION_CHARACTERS: Final = 50
MIN_EXPIRATION: Final = 300  # seconds, as Mastodon's PollExpirationValidator
MAX_EXPIRATION: Final = 2_629_746  # one month
# What /api/v1/instance and /api/v2/instance advertise (api/instance.py imports this, never copies it).
POLL_LIMITS: Final = {
    "max_options": MAX_OPTIONS,
    "max_characters_per_option": MAX_OPTION_CHARACTERS,
    "min_expiration": MIN_EXPIRATION,
    "max_expiration": MAX_EXPIRATION,
}
POLL_CLOSE: Final = "poll_close"  # job kind: the poll ends (federation/polls.py handles it)


@dataclass
class PollDraft:
    options: list[str]
    expires_in: int
    multiple: bool = False
    hide_totals: bool = False


def validate(draft: PollDraft) -> None:
    """Mastodon's PollOptionsValidator and PollExpirationValidator, with its messages."""
    if len(draft.options) < 2:
        raise DomainError("Validation failed: Poll must have at least 2 options")
    if len(draft.options) > MAX_OPTIONS:
        raise DomainError(f"Validation failed: Poll can't contain more than {MAX_OPTIONS} items")
    if any(not option.strip() for option in draft.options):
        raise DomainError("Validation failed: Poll options can't be blank")
    if any(len(option) > MAX_OPTION_CHARACTERS for option in draft.options):
        raise DomainError(f"Validation failed: Poll options can't be longer than {MAX_OPTION_CHARACTERS} characters")
    if any("\x00" in option for option in draft.options):
        raise DomainError("Validation failed: Poll options contain a NUL character")
    if len({option.strip() for option in draft.options}) < len(draft.options):
        raise DomainError("Validation failed: Poll contains duplicate items")
    if draft.expires_in < MIN_EXPIRATION:
        raise DomainError("Validation failed: Poll duration is too short")
    if draft.expires_in > MAX_EXPIRATION:
        raise DomainError("Validation failed: Poll duration is too long")


def new_poll(draft: PollDraft, now: datetime) -> dict[str, Any]:
    """The `extra["poll"]` of a new poll, without votes."""
    return {
        "options": [{"title": option.strip(), "votes_count": 0} for option in draft.options],
        "multiple": draft.multiple,
        "hide_totals": draft.hide_totals,
        "expires_at": (now + timedelta(seconds=draft.expires_in)).isoformat(),
        "closed": False,
        "voters_count": 0,
    }


def poll_of(status: Mapping[str, Any]) -> dict[str, Any] | None:
    extra = status["extra"]
    poll = extra.get("poll") if isinstance(extra, Mapping) else None
    return poll if isinstance(poll, dict) and isinstance(poll.get("options"), list) else None


def expires_at(poll: Mapping[str, Any]) -> datetime | None:
    value = poll.get("expires_at")
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def expired(poll: Mapping[str, Any], now: datetime | None = None) -> bool:
    end = expires_at(poll)
    return bool(poll.get("closed")) or (end is not None and end <= (now or datetime.now(UTC)))


async def schedule_close(conn: asyncpg.Connection, status_id: int, poll: Mapping[str, Any]) -> None:
    """The job that ends the poll at its end time (a stale one, after an edit moved the end, does nothing)."""
    end = expires_at(poll)
    if end is not None and not poll.get("closed"):
        await queue.enqueue(conn, POLL_CLOSE, {"status_id": status_id}, run_at=end)


async def _write(conn: asyncpg.Connection, status_id: int, poll: Mapping[str, Any]) -> None:
    await conn.execute(
        "UPDATE statuses SET extra = extra || jsonb_build_object('poll', $2::text::jsonb) WHERE id = $1",
        status_id,
        _json(poll),
    )


def _json(value: Any) -> str:
    # Sent as text and cast in SQL, so the statement works on any connection, codec or not.
    return json.dumps(value)


async def recount(conn: asyncpg.Connection, status_id: int, poll: dict[str, Any]) -> dict[str, Any]:
    """A local poll's counts, from its votes (the caller holds the status row locked)."""
    rows = await conn.fetch(
        "SELECT choice, count(*) AS n FROM poll_votes WHERE status_id = $1 GROUP BY choice", status_id
    )
    by_choice = {r["choice"]: int(r["n"]) for r in rows}
    voters = await conn.fetchval("SELECT count(DISTINCT actor_id) FROM poll_votes WHERE status_id = $1", status_id)
    poll = {**poll, "voters_count": int(voters)}
    poll["options"] = [{**o, "votes_count": by_choice.get(i, 0)} for i, o in enumerate(poll["options"])]
    await _write(conn, status_id, poll)
    return poll


async def _locked(conn: asyncpg.Connection, status_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM statuses WHERE id = $1 AND reblog_of_id IS NULL FOR UPDATE", status_id)


async def vote(pool: asyncpg.Pool, voter: asyncpg.Record, status_id: int, choices: Sequence[int]) -> None:
    """A local account votes (POST /api/v1/polls/:id/votes); the `poll_voted` hook federates it."""
    async with pool.acquire() as conn, conn.transaction():
        status = await _locked(conn, status_id)
        if status is None or not await can_see(conn, status, voter["id"]):
            raise not_found()
        poll = poll_of(status)
        if poll is None:
            raise not_found()
        if expired(poll):
            raise DomainError("Validation failed: The poll has already ended")
        if status["actor_id"] == voter["id"]:
            raise DomainError("Validation failed: You cannot vote in your own polls")
        if not choices:
            raise DomainError("Validation failed: choices can't be blank")
        if len(set(choices)) < len(choices):
            raise DomainError("Validation failed: choices contain duplicates")
        if len(choices) > 1 and not poll.get("multiple"):
            raise DomainError("Validation failed: This poll allows only one choice")
        if any(c < 0 or c >= len(poll["options"]) for c in choices):
            raise DomainError("Validation failed: The chosen vote option does not exist")
        if await conn.fetchval(
            "SELECT 1 FROM poll_votes WHERE status_id = $1 AND actor_id = $2", status_id, voter["id"]
        ):
            raise DomainError("Validation failed: You have already voted on this poll")
        votes = await conn.fetch(
            """INSERT INTO poll_votes (status_id, actor_id, choice) SELECT $1, $2, unnest($3::smallint[])
               RETURNING id, choice""",
            status_id,
            voter["id"],
            list(choices),
        )
        if status["local"]:
            await recount(conn, status_id, poll)
        else:  # the author counts; until its next Update(Question), ours are added to what it said
            options = [
                {**o, "votes_count": int(o.get("votes_count") or 0) + (1 if i in choices else 0)}
                for i, o in enumerate(poll["options"])
            ]
            voters = poll.get("voters_count")
            await _write(conn, status_id, {**poll, "options": options,
                                           "voters_count": voters + 1 if isinstance(voters, int) else None})
        await hooks.poll_voted(conn, voter, status, [(int(v["id"]), int(v["choice"])) for v in votes])


async def record_remote_vote(
    conn: asyncpg.Connection, voter: Mapping[str, Any], status_id: int, option_name: str, uri: str
) -> bool:
    """A peer's vote on one of our polls (its Create(Note) with `name` = the option); False when it does
    not count: an unknown option, a poll that ended, a second choice on a single-choice poll, a repeat."""
    status = await _locked(conn, status_id)
    poll = poll_of(status) if status is not None else None
    if status is None or poll is None or not status["local"] or expired(poll):
        return False
    titles = [o.get("title") for o in poll["options"]]
    if option_name not in titles:
        return False
    choice = titles.index(option_name)
    if not poll.get("multiple") and await conn.fetchval(
        "SELECT 1 FROM poll_votes WHERE status_id = $1 AND actor_id = $2", status_id, voter["id"]
    ):
        return False
    inserted = await conn.fetchval(
        """INSERT INTO poll_votes (status_id, actor_id, choice, uri) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING id""",
        status_id,
        voter["id"],
        choice,
        uri,
    )
    if inserted is None:
        return False
    await recount(conn, status_id, poll)
    return True


async def forget_votes_if_options_changed(
    conn: asyncpg.Connection, status: Mapping[str, Any], new_poll: Mapping[str, Any] | None
) -> None:
    """A remote author's edit that changes its poll's options voids our members' votes on it (their
    indexes would name other options), as Mastodon's ActivityPub::ProcessStatusUpdateService resets them."""
    previous = poll_of(status)
    if previous is None:
        return
    titles = [o.get("title") for o in previous["options"]]
    if new_poll is None or titles != [o.get("title") for o in new_poll.get("options", [])]:
        await conn.execute("DELETE FROM poll_votes WHERE status_id = $1", status["id"])


async def replace_on_edit(
    conn: asyncpg.Connection, status: Mapping[str, Any], draft: PollDraft | None, now: datetime
) -> None:
    """An edit's poll (Mastodon's UpdateStatusService#update_poll!): changed options or choice mode reset
    the votes; the end time is counted again from the edit; no poll in the edit removes it."""
    status_id = status["id"]
    previous = poll_of(status)
    if draft is None:
        if previous is not None:
            await conn.execute("DELETE FROM poll_votes WHERE status_id = $1", status_id)
            await conn.execute("UPDATE statuses SET extra = extra - 'poll' WHERE id = $1", status_id)
        return
    poll = new_poll(draft, now)
    if previous is not None:
        same = [o.get("title") for o in previous["options"]] == [o["title"] for o in poll["options"]]
        if same and bool(previous.get("multiple")) == draft.multiple:
            poll["options"] = previous["options"]
            poll["voters_count"] = previous.get("voters_count", 0)
        else:
            await conn.execute("DELETE FROM poll_votes WHERE status_id = $1", status_id)
    await conn.execute(
        "UPDATE statuses SET extra = extra || jsonb_build_object('poll', $2::text::jsonb) WHERE id = $1",
        status_id,
        _json(poll),
    )
    await schedule_close(conn, status_id, poll)


async def close(conn: asyncpg.Connection, status_id: int) -> asyncpg.Record | None:
    """End a poll whose time has come and tell the local voters and a local author (the `poll`
    notification); returns the status, or None when there is nothing to do (not yet, already done, gone)."""
    status = await _locked(conn, status_id)
    poll = poll_of(status) if status is not None else None
    if status is None or poll is None or poll.get("notified"):
        return None
    end = expires_at(poll)
    if end is not None and end > datetime.now(UTC) and not poll.get("closed"):
        return None  # the end moved later (an edit); the job scheduled then will come
    await _write(conn, status_id, {**poll, "closed": True, "notified": True})
    voters = await conn.fetch("SELECT DISTINCT actor_id FROM poll_votes WHERE status_id = $1", status_id)
    author_id = status["actor_id"]
    for row in voters:
        await notifications.notify(conn, row["actor_id"], author_id, "poll", status_id)
    if status["local"]:
        await notifications.notify(conn, author_id, author_id, "poll", status_id, to_self=True)
    return await _locked(conn, status_id)
