"""Remote host health: a circuit breaker per host, and "unavailable" marking for hosts down for days.

States, all kept in `remote_hosts` so every worker process sees the same picture:

- closed: fewer than FAILURE_THRESHOLD consecutive failures; jobs run up to the per-host limit.
- open: `circuit_open_until` is in the future; the claim (jobs/queue.py) skips the host's jobs. Each failure
  past the threshold doubles the cool-down, from 60 s (Mastodon's Stoplight cool-down) up to an hour.
- half-open: the cool-down has passed but failures are still over the threshold; the claim lets one job
  through at a time. Its failure re-opens the circuit; its success closes it.
- unavailable: failures for longer than UNAVAILABLE_AFTER (counted from `first_failure_at`). Jobs wait,
  with one probe per PROBE_INTERVAL, until their give_up_at. Mastodon skips such a domain entirely after
  failures on 7 distinct days (its `app/lib/delivery_failure_tracker.rb`); our jobs give up after 3 days,
  so 2 days is the point where probing rarely beats waiting. Fan-out may skip these hosts (`unavailable_among`).

Any success resets everything. The handlers report outcomes (federation/delivery.py); a 4xx that Mastodon treats
as final still proves the host is up, so it counts as a success.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Collection
from datetime import timedelta
from urllib.parse import urlsplit

from fediverse_biz.db.executor import Executor

log = logging.getLogger(__name__)

FAILURE_THRESHOLD = 10  # Mastodon's STOPLIGHT_FAILURE_THRESHOLD
BASE_COOLDOWN = timedelta(seconds=60)  # Mastodon's STOPLIGHT_COOLDOWN
MAX_COOLDOWN = timedelta(hours=1)
UNAVAILABLE_AFTER = timedelta(days=2)
PROBE_INTERVAL = timedelta(hours=6)
_QUIET_SUCCESS = timedelta(minutes=1)  # a healthy host's last_success_at is refreshed at most this often



def host_of(url: str) -> str:
    """The key for per-host limits and health: the URL's host, lower-case, with its port if one is given."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port is not None else host


# On conflict, `h.*` are the values before this failure. Unavailable status is decided on the failure
# streak's age (first_failure_at), so a single failure after days of silence does not count.
# While the circuit is open, the host's waiting jobs are moved to when it half-opens (`deferred`), so the
# claim's scan of due jobs never wades through a dead host's backlog; enqueue and retry do the same.
_RECORD_FAILURE = """
WITH h AS (
    INSERT INTO remote_hosts AS h (host, failures, first_failure_at, last_failure_at)
    VALUES ($1, 1, now(), now())
    ON CONFLICT (host) DO UPDATE SET
        failures = h.failures + 1,
        first_failure_at = coalesce(h.first_failure_at, now()),
        last_failure_at = now(),
        unavailable_since = CASE
            WHEN h.unavailable_since IS NOT NULL THEN h.unavailable_since
            WHEN h.first_failure_at <= now() - $2::interval THEN now()
        END,
        circuit_open_until = CASE
            WHEN h.unavailable_since IS NOT NULL OR h.first_failure_at <= now() - $2::interval
                THEN now() + $3::interval
            WHEN h.failures + 1 >= $4
                THEN now() + least($5::interval * power(2, least(h.failures + 1 - $4, 30)), $6::interval)
            ELSE h.circuit_open_until
        END
    RETURNING host, failures, first_failure_at, circuit_open_until, unavailable_since
),
deferred AS (
    UPDATE jobs SET run_at = h.circuit_open_until
    FROM h
    WHERE jobs.host = h.host AND h.circuit_open_until > now() AND jobs.run_at < h.circuit_open_until
      AND (jobs.locked_until IS NULL OR jobs.locked_until <= now())
)
SELECT failures, first_failure_at, circuit_open_until, unavailable_since = now() AS became_unavailable FROM h
"""


