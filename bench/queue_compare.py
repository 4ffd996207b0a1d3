"""Our job queue (jobs/queue.py + jobs/worker.Worker) against PgQueuer, on the same cluster.

Each run enqueues N no-op jobs in batches (one statement per batch on one connection, no worker running),
then starts one consumer with the same concurrency and times until the queue table is empty. Runs
alternate ours / PgQueuer on one embedded PostgreSQL started as `serve` starts it (db/embedded.py,
durable), in two databases of that cluster. Prints one JSON line per run and a summary.

PgQueuer is not a dependency of the project: install it first (`.venv/bin/pip install pgqueuer==1.6.0`).

    .venv/bin/python -m bench.queue_compare [--jobs 20000] [--batch 500] [--concurrency 32] [--runs 3]
        [--pgq-batch 16] [--pgq-unlimited] [--remote-hosts 0]

--remote-hosts H gives our jobs a host (H distinct ones) so they take the per-host-limited claim
(deliveries' path); PgQueuer has no equivalent, so that is ours alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import statistics
import time
from pathlib import Path

import aiohttp
import asyncpg

from bench._util import children_of, cpu_seconds, machine_busy_seconds, run_async
from fediverse_biz.config import Settings
from fediverse_biz.db import migrations
from fediverse_biz.db.embedded import EmbeddedPostgres
from fediverse_biz.db.pool import create_pool
from fediverse_biz.jobs import queue
from fediverse_biz.jobs.worker import Worker

HERE = Path(__file__).resolve().parent
POLL = 0.02  # seconds between "is the queue empty?" checks (both queues alike)


class Cpu:
    def __init__(self, server: EmbeddedPostgres) -> None:
        pid = int((server.pgdata / "postmaster.pid").read_text().split()[0])
        self.pids = lambda: [pid, *children_of(pid)]

    def snap(self) -> tuple[float, float, float, float]:
        return (time.perf_counter(), time.process_time(), sum(cpu_seconds(p) for p in self.pids()),
                machine_busy_seconds())


async def wal(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn"))


async def wal_diff(conn: asyncpg.Connection, a: int, b: int) -> int:
    return b - a


async def wait_empty(conn: asyncpg.Connection, table: str, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{table} not empty after {limit_s} s")
        await asyncio.sleep(POLL)


def phase(cpu: Cpu, before: tuple[float, float, float, float], n: int, wal_bytes: int) -> dict:
    now = cpu.snap()
    wall = now[0] - before[0]
    client, postgres = now[1] - before[1], now[2] - before[2]
    return {"wall_s": round(wall, 3), "jobs_per_s": round(n / wall, 1), "client_cpu_s": round(client, 2),
            "postgres_cpu_s": round(postgres, 2), "wal_bytes_per_job": round(wal_bytes / n, 1),
            # CPU of everything else on the machine meanwhile (other agents' work): a contamination check
            "other_cpu_s": round(max(0.0, now[3] - before[3] - client - postgres), 2)}


# ---- ours -----------------------------------------------------------------------------------------
async def run_ours(dsn: str, cpu: Cpu, args: argparse.Namespace) -> dict:
    pool = await create_pool(dsn, min_size=2, max_size=10)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE jobs; TRUNCATE remote_hosts CASCADE")
        await conn.execute("VACUUM ANALYZE jobs")
        await conn.execute("CHECKPOINT")
        n, b = args.jobs, args.batch
        hosts = args.remote_hosts
        lsn0, t0 = await wal(conn), cpu.snap()
        for start in range(0, n, b):
            payloads = [({"n": i}, f"h{i % hosts}.example" if hosts else None) for i in range(start, min(n, start + b))]
            await queue.enqueue_many(conn, "noop", payloads)
        enq = phase(cpu, t0, n, await wal_diff(conn, lsn0, await wal(conn)))
        await conn.execute("ANALYZE jobs")

        done = 0

        async def noop(ctx, job) -> None:
            nonlocal done
            done += 1

        stop = asyncio.Event()
        async with aiohttp.ClientSession() as http:
            worker = Worker(pool, http, Settings(), {"noop": noop}, concurrency=args.concurrency,
                            per_host_limit=4)
            lsn1, t1 = await wal(conn), cpu.snap()
            task = asyncio.create_task(worker.run(stop))
            await wait_empty(conn, "jobs", 600)
            drain = phase(cpu, t1, n, await wal_diff(conn, lsn1, await wal(conn)))
            stop.set()
            await task
        assert done >= n, (done, n)
        return {"queue": "ours" + (f" (host, {hosts} hosts)" if hosts else ""), "enqueue": enq, "drain": drain,
                "handler_calls": done}
    finally:
        await conn.close()
        await pool.close()


# ---- PgQueuer -------------------------------------------------------------------------------------
async def run_pgq(dsn: str, cpu: Cpu, args: argparse.Namespace) -> dict:
    from pgqueuer import PgQueuer
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.models import Job
    from pgqueuer.queries import Queries

    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE pgqueuer; TRUNCATE pgqueuer_log; TRUNCATE pgqueuer_statistics")
        await conn.execute("VACUUM ANALYZE pgqueuer")
        await conn.execute("VACUUM pgqueuer_log")
        await conn.execute("CHECKPOINT")
        n, b = args.jobs, args.batch
        queries = Queries(AsyncpgDriver(conn))  # enqueue on the caller's own connection, as ours does
        lsn0, t0 = await wal(conn), cpu.snap()
        for start in range(0, n, b):
            count = min(n, start + b) - start
            bodies = [json.dumps({"n": i}).encode() for i in range(start, start + count)]
            await queries.enqueue(["noop"] * count, bodies, [0] * count)
        enq = phase(cpu, t0, n, await wal_diff(conn, lsn0, await wal(conn)))
        await conn.execute("ANALYZE pgqueuer")

        done = 0
        pgq = PgQueuer.from_asyncpg_pool(pool)

        @pgq.entrypoint("noop")
        async def noop(job: Job) -> None:
            nonlocal done
            done += 1

        lsn1, t1 = await wal(conn), cpu.snap()
        if args.pgq_unlimited:  # the library's defaults: batch_size 10, no cap on tasks
            task = asyncio.create_task(pgq.run())
        else:
            task = asyncio.create_task(pgq.run(batch_size=args.pgq_batch, max_concurrent_tasks=args.concurrency))
        await wait_empty(conn, "pgqueuer", 600)
        drain = phase(cpu, t1, n, await wal_diff(conn, lsn1, await wal(conn)))
        pgq.shutdown.set()
        await task
        log_rows = await conn.fetchval("SELECT count(*) FROM pgqueuer_log")
        assert done >= n, (done, n)
        label = "pgqueuer (defaults: batch 10, unlimited)" if args.pgq_unlimited else \
            f"pgqueuer (batch {args.pgq_batch}, max {args.concurrency})"
        return {"queue": label, "enqueue": enq, "drain": drain, "handler_calls": done, "log_rows": log_rows}
    finally:
        await conn.close()
        await pool.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500, help="jobs per enqueue statement")
    ap.add_argument("--concurrency", type=int, default=32, help="jobs in flight per consumer")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pgq-batch", type=int, default=16, help="PgQueuer dequeue batch (max_concurrent_tasks >= 2x)")
    ap.add_argument("--pgq-unlimited", action="store_true", help="PgQueuer with its run() defaults")
    ap.add_argument("--remote-hosts", type=int, default=0)
    ap.add_argument("--only", choices=["ours", "pgq"])
    ap.add_argument("--keep-cluster", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    pgdata = HERE / ".qcmp" / "compare_pg"
    if not args.keep_cluster:
        shutil.rmtree(pgdata, ignore_errors=True)
    server = EmbeddedPostgres(pgdata, durable=True)
    await asyncio.to_thread(server.start)
    try:
        admin = await asyncpg.connect(server.dsn("postgres"))
        have = {r["datname"] for r in await admin.fetch("SELECT datname FROM pg_database")}
        for name in ("q_ours", "q_pgq"):
            if name not in have:
                await admin.execute(f"CREATE DATABASE {name}")
        version = await admin.fetchval("SHOW server_version")
        await admin.close()
        c = await asyncpg.connect(server.dsn("q_ours"))
        await migrations.migrate(c)
        await c.close()
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.queries import Queries

        c = await asyncpg.connect(server.dsn("q_pgq"))
        q = Queries(AsyncpgDriver(c))
        if not await q.schema_is_installed():
            await q.install()
        await c.close()
        import pgqueuer
        cpu = Cpu(server)
        print(json.dumps({"postgres": version, "pgqueuer": getattr(pgqueuer, "__version__", None),
                          "jobs": args.jobs, "batch": args.batch, "concurrency": args.concurrency}), flush=True)
        results: dict[str, list[dict]] = {}
        for i in range(args.runs):
            order = [("ours", run_ours, "q_ours"), ("pgq", run_pgq, "q_pgq")]
            if args.only:
                order = [o for o in order if o[0] == args.only]
            for _name, fn, db in order:
                r = await fn(server.dsn(db), cpu, args)
                r["run"] = i + 1
                print(json.dumps(r), flush=True)
                results.setdefault(r["queue"], []).append(r)
        for label, rs in results.items():
            for ph in ("enqueue", "drain"):
                rates = [r[ph]["jobs_per_s"] for r in rs]
                print(f"SUMMARY {label} {ph}: median {statistics.median(rates):,.0f} jobs/s "
                      f"(min {min(rates):,.0f}, max {max(rates):,.0f}; runs {rates}); WAL/job median "
                      f"{statistics.median(r[ph]['wal_bytes_per_job'] for r in rs):,.0f} B", flush=True)
    finally:
        await asyncio.to_thread(server.stop)


if __name__ == "__main__":
    run_async(main())
