"""The job queue and the per-host circuit breaker, against real PostgreSQL (jobs/queue.py, hosts.py)."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta

import asyncpg
import pytest

from fediverse_biz.db.database import Database
from fediverse_biz.jobs import hosts, queue
from fediverse_biz.jobs.queue import Job

LEASE = timedelta(minutes=5)


async def claim(db: Database, worker: str = "w1", *, limit: int = 100, per_host: int = 4,
                lease: timedelta = LEASE) -> list[Job]:
    return await queue.claim(db.pool, worker_id=worker, limit=limit, lease=lease, per_host_limit=per_host)


async def record_success(db: Database, host: str) -> None:
    """What a delivery does on a 2xx, and the worker after it (hosts.note_success, then flush)."""
    hosts.note_success(host)
    await hosts.flush_successes(db.pool)


async def db_now(db: Database) -> datetime:
    return await db.pool.fetchval("SELECT now()")


async def open_for(db: Database, host: str) -> timedelta:
    """How long the circuit was opened for by the last failure (both stamps come from one statement)."""
    return await db.pool.fetchval(
        "SELECT circuit_open_until - last_failure_at FROM remote_hosts WHERE host = $1", host
    )


async def cool_down_over(db: Database, host: str) -> None:
    """Simulate the cool-down passing: the circuit's end and the jobs deferred to it move to the past."""
    await db.pool.execute("UPDATE remote_hosts SET circuit_open_until = now() - interval '1 s' WHERE host = $1", host)
    await db.pool.execute("UPDATE jobs SET run_at = now() - interval '1 s' WHERE host = $1 AND run_at > now()", host)


async def make_due(db: Database, job_id: int) -> None:
    await db.pool.execute("UPDATE jobs SET run_at = now() WHERE id = $1", job_id)


# ---- backoff ------------------------------------------------------------------------------------
def test_backoff_follows_sidekiq_curve_with_bounded_jitter() -> None:
    # given the jitter at its extremes, when the delays are computed, then they bracket the base curve
    for attempts in range(1, 20):
        low = queue.backoff(attempts, rand=lambda: 0.0)
        high = queue.backoff(attempts, rand=lambda: 1.0)
        n = attempts - 1
        assert low == min(timedelta(seconds=n**4 + 15), queue.MAX_BACKOFF)
        assert high == low * 1.5
        if attempts > 1:
            assert low >= queue.backoff(attempts - 1, rand=lambda: 0.0)  # monotonic without jitter
    rng = random.Random(7)
    for attempts in range(1, 17):
        delay = queue.backoff(attempts, rand=rng.random)
        assert queue.backoff(attempts, rand=lambda: 0.0) <= delay <= queue.backoff(attempts, rand=lambda: 1.0)


def test_backoff_over_sixteen_retries_spans_two_to_three_days() -> None:
    def total(rand: float) -> timedelta:
        return sum((queue.backoff(a, rand=lambda: rand) for a in range(1, 17)), timedelta())

    assert timedelta(days=2) <= total(0.0)  # 49.6 h: Mastodon's base sum
    assert timedelta(days=2) < total(0.5) < timedelta(days=3)  # the average: ~62 h
    assert total(1.0) < timedelta(days=3, hours=3)  # the worst case: ~74 h
    assert queue.backoff(1000) <= queue.MAX_BACKOFF * 1.5  # long give-up horizons stay bounded


# ---- enqueue --------------------------------------------------------------------------------------
async def test_enqueue_in_a_transaction_notifies_at_commit(db: Database) -> None:
    notified: list[str] = []
    listener = await asyncpg.connect(db.dsn)
    await listener.add_listener(queue.NOTIFY_CHANNEL, lambda *args: notified.append(args[2]))
    try:
        async with db.pool.acquire() as conn, conn.transaction():
            job_id = await queue.enqueue(conn, "deliver", {"inbox": "https://a.example/inbox"}, host="a.example")
            await asyncio.sleep(0.1)
            assert notified == []  # nothing visible, nothing announced
        for _ in range(50):
            if notified:
                break
            await asyncio.sleep(0.02)
        assert notified == [queue.NOTIFY_CHANNEL]
    finally:
        await listener.close()
    row = await db.pool.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)
    assert row["payload"] == {"inbox": "https://a.example/inbox"}
    assert row["give_up_at"] - row["run_at"] == queue.DEFAULT_GIVE_UP_AFTER


