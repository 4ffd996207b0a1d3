"""Polls across servers: our members' votes go to remote authors, and our polls' counts go to their
audience as Update(Question) — coalesced, and once more when the poll ends.

- A local account's vote on a remote poll (the `poll_voted` hook) goes as one Create(Note) per chosen
  option to the poll author's own inbox, and nowhere else (activitypub/polls.py has the shape).
- A vote on one of our polls, local or remote, queues one `poll_update` job POLL_UPDATE_DELAY later;
  `jobs_one_poll_update` (migration 0020) keeps at most one waiting per poll, so a burst of votes makes
  one Update(Question), as Mastodon's ActivityPub::DistributePollUpdateWorker does with its uniqueness
  lock. It goes to the status's audience (federation/outbox.py) and to the servers of remote voters.
- The `poll_close` job (queued by core/polls.py at the end time) closes the poll, notifies, and sends the
  final Update(Question) of a local poll.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

import asyncpg

from fediverse_biz.activitypub import activities, notes
from fediverse_biz.activitypub.polls import vote_create
from fediverse_biz.core import outbound, polls
from fediverse_biz.core.hooks import Hooks
from fediverse_biz.core.hydrate import StatusBundle, load_status
from fediverse_biz.federation import outbox, replies
from fediverse_biz.jobs.contract import Handler, WorkerContext
from fediverse_biz.jobs.queue import Job
from fediverse_biz.urls import LocalUrls

log = logging.getLogger(__name__)

POLL_UPDATE: Final = "poll_update"
POLL_UPDATE_DELAY: Final = timedelta(seconds=5)

_SCHEDULE_UPDATE: Final = """
INSERT INTO jobs (kind, payload, run_at, give_up_at)
SELECT $1, jsonb_build_object('status_id', $2::bigint), now() + $3::interval, now() + $3::interval + interval '1 day'
ON CONFLICT ((payload ->> 'status_id')) WHERE kind = 'poll_update' AND attempts = 0 DO NOTHING
"""


def register(hooks: Hooks) -> None:
    hooks.poll_voted.append(send_votes)


async def schedule_update(conn: asyncpg.Connection, status: Mapping[str, Any]) -> None:
    """An Update(Question) with the counts a few seconds from now, unless one is already waiting. None
    while the totals are hidden (Mastodon's VoteService#distribute_poll! skips them too): the final
    Update at the end carries them."""
    poll = polls.poll_of(status)
    if poll is not None and not poll.get("hide_totals"):
        await conn.execute(_SCHEDULE_UPDATE, POLL_UPDATE, status["id"], POLL_UPDATE_DELAY)


async def send_votes(
    conn: asyncpg.Connection, voter: Mapping[str, Any], status: Mapping[str, Any], votes: Sequence[tuple[int, int]]
) -> None:
    if status["local"]:
        await schedule_update(conn, status)
        return
    author = await conn.fetchrow("SELECT * FROM actors WHERE id = $1", status["actor_id"])
    poll = polls.poll_of(status)
    if author is None or poll is None or not author["inbox_url"]:
        return
    for vote_id, choice in votes:
        activity = vote_create(
            voter_uri=voter["uri"],
            vote_id=vote_id,
            question_uri=status["uri"],
            author_uri=author["uri"],
            option=str(poll["options"][choice].get("title", "")),
        )
        # The author's own inbox, not the shared one: nobody else on that server is to see the vote.
        await outbound.deliver(conn, voter, activity, [author["inbox_url"]])


async def _voter_inboxes(conn: asyncpg.Connection, status_id: int) -> list[str]:
    rows = await conn.fetch(
        """SELECT DISTINCT coalesce(a.shared_inbox_url, a.inbox_url) AS inbox
             FROM poll_votes v JOIN actors a ON a.id = v.actor_id
            WHERE v.status_id = $1 AND a.domain IS NOT NULL AND a.inbox_url IS NOT NULL""",
        status_id,
    )
    return [r["inbox"] for r in rows]


async def publish_question(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> int:
    """Update(Question) with the poll as it is now, to the status's audience and the remote voters."""
    own_replies = (await replies.self_replies(conn, [bundle.id]))[bundle.id]
    question = notes.status_to_ap(bundle, urls, self_replies=own_replies)
    change = await conn.fetchrow("SELECT next_id() AS serial, now() AS at")
    activity = activities.update_note(question, bundle.author["uri"], change["at"], serial=change["serial"])
    inboxes = [*await outbox.status_inboxes(conn, bundle), *await _voter_inboxes(conn, bundle.id)]
    return await outbound.deliver(conn, bundle.author, activity, inboxes)


def _status_id(job: Job) -> int | None:
    value = job.payload.get("status_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def handle_poll_update(ctx: WorkerContext, job: Job) -> None:
    status_id = _status_id(job)
    if status_id is None:
        return
    async with ctx.pool.acquire() as conn, conn.transaction():
        bundle = await load_status(conn, status_id)
        if bundle is None or not bundle.status["local"] or polls.poll_of(bundle.status) is None:
            return  # deleted, or its poll removed by an edit, since the vote
        if bundle.status["approval_state"] == "published":
            await publish_question(conn, ctx.urls, bundle)


async def handle_poll_close(ctx: WorkerContext, job: Job) -> None:
    status_id = _status_id(job)
    if status_id is None:
        return
    async with ctx.pool.acquire() as conn, conn.transaction():
        closed = await polls.close(conn, status_id)
        if closed is None or not closed["local"] or closed["approval_state"] != "published":
            return
        bundle = await load_status(conn, status_id)
        if bundle is not None:
            await publish_question(conn, ctx.urls, bundle)
    log.info("poll of status %s closed", status_id)


def handlers() -> dict[str, Handler]:
    return {POLL_UPDATE: handle_poll_update, polls.POLL_CLOSE: handle_poll_close}
