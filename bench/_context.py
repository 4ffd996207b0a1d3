"""What the benchmarks share: sizes per mode, the running processes, accounts, and the result shape."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from ._server import ServerProcess
from .peers import Peers


@dataclass(frozen=True)
class Sizes:
    inbox_actors: int
    inbox_actor_hosts: int
    inbox_deliveries: int
    inbox_concurrency: int
    inbox_drain_timeout: float  # seconds to wait for the processing backlog to empty
    fanout_followers: int
    fanout_hosts: int
    fanout_timeout: float
    timeline_statuses: int
    timeline_accounts: int
    timeline_follows: int
    timeline_clients: int
    timeline_seconds: float
    timeline_walk_pages: int
    posting_followers: int
    posting_clients: int
    posting_seconds: float
    warm_starts: int


FULL = Sizes(
    inbox_actors=200, inbox_actor_hosts=10, inbox_deliveries=10_000, inbox_concurrency=64, inbox_drain_timeout=300,
    fanout_followers=10_000, fanout_hosts=500, fanout_timeout=180,
    timeline_statuses=1_000_000, timeline_accounts=10_000, timeline_follows=500, timeline_clients=32,
    timeline_seconds=20, timeline_walk_pages=25,
    posting_followers=1_000, posting_clients=8, posting_seconds=15,
    warm_starts=3,
)
QUICK = Sizes(
    inbox_actors=20, inbox_actor_hosts=2, inbox_deliveries=200, inbox_concurrency=16, inbox_drain_timeout=30,
    fanout_followers=20, fanout_hosts=5, fanout_timeout=30,
    timeline_statuses=20_000, timeline_accounts=1_000, timeline_follows=50, timeline_clients=32,
    timeline_seconds=3, timeline_walk_pages=5,
    posting_followers=20, posting_clients=4, posting_seconds=3,
    warm_starts=1,
)


@dataclass
class Account:
    username: str
    actor_id: int
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Context:
    quick: bool
    sizes: Sizes
    server: ServerProcess
    peers: Peers
    pool: asyncpg.Pool  # the server's database: seeding and counting, never on a measured path
    http: aiohttp.ClientSession  # for set-up calls; load runs open their own sessions
    ceiling_url: str
    alice: Account  # inbox reader, posting author, owner of acme
    acme: Account  # the organization that fans out
    reader: Account  # the home-timeline reader
    workdir: Path
    inbox_keys: list[tuple[str, str]] = field(default_factory=list)  # (private, public) PEM per inbox actor
    ceiling_pid: int = 0

    def cpu(self) -> CpuSnapshot:
        """CPU used so far by the server, its PostgreSQL, this load generator, the ceiling and the peers."""
        from ._util import children_of

        postmaster = self.server.postmaster_pid()
        postgres = [postmaster, *children_of(postmaster)] if postmaster else []
        peers = [self.peers.proc.pid] if self.peers.proc is not None else []
        return cpu_snapshot(
            {
                "server": [self.server.pid],
                "postgres": postgres,
                "load_generator": [os.getpid()],
                "ceiling_app": [self.ceiling_pid] if self.ceiling_pid else [],
                "peers": peers,
            }
        )


@dataclass
class Goal:
    text: str  # e.g. "accepted/s >= 0.5 x ceiling"
    met: bool
    detail: str  # the measured comparison, e.g. "0.62 x (target 0.5)"


@dataclass
class Result:
    """One benchmark: its headline figure, the ceiling measured in the same run, and their ratio."""

    name: str
    title: str
    figure: float
    unit: str
    ceiling: float
    ratio: float
    ratio_meaning: str  # how to read the ratio, e.g. "figure / ceiling (higher is better)"
    goals: list[Goal] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    # latency percentiles for the plot: series name -> [(percentile, milliseconds)]
    curves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "figure": _finite(self.figure),
            "unit": self.unit,
            "ceiling": _finite(self.ceiling),
            "ratio": _finite(self.ratio),
            "ratio_meaning": self.ratio_meaning,
            "goals": [goal.__dict__ for goal in self.goals],
            "metrics": self.metrics,
            "curves": {name: [list(point) for point in points] for name, points in self.curves.items()},
            "notes": self.notes,
            "error": self.error,
        }


def _finite(value: float) -> float:
    return round(value, 4) if math.isfinite(value) else 0.0


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else 0.0


PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 100)


def curve(latencies_s: list[float]) -> list[tuple[float, float]]:
    """(percentile, ms) points of a latency distribution, for the plot."""
    from ._util import percentile

    values = sorted(latencies_s)
    return [(p, round(percentile(values, p) * 1000.0, 3)) for p in PERCENTILES] if values else []


@dataclass
class CpuSnapshot:
    """CPU seconds used so far by each process of each of our groups, and by the whole machine."""

    wall: float
    machine: float
    groups: dict[str, dict[int, float]]  # group -> pid -> CPU seconds

    def since(self, earlier: CpuSnapshot) -> dict[str, float]:
        """Where the cores went between two snapshots: seconds per group, the rest as `other processes`.

        Per process: a process that exited in between is left out (its last seconds are unknown), one that
        started in between counts whole — so a backend closing never makes a group's use negative."""
        used: dict[str, float] = {}
        for name, pids in self.groups.items():
            before = earlier.groups.get(name, {})
            used[name] = round(sum(max(cpu - before.get(pid, 0.0), 0.0) for pid, cpu in pids.items()), 2)
        machine = self.machine - earlier.machine
        wall = self.wall - earlier.wall
        return {
            "wall_s": round(wall, 2),
            "machine_busy_pct": round(100.0 * machine / (wall * (os.cpu_count() or 1)), 1) if wall > 0 else 0.0,
            **{f"{name}_cpu_s": value for name, value in used.items()},
            "other_processes_cpu_s": round(max(machine - sum(used.values()), 0.0), 2),
        }


def cpu_snapshot(groups: dict[str, list[int]]) -> CpuSnapshot:
    from ._util import cpu_seconds, machine_busy_seconds

    return CpuSnapshot(
        wall=time.monotonic(),
        machine=machine_busy_seconds(),
        groups={name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in groups.items()},
    )
