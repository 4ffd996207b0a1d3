"""The durable job queue: rows in `jobs`, claimed with FOR UPDATE SKIP LOCKED and held by a lease.

A claim sets `locked_until` (the lease) and commits before the job runs, so a running job holds no
database connection and a killed worker loses nothing: its lease runs out and another worker takes the
job again. Delivery is therefore at-least-once; receivers dedupe on the activity id (docs/jobs.md).

The claim also enforces, across every worker process, at most `per_host_limit` leased jobs per remote
host, and skips hosts whose circuit is open (hosts.py). Claims are serialised by a transaction-level
advisory lock so that limit is exact; see docs/jobs.md for the cost and the alternatives weighed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from fediverse_biz import jsonio
from fediverse_biz.db.executor import Executor
from fediverse_biz.jobs import hosts

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "jobs_new"
DEFAULT_GIVE_UP_AFTER = timedelta(days=3)  # Mastodon's 16 retries span ~2.5 days
MAX_BACKOFF = timedelta(days=1)  # only reached when give_up_after is longer than the default
MAX_RETRY_AFTER = timedelta(hours=12)  # a peer may ask us to wait, not to park a job for a week
_CLAIM_LOCK = 0x6A6F6273  # pg_advisory_xact_lock key, "jobs"; migrations use 0x66656469



@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    host: str | None
    attempts: int  # including the current one: the claim counts it; also the lease's fencing token
    created_at: datetime
    give_up_at: datetime | None
    locked_until: datetime | None = None  # the end of the lease the claim granted


def _job(row: asyncpg.Record) -> Job:
    payload = row["payload"]
    if isinstance(payload, str):  # a connection without our jsonb codec (db/pool.py)
        payload = json.loads(payload)
    return Job(
        id=row["id"],
        kind=row["kind"],
        payload=payload,
        host=row["host"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        give_up_at=row["give_up_at"],
        locked_until=row["locked_until"],
    )


# ---- enqueueing ---------------------------------------------------------------------------------
# Payloads go in as text and are cast in SQL, so enqueue works on any connection, with or without the
# pool's jsonb codec. pg_notify inside the caller's transaction is only delivered at commit, so no
# worker wakes up for a job it cannot see yet; identical notifications in one transaction fold into one.
# A job for a host whose circuit is open starts when the circuit half-opens (hosts.py explains why).

_ENQUEUE = """
WITH ins AS (
    INSERT INTO jobs (kind, payload, host, run_at, give_up_at)
    VALUES ($1, $2::text::jsonb, $3,
            greatest(coalesce($4, now()), (SELECT circuit_open_until FROM remote_hosts WHERE host = $3)),
            coalesce($4, now()) + $5)
    RETURNING id
)
SELECT id, pg_notify('jobs_new', '') FROM ins
"""

_ENQUEUE_MANY = """
WITH ins AS (
    INSERT INTO jobs (kind, payload, host, run_at, give_up_at)
    SELECT $1, t.p::jsonb, t.h, greatest(coalesce($4, now()), r.circuit_open_until), coalesce($4, now()) + $5
    FROM unnest($2::text[], $3::text[]) AS t (p, h)
    LEFT JOIN remote_hosts r ON r.host = t.h
    RETURNING id
)
SELECT count(*), pg_notify('jobs_new', '') FROM ins
"""


async def enqueue(
    conn: Executor,
    kind: str,
    payload: dict[str, Any],
    *,
    host: str | None = None,
    run_at: datetime | None = None,
    give_up_after: timedelta = DEFAULT_GIVE_UP_AFTER,
) -> int:
    """Insert one job and return its id. Pass the caller's connection to enqueue inside its transaction."""
    row = await conn.fetchrow(_ENQUEUE, kind, jsonio.dumps(payload), host, run_at, give_up_after)
    return int(row["id"])


async def enqueue_many(
    conn: Executor,
    kind: str,
    payloads: Sequence[tuple[dict[str, Any], str | None]],
    *,
    run_at: datetime | None = None,
    give_up_after: timedelta = DEFAULT_GIVE_UP_AFTER,
) -> int:
    """Insert one job per (payload, host) in a single statement (fan-out); return how many."""
    if not payloads:
        return 0
    texts = [jsonio.dumps(payload) for payload, _ in payloads]
    job_hosts = [host for _, host in payloads]
    count = await conn.fetchval(_ENQUEUE_MANY, kind, texts, job_hosts, run_at, give_up_after)
    return int(count)