async def test_enqueue_rolls_back_with_the_callers_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.pool.acquire() as conn, conn.transaction():
            await queue.enqueue(conn, "deliver", {}, host="a.example")
            raise RuntimeError("the status insert failed")
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_enqueue_many_inserts_a_fan_out_in_one_statement(db: Database) -> None:
    payloads = [({"inbox": f"https://h{i}.example/inbox", "n": i}, f"h{i}.example") for i in range(5000)]
    assert await queue.enqueue_many(db.pool, "deliver", payloads) == 5000
    assert await queue.enqueue_many(db.pool, "deliver", []) == 0
    row = await db.pool.fetchrow("SELECT payload, host FROM jobs WHERE host = 'h4321.example'")
    assert row["payload"] == {"inbox": "https://h4321.example/inbox", "n": 4321}


# ---- claim ----------------------------------------------------------------------------------------
async def test_claim_is_oldest_first_and_skips_future_and_leased_jobs(db: Database) -> None:
    first = await queue.enqueue(db.pool, "x", {"n": 1})
    second = await queue.enqueue(db.pool, "x", {"n": 2})
    later = await queue.enqueue(db.pool, "x", {}, run_at=await db.pool.fetchval("SELECT now() + interval '1 hour'"))
    claimed = await claim(db)
    assert [j.id for j in claimed] == [first, second]
    assert claimed[0].attempts == 1 and claimed[0].payload == {"n": 1}
    assert await claim(db, "w2") == []  # leased or not due
    row = await db.pool.fetchrow("SELECT locked_by, locked_until > now() AS leased FROM jobs WHERE id = $1", first)
    assert row["locked_by"] == "w1" and row["leased"]
    assert later not in [j.id for j in claimed]


async def test_two_concurrent_claimers_never_get_the_same_job(db: Database) -> None:
    await queue.enqueue_many(db.pool, "x", [({"n": i}, None) for i in range(300)])

    async def drain(worker: str) -> list[int]:
        got: list[int] = []
        while batch := await claim(db, worker, limit=7):
            got.extend(j.id for j in batch)
            await asyncio.sleep(0)
        return got

    a, b, c = await asyncio.gather(drain("a"), drain("b"), drain("c"))
    everything = a + b + c
    assert len(everything) == len(set(everything)) == 300
    assert a and b and c  # all three took part


async def test_per_host_limit_holds_across_workers(db: Database) -> None:
    await queue.enqueue_many(db.pool, "deliver", [({"n": i}, "busy.example") for i in range(20)])
    await queue.enqueue_many(db.pool, "deliver", [({"n": i}, "quiet.example") for i in range(2)])
    batches = await asyncio.gather(*(claim(db, f"w{i}", limit=10, per_host=3) for i in range(4)))
    claimed = [j for batch in batches for j in batch]
    assert sum(j.host == "busy.example" for j in claimed) == 3
    assert sum(j.host == "quiet.example" for j in claimed) == 2  # one busy host does not block others
    # when one finishes, exactly one more may start
    await queue.complete_many(db.pool, [next(j.id for j in claimed if j.host == "busy.example")])
    more = await claim(db, "w9", per_host=3)
    assert [j.host for j in more] == ["busy.example"]



async def test_deliveries_are_claimed_before_local_work_and_local_work_fills_the_rest(db: Database) -> None:
    """Local jobs (inbox processing) are claimed apart from deliveries, without the per-host lock: a
    backlog of them neither delays due deliveries nor goes through the host limit."""
    await queue.enqueue_many(db.pool, "inbox", [({"n": i}, None) for i in range(50)])
    await queue.enqueue_many(db.pool, "deliver", [({"n": i}, "busy.example") for i in range(6)])
    claimed = await claim(db, limit=10, per_host=4)
    assert [j.host for j in claimed].count("busy.example") == 4  # the host limit still holds
    assert sum(j.host is None for j in claimed) == 6  # local work took the remaining slots
    assert len(await claim(db, "w2", limit=100, per_host=4)) == 44  # the rest of the local backlog only
    assert await claim(db, "w3") == []


