"""Daily and weekly digests of an organization's public posts (docs/mail.md).

One `mail_digest` job per frequency, which re-enqueues itself a period later: it is started when the
first subscription of that frequency is confirmed, and never exists on an instance where no one asked
for digests. Each run moves every due subscription's `last_digest_at` to now, in one statement, and
queues a `send_mail` job for those whose organization published something in between; that job reads the
posts of the period when it runs (business/mail_jobs.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from fediverse_biz.db.executor import Executor
from fediverse_biz.jobs import queue
from fediverse_biz.jobs.contract import Handler, WorkerContext
from fediverse_biz.jobs.queue import Job

MAIL_DIGEST: Final = "mail_digest"
SEND_MAIL: Final = "send_mail"  # the job kind that writes and sends every mail (business/mail_jobs.py)
PERIODS: Final = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
MAX_POSTS: Final = 50  # a digest is a summary: the newest fifty, with a link to the booth for the rest
# What a digest, like an update mail, carries: the organization's own public posts, no replies or boosts.
POSTS_OF_PERIOD: Final = """
SELECT id, content FROM statuses
WHERE actor_id = $1 AND local AND visibility = 'public' AND approval_state = 'published'
  AND reblog_of_id IS NULL AND in_reply_to_id IS NULL AND created_at > $2 AND created_at <= $3
ORDER BY id DESC LIMIT $4
"""
_DUE = """
WITH due AS (
    SELECT id, actor_id, coalesce(last_digest_at, confirmed_at) AS since FROM mail_subscriptions
    WHERE confirmed_at IS NOT NULL AND frequency = $1
    FOR UPDATE
), moved AS (
    UPDATE mail_subscriptions s SET last_digest_at = $2 FROM due WHERE s.id = due.id RETURNING s.id
)
SELECT due.id, due.since FROM due JOIN moved ON moved.id = due.id
WHERE EXISTS (SELECT 1 FROM statuses t
              WHERE t.actor_id = due.actor_id AND t.local AND t.visibility = 'public'
                AND t.approval_state = 'published' AND t.reblog_of_id IS NULL AND t.in_reply_to_id IS NULL
                AND t.created_at > due.since AND t.created_at <= $2)
"""


async def ensure_scheduled(conn: Executor, frequency: str) -> None:
    """Start the frequency's chain of digest jobs unless it runs already (call inside a transaction)."""
    if frequency not in PERIODS:
        return
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{MAIL_DIGEST}:{frequency}")
    if await conn.fetchval(
        "SELECT 1 FROM jobs WHERE kind = $1 AND payload->>'frequency' = $2 LIMIT 1", MAIL_DIGEST, frequency
    ):
        return
    await queue.enqueue(conn, MAIL_DIGEST, {"frequency": frequency}, run_at=datetime.now(UTC) + PERIODS[frequency])


async def handle_mail_digest(ctx: WorkerContext, job: Job) -> None:
    frequency = str(job.payload["frequency"])
    if frequency not in PERIODS:
        return
    until = datetime.now(UTC)
    async with ctx.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(_DUE, frequency, until)
        end = until.isoformat()
        payloads: list[tuple[dict[str, Any], str | None]] = [
            ({"purpose": "digest", "subscription_id": r["id"], "since": r["since"].isoformat(), "until": end}, None)
            for r in rows
        ]
        await queue.enqueue_many(conn, SEND_MAIL, payloads)
        # The next run, in the same transaction: the chain cannot break between two runs.
        await queue.enqueue(conn, MAIL_DIGEST, {"frequency": frequency}, run_at=until + PERIODS[frequency])


def handlers() -> dict[str, Handler]:
    return {MAIL_DIGEST: handle_mail_digest}