async def insert_and_enqueue(
    conn: Executor,
    insert_sql: str,
    *args: Any,
    kind: str,
    payload_key: str,
    give_up_after: timedelta = DEFAULT_GIVE_UP_AFTER,
    wakeups: Wakeups | None = None,
) -> int | None:
    """Run `insert_sql` (an INSERT … RETURNING id, parameters $1…$n from `args`) and, if it returned a
    row, a local job (no host) with payload {payload_key: that id}, in one statement — so in one round
    trip and atomically, with no explicit transaction. Returns the inserted row's id, or None when the
    INSERT returned nothing (ON CONFLICT DO NOTHING). The inbox stores each delivery this way: the
    BEGIN/INSERT/INSERT/COMMIT it replaced were four round trips per accepted activity.

    With `wakeups`, the statement sends no NOTIFY and the workers are woken through it instead."""
    n = len(args)
    wake = "(SELECT count(*) FROM job)" if wakeups is not None else "(SELECT pg_notify('jobs_new', '') FROM job)"
    row = await conn.fetchrow(
        f"""WITH source AS ({insert_sql}),
                 job AS (INSERT INTO jobs (kind, payload, give_up_at)
                         SELECT ${n + 1}, jsonb_build_object(${n + 2}::text, source.id), now() + ${n + 3}
                           FROM source RETURNING id)
            SELECT (SELECT id FROM source) AS id, {wake} AS woken""",
        *args, kind, payload_key, give_up_after,
    )
    if row is None or row["id"] is None:
        return None
    if wakeups is not None:
        wakeups.enqueued()
    return int(row["id"])


class Wakeups:
    """One process's jobs_new notifications for a stream of enqueues, coalesced: at most one NOTIFY per
    `interval` seconds, sent after the jobs it announces committed, so a worker is never told too early
    and a job waits at most `interval` (not a poll) before some worker looks for it.

    Why: a NOTIFY in a transaction takes a database-wide lock at commit (PostgreSQL's async.c,
    "NotifyQueueLock"), so every notifying commit of the inbox's door queued behind the others. Under a
    burst of deliveries one NOTIFY per 20 ms wakes the workers just as well (docs/benchmarks.md)."""

    def __init__(self, pool: asyncpg.Pool, *, interval: float = 0.02) -> None:
        self._pool = pool
        self._interval = interval
        self._last = float("-inf")
        self._due: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._closed = False

    def enqueued(self) -> None:
        """A job was committed (without a NOTIFY of its own): make sure the workers hear of it."""
        if self._due is not None or self._closed:
            return  # the NOTIFY already due is sent after this job's commit, which is behind us
        loop = asyncio.get_running_loop()
        self._due = loop.call_later(max(0.0, self._last + self._interval - loop.time()), self._send)

    def _send(self) -> None:
        # From here on an enqueue schedules the next NOTIFY: its job may commit after this one is sent.
        self._due = None
        loop = asyncio.get_running_loop()
        self._last = loop.time()
        task = loop.create_task(self._notify())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _notify(self) -> None:
        try:
            await self._pool.execute("SELECT pg_notify('jobs_new', '')")
        except Exception as exc:  # the database is away: workers still poll (worker.py), nothing is lost
            log.info("could not wake the workers: %s", exc)

    async def close(self) -> None:
        """Stop scheduling; a NOTIFY on its way is sent first (the pool closes after this)."""
        self._closed = True
        if self._due is not None:
            self._due.cancel()
            self._due = None
            await self._notify()
        if self._sending:
            await asyncio.gather(*self._sending)


# ---- claiming -----------------------------------------------------------------------------------
# Both claims end the same way: the rows in `picked` get the lease, and are returned.
_LEASE_PICKED = """
UPDATE jobs SET locked_until = now() + $2, locked_by = $1, attempts = jobs.attempts + 1
FROM picked WHERE jobs.id = picked.id
RETURNING jobs.id, jobs.kind, jobs.payload, jobs.host, jobs.attempts, jobs.created_at, jobs.give_up_at,
          jobs.run_at, jobs.locked_until
"""