async def test_the_remote_due_check_reads_the_index_not_a_backlog_of_local_jobs(db: Database) -> None:
    """Every claim first asks whether any delivery is due. With a burst of inbox jobs queued in a table
    the planner has no statistics for, that question must still be an index probe, not a read of the
    whole backlog (it was, at 0.4 to 0.6 ms per claim)."""
    await queue.enqueue_many(db.pool, "inbox", [({"n": i}, None) for i in range(5000)])
    plan = await db.pool.fetchval(f"EXPLAIN (FORMAT JSON) {queue._REMOTE_DUE}")
    assert "Seq Scan" not in str(plan) and "jobs_remote_due" in str(plan), plan
    assert not await db.pool.fetchval(queue._REMOTE_DUE)
    await queue.enqueue_many(db.pool, "deliver", [({"n": 0}, "peer.example")])
    assert await db.pool.fetchval(queue._REMOTE_DUE)
    await db.pool.execute("UPDATE jobs SET locked_until = now() + interval '1 minute' WHERE host IS NOT NULL")
    assert not await db.pool.fetchval(queue._REMOTE_DUE)  # leased: not due


async def test_concurrent_claimers_of_mixed_jobs_never_share_one(db: Database) -> None:
    await queue.enqueue_many(db.pool, "inbox", [({"n": i}, None) for i in range(200)])
    await queue.enqueue_many(db.pool, "deliver", [({"n": i}, f"h{i % 20}.example") for i in range(100)])

    async def drain(worker: str) -> list[Job]:
        got: list[Job] = []
        while batch := await claim(db, worker, limit=9, per_host=100):
            got.extend(batch)
            await asyncio.sleep(0)
        return got

    batches = await asyncio.gather(*(drain(f"w{i}") for i in range(4)))
    ids = [j.id for batch in batches for j in batch]
    assert len(ids) == len(set(ids)) == 300

async def test_expired_lease_is_claimed_again(db: Database) -> None:
    job_id = await queue.enqueue(db.pool, "x", {}, host="a.example")
    [first] = await claim(db, "crashed", lease=timedelta(milliseconds=200))
    assert await claim(db, "w2") == []
    await asyncio.sleep(0.3)
    [again] = await claim(db, "w2")
    assert again.id == first.id == job_id and again.attempts == 2
    # the crashed worker's late outcome is fenced off: the job is w2's now
    await queue.retry(db.pool, first, "late")
    assert await db.pool.fetchval("SELECT locked_by FROM jobs WHERE id = $1", job_id) == "w2"


# ---- settling -----------------------------------------------------------------------------------
async def test_retry_reschedules_with_backoff_and_releases_the_lease(db: Database) -> None:
    job_id = await queue.enqueue(db.pool, "x", {})
    [job] = await claim(db)
    before = await db_now(db)
    await queue.retry(db.pool, job, "HTTP 503")
    after = await db_now(db)
    row = await db.pool.fetchrow(
        "SELECT run_at, locked_until, locked_by, last_error, attempts FROM jobs WHERE id = $1", job_id
    )
    # backoff(1): 15 s plus up to 50 %
    assert before + timedelta(seconds=15) <= row["run_at"] <= after + timedelta(seconds=22.5)
    assert row["locked_until"] is None and row["locked_by"] is None
    assert row["last_error"] == "HTTP 503" and row["attempts"] == 1


async def test_retry_honours_retry_after_up_to_a_cap(db: Database) -> None:
    job_id = await queue.enqueue(db.pool, "x", {})
    [job] = await claim(db)
    before = await db_now(db)
    await queue.retry(db.pool, job, "429", retry_after=timedelta(hours=2))
    assert await db.pool.fetchval("SELECT run_at FROM jobs WHERE id = $1", job_id) >= before + timedelta(hours=2)
    await make_due(db, job_id)
    [job] = await claim(db)
    before = await db_now(db)
    await queue.retry(db.pool, job, "429", retry_after=timedelta(days=30))
    after = await db_now(db)
    run_at = await db.pool.fetchval("SELECT run_at FROM jobs WHERE id = $1", job_id)
    assert before + queue.MAX_RETRY_AFTER <= run_at <= after + queue.MAX_RETRY_AFTER


