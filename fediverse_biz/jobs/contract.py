"""What a job handler is given and may raise: the contract between the worker loop and the job kinds.

A leaf module, so that the modules defining handlers (delivery, inbound processing, link checks,
directory pulls) import it and nothing of the worker loop; the table of handlers is built where the
application is assembled (app.py, cli/) and passed to the worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import asyncpg

from fediverse_biz.config import Settings
from fediverse_biz.jobs import queue
from fediverse_biz.jobs.batched_reads import BatchedReads
from fediverse_biz.jobs.queue import Job
from fediverse_biz.urls import LocalUrls


class RetryableError(Exception):
    """The job may succeed later; `retry_after` is the peer's requested delay, if any."""

    def __init__(self, message: str, *, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """The job can never succeed; it is dropped without retry."""


@dataclass(frozen=True)
class WorkerContext:
    pool: asyncpg.Pool
    http: aiohttp.ClientSession
    settings: Settings
    urls: LocalUrls
    bodies: queue.BodyCache = field(init=False)  # shared job bodies this worker has read (jobs.py)
    # Reads that the jobs of one claim make together, by job kind (batched_reads.py).
    batched_reads: dict[str, BatchedReads] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bodies", queue.BodyCache(self.pool))  # frozen: set once, here


Handler = Callable[[WorkerContext, Job], Awaitable[None]]
"""Return normally when done; raise RetryableError or PermanentError; anything else is retried."""