# 1. `leased`: jobs per host whose lease is still running, in any process (index jobs_leased).
# 2. `candidates`: due, unleased jobs of hosts whose circuit is not open, numbered per host in queue
#    order; a job fits if its number plus the host's leased count stays within the host's slots:
#    per_host_limit normally, 1 when the circuit is half-open or the host is unavailable (the probe).
#    FOR UPDATE is not allowed next to window functions, hence the separate locking step...
# 3. `picked`: ...which locks the chosen rows, re-checking they are still claimable, skipping any row
#    another transaction holds (a concurrent retry or completion).
# Two claims reading the same snapshot could each grant a host its full quota; the advisory lock taken
# first makes the next claim's snapshot include the previous claim's leases, so the limit is exact.
# Only jobs with a host go through this: its window over every due job of every host grew with the
# backlog (11-26 ms at 10,000 queued inbox jobs, one claim at a time: docs/benchmarks.md).
_CLAIM_REMOTE = """
WITH leased AS (
    SELECT host, count(*) AS n FROM jobs
    WHERE locked_until > now() AND host IS NOT NULL
    GROUP BY host
),
candidates AS (
    SELECT j.id, j.run_at,
           row_number() OVER (PARTITION BY j.host ORDER BY j.run_at, j.id) + coalesce(l.n, 0)
              <= CASE WHEN h.failures >= $5 OR h.unavailable_since IS NOT NULL THEN 1 ELSE $4 END AS fits
    FROM jobs j
    LEFT JOIN remote_hosts h ON h.host = j.host
    LEFT JOIN leased l ON l.host = j.host
    WHERE j.host IS NOT NULL AND j.run_at <= now()
      AND (j.locked_until IS NULL OR j.locked_until <= now())
      AND (h.circuit_open_until IS NULL OR h.circuit_open_until <= now())
),
picked AS (
    SELECT id FROM jobs
    WHERE id IN (SELECT id FROM candidates WHERE fits ORDER BY run_at, id LIMIT $3)
      AND run_at <= now()
      AND (locked_until IS NULL OR locked_until <= now())
    FOR UPDATE SKIP LOCKED
)
""" + _LEASE_PICKED

# Local work (host NULL: inbox processing, link checks…) has no host limit and no circuit, so it needs
# neither the lock nor the window: the oldest due rows by index (jobs_local_due), skipping locked ones.
_CLAIM_LOCAL = """
WITH picked AS (
    SELECT id FROM jobs
    WHERE host IS NULL AND run_at <= now() AND (locked_until IS NULL OR locked_until <= now())
    ORDER BY run_at, id LIMIT $3
    FOR UPDATE SKIP LOCKED
)
""" + _LEASE_PICKED


# Is any job for a remote host due? Answered from the partial index jobs_remote_due, so the locked,
# windowed claim above only runs when it has something to find. Written as the first row in the index's
# order, not as EXISTS: for EXISTS the planner, with a jobs table it had no statistics for yet, read the
# whole table (0.4 to 0.6 ms with the 10,000 inbox jobs of a burst queued, on every claim); for the first row
# by (run_at, id) the ordered index is the plan (0.015 ms).
_REMOTE_DUE = """
SELECT 1 FROM jobs WHERE host IS NOT NULL AND run_at <= now() AND (locked_until IS NULL OR locked_until <= now())
 ORDER BY run_at, id LIMIT 1
"""


async def claim(
    pool: asyncpg.Pool, *, worker_id: str, limit: int, lease: timedelta, per_host_limit: int
) -> list[Job]:
    """Lease up to `limit` due jobs, oldest first, within each host's limit; the lease is committed on return."""
    if limit <= 0:
        return []
    async with pool.acquire() as conn:
        rows = []
        # Deliveries first: they are what peers and users wait for, and their hosts' limits keep them
        # from taking every slot; local work fills the rest.
        if await conn.fetchval(_REMOTE_DUE) is not None:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _CLAIM_LOCK)
                rows = await conn.fetch(_CLAIM_REMOTE, worker_id, lease, limit, per_host_limit,
                                        hosts.FAILURE_THRESHOLD)
        if len(rows) < limit:
            rows += await conn.fetch(_CLAIM_LOCAL, worker_id, lease, limit - len(rows))
    rows.sort(key=lambda r: (r["run_at"], r["id"]))
    return [_job(r) for r in rows]


