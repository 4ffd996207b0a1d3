"""The worker loop: claim due jobs, run their handlers concurrently, settle each outcome.

Connection budget: a running job holds no database connection; its claim (a committed lease) is what
reserves it. Per worker, one pooled connection stays checked out for LISTEN jobs_new; claims, the
handlers' own queries and settlements borrow a connection for one statement or transaction at a time.

`serve` runs workers in-process and `fediverse-biz worker` runs them alone; both call `run_workers`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from fediverse_biz.config import Settings
from fediverse_biz.db.pool import ping
from fediverse_biz.jobs import hosts, queue, worker_ids
from fediverse_biz.jobs.contract import Handler, PermanentError, RetryableError, WorkerContext
from fediverse_biz.jobs.queue import Job
from fediverse_biz.urls import LocalUrls

log = logging.getLogger(__name__)

PURGE_INTERVAL = 600.0  # seconds between clean-ups of jobs that expired without being attempted
RELISTEN_INTERVAL = 30.0  # seconds between attempts to restore a lost LISTEN connection
SHUTDOWN_GRACE = 35.0  # seconds for in-flight jobs on stop: one full HTTP request (fetch's 30 s) and change
# While the database does not answer, the worker only pings it (db/pool.py's short check), after waits
# that double from poll_interval up to this: it resumes within this long of the database's return.
DOWN_RETRY_MAX = 5.0


class Worker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        http: aiohttp.ClientSession,
        settings: Settings,
        handlers: Mapping[str, Handler],
        *,
        concurrency: int = 16,
        poll_interval: float = 1.0,
        lease: timedelta = timedelta(minutes=5),
        per_host_limit: int = 4,
        backoff_scale: float = 1.0,
        shutdown_grace: float = SHUTDOWN_GRACE,
        worker_id: str | None = None,
        yield_to: Callable[[], bool] | None = None,
    ) -> None:
        self.ctx = WorkerContext(pool, http, settings, LocalUrls(settings.base_url))
        self.handlers = dict(handlers)
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.lease = lease
        self.per_host_limit = per_host_limit
        self.backoff_scale = backoff_scale
        self.shutdown_grace = shutdown_grace
        # An identity from which a later worker on this machine can tell that this process died (worker_ids.py).
        self.worker_id = worker_id or worker_ids.new_identity()
        # A handler still running when its lease ends would run twice: stop it well before.
        self._handler_timeout = lease.total_seconds() * 0.8
        self._in_flight: dict[asyncio.Task[None], Job] = {}
        self._completed: list[int] = []  # finished jobs not yet deleted (_flush_completed)
        self._batch = max(1, concurrency // 4)  # free slots worth a claim while jobs are still running
        # In `serve`, the web's load (middleware.WebLoad.busy): while it says busy, only `_reserve` slots
        # run, so requests get the CPU first and jobs still move.
        self._yield_to = yield_to
        self._reserve = max(1, concurrency // 16)
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._listen_attempted = -RELISTEN_INTERVAL
        # The database stopped answering (a claim failed): since when (monotonic), and the wait before the
        # next ping. Meanwhile the worker claims nothing and writes nothing, so no statement waits out the
        # full statement bound against a database that is not there.
        self._down_since: float | None = None
        self._down_wait = poll_interval
        # A claim failed: the server may still have run it (it does when it wakes from a freeze), leasing
        # jobs this worker never heard of. The end of the last lease the worker does know about tells
        # those apart (queue.release_lost_claims).
        self._claim_lost = False
        self._known_lease_end: datetime | None = None

    # ---- the loops --------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then let in-flight jobs finish (up to shutdown_grace)."""
        stopping = asyncio.create_task(stop.wait())
        stopping.add_done_callback(lambda _: self._wake.set())
        next_purge = time.monotonic()
        log.info("worker %s started: %d slots, lease %s, %d per host",
                 self.worker_id, self.concurrency, self.lease, self.per_host_limit)
        try:
            await self._reclaim_from_dead_workers()
            while not stop.is_set():
                self._wake.clear()  # before claiming, so a NOTIFY arriving during the claim is not lost
                if self._down_since is None:
                    await self._ensure_listening()
                    if time.monotonic() >= next_purge:
                        next_purge = time.monotonic() + PURGE_INTERVAL
                        await self._purge()
                free = self.concurrency - len(self._in_flight)
                claimed = await self._fill()
                if claimed is not None and claimed == free > 0:
                    await asyncio.sleep(0)  # a full batch: more may be due, claim again at once
                    continue
                # Wake on NOTIFY, on a finished job (a free slot), on stop, or at the next poll (or ping).
                wait = self.poll_interval if self._down_since is None else self._down_wait
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    pass
        finally:
            stopping.cancel()
            await self._drain(self.shutdown_grace)
            await self._unlisten()
            log.info("worker %s stopped", self.worker_id)

    async def run_until_idle(self, timeout: float) -> None:  # noqa: ASYNC109 - the agreed test-helper API
        """Test helper: run jobs until none is running and none can be claimed; TimeoutError after `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self._fill()
                    if not self._in_flight:
                        return
                    await asyncio.wait(list(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._drain(0)

    # ---- claiming and running ---------------------------------------------------------------------
    async def _fill(self) -> int | None:
        """Claim as many jobs as there are free slots and start them; None if the claim failed or the
        database is still down."""
        if self._down_since is not None and not await self._database_back():
            return None
        if not await self._flush_completed():
            self._database_lost()
            return None
        slots = self._reserve if self._yield_to is not None and self._yield_to() else self.concurrency
        free = slots - len(self._in_flight)
        if free <= 0 or (self._in_flight and free < min(self._batch, slots)):
            # Busy: wait until a batch of slots is free rather than claiming one job per finished job.
            # Each claim is a statement or two; under a 10,000-job backlog they were the queue's cost.
            return 0
        try:
            claimed = await queue.claim(
                self.ctx.pool, worker_id=self.worker_id, limit=free, lease=self.lease,
                per_host_limit=self.per_host_limit,
            )
        except Exception:  # the database is down or restarting: wait for it, never crash
            log.exception("worker %s could not claim jobs", self.worker_id)
            self._claim_lost = True
            self._database_lost()
            return None
        for job in claimed:
            if job.locked_until is not None:
                self._known_lease_end = max(self._known_lease_end or job.locked_until, job.locked_until)
            task = asyncio.create_task(self._execute(job), name=f"job-{job.id}-{job.kind}")
            self._in_flight[task] = job
            task.add_done_callback(self._finished)
        return len(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:  # _execute catches all; belt and braces
            log.error("job task %s crashed", task.get_name(), exc_info=task.exception())

    async def _execute(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        pool = self.ctx.pool
        try:
            if handler is None:
                # A newer web process may enqueue kinds an older worker does not know (rolling upgrade).
                raise RetryableError(f"no handler for job kind {job.kind!r}")
            async with asyncio.timeout(self._handler_timeout):
                await handler(self.ctx, job)
        except RetryableError as exc:
            await self._settle(queue.retry(pool, job, str(exc), retry_after=exc.retry_after,
                                          backoff_scale=self.backoff_scale))
        except PermanentError as exc:
            await self._settle(queue.fail_permanently(pool, job, str(exc)))
        except TimeoutError:
            await self._settle(queue.retry(pool, job, f"handler ran over {self._handler_timeout:g} s",
                                          backoff_scale=self.backoff_scale))
        except Exception as exc:  # a bug or an unforeseen failure: log it, retry like any transient error
            log.exception("job %s (%s) raised", job.id, job.kind)
            await self._settle(queue.retry(pool, job, f"{type(exc).__name__}: {exc}",
                                          backoff_scale=self.backoff_scale))
        else:
            # Deleted with the others that finished meanwhile, the next time the loop comes round (it is
            # woken by this job's end): one statement per batch instead of one per job. Until then the
            # job keeps its lease, so nobody runs it again; a crash in between reruns it, which
            # at-least-once delivery allows (receivers dedupe on the activity id).
            self._completed.append(job.id)

    async def _settle(self, outcome: Awaitable[Any]) -> None:
        try:
            await outcome
        except Exception:  # the lease runs out and the job is tried again: at-least-once holds
            log.exception("worker %s could not record a job outcome", self.worker_id)

    async def _flush_completed(self) -> bool:
        """Write what finished jobs left to write; False if the database failed us."""
        try:
            await hosts.flush_successes(self.ctx.pool)  # noted by deliveries (hosts.py)
        except Exception:  # only bookkeeping is lost: the next failure or success of the host writes it again
            log.exception("worker %s could not record host successes", self.worker_id)
            return False
        if self._completed:
            done, self._completed = self._completed, []
            try:
                await queue.complete_many(self.ctx.pool, done)
            except Exception:
                # Kept for the next flush: they are done, and once their leases ran out another worker
                # would run them again (a delivery sent twice) if they were forgotten here.
                log.exception("worker %s could not delete %d finished jobs", self.worker_id, len(done))
                self._completed = done + self._completed
                return False
        return True

    # ---- the database going away and coming back --------------------------------------------------
    def _database_lost(self) -> None:
        if self._down_since is None:
            log.warning("worker %s: the database does not answer; claiming nothing until it does", self.worker_id)
            self._down_since = time.monotonic()
            self._down_wait = self.poll_interval

    async def _database_back(self) -> bool:
        """While the database is down: ping it (a short bound); once it answers, give back the leases of
        claims that were lost meanwhile and carry on."""
        try:
            await ping(self.ctx.pool)
            if self._claim_lost:
                released = await queue.release_lost_claims(self.ctx.pool, self.worker_id, after=self._known_lease_end)
                self._claim_lost = False
                if released:
                    log.warning("worker %s gave back %d jobs claimed while the database was not answering",
                                self.worker_id, released)
        except Exception as exc:
            self._down_wait = min(self._down_wait * 2, DOWN_RETRY_MAX)
            log.debug("worker %s: the database is still down (%s)", self.worker_id, type(exc).__name__)
            return False
        assert self._down_since is not None
        log.warning("worker %s: the database answers again after %.1f s",
                    self.worker_id, time.monotonic() - self._down_since)
        self._down_since = None
        return True

    async def _reclaim_from_dead_workers(self) -> None:
        """Give back at once the leases of workers of this machine whose process has died (worker_ids.py):
        their jobs would otherwise wait for the leases to run out (5 minutes by default), and a worker
        restarted after a crash would sit idle beside them."""
        pattern = worker_ids.holders_here_pattern()
        if pattern is None:
            return
        try:
            dead = [h for h in await queue.lease_holders(self.ctx.pool, pattern) if worker_ids.is_dead(h)]
            if dead:
                released = await queue.release_holders(self.ctx.pool, dead)
                log.warning("worker %s took back %d jobs leased by dead workers %s",
                            self.worker_id, released, ", ".join(dead))
        except Exception:  # they still come back when their leases run out
            log.exception("worker %s could not look for the leases of dead workers", self.worker_id)

    async def _drain(self, grace: float) -> None:
        """Wait up to `grace` seconds for running jobs; cancel the rest and hand their leases back."""
        try:
            await self._drain_running(grace)
        finally:
            await self._flush_completed()

    async def _drain_running(self, grace: float) -> None:
        if not self._in_flight:
            return
        tasks = list(self._in_flight)
        _, pending = await asyncio.wait(tasks, timeout=grace) if grace > 0 else (set(), set(tasks))
        if not pending:
            return
        unfinished = [self._in_flight[t] for t in pending if t in self._in_flight]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        log.warning("worker %s stopped %d jobs mid-run; they will be retried", self.worker_id, len(unfinished))
        await self._settle(queue.release(self.ctx.pool, unfinished, self.worker_id))

    async def _purge(self) -> None:
        await self._settle(queue.purge_expired(self.ctx.pool))

    # ---- LISTEN jobs_new --------------------------------------------------------------------------
    async def _ensure_listening(self) -> None:
        if self._listener is not None and not _lost(self._listener):
            return
        if time.monotonic() - self._listen_attempted < RELISTEN_INTERVAL:
            return
        self._listen_attempted = time.monotonic()
        await self._unlisten()
        conn: asyncpg.Connection | None = None
        try:
            conn = await self.ctx.pool.acquire()
            await conn.add_listener(queue.NOTIFY_CHANNEL, self._notified)
        except Exception:
            log.warning("worker %s cannot LISTEN %s; polling every %s s",
                        self.worker_id, queue.NOTIFY_CHANNEL, self.poll_interval, exc_info=True)
            if conn is not None:
                await self.ctx.pool.release(conn)
            return
        self._listener = conn

    def _notified(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._wake.set()

    async def _unlisten(self) -> None:
        conn, self._listener = self._listener, None
        if conn is None:
            return
        try:
            if not conn.is_closed():
                await conn.remove_listener(queue.NOTIFY_CHANNEL, self._notified)
        except Exception:
            log.debug("UNLISTEN failed", exc_info=True)
        finally:
            await self.ctx.pool.release(conn)


def _lost(conn: asyncpg.Connection) -> bool:
    """Whether a pooled connection is gone. When its server goes away (a PostgreSQL restart) the pool takes
    the connection back and detaches our handle, whose every method — is_closed() too — then raises."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        return True


async def run_workers(
    pool: asyncpg.Pool,
    http: aiohttp.ClientSession,
    settings: Settings,
    stop: asyncio.Event,
    *,
    handlers: Mapping[str, Handler],
    concurrency: int | None = None,
    yield_to: Callable[[], bool] | None = None,
) -> None:
    """Run the job worker until `stop` is set. `concurrency` defaults to settings.workers; 0 disables."""
    slots = settings.workers if concurrency is None else concurrency
    if slots <= 0:
        log.info("background workers disabled (workers = 0)")
        return
    await Worker(pool, http, settings, handlers, concurrency=slots, yield_to=yield_to).run(stop)
