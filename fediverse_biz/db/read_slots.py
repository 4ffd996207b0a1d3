"""Read slots: how many of the heaviest reads (timelines, search) run at once, and how long one waits.

The API's `queued` decorator (api/read_slots.py) runs a handler in a slot; the slots are sized from the
database pool, so readers in their slots never wait for a connection.
"""

from __future__ import annotations

import asyncio

from fediverse_biz.db.pool import ACQUIRE_TIMEOUT


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
