"""Soak: mixed client traffic and inbound federation against `fediverse-biz serve`, for a while.

The server runs as a real subprocess on loopback (its memory is then its own to measure) on a fresh
database of the test cluster. Four clients read timelines and notifications, post and favourite; a fake
peer delivers signed Creates (mentioning our members), Likes and Follows; every member has a follower on
a loopback inbox, so each post is a delivery. Then, with the traffic stopped:

- zero 5xx, and every request answered;
- zero lost deliveries: every post reached the loopback inbox, no delivery or inbox job is left;
- every activity the inbox accepted was processed;
- the server's resident memory grew by less than 10 % between the end of the warm-up and the end.

CI runs the quick mode (SOAK_SECONDS, 10 s); `FEDIVERSE_BIZ_SOAK_SECONDS=60` runs the full one, whose
figures are in docs/reliability.md. The figures print with `pytest -s`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from fediverse_biz.core import accounts
from fediverse_biz.db.pool import create_pool
from fediverse_biz.urls import LocalUrls
from tests.reliability._support import initial_env, remote_follower
from tests.support.accounts import PASSWORD, api_headers
from tests.support.cluster import PgCluster
from tests.support.inbox import FakeInbox
from tests.support.peers import FakePeer, PeerActor, deliver

SOAK_SECONDS = float(initial_env("FEDIVERSE_BIZ_SOAK_SECONDS") or 10)
WARM_UP_SECONDS = min(5.0, SOAK_SECONDS / 3)
CLIENTS = 4
REQUEST_TIMEOUT = 30.0
DRAIN_TIMEOUT = 90.0
MAX_MEMORY_GROWTH = 0.10
SEED = 20261126


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "fediverse_biz.cli", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


@dataclass
class Served:
    """`fediverse-biz serve` in a subprocess; its output goes to a file (a full pipe would stall it)."""

    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path

    @classmethod
    async def start(cls, data_dir: Path, dsn: str) -> Served:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEDIVERSE_BIZ_") and k != "DATABASE_URL"}
        env.update(
            DATABASE_URL=dsn,
            FEDIVERSE_BIZ_DATA_DIR=str(data_dir),
            FEDIVERSE_BIZ_PORT=str(port),
            FEDIVERSE_BIZ_DOMAIN=f"127.0.0.1:{port}",
            FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES="127.0.0.0/8",
            FEDIVERSE_BIZ_REGISTRATION_MODE="open",
            FEDIVERSE_BIZ_LOG_LEVEL="warning",
            # The limits stay on, so their bookkeeping is part of what is measured, but far away:
            # four clients from one address do in a minute what Mastodon allows in many.
            FEDIVERSE_BIZ_RATE_LIMIT_API=str(10**9),
            FEDIVERSE_BIZ_RATE_LIMIT_INBOX=str(10**9),
        )
        log = data_dir.parent / "serve.log"
        served = cls(_spawn(env, log), f"http://127.0.0.1:{port}", log)
        proc = served.proc
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=served.base_url, timeout=1) as client:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise AssertionError(f"serve exited: {log.read_text()[-3000:]}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return served
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("serve did not become healthy")

    def rss(self) -> int:
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass
class Figures:
    requests: Counter[str] = field(default_factory=Counter)  # "GET /api/v1/timelines/home 200"
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)  # status URIs, each owed to the loopback inbox
    inbound_accepted: list[str] = field(default_factory=list)
    inbound_refused: list[str] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)

    def server_errors(self) -> list[str]:
        return [key for key in self.requests if int(key.rsplit(" ", 1)[1]) >= 500]


@dataclass
class Member:
    actor: asyncpg.Record
    headers: dict[str, str]


async def _seed(served: Served, dsn: str, inbox: FakeInbox) -> list[Member]:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    members = []
    try:
        urls = LocalUrls(served.base_url)
        for n in range(CLIENTS):
            user = await accounts.create_user(pool, urls, f"member{n}", f"m{n}@example.com", PASSWORD)
            actor = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", user.actor_id)
            await remote_follower(pool, actor, inbox, f"reader{n}")
            members.append(Member(actor, await api_headers(pool, user)))
    finally:
        await pool.close()
    return members


async def _client(
    client: httpx.AsyncClient, me: Member, others: list[Member], figures: Figures, deadline: float, rng: random.Random
) -> None:
    """One member's session: mostly reading, some posting and favouriting, as people do."""
    known: list[str] = []  # status ids seen in timelines
    serial = itertools.count()
    while time.monotonic() < deadline:
        roll = rng.random()
        body: dict[str, str] | None = None
        if roll < 0.30:
            method, path = "GET", "/api/v1/timelines/home?limit=20"
        elif roll < 0.42:
            method, path = "GET", "/api/v1/timelines/public?local=true"
        elif roll < 0.52:
            method, path = "GET", "/api/v1/notifications?limit=20"
        elif roll < 0.57:
            method, path = "GET", f"/api/v1/accounts/{rng.choice(others).actor['id']}/statuses"
        elif roll < 0.77:
            mention = f"@{rng.choice(others).actor['username']} " if rng.random() < 0.3 else ""
            body = {"status": f"{mention}Soak post {next(serial)} from {me.actor['username']} #fair"}
            method, path = "POST", "/api/v1/statuses"
        elif known:
            verb = rng.choice(["favourite", "favourite", "unfavourite", "bookmark"])
            method, path = "POST", f"/api/v1/statuses/{rng.choice(known)}/{verb}"
        else:
            method, path = "GET", "/api/v1/accounts/verify_credentials"
        started = time.monotonic()
        try:
            response = await client.request(method, path, headers=me.headers, json=body)
        except httpx.HTTPError as exc:
            figures.failures.append(f"{method} {path}: {type(exc).__name__}: {exc}")
            continue
        figures.latencies.append(time.monotonic() - started)
        figures.requests[f"{method} {path.split('?')[0]} {response.status_code}"] += 1
        if response.status_code != 200:
            continue
        answer: Any = response.json()
        if path == "/api/v1/statuses":
            figures.posts.append(answer["uri"])
            known.append(answer["id"])
        elif isinstance(answer, list):
            known.extend(s["id"] for s in answer if isinstance(s, dict) and "content" in s)
        del known[:-200]