async def test_last_try_is_at_give_up_time_and_then_the_job_is_dropped(db: Database) -> None:
    job_id = await queue.enqueue(db.pool, "x", {}, give_up_after=timedelta(seconds=5))
    [job] = await claim(db)
    await queue.retry(db.pool, job, "down")  # backoff 15 s > 5 s left
    row = await db.pool.fetchrow("SELECT run_at, give_up_at FROM jobs WHERE id = $1", job_id)
    assert row["run_at"] == row["give_up_at"]
    await db.pool.execute("UPDATE jobs SET run_at = now(), give_up_at = now() - interval '1 s' WHERE id = $1", job_id)
    [job] = await claim(db)
    await queue.retry(db.pool, job, "still down")
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_fail_permanently_and_complete_delete(db: Database) -> None:
    await queue.enqueue_many(db.pool, "x", [({}, None), ({}, None)])
    done, failed = await claim(db)
    await queue.complete_many(db.pool, [done.id])
    await queue.fail_permanently(db.pool, failed, "HTTP 410")
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_completing_jobs_does_not_wait_for_the_disk_and_leaves_the_session_as_it_was(db: Database) -> None:
    # Safe because a crash loses only a suffix of the WAL: see queue.complete_many.
    await queue.enqueue_many(db.pool, "x", [({}, None), ({}, None)])
    first, second = await claim(db)
    async with db.pool.acquire() as conn:
        await conn.execute("SET synchronous_commit = on")  # as in production (the test cluster runs without)
        try:
            async with conn.transaction():
                await queue.complete_many(conn, [first.id])
                assert await conn.fetchval("SHOW synchronous_commit") == "off"  # for this transaction
            assert await conn.fetchval("SHOW synchronous_commit") == "on"  # and only for it
        finally:
            await conn.execute("RESET synchronous_commit")
    assert [j["id"] for j in await db.pool.fetch("SELECT id FROM jobs")] == [second.id]


async def test_release_hands_leases_back(db: Database) -> None:
    await queue.enqueue(db.pool, "x", {})
    claimed = await claim(db, "stopping")
    await queue.release(db.pool, claimed, "stopping")
    assert [j.id for j in await claim(db, "w2")] == [claimed[0].id]


async def test_purge_drops_expired_jobs_nobody_holds(db: Database) -> None:
    expired = await queue.enqueue(db.pool, "x", {}, host="dead.example")
    running = await queue.enqueue(db.pool, "x", {}, host="slow.example")
    fresh = await queue.enqueue(db.pool, "x", {})
    await claim(db, limit=1)  # leases `expired`: claimed jobs are not purged...
    await db.pool.execute("UPDATE jobs SET locked_until = NULL WHERE id = $1", expired)  # ...until released
    await db.pool.execute("UPDATE jobs SET locked_until = now() + interval '1 min' WHERE id = $1", running)
    await db.pool.execute("UPDATE jobs SET give_up_at = now() - interval '2 hours' WHERE id <> $1", fresh)
    assert await queue.purge_expired(db.pool) == 1
    assert {r["id"] for r in await db.pool.fetch("SELECT id FROM jobs")} == {running, fresh}


# ---- circuit breaker ----------------------------------------------------------------------------
async def fail(db: Database, host: str, times: int) -> None:
    for _ in range(times):
        await hosts.record_failure(db.pool, host)


async def test_circuit_opens_after_repeated_failures_and_skips_the_host(db: Database) -> None:
    await queue.enqueue_many(db.pool, "deliver", [({}, "down.example")] * 3 + [({}, "up.example")])
    await fail(db, "down.example", hosts.FAILURE_THRESHOLD - 1)
    assert await hosts.circuit_state(db.pool, "down.example") == "closed"
    await fail(db, "down.example", 1)
    assert await hosts.circuit_state(db.pool, "down.example") == "open"
    assert await open_for(db, "down.example") == hosts.BASE_COOLDOWN
    assert [j.host for j in await claim(db)] == ["up.example"]
    # its waiting jobs, and new ones, start when the circuit half-opens: no claim scans them meanwhile
    await queue.enqueue(db.pool, "deliver", {}, host="down.example")
    assert await db.pool.fetchval(
        """SELECT count(*) FROM jobs j JOIN remote_hosts h USING (host)
           WHERE j.run_at = h.circuit_open_until""") == 4
    assert await hosts.is_available(db.pool, "down.example")  # open is not unavailable


