"""Worker identities: which lease holders are certainly dead, and the leases given back for them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from fediverse_biz.db.database import Database
from fediverse_biz.jobs import queue, worker_ids

pytestmark = pytest.mark.skipif(worker_ids.PLACE is None, reason="needs /proc (Linux)")

LEASE = timedelta(minutes=5)
PRINT_IDENTITY = "from fediverse_biz.jobs import worker_ids; print(worker_ids.new_identity(), flush=True)"


def ended_identity() -> str:
    """The worker identity of a process that has ended (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", PRINT_IDENTITY], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_an_identity_names_host_pid_place_and_start() -> None:
    identity = worker_ids.new_identity()
    assert identity != worker_ids.new_identity()  # two Workers of one process are told apart
    assert identity.split("@")[1].startswith(f"{worker_ids.PLACE}.")
    assert not worker_ids.is_dead(identity)  # this process


def test_a_process_is_dead_once_it_ended_or_its_pid_was_recycled() -> None:
    # a live process is alive; ended, even before it was reaped (a zombie), it is dead
    waits = [sys.executable, "-c", PRINT_IDENTITY + "; import sys; sys.stdin.read()"]
    with subprocess.Popen(waits, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        identity = proc.stdout.readline().strip()
        assert not worker_ids.is_dead(identity)
        proc.kill()
        deadline = time.monotonic() + 10
        while not worker_ids.is_dead(identity) and time.monotonic() < deadline:  # not reaped yet: a zombie
            time.sleep(0.01)
        assert worker_ids.is_dead(identity)
    assert worker_ids.is_dead(identity)  # reaped: no such pid
    # this process's pid with another start time: the pid was recycled, the holder is gone
    mine = worker_ids.new_identity()
    base, start = mine.rsplit(".", 1)
    assert worker_ids.is_dead(f"{base}.{int(start) + 1}")


def test_holders_that_cannot_be_checked_here_are_alive() -> None:
    identity = ended_identity()
    assert worker_ids.is_dead(identity)
    head, tail = identity.split("@")
    elsewhere = "0" * 12 if worker_ids.PLACE != "0" * 12 else "1" * 12
    assert not worker_ids.is_dead(f"{head}@{elsewhere}.{tail.split('.')[1]}")  # another machine or container
    assert not worker_ids.is_dead(head)  # the old form, host:pid:random
    assert not worker_ids.is_dead("first")  # chosen by hand (tests)


async def _leased(db: Database, worker_id: str, n: int = 1) -> list[queue.Job]:
    for _ in range(n):
        await queue.enqueue(db.pool, "test", {})
    return await queue.claim(db.pool, worker_id=worker_id, limit=n, lease=LEASE, per_host_limit=4)


async def test_the_leases_of_dead_holders_here_are_given_back_and_no_others(db: Database) -> None:
    dead = ended_identity()
    alive = worker_ids.new_identity()
    elsewhere = dead.replace(f"@{worker_ids.PLACE}.", "@" + "0" * 12 + ".")
    for holder in (dead, alive, elsewhere):
        await _leased(db, holder, 2)
    pattern = worker_ids.holders_here_pattern()
    assert pattern is not None
    here = await queue.lease_holders(db.pool, pattern)
    assert sorted(here) == sorted([dead, alive])
    assert await queue.release_holders(db.pool, [h for h in here if worker_ids.is_dead(h)]) == 2
    rows = await db.pool.fetch("SELECT locked_by, count(*) AS n FROM jobs GROUP BY locked_by")
    assert {r["locked_by"]: r["n"] for r in rows} == {None: 2, alive: 2, elsewhere: 2}
    # the jobs given back are due at once, their dead try counted
    again = await queue.claim(db.pool, worker_id="next", limit=10, lease=LEASE, per_host_limit=4)
    assert [job.attempts for job in again] == [2, 2]


async def test_lost_claims_are_given_back_and_known_leases_kept(db: Database) -> None:
    known = await _leased(db, "w", 2)
    await asyncio.sleep(0.01)
    await _leased(db, "w", 1)  # a claim whose answer never reached the worker
    last_known = max(job.locked_until for job in known if job.locked_until is not None)
    assert await queue.release_lost_claims(db.pool, "w", after=last_known) == 1
    held = await db.pool.fetch("SELECT id FROM jobs WHERE locked_by = 'w' AND locked_until > now()")
    assert sorted(r["id"] for r in held) == sorted(job.id for job in known)
    # a worker that never heard back from any claim owns no lease it knows of
    assert await queue.release_lost_claims(db.pool, "w", after=None) == 2