async def _federation(
    client: httpx.AsyncClient,
    peer: FakePeer,
    actors: list[PeerActor],
    members: list[Member],
    figures: Figures,
    deadline: float,
    rng: random.Random,
) -> None:
    """A remote server: signed Follows, Creates mentioning members, and Likes of their posts."""
    for actor in actors:  # following first, so later posts fan out to the peer too
        for member in members:
            await _send(client, peer.activity("Follow", actor, member.actor["uri"]), actor, figures)
    while time.monotonic() < deadline:
        actor = rng.choice(actors)
        if figures.posts and rng.random() < 0.35:
            activity = peer.activity("Like", actor, rng.choice(figures.posts))
        else:
            member = rng.choice(members)
            mention = {"type": "Mention", "href": member.actor["uri"], "name": f"@{member.actor['username']}"}
            note = peer.note(actor, f"<p>@{member.actor['username']} hello from afar</p>",
                             to=[member.actor["uri"]], cc=[], tag=[mention])  # fmt: skip
            activity = peer.activity("Create", actor, note)
        await _send(client, activity, actor, figures)
        await asyncio.sleep(0.02)


async def _send(client: httpx.AsyncClient, activity: dict[str, Any], actor: PeerActor, figures: Figures) -> None:
    try:
        response = await deliver(client, activity, actor)
    except httpx.HTTPError as exc:
        figures.failures.append(f"POST /inbox: {type(exc).__name__}: {exc}")
        return
    figures.requests[f"POST /inbox {response.status_code}"] += 1
    (figures.inbound_accepted if response.status_code == 202 else figures.inbound_refused).append(activity["id"])


async def _sample_memory(served: Served, figures: Figures, stop: asyncio.Event) -> None:
    started = time.monotonic()
    while not stop.is_set():
        figures.rss.append((time.monotonic() - started, served.rss()))
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


async def _drained(pool: asyncpg.Pool, inbox: FakeInbox, figures: Figures) -> bool:
    received = {r.activity["object"]["id"] for r in inbox.received
                if r.activity.get("type") == "Create" and isinstance(r.activity.get("object"), dict)}  # fmt: skip
    if not set(figures.posts) <= received:
        return False
    pending = await pool.fetchval("SELECT count(*) FROM jobs WHERE kind IN ('deliver', 'inbox')")
    return int(pending) == 0