async def test_cool_down_grows_with_each_failure(db: Database) -> None:
    await fail(db, "down.example", hosts.FAILURE_THRESHOLD + 2)
    assert await open_for(db, "down.example") == hosts.BASE_COOLDOWN * 4
    await fail(db, "down.example", 20)
    assert await open_for(db, "down.example") == hosts.MAX_COOLDOWN


async def test_half_open_lets_one_job_through_and_success_closes(db: Database) -> None:
    await queue.enqueue_many(db.pool, "deliver", [({"n": i}, "flaky.example") for i in range(6)])
    await fail(db, "flaky.example", hosts.FAILURE_THRESHOLD)
    # when the cool-down has passed
    await cool_down_over(db, "flaky.example")
    assert await hosts.circuit_state(db.pool, "flaky.example") == "half-open"
    [probe] = await claim(db, per_host=4)
    assert await claim(db, "w2", per_host=4) == []  # one probe at a time
    # a failed probe re-opens the circuit
    await hosts.record_failure(db.pool, "flaky.example")
    await queue.retry(db.pool, probe, "503")
    assert await hosts.circuit_state(db.pool, "flaky.example") == "open"
    assert await db.pool.fetchval(  # the probe waits for the circuit, not just its own backoff
        "SELECT j.run_at = h.circuit_open_until FROM jobs j JOIN remote_hosts h USING (host) WHERE j.id = $1",
        probe.id,
    )
    assert await claim(db, "w3") == []
    # the next probe succeeds: closed, full speed
    await cool_down_over(db, "flaky.example")
    [probe] = await claim(db, "w4")
    await record_success(db, "flaky.example")
    await queue.complete_many(db.pool, [probe.id])
    assert await hosts.circuit_state(db.pool, "flaky.example") == "closed"
    assert len(await claim(db, "w5", per_host=4)) == 4


async def test_host_failing_for_two_days_is_unavailable_with_one_probe_per_period(db: Database) -> None:
    await queue.enqueue_many(db.pool, "deliver", [({"n": i}, "gone.example") for i in range(3)])
    await hosts.record_failure(db.pool, "gone.example")
    # given failures since three days ago
    await db.pool.execute("UPDATE remote_hosts SET first_failure_at = now() - interval '3 days'")
    await hosts.record_failure(db.pool, "gone.example")
    assert await hosts.circuit_state(db.pool, "gone.example") == "unavailable"
    assert not await hosts.is_available(db.pool, "gone.example")
    assert await hosts.unavailable_among(db.pool, ["gone.example", "fine.example"]) == {"gone.example"}
    assert await open_for(db, "gone.example") == hosts.PROBE_INTERVAL
    assert await claim(db) == []
    # when the probe period has passed, one probe goes out, even with few counted failures
    await cool_down_over(db, "gone.example")
    [probe] = await claim(db, per_host=4)
    assert await claim(db, "w2", per_host=4) == []
    await hosts.record_failure(db.pool, "gone.example")
    assert await open_for(db, "gone.example") == hosts.PROBE_INTERVAL
    # a success resets everything
    await record_success(db, "gone.example")
    row = await db.pool.fetchrow("SELECT * FROM remote_hosts")
    assert (row["failures"], row["first_failure_at"], row["unavailable_since"], row["circuit_open_until"]) == (
        0, None, None, None,
    )
    assert await hosts.is_available(db.pool, "gone.example")
    assert probe.host == "gone.example"


async def test_success_on_a_healthy_host_is_recorded_cheaply(db: Database) -> None:
    await record_success(db, "ok.example")
    first = await db.pool.fetchval("SELECT last_success_at FROM remote_hosts")
    await record_success(db, "ok.example")  # within a minute: no rewrite
    assert await db.pool.fetchval("SELECT last_success_at FROM remote_hosts") == first
    assert await hosts.circuit_state(db.pool, "never-seen.example") == "closed"
    assert await hosts.is_available(db.pool, "never-seen.example")


def test_host_of_keeps_the_port_and_lowers_the_case() -> None:
    assert hosts.host_of("https://Social.Example/inbox") == "social.example"
    assert hosts.host_of("http://127.0.0.1:8123/users/a/inbox") == "127.0.0.1:8123"
    assert hosts.host_of("https://[2001:db8::1]:8443/inbox") == "[2001:db8::1]:8443"


