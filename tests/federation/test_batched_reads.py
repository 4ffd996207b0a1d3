"""batched_reads: the reads of one event-loop turn go out as one query, and each caller gets its row."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from fediverse_biz.db.database import Database
from fediverse_biz.jobs.batched_reads import BatchedReads
from fediverse_biz.urls import LocalUrls
from tests.support.factories import local_actor

SQL = "SELECT id, username FROM actors WHERE id = ANY($1::bigint[])"


async def _actors(db: Database, urls: LocalUrls, n: int) -> list[int]:
    return [(await local_actor(db.pool, urls, f"user{i}"))["id"] for i in range(n)]


async def test_reads_of_one_turn_make_one_query(db: Database, urls: LocalUrls) -> None:
    ids = await _actors(db, urls, 5)
    reader = BatchedReads(db.pool, SQL, key="id")
    rows = await asyncio.gather(*(reader.get(i) for i in [*ids, ids[0], 10**15]))
    assert reader.queries == 1
    assert [r["username"] if r else None for r in rows] == [*(f"user{i}" for i in range(5)), "user0", None]
    assert (await reader.get(ids[1]))["username"] == "user1"  # a later read: a query of its own
    assert reader.queries == 2


async def test_tasks_started_together_share_the_query(db: Database, urls: LocalUrls) -> None:
    # The worker's shape: one task per claimed job, each reading first thing.
    ids = await _actors(db, urls, 3)
    reader = BatchedReads(db.pool, SQL, key="id")

    async def job(i: int) -> str:
        row = await reader.get(i)
        assert row is not None
        return str(row["username"])

    tasks = [asyncio.create_task(job(i)) for i in ids]
    assert await asyncio.gather(*tasks) == ["user0", "user1", "user2"]
    assert reader.queries == 1


async def test_a_failed_query_fails_its_reads_and_the_next_one_is_made_afresh(db: Database, urls: LocalUrls) -> None:
    [actor] = await _actors(db, urls, 1)
    broken = BatchedReads(db.pool, "SELECT id FROM no_such_table WHERE id = ANY($1::bigint[])", key="id")
    results = await asyncio.gather(broken.get(1), broken.get(2), return_exceptions=True)
    assert all(isinstance(r, asyncpg.UndefinedTableError) for r in results)
    reader = BatchedReads(db.pool, SQL, key="id")
    assert (await reader.get(actor))["username"] == "user0"


async def test_a_cancelled_reader_does_not_cancel_the_others(db: Database, urls: LocalUrls) -> None:
    ids = await _actors(db, urls, 2)
    reader = BatchedReads(db.pool, SQL, key="id")
    impatient = asyncio.create_task(reader.get(ids[0]))
    patient = asyncio.create_task(reader.get(ids[1]))
    await asyncio.sleep(0)  # both are waiting on the batch
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert (await patient)["username"] == "user1"
    assert reader.queries == 1