# ---- settling -----------------------------------------------------------------------------------
async def complete_many(pool: Executor, job_ids: Sequence[int]) -> None:
    """The jobs are done: delete them (even if a lease expired and another worker runs one again), in
    one statement — the worker settles finished jobs in batches.

    The delete commits without waiting for its WAL flush (`synchronous_commit` off for its transaction;
    set_config in the WHERE clause because a plain statement has no transaction of its own to SET LOCAL
    in). A crash can lose only a suffix of the WAL, so a delete that is lost takes nothing after it, and
    what came before it — the job's effects — is lost only with it: the job still exists and runs again,
    as after any lease that ran out (jobs are at-least-once; docs/jobs.md). The worker awaits this before
    each claim: with a flush per batch, every claim waited for the disk."""
    await pool.execute(
        """DELETE FROM jobs WHERE id = ANY($1::bigint[])
              AND set_config('synchronous_commit', 'off', true) IS NOT NULL""",
        list(job_ids),
    )


def backoff(attempts: int, *, rand: Callable[[], float] = random.random) -> timedelta:
    """Delay before the next try after `attempts` failed tries: Sidekiq's curve with Mastodon's jitter.

    Base `n**4 + 15` seconds for retry number n = attempts - 1 (Sidekiq's default), plus up to half of it
    again at random (https://github.com/mastodon/mastodon/pull/21956 spread retries that "would mostly
    come in waves"). Over 16
    retries that is 49.6 h at least, 62 h on average, 74 h at most (Mastodon's
    `app/workers/activitypub/delivery_worker.rb`: `retry: 16`).
    The jitter is proportional rather than "full" (uniform 0..base) so the retry horizon stays predictable.
    """
    n = max(attempts - 1, 0)
    base = min(float(n) ** 4 + 15.0, MAX_BACKOFF.total_seconds())
    return timedelta(seconds=base * (1.0 + 0.5 * rand()))


_RETRY = """
UPDATE jobs
SET run_at = least(greatest(now() + $3, (SELECT circuit_open_until FROM remote_hosts r WHERE r.host = jobs.host)),
                   give_up_at),
    locked_until = NULL, locked_by = NULL, last_error = $4
WHERE id = $1 AND attempts = $2 AND (give_up_at IS NULL OR give_up_at > now())
RETURNING run_at
"""


async def retry(
    pool: asyncpg.Pool,
    job: Job,
    error: str,
    *,
    retry_after: timedelta | None = None,
    backoff_scale: float = 1.0,
) -> None:
    """Schedule the job again after its backoff (or the peer's Retry-After, if later; capped); past its
    give_up_at, drop it instead. The last try is scheduled at give_up_at itself, not beyond.

    Fenced on `attempts`: if the lease expired and another worker re-claimed the job, that worker owns
    its fate and this call changes nothing. `backoff_scale` shrinks the curve for tests only.
    """
    delay = backoff(job.attempts) * backoff_scale
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    error = error[:2000]
    async with pool.acquire() as conn:
        run_at = await conn.fetchval(_RETRY, job.id, job.attempts, delay, error)
        if run_at is not None:
            log.info("job %s (%s, %s) attempt %d failed, retry at %s: %s",
                     job.id, job.kind, job.host, job.attempts, run_at.isoformat(), error)
            return
        gave_up = await conn.fetchval(
            "DELETE FROM jobs WHERE id = $1 AND attempts = $2 AND give_up_at <= now() RETURNING id",
            job.id, job.attempts,
        )
    if gave_up is not None:
        # Dropped, not parked: Mastodon's `dead: false`. The log line is the record.
        log.warning("job %s (%s, %s) given up after %d attempts since %s: %s",
                    job.id, job.kind, job.host, job.attempts, job.created_at.isoformat(), error)
    else:
        log.info("job %s is no longer ours (lease expired and re-claimed, or settled elsewhere)", job.id)


async def fail_permanently(pool: Executor, job: Job, error: str) -> None:
    """The job can never succeed (a 4xx, a vanished actor): delete it and say why in the log."""
    await pool.execute("DELETE FROM jobs WHERE id = $1", job.id)
    log.warning("job %s (%s, %s) failed permanently on attempt %d: %s",
                job.id, job.kind, job.host, job.attempts, error[:2000])


async def release(pool: Executor, jobs: Sequence[Job], worker_id: str) -> None:
    """Give leases back early (a worker shutting down with jobs still running) so others retake them now."""
    if not jobs:
        return
    await pool.execute(
        "UPDATE jobs SET locked_until = NULL, locked_by = NULL WHERE id = ANY($1::bigint[]) AND locked_by = $2",
        [job.id for job in jobs], worker_id,
    )


