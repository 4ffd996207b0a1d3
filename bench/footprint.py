"""Benchmark 5, footprint: resident memory of the `fediverse-biz serve` process (VmRSS) idle and after the
suite, the embedded PostgreSQL reported separately (sum over the postmaster and its children, RSS and
PSS), and the time from spawning `serve` to `/healthz` 200 — first run (initdb) and later runs.

Floors measured in the same run: the bare Starlette + asyncpg ceiling process's RSS, and for start-up,
the embedded cluster started alone (pg_ctl) plus the bare app's start.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from fediverse_biz.db.embedded import EmbeddedPostgres

from ._context import Goal, Result, ratio
from ._server import ServerProcess
from ._util import mb, rss_kb

RSS_GOAL_MB = 120.0
WARM_START_GOAL_S = 3.0
SETTLE_S = 2.0  # let the process go idle before reading its memory


async def measure_starts(server: ServerProcess, warm_starts: int) -> dict[str, Any]:
    """Cold start (initdb), the cluster alone, then `warm_starts` warm starts; leaves the server running."""
    cold = await server.start()
    await server.stop()
    cluster = EmbeddedPostgres(server.pgdata)
    began = time.perf_counter()
    await asyncio.to_thread(cluster.start)
    postgres_alone = time.perf_counter() - began
    await asyncio.to_thread(cluster.stop)
    warm: list[float] = []
    for n in range(warm_starts):
        warm.append(await server.start())
        if n < warm_starts - 1:
            await server.stop()
    return {"cold_start_s": round(cold, 3), "warm_starts_s": [round(w, 3) for w in warm],
            "postgres_alone_start_s": round(postgres_alone, 3)}


async def memory(server: ServerProcess) -> dict[str, Any]:
    await asyncio.sleep(SETTLE_S)
    pg_rss, pg_pss, processes = server.postgres_memory_kb()
    return {
        "server_rss_mb": mb(server.server_rss_kb()),
        "postgres_rss_sum_mb": mb(pg_rss),
        "postgres_pss_sum_mb": mb(pg_pss),
        "postgres_processes": processes,
    }


def result(
    starts: dict[str, Any],
    idle: dict[str, Any],
    after: dict[str, Any],
    *,
    ceiling_pid: int,
    ceiling_start_s: float,
    warm_start_seeded_s: float | None,
) -> Result:
    ceiling_rss = mb(rss_kb(ceiling_pid))
    warm_median = statistics.median(starts["warm_starts_s"])
    floor = starts["postgres_alone_start_s"] + ceiling_start_s
    server_rss = after["server_rss_mb"]
    return Result(
        name="footprint",
        title="Footprint (serve process; PostgreSQL separately)",
        figure=server_rss,
        unit="MB RSS after the suite",
        ceiling=ceiling_rss,
        ratio=ratio(server_rss, ceiling_rss),
        ratio_meaning="server RSS ÷ bare Starlette+asyncpg process RSS (lower is better)",
        goals=[
            Goal(f"server RSS ≤ {RSS_GOAL_MB:g} MB after the suite", server_rss <= RSS_GOAL_MB,
                 f"{server_rss:.1f} MB (idle {idle['server_rss_mb']:.1f} MB)"),
            Goal(f"warm start ≤ {WARM_START_GOAL_S:g} s", warm_median <= WARM_START_GOAL_S,
                 f"{warm_median:.2f} s median (floor: cluster alone + bare app = {floor:.2f} s)"),
        ],
        metrics={
            **starts,
            "warm_start_median_s": round(warm_median, 3),
            "warm_start_seeded_db_s": round(warm_start_seeded_s, 3) if warm_start_seeded_s is not None else None,
            "bare_app_start_s": round(ceiling_start_s, 3),
            "start_floor_s": round(floor, 3),
            "warm_start_vs_floor": round(ratio(warm_median, floor), 2),
            "idle": idle,
            "after_suite": after,
            "bare_app_rss_mb": ceiling_rss,
        },
        notes=[
            "PostgreSQL RSS sums count shared buffers once per process that touched them; PSS divides them.",
        ],
    )
