"""Reads by id that arrive in the same turn of the event loop, answered by one query.

The worker starts every job of a claim at once, and each inbox job's first step is the same read (its
activity and sender, `_ACTIVITY_AND_SENDER` in federation/inbound/dispatch.py) by a different id.
A claim is ~15 jobs; as one query the reads cost one round trip and one statement for all of them,
instead of one each (a round trip is ~30 µs of the server's CPU and a statement's overhead is
PostgreSQL's: docs/benchmarks.md).

    reader = BatchedReads(pool, "SELECT ... WHERE i.id = ANY($1::bigint[])", key="inbox_id")
    row = await reader.get(42)      # None if the query returned no row with that key

Nothing is cached: a read asked for after the query went out waits for the next one. A failed query
fails every read it carried; a caller cancelled while waiting (a job's timeout) cancels nobody else.
"""

from __future__ import annotations

import asyncio

import asyncpg


class BatchedReads:
    def __init__(self, pool: asyncpg.Pool, sql: str, *, key: str) -> None:
        self._pool = pool
        self._sql = sql  # takes the ids as $1 (bigint[]) and returns each row's id in column `key`
        self._key = key
        self._waiting: dict[int, asyncio.Future[asyncpg.Record | None]] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self.queries = 0  # how many queries were made (tests)

    async def get(self, record_id: int) -> asyncpg.Record | None:
        loop = asyncio.get_running_loop()
        if self._waiting is None:
            self._waiting = {}
            # call_soon: the callbacks already queued — the other jobs of the claim reaching this same read
            # — run first and join this batch.
            loop.call_soon(self._send)
        future = self._waiting.get(record_id)
        if future is None:
            future = self._waiting[record_id] = loop.create_future()
        return await asyncio.shield(future)

    def _send(self) -> None:
        waiting, self._waiting = self._waiting or {}, None
        task = asyncio.get_running_loop().create_task(self._query(waiting))
        self._running.add(task)  # a reference, so the task is not collected while it runs
        task.add_done_callback(self._running.discard)

    async def _query(self, waiting: dict[int, asyncio.Future[asyncpg.Record | None]]) -> None:
        self.queries += 1
        try:
            rows = await self._pool.fetch(self._sql, list(waiting))
        except asyncio.CancelledError:  # shutting down
            for future in waiting.values():
                future.cancel()
            raise
        except Exception as exc:
            for future in waiting.values():
                if not future.done():
                    future.set_exception(exc)
            return
        found = {row[self._key]: row for row in rows}
        for record_id, future in waiting.items():
            if not future.done():
                future.set_result(found.get(record_id))