async def release_lost_claims(pool: Executor, worker_id: str, *, after: datetime | None) -> int:
    """Give back the leases `worker_id` holds that end after `after`: granted by a claim whose answer never
    reached the worker (its connection was dropped while the database did not answer, and the server ran
    the claim when it woke). Every lease the worker knows of ends at or before the end of its last
    answered claim, `after` (None: it has none), since claims run one at a time and the server's clock
    only moves on. Returns how many were given back."""
    status = await pool.execute(
        """UPDATE jobs SET locked_until = NULL, locked_by = NULL
            WHERE locked_by = $1 AND locked_until > coalesce($2, '-infinity'::timestamptz)""",
        worker_id, after,
    )
    return int(status.split()[-1])


async def lease_holders(pool: Executor, like: str) -> list[str]:
    """The workers (`locked_by`) matching the LIKE pattern that hold a lease still running."""
    rows = await pool.fetch(
        "SELECT DISTINCT locked_by FROM jobs WHERE locked_until > now() AND locked_by LIKE $1", like
    )
    return [row["locked_by"] for row in rows]


async def release_holders(pool: Executor, holders: Sequence[str]) -> int:
    """Give back every running lease of these workers (dead ones: worker_ids.is_dead); returns how many."""
    status = await pool.execute(
        """UPDATE jobs SET locked_until = NULL, locked_by = NULL
            WHERE locked_by = ANY($1::text[]) AND locked_until > now()""",
        list(holders),
    )
    return int(status.split()[-1])


async def purge_expired(pool: Executor, *, grace: timedelta = timedelta(hours=1)) -> int:
    """Delete jobs past give_up_at that nobody holds: those of hosts whose circuit stayed open to the end;
    then the shared bodies no job names any more.

    The grace lets a last try scheduled exactly at give_up_at (see retry) be claimed first.
    """
    status = await pool.execute(
        """DELETE FROM jobs
           WHERE give_up_at < now() - $1::interval AND (locked_until IS NULL OR locked_until < now())""",
        grace,
    )
    count = int(status.split()[-1])
    if count:
        log.warning("gave up %d expired jobs that could not be attempted (hosts unavailable)", count)
    await purge_bodies(pool)
    return count


# ---- shared bodies --------------------------------------------------------------------------------
# A body many jobs carry (a fan-out's activity) is stored once in job_bodies and named in each payload as
# {"body_id": id} (migration 0010 says why). A body and the jobs naming it are inserted in one
# transaction, so any snapshot that sees the body sees its jobs: the purge below never takes a body
# whose jobs are still to come. The minute of grace is for readers that loaded a job a moment ago.

async def store_body(conn: Executor, body: str) -> int:
    """Store a shared body; call it in the transaction that enqueues the jobs naming it."""
    return int(await conn.fetchval("INSERT INTO job_bodies (body) VALUES ($1) RETURNING id", body))


async def purge_bodies(pool: Executor, *, grace: timedelta = timedelta(minutes=1)) -> int:
    """Delete the shared bodies that no job names (their jobs all finished, failed or expired)."""
    status = await pool.execute(
        """DELETE FROM job_bodies b
            WHERE b.created_at < now() - $1::interval
              AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.payload ? 'body_id'
                                AND (j.payload->>'body_id')::bigint = b.id)""",
        grace,
    )
    return int(status.split()[-1])


class BodyCache:
    """The shared bodies one worker has read, as bytes, by id: a fan-out's jobs all send the same one, so
    it is read once per worker rather than once per job. Bodies never change, so nothing goes stale;
    the cache only forgets the oldest when it is full. Concurrent first reads share one query."""

    def __init__(self, pool: asyncpg.Pool, *, max_entries: int = 64) -> None:
        self._pool = pool
        self._max_entries = max_entries
        self._bodies: dict[int, asyncio.Task[bytes | None]] = {}

    async def get(self, body_id: int) -> bytes | None:
        """The body, or None if it is gone (it was purged: no job should still name it)."""
        loading = self._bodies.get(body_id)
        if loading is None:
            if len(self._bodies) >= self._max_entries:
                del self._bodies[next(iter(self._bodies))]  # dicts keep insertion order: the oldest
            loading = asyncio.get_running_loop().create_task(self._load(body_id))
            self._bodies[body_id] = loading
        # Shielded: a job cancelled while waiting (its timeout) does not cancel the others' read.
        return await asyncio.shield(loading)

    async def _load(self, body_id: int) -> bytes | None:
        try:
            text = await self._pool.fetchval("SELECT body FROM job_bodies WHERE id = $1", body_id)
        except BaseException:
            self._bodies.pop(body_id, None)  # not cached: the next job asks again
            raise
        return None if text is None else text.encode()
