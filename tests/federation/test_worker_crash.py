"""A worker process killed with SIGKILL mid-delivery loses nothing (the issue's "Done when").

Worker processes are real (tests/support/run_worker.py, the production handlers), the database is the
test's own, the peer is a FakeInbox on 127.0.0.1 that verifies signatures. Delivery is at-least-once: a
job killed between its POST and its DELETE is sent again, and receivers dedupe on the activity id — so
the assertion is that every id arrives, none is lost, and the queue ends empty.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from aiohttp import web

from fediverse_biz.core import accounts
from fediverse_biz.core.urls import LocalUrls
from fediverse_biz.db.database import Database
from fediverse_biz.federation import delivery
from tests.support.inbox import FakeInbox

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 4.0
JOBS = 50


@contextmanager
def worker_process(dsn: str, worker_id: str, log: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    args = [
        sys.executable, "-m", "tests.support.run_worker", dsn, "--worker-id", worker_id,
        "--lease", str(LEASE_SECONDS), "--backoff-scale", "0.01", "--poll-interval", "0.1",
        "--per-host-limit", "4",
    ]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    try:
        async with asyncio.timeout(within):
            while not await check():  # noqa: ASYNC110 - polling the database and another process
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_sigkilled_worker_loses_no_delivery(db: Database, urls: LocalUrls, tmp_path: Path) -> None:
    async with db.pool.acquire() as conn:
        actor = await accounts.insert_local_actor(conn, urls, "acme", actor_type="Organization")
    peer_up = False
    refused = 0
    accepted: list[str] = []

    async def respond(request: web.Request) -> web.StreamResponse:
        nonlocal refused
        activity_id = json.loads(await request.read())["id"]
        if peer_up:
            accepted.append(activity_id)
            return web.Response(status=202)
        refused += 1
        if refused <= 6:  # some fail fast and are retried before the crash...
            return web.Response(status=503)
        await inbox.release.wait()  # ...the rest hang until the worker dies holding their leases
        return web.Response(status=503)

    inbox = await FakeInbox(respond=respond, public_keys={actor["key_id"]: actor["public_key_pem"]}).start()
    log_path = tmp_path / "workers.log"
    try:
        ids = [f"{actor['uri']}/statuses/{n}/activity" for n in range(JOBS)]
        async with db.pool.acquire() as conn, conn.transaction():
            for activity_id in ids:
                await delivery.enqueue_delivery(
                    conn, inbox=inbox.url(), activity={"id": activity_id, "type": "Create"}, actor_id=actor["id"]
                )

        with log_path.open("wb") as log:
            # given a worker that has claimed some deliveries to a peer that is down
            with worker_process(db.dsn, "first", log) as first:
                async def stuck_mid_delivery() -> bool:
                    leased = await db.pool.fetchval(
                        "SELECT count(*) FROM jobs WHERE locked_by = 'first' AND locked_until > now()"
                    )
                    return refused >= 10 and leased == 4

                await until(stuck_mid_delivery, 30, "the first worker to hang on 4 deliveries")
                # when it is killed outright
                first.kill()
                await asyncio.to_thread(first.wait, 30)
            orphans = await db.pool.fetchval("SELECT count(*) FROM jobs WHERE locked_by = 'first'")
            tried = await db.pool.fetchval("SELECT count(*) FROM jobs WHERE attempts > 0")
            assert orphans == 4 and 4 <= tried < JOBS  # killed mid-way, leases held by a dead process
            assert await db.pool.fetchval("SELECT count(*) FROM jobs") == JOBS

            # and the peer comes back, and a new worker starts
            peer_up = True
            with worker_process(db.dsn, "second", log) as second:
                async def all_delivered() -> bool:
                    remaining = await db.pool.fetchval("SELECT count(*) FROM jobs")
                    return remaining == 0 and set(accepted) == set(ids)

                await until(all_delivered, 60, "every delivery to arrive")
                second.terminate()  # graceful stop
                assert await asyncio.to_thread(second.wait, 30) == 0
    finally:
        await inbox.stop()

    # then every activity arrived, each at least once; duplicates only from jobs killed mid-flight
    assert set(accepted) == set(ids)
    assert len(accepted) - len(set(accepted)) <= 4
    assert inbox.rejected == []  # every request, before and after the crash, was validly signed
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0
    assert await db.pool.fetchval("SELECT failures FROM remote_hosts WHERE host = $1", inbox.host) == 0