async def record_failure(pool: Executor, host: str) -> None:
    """One more consecutive failure talking to `host` (5xx, 429, timeout, refused connection)."""
    await flush_successes(pool)  # an earlier success, still pending, must not reset this failure later
    row = await pool.fetchrow(
        _RECORD_FAILURE, host, UNAVAILABLE_AFTER, PROBE_INTERVAL, FAILURE_THRESHOLD, BASE_COOLDOWN, MAX_COOLDOWN
    )
    if row["became_unavailable"]:
        log.warning("host %s failing since %s: marked unavailable, one probe every %s",
                    host, row["first_failure_at"].isoformat(), PROBE_INTERVAL)
    elif row["failures"] == FAILURE_THRESHOLD:
        log.warning("host %s failed %d times in a row: circuit open until %s",
                    host, row["failures"], row["circuit_open_until"].isoformat())


# The conditional DO UPDATE keeps the hot path cheap: a healthy host is rewritten at most once a minute.
# Hosts are taken in order, so two batches that share hosts lock their rows in the same order.
_RECORD_SUCCESSES = """
WITH input AS (SELECT DISTINCT unnest($1::text[]) AS host),
before AS (SELECT r.host, r.failures, r.unavailable_since FROM remote_hosts r JOIN input i ON i.host = r.host),
upsert AS (
    INSERT INTO remote_hosts AS h (host, last_success_at)
    SELECT host, now() FROM input ORDER BY host
    ON CONFLICT (host) DO UPDATE SET
        failures = 0, first_failure_at = NULL, circuit_open_until = NULL, unavailable_since = NULL,
        last_success_at = now()
    WHERE h.failures > 0 OR h.unavailable_since IS NOT NULL OR h.circuit_open_until IS NOT NULL
       OR h.last_success_at IS NULL OR h.last_success_at < now() - $2::interval
)
SELECT host, failures, unavailable_since FROM before
"""


# Successes noted by deliveries and written by the worker with the jobs it settles, once per turn of its
# loop (worker._flush_completed): a post to 500 hosts finishes ~500 deliveries within a second, and one
# statement each, on the delivery's own path, was a fifth of the fan-out's time (docs/benchmarks.md).
# Per event loop; a failure writes the pending successes first, so their order is kept.
_pending: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[str]] = weakref.WeakKeyDictionary()


def note_success(host: str) -> None:
    """`host` answered; recorded by the next flush_successes (the worker's, after the job settles)."""
    _pending.setdefault(asyncio.get_running_loop(), []).append(host)


async def flush_successes(pool: Executor) -> None:
    """Write the successes noted in this event loop so far, in one statement."""
    pending = _pending.get(asyncio.get_running_loop())
    if pending:
        batch = pending[:]
        pending.clear()
        await _record_successes(pool, batch)


async def _record_successes(pool: Executor, hosts: list[str]) -> None:
    rows = await pool.fetch(_RECORD_SUCCESSES, hosts, _QUIET_SUCCESS)
    for row in rows:
        if row["failures"] >= FAILURE_THRESHOLD or row["unavailable_since"] is not None:
            log.warning("host %s is back after %d consecutive failures", row["host"], row["failures"])


async def is_available(pool: Executor, host: str) -> bool:
    """False once the host has been failing for UNAVAILABLE_AFTER, until it next succeeds."""
    unavailable = await pool.fetchval("SELECT unavailable_since FROM remote_hosts WHERE host = $1", host)
    return unavailable is None


async def unavailable_among(pool: Executor, candidates: Collection[str]) -> set[str]:
    """Which of `candidates` are marked unavailable: one query for a whole fan-out."""
    rows = await pool.fetch(
        "SELECT host FROM remote_hosts WHERE host = ANY($1::text[]) AND unavailable_since IS NOT NULL",
        list(candidates),
    )
    return {r["host"] for r in rows}


async def circuit_state(pool: Executor, host: str) -> str:
    """'closed', 'open', 'half-open' or 'unavailable' (admin views, tests); mirrors the claim's rules."""
    row = await pool.fetchrow(
        """SELECT failures, unavailable_since,
                  coalesce(circuit_open_until > now(), false) AS open
           FROM remote_hosts WHERE host = $1""",
        host,
    )
    if row is None:
        return "closed"
    if row["unavailable_since"] is not None:
        return "unavailable"
    if row["open"]:
        return "open"
    return "half-open" if row["failures"] >= FAILURE_THRESHOLD else "closed"