@pytest.fixture
async def soak_database(cluster: PgCluster) -> AsyncIterator[str]:
    name = await cluster.create_database()
    yield cluster.dsn(name)
    await cluster.release_database(name)


async def test_soak(tmp_path: Path, soak_database: str) -> None:
    rng = random.Random(SEED)
    inbox, peer = await FakeInbox().start(), await FakePeer().start()
    served = await Served.start(tmp_path / "data", soak_database)
    figures = Figures()
    try:
        members = await _seed(served, soak_database, inbox)
        actors = [peer.actor(f"trader{n}", key=n) for n in range(3)]
        limits = httpx.Limits(max_connections=CLIENTS * 2)
        async with httpx.AsyncClient(base_url=served.base_url, timeout=REQUEST_TIMEOUT, limits=limits) as client:
            # warm-up: the same traffic, not measured for memory (first requests fill caches and the pool)
            stop_sampling = asyncio.Event()
            started = time.monotonic()
            deadline = started + SOAK_SECONDS
            tasks = [
                asyncio.create_task(_client(client, m, [o for o in members if o is not m], figures, deadline,
                                            random.Random(rng.random())))
                for m in members
            ]  # fmt: skip
            tasks.append(asyncio.create_task(_federation(client, peer, actors, members, figures, deadline, rng)))
            await asyncio.sleep(WARM_UP_SECONDS)
            sampler = asyncio.create_task(_sample_memory(served, figures, stop_sampling))
            await asyncio.gather(*tasks)
            elapsed = time.monotonic() - started
            # then everything owed is delivered and processed
            pool = await create_pool(soak_database, min_size=1, max_size=2)
            try:
                drain_started = time.monotonic()
                while not await _drained(pool, inbox, figures):
                    assert time.monotonic() - drain_started < DRAIN_TIMEOUT, "deliveries or inbox jobs left over"
                    await asyncio.sleep(0.2)
                drain_seconds = time.monotonic() - drain_started
                unprocessed = await pool.fetch(
                    "SELECT activity_id, error FROM inbox_activities WHERE processed_at IS NULL"
                )
                stored = await pool.fetchval(
                    "SELECT count(*) FROM inbox_activities WHERE activity_id = ANY($1::text[])",
                    figures.inbound_accepted,
                )
            finally:
                await pool.close()
            stop_sampling.set()
            await sampler
    finally:
        served.stop()
        await inbox.stop()
        await peer.stop()

    total = sum(figures.requests.values())
    first_rss, last_rss = figures.rss[0][1], figures.rss[-1][1]
    growth = (last_rss - first_rss) / first_rss
    summary = {
        "seconds": round(elapsed, 1),
        "requests": total,
        "requests_per_second": round(total / elapsed, 1),
        "latency_ms_p50": round(statistics.median(figures.latencies) * 1000, 1),
        "latency_ms_p99": round(statistics.quantiles(figures.latencies, n=100)[98] * 1000, 1),
        "posts_delivered": len(figures.posts),
        "inbound_accepted": len(figures.inbound_accepted),
        "inbound_refused": len(figures.inbound_refused),
        "drain_seconds": round(drain_seconds, 1),
        "rss_mb_after_warm_up": round(first_rss / 2**20, 1),
        "rss_mb_end": round(last_rss / 2**20, 1),
        "rss_mb_max": round(max(r for _, r in figures.rss) / 2**20, 1),
        "rss_growth_percent": round(growth * 100, 1),
        "statuses": dict(sorted(Counter(k.rsplit(" ", 1)[1] for k in figures.requests.elements()).items())),
    }
    print("\nsoak figures:", json.dumps(summary))
    assert figures.failures == [], figures.failures[:5]
    assert figures.server_errors() == [], figures.server_errors()
    assert figures.posts and figures.inbound_accepted, "the soak did no work"
    assert figures.inbound_refused == []
    assert stored == len(set(figures.inbound_accepted))
    assert unprocessed == [], unprocessed[:5]
    assert growth < MAX_MEMORY_GROWTH, summary