async def test_noted_successes_are_written_together_and_before_a_later_failure(db: Database) -> None:
    """Deliveries note successes; the worker writes them in one statement with the jobs it settles. A
    failure writes the pending successes first, so a success that came before it cannot undo it."""
    for i in range(20):
        await hosts.record_failure(db.pool, f"h{i}.example")
    for i in range(20):
        hosts.note_success(f"h{i}.example")
    assert await db.pool.fetchval("SELECT count(*) FROM remote_hosts WHERE failures > 0") == 20  # not yet
    await hosts.flush_successes(db.pool)
    assert await db.pool.fetchval("SELECT count(*) FROM remote_hosts WHERE failures > 0") == 0
    hosts.note_success("h0.example")
    await hosts.record_failure(db.pool, "h0.example")  # after the success: it must count
    await hosts.flush_successes(db.pool)
    assert await db.pool.fetchval("SELECT failures FROM remote_hosts WHERE host = 'h0.example'") == 1


# ---- coalesced wake-ups (the inbox's door) ----------------------------------------------------------
async def test_a_burst_of_enqueues_wakes_the_workers_a_few_times_and_after_the_last(db: Database) -> None:
    notified: list[float] = []
    listener = await asyncpg.connect(db.dsn)
    loop = asyncio.get_running_loop()
    await listener.add_listener(queue.NOTIFY_CHANNEL, lambda *args: notified.append(loop.time()))
    wakeups = queue.Wakeups(db.pool, interval=0.05)
    insert = """INSERT INTO inbox_activities (activity_id, activity_type, actor_uri, payload)
                VALUES ($1, 'Note', $2, '{}') RETURNING id"""
    try:
        # when 40 deliveries are stored over ~0.2 s, each without a NOTIFY of its own
        last_commit = 0.0
        for i in range(40):
            await queue.insert_and_enqueue(
                db.pool, insert, f"https://a.example/{i}", "https://a.example/u", kind="inbox",
                payload_key="inbox_activity_id", wakeups=wakeups,
            )
            last_commit = loop.time()
            await asyncio.sleep(0.005)
        for _ in range(100):
            if notified and notified[-1] >= last_commit:
                break
            await asyncio.sleep(0.01)
        # then the workers heard of them a handful of times, the last time after the last job committed
        assert 2 <= len(notified) <= 8
        assert notified[-1] >= last_commit
        assert await db.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'inbox'") == 40
    finally:
        await wakeups.close()
        await listener.close()


async def test_a_replayed_delivery_wakes_nobody(db: Database) -> None:
    wakeups = queue.Wakeups(db.pool, interval=0.05)
    insert = """INSERT INTO inbox_activities (activity_id, activity_type, actor_uri, payload)
                VALUES ('https://a.example/1', 'Note', 'https://a.example/u', '{}')
                ON CONFLICT (activity_id, object_digest) DO NOTHING RETURNING id"""
    first = await queue.insert_and_enqueue(db.pool, insert, kind="inbox", payload_key="k", wakeups=wakeups)
    await wakeups.close()
    wakeups = queue.Wakeups(db.pool, interval=0.05)
    again = await queue.insert_and_enqueue(db.pool, insert, kind="inbox", payload_key="k", wakeups=wakeups)
    assert first is not None and again is None
    assert wakeups._due is None and not wakeups._sending  # nothing scheduled for a job that does not exist
    await wakeups.close()


async def test_concurrent_first_reads_of_a_shared_body_make_one_query(db: Database) -> None:
    body_id = await queue.store_body(db.pool, '{"type": "Create"}')

    class CountingPool:
        queries = 0

        async def fetchval(self, *args: object) -> object:
            self.queries += 1
            return await db.pool.fetchval(*args)

    pool = CountingPool()
    cache = queue.BodyCache(pool, max_entries=2)
    got = await asyncio.gather(*(cache.get(body_id) for _ in range(20)))
    assert got == [b'{"type": "Create"}'] * 20 and pool.queries == 1
    assert await cache.get(body_id + 1000) is None  # gone: None, for the caller to fail its job
    other = await queue.store_body(db.pool, "{}")
    assert await cache.get(other) == b"{}"  # the cache holds 2: the oldest is forgotten...
    assert await cache.get(body_id) == b'{"type": "Create"}' and pool.queries == 4  # ...and read again
