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

Handler = Callable[[Request], Awaitable[Response]]


def read_slots(db_pool_max: int) -> asyncio.Semaphore:
    """Half the database pool: the readers in their slots never wait for a connection, and the other half
    serves everything else. asyncio.Semaphore hands freed slots to its waiters in arrival order."""
    return asyncio.Semaphore(max(1, db_pool_max // 2))


def queued(handler: Handler) -> Handler:
    """The handler, run in one of app.state.read_slots."""

    @functools.wraps(handler)
    async def in_a_slot(request: Request) -> Response:
        async with request.app.state.read_slots:
            return await handler(request)

    return in_a_slot
