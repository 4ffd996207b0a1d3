"""The "inbox" job: apply an accepted activity's side effects, one handler per activity type.

The door (inbox.py) has verified the signature, that the key's owner is the actor and that the activity id
lives on the actor's host; handlers check the rest against what the activity is about (FEDERATION.md,
"Security"): an embedded activity or object must be the sender's own, Update/Delete touch only the author's
objects, Accept only counts from the follow's target, Move needs the target's alsoKnownAs.

Outcomes: a handler returns (done), raises Ignored (logged, recorded in inbox_activities.error, done) or
RetryableError (a peer did not answer; the job queue retries with backoff). Effects are exactly-once
(inbound/context.py, `Inbound.effects`). Types without a handler — EmojiReact, QuoteRequest, Dislike, anything new —
are accepted and marked processed with no effect.

The handlers live by subject: posts in inbound/posts.py, a group's Announces in inbound/groups.py, the
social graph in inbound/graph.py, accounts and reports in inbound/accounts.py; this module keeps the table
and the job.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import asyncpg

from fediverse_biz.federation.inbound import accounts, graph, groups, posts
from fediverse_biz.federation.inbound.context import AlreadyProcessed, Ignored, Inbound, Prefetched, first_type
from fediverse_biz.federation.inbox import INBOX_JOB
from fediverse_biz.jobs.batched_reads import BatchedReads
from fediverse_biz.jobs.contract import Handler, WorkerContext
from fediverse_biz.jobs.queue import Job

__all__ = ["HANDLERS", "Ignored", "Inbound", "handlers", "process_inbox_activity"]

log = logging.getLogger(__name__)

ActivityHandler = Callable[[Inbound], Awaitable[None]]


# ---- the table and the job ----------------------------------------------------------------------
HANDLERS: Final[dict[str, ActivityHandler]] = {
    "Create": posts.handle_create,
    "Update": accounts.handle_update,
    "Delete": accounts.handle_delete,
    "Follow": graph.handle_follow,
    "Accept": graph.handle_accept,
    "Reject": graph.handle_reject,
    "Undo": graph.handle_undo,
    "Like": posts.handle_like,
    "Announce": groups.handle_announce,
    "Block": graph.handle_block,
    "Flag": accounts.handle_flag,
    "Move": accounts.handle_move,
    "Add": posts.handle_add,
    "Remove": posts.handle_remove,
}


async def _mark_processed(pool: asyncpg.Pool, record_id: int, error: str | None) -> None:
    await pool.execute(
        "UPDATE inbox_activities SET processed_at = now(), error = $2 WHERE id = $1 AND processed_at IS NULL",
        record_id,
        error,
    )


# The activity and its sender's row in one round trip: the row is the sender's actors row, with the
# activity's columns added under names no actors column has (inbox_*). A sender we do not know leaves the
# actor's columns NULL. The same round trip answers the two questions every Create asks first (Prefetched):
# these were three of the seven statements of an inbox Create (docs/benchmarks.md).
_ACTIVITY_AND_SENDER = f"""
SELECT i.id AS inbox_id, i.payload AS inbox_payload, i.processed_at AS inbox_processed_at,
       i.activity_id AS inbox_activity_id, i.activity_type AS inbox_activity_type,
       i.payload->'object'->>'id' AS inbox_object_uri,
       {posts.known_sql("(i.payload->'object'->>'id')")} AS inbox_object_known,
       {posts.followed_sql("a.id")} AS inbox_sender_followed,
       a.*
  FROM inbox_activities i LEFT JOIN actors a ON a.uri = i.actor_uri
 WHERE i.id = ANY($1::bigint[])
"""


def _activities(ctx: WorkerContext) -> BatchedReads:
    """The reads of the jobs a claim started together, as one query (batched_reads.py)."""
    reader = ctx.batched_reads.get(INBOX_JOB)
    if reader is None:
        reader = ctx.batched_reads[INBOX_JOB] = BatchedReads(ctx.pool, _ACTIVITY_AND_SENDER, key="inbox_id")
    return reader


async def process_inbox_activity(ctx: WorkerContext, job: Job) -> None:
    """Job kind "inbox": payload {"inbox_activity_id": id}."""
    row = await _activities(ctx).get(job.payload["inbox_activity_id"])
    if row is None or row["inbox_processed_at"] is not None:
        return
    record_id, activity_id, activity_type = row["inbox_id"], row["inbox_activity_id"], row["inbox_activity_type"]
    doc = row["inbox_payload"]
    if isinstance(doc, str):  # a connection without our jsonb codec (db/pool.py)
        doc = json.loads(doc)
    actor = row if row["id"] is not None else None
    inbound = None
    try:
        if actor is None or actor["suspended_at"] is not None:
            raise Ignored("the sender is gone or suspended")
        kind = first_type(doc, HANDLERS)
        if kind is not None:
            facts = Prefetched(row["inbox_object_uri"], row["inbox_object_known"], row["inbox_sender_followed"])
            inbound = Inbound(ctx, record_id, doc, actor, prefetched=facts)
            await HANDLERS[kind](inbound)
    except AlreadyProcessed:
        return
    except Ignored as exc:
        log.info("inbox activity %s (%s) ignored: %s", activity_id, activity_type, exc)
        await _mark_processed(ctx.pool, record_id, str(exc)[:2000])
        return
    except Exception as exc:  # RetryableError or a bug: keep the reason next to the activity, then retry
        await ctx.pool.execute(
            "UPDATE inbox_activities SET error = $2 WHERE id = $1", record_id, f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    if inbound is None or not inbound.marked:  # effects() marks the activity in its own transaction
        await _mark_processed(ctx.pool, record_id, None)


def handlers() -> dict[str, Handler]:
    """Merge into the worker's registry (delivery.handlers()): {"inbox": process_inbox_activity}."""
    return {INBOX_JOB: process_inbox_activity}

