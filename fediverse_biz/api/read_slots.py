"""A fair queue in front of the client API's heaviest reads: timelines, bookmarks, favourites, an
account's statuses, notifications.

Each such request is a few queries and a page of entities built in Python. Left to interleave freely,
32 of them at once all advance a step at a time: each one's queries queue for the pool's connections and
PostgreSQL's backends contend for 2 cores, so a request's latency depends on how its steps fall among
the others' (the home-timeline benchmark's p99 is then 3.5 times its median). Admitted a few at a time,
in the order they came, each runs almost alone and the others wait in line: at 32 clients the p99 is
41 ms instead of 88, throughput a tenth higher and PostgreSQL's CPU per page a fifth lower
(docs/benchmarks.md).

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

from fediverse_biz.api.errors import ApiError
from fediverse_biz.services import services

Handler = Callable[[Request], Awaitable[Response]]
BUSY_RETRY_AFTER = "5"  # seconds, as for an unreachable database (middleware.DatabaseUnavailable)


def queued(handler: Handler) -> Handler:
    """The handler, run in one of services(app).read_slots; 503 with Retry-After if none comes free in time."""

    @functools.wraps(handler)
    async def in_a_slot(request: Request) -> Response:
        slots = services(request).read_slots
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
