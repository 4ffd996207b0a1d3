"""A worker process killed with SIGKILL mid-delivery loses nothing, and a worker
restarted after it takes its deliveries back at once rather than when their leases run out.

Worker processes are real (tests/support/run_worker.py with the production handlers, or `fediverse-biz
worker` itself), the database is the test's own, the peers are FakeInboxes on 127.0.0.1. Delivery is
at-least-once: a job killed between its POST and its DELETE is sent again, and receivers dedupe on the
activity id — so the assertion is that every id arrives, none is lost, and the queue ends empty.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from aiohttp import web

from fediverse_biz.core import accounts, outbound
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import factories
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
                await outbound.deliver(conn, actor, {"id": activity_id, "type": "Create"}, [inbox.url()])

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


# ---- a restarted worker takes back the leases of the one that died ---------------------------------------
@contextmanager
def cli_worker(dsn: str, data_dir: Path, log: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """`fediverse-biz worker --concurrency 4` as an operator runs it: the default 5-minute lease, 4 per host."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDIVERSE_BIZ_")}
    env.update(DATABASE_URL=dsn, FEDIVERSE_BIZ_DATA_DIR=str(data_dir), FEDIVERSE_BIZ_DOMAIN="127.0.0.1",
               FEDIVERSE_BIZ_SCHEME="http", FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES="127.0.0.0/8")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "fediverse_biz.cli", "worker", "--concurrency", "4"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


RESUME_WITHIN = 30.0  # seconds; the lease is 300


async def test_a_restarted_worker_takes_back_its_dead_predecessors_deliveries_at_once(
    db: Database, dsn: str, urls: LocalUrls, tmp_path: Path
) -> None:
    author = await factories.local_actor(db.pool, urls, "author")
    # Two receivers: `slow` holds every request until the first worker is dead, `busy` holds its requests
    # until the end of the test (a live worker is in the middle of delivering to it).
    slow_holds = asyncio.Event()
    slow_holds.set()
    slow_released, busy_released = asyncio.Event(), asyncio.Event()

    async def slow_respond(request: web.Request) -> web.StreamResponse:
        if slow_holds.is_set():
            await slow_released.wait()
        return web.Response(status=202)

    async def busy_respond(request: web.Request) -> web.StreamResponse:
        await busy_released.wait()
        return web.Response(status=202)

    slow = await FakeInbox(respond=slow_respond).start()
    busy = await FakeInbox(respond=busy_respond).start()
    log_path = tmp_path / "workers.log"

    async def leases(host: str) -> dict[str, int]:
        rows = await db.pool.fetch(
            """SELECT locked_by, count(*) AS n FROM jobs WHERE host = $1 AND locked_until > now()
                GROUP BY locked_by""", host,
        )  # fmt: skip
        return {r["locked_by"]: r["n"] for r in rows}

    async def enqueue(activity_id: str, inboxes: list[str]) -> None:
        async with db.pool.acquire() as conn, conn.transaction():
            await outbound.deliver(conn, author, {"id": activity_id, "type": "Create"}, inboxes)

    try:
        # given a fan-out of one post to 10 inboxes on the slow server, a worker that has 4 of them in flight
        # (4 per host), and another worker, alive, in the middle of 4 deliveries to the busy server
        fan_out = [slow.url(f"/users/u{n}/inbox") for n in range(10)]
        await enqueue(f"{author['uri']}/statuses/1/activity", fan_out)
        with log_path.open("wb") as log, cli_worker(dsn, tmp_path / "w1", log) as first:

            async def first_in_flight() -> bool:
                return len(slow.received) == 4 and sum((await leases(slow.host)).values()) == 4

            await until(first_in_flight, 60, "the first worker to hold 4 deliveries to the slow server")
            [first_id] = await leases(slow.host)
            await enqueue(f"{author['uri']}/statuses/2/activity", [busy.url(f"/users/b{n}/inbox") for n in range(4)])
            with cli_worker(dsn, tmp_path / "w2", log) as second:

                async def second_in_flight() -> bool:
                    return len(busy.received) == 4 and sum((await leases(busy.host)).values()) == 4

                await until(second_in_flight, 60, "the other worker to hold 4 deliveries to the busy server")
                [second_id] = await leases(busy.host)
                assert second_id != first_id

                # when the first worker is killed outright mid-fan-out, the slow server recovers, and a worker
                # is started again in its place
                first.kill()
                await asyncio.to_thread(first.wait, 30)
                assert await leases(slow.host) == {first_id: 4}  # held by a dead process, for 5 minutes
                slow_holds.clear()
                slow_released.set()
                restarted = time.monotonic()
                with cli_worker(dsn, tmp_path / "w3", log) as third:

                    # then the whole fan-out is delivered within seconds, not when the dead worker's leases end
                    async def fan_out_delivered() -> bool:
                        left = await db.pool.fetchval("SELECT count(*) FROM jobs WHERE host = $1", slow.host)
                        return left == 0

                    await until(fan_out_delivered, RESUME_WITHIN, "the fan-out to finish after the restart")
                    resumed = time.monotonic() - restarted
                    # and the live worker's leases were left alone: nothing more was sent to the busy server
                    assert await leases(busy.host) == {second_id: 4}
                    assert len(busy.received) == 4
                    assert second.poll() is None and third.poll() is None
                busy_released.set()
    finally:
        slow_released.set()
        busy_released.set()
        await slow.stop()
        await busy.stop()

    output = log_path.read_text()
    assert f"took back 4 jobs leased by dead workers {first_id}" in output, output
    # every inbox got the post; the 4 that were in flight when the worker died got it twice (at-least-once)
    per_inbox = Counter(r.path for r in slow.received)
    assert set(per_inbox) == {f"/users/u{n}/inbox" for n in range(10)}
    assert sorted(per_inbox.values()) == [1] * 6 + [2] * 4
    print(f"the fan-out resumed {resumed:.1f} s after the restart (lease: 300 s)")
