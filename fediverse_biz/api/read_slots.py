"""A fair queue in front of the client API's heaviest reads: timelines, bookmarks, favourites, an
account's statuses, notifications.

Each such request is a few queries and a page of entities built in Python. Left to interleave freely,
32 of them at once all advanced a step at a time: each one's queries queued for the pool's connections and
PostgreSQL's backends contended for 2 cores, so a request's latency depended on how its steps fell among
the others'. The home-timeline benchmark's p99 was 3.5 times its median. Admitted a few at a time, in the
order they came, each runs almost alone and the others wait in line: p99 fell from 88 to 41 ms at 32
clients, throughput rose by a tenth and PostgreSQL's CPU per page fell by a fifth (docs/benchmarks.md).

Only handlers that make no outbound HTTP request take a slot: a slot held through a slow peer would stall
every reader behind it (search, which may resolve remote accounts, does not queue here). Streaming, the
inbox and writes do not queue either.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..db.pool import ACQUIRE_TIMEOUT
from .errors import ApiError

Handler = Callable[[Request], Awaitable[Response]]
BUSY_RETRY_AFTER = "5"  # seconds, as for an unreachable database (middleware.DatabaseUnavailable)


class ReadSlots(asyncio.Semaphore):
    """The slots, and how long a reader waits for one (`wait`, seconds) before it is told to come back."""

    def __init__(self, value: int, wait: float) -> None:
        super().__init__(value)
        self.wait = wait


def read_slots(db_pool_max: int, *, wait: float = ACQUIRE_TIMEOUT) -> ReadSlots:
    """Half the database pool: the readers in their slots never wait for a connection, and the other half
    serves everything else. asyncio.Semaphore hands freed slots to its waiters in arrival order.

    The wait for a slot is bounded like the wait for a pooled connection (settings.db_acquire_timeout): while
    the database does not answer, each slot is held for the whole statement bound (db/pool.py), and a line
    behind them would wait that long several times over."""
    return ReadSlots(max(1, db_pool_max // 2), wait)


def queued(handler: Handler) -> Handler:
    """The handler, run in one of app.state.read_slots; 503 with Retry-After if none comes free in time."""

    @functools.wraps(handler)
    async def in_a_slot(request: Request) -> Response:
        slots: ReadSlots = request.app.state.read_slots
        try:
            async with asyncio.timeout(slots.wait):
                await slots.acquire()
        except TimeoutError:
            raise ApiError(
                503, "the server is busy, try again shortly", headers={"Retry-After": BUSY_RETRY_AFTER}
            ) from None
        try:
            return await handler(request)
        finally:
            slots.release()

    return in_a_slot
