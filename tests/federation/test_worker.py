"""The worker loop: outcomes, concurrency bounds, NOTIFY wake-up, shutdown (jobs/worker.py)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest

from fediverse_biz.config import Settings
from fediverse_biz.db.database import Database
from fediverse_biz.jobs import queue
from fediverse_biz.jobs.contract import Handler, PermanentError, RetryableError, WorkerContext
from fediverse_biz.jobs.queue import Job
from fediverse_biz.jobs.worker import Worker, run_workers
from fediverse_biz.net.fetch import create_session


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    session = create_session(["127.0.0.0/8"], user_agent="test")
    yield session
    await session.close()


def worker(db: Database, http: aiohttp.ClientSession, settings: Settings, handlers: dict[str, Handler],
           **options: object) -> Worker:
    return Worker(db.pool, http, settings, handlers, **options)  # type: ignore[arg-type]


async def ok(ctx: WorkerContext, job: Job) -> None:
    return None


async def later(ctx: WorkerContext, job: Job) -> None:
    raise RetryableError("peer busy", retry_after=timedelta(minutes=10))


async def never(ctx: WorkerContext, job: Job) -> None:
    raise PermanentError("HTTP 410")


async def boom(ctx: WorkerContext, job: Job) -> None:
    raise KeyError("a bug")


async def wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the condition is plain state, nothing to await
            await asyncio.sleep(0.02)


async def test_each_outcome_is_settled_and_a_crashing_handler_is_retried(
    db: Database, http: aiohttp.ClientSession, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    for kind in ("ok", "later", "never", "boom", "unknown"):
        await queue.enqueue(db.pool, kind, {"kind": kind})
    w = worker(db, http, settings, {"ok": ok, "later": later, "never": never, "boom": boom})
    with caplog.at_level(logging.INFO, logger="fediverse_biz.jobs"):
        await w.run_until_idle(timeout=10)
    rows = {r["kind"]: r for r in await db.pool.fetch("SELECT *, run_at - now() AS wait FROM jobs")}
    assert set(rows) == {"later", "boom", "unknown"}  # ok done, never dropped
    assert rows["later"]["wait"] > timedelta(minutes=9)  # Retry-After beats the 15 s backoff
    assert rows["boom"]["last_error"] == "KeyError: 'a bug'"
    assert rows["unknown"]["last_error"] == "no handler for job kind 'unknown'"
    assert all(r["locked_until"] is None and r["attempts"] == 1 for r in rows.values())
    assert "job" in caplog.text and "KeyError" in caplog.text  # the bug is logged with its traceback
    assert "failed permanently" in caplog.text


async def test_concurrency_and_per_host_limit_bound_running_jobs(
    db: Database, http: aiohttp.ClientSession, settings: Settings
) -> None:
    running: Counter[str | None] = Counter()
    peak: Counter[str | None] = Counter()
    total = {"now": 0, "peak": 0}

    async def slow(ctx: WorkerContext, job: Job) -> None:
        running[job.host] += 1
        total["now"] += 1
        peak[job.host] = max(peak[job.host], running[job.host])
        total["peak"] = max(total["peak"], total["now"])
        await asyncio.sleep(0.05)
        running[job.host] -= 1
        total["now"] -= 1

    await queue.enqueue_many(db.pool, "slow", [({}, "one.example")] * 12 + [({}, None)] * 12)
    await worker(db, http, settings, {"slow": slow}, concurrency=5, per_host_limit=2).run_until_idle(timeout=20)
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0
    assert peak["one.example"] == 2
    assert total["peak"] == 5


async def test_while_the_web_is_busy_only_the_reserve_slots_run_then_all_of_them(
    db: Database, http: aiohttp.ClientSession, settings: Settings
) -> None:
    """`serve` passes middleware.WebLoad.busy: a burst of requests gets the CPU first, jobs keep moving."""
    busy = {"now": True}
    running = {"now": 0, "peak_busy": 0, "peak_idle": 0}

    async def slow(ctx: WorkerContext, job: Job) -> None:
        running["now"] += 1
        key = "peak_busy" if busy["now"] else "peak_idle"
        running[key] = max(running[key], running["now"])
        await asyncio.sleep(0.05)
        running["now"] -= 1

    await queue.enqueue_many(db.pool, "slow", [({}, None)] * 40)
    stop = asyncio.Event()
    w = worker(db, http, settings, {"slow": slow}, concurrency=32, poll_interval=0.05, yield_to=lambda: busy["now"])
    task = asyncio.create_task(w.run(stop))
    await wait_for(lambda: running["peak_busy"] > 0)
    await asyncio.sleep(0.3)
    assert running["peak_busy"] == 2  # 32 // 16 reserve slots
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") > 0  # still work left
    busy["now"] = False
    await wait_for(lambda: running["peak_idle"] > 2)
    stop.set()
    await task
    assert running["peak_idle"] <= 32


async def test_run_wakes_on_notify_and_finishes_in_flight_jobs_on_stop(
    db: Database, http: aiohttp.ClientSession, settings: Settings
) -> None:
    started = asyncio.Event()

    async def slow(ctx: WorkerContext, job: Job) -> None:
        started.set()
        await asyncio.sleep(0.3)

    stop = asyncio.Event()
    # a poll interval far longer than the test: only NOTIFY can wake the worker
    w = worker(db, http, settings, {"slow": slow}, poll_interval=60.0)
    running = asyncio.create_task(w.run(stop))
    await asyncio.sleep(0.3)
    await queue.enqueue(db.pool, "slow", {})
    async with asyncio.timeout(5):
        await started.wait()
    stop.set()
    async with asyncio.timeout(5):
        await running
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0  # finished, not abandoned


async def test_stop_hands_back_jobs_that_outlive_the_grace_period(
    db: Database, http: aiohttp.ClientSession, settings: Settings
) -> None:
    started = asyncio.Event()

    async def stuck(ctx: WorkerContext, job: Job) -> None:
        started.set()
        await asyncio.Event().wait()

    job_id = await queue.enqueue(db.pool, "stuck", {})
    stop = asyncio.Event()
    running = asyncio.create_task(worker(db, http, settings, {"stuck": stuck}, shutdown_grace=0.2).run(stop))
    async with asyncio.timeout(5):
        await started.wait()
    stop.set()
    async with asyncio.timeout(5):
        await running
    row = await db.pool.fetchrow("SELECT locked_until, attempts FROM jobs WHERE id = $1", job_id)
    assert row["locked_until"] is None and row["attempts"] == 1  # another worker may take it at once


async def test_a_handler_is_stopped_before_its_lease_runs_out(
    db: Database, http: aiohttp.ClientSession, settings: Settings
) -> None:
    async def stuck(ctx: WorkerContext, job: Job) -> None:
        await asyncio.sleep(30)

    await queue.enqueue(db.pool, "stuck", {})
    w = worker(db, http, settings, {"stuck": stuck}, lease=timedelta(milliseconds=500))
    await w.run_until_idle(timeout=5)
    assert await db.pool.fetchval("SELECT last_error FROM jobs") == "handler ran over 0.4 s"


async def test_backoff_scale_speeds_up_retries_for_tests(
    db: Database, http: aiohttp.ClientSession, settings: Settings
) -> None:
    calls: list[int] = []

    async def flaky(ctx: WorkerContext, job: Job) -> None:
        calls.append(job.attempts)
        if job.attempts < 3:
            raise RetryableError("not yet")

    await queue.enqueue(db.pool, "flaky", {})
    stop = asyncio.Event()
    running = asyncio.create_task(
        worker(db, http, settings, {"flaky": flaky}, backoff_scale=0.001, poll_interval=0.05).run(stop)
    )
    await wait_for(lambda: calls == [1, 2, 3])
    stop.set()
    await running
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_run_workers_uses_settings_and_can_be_disabled(
    db: Database, http: aiohttp.ClientSession, settings: Settings
) -> None:
    done = asyncio.Event()

    async def mark(ctx: WorkerContext, job: Job) -> None:
        assert ctx.settings.workers == 2 and ctx.urls.base == settings.base_url
        done.set()

    stop = asyncio.Event()
    await run_workers(db.pool, http, replace(settings, workers=0), stop, handlers={"mark": mark})  # returns at once
    await queue.enqueue(db.pool, "mark", {})
    running = asyncio.create_task(
        run_workers(db.pool, http, replace(settings, workers=2), stop, handlers={"mark": mark})
    )
    async with asyncio.timeout(5):
        await done.wait()
    stop.set()
    await running
