"""Helpers the reliability tests share: a loopback remote follower, a dedicated cluster, traffic records."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from fediverse_biz.core import follows
from fediverse_biz.db import migrations
from fediverse_biz.db.database import APP_DATABASE, ensure_database
from fediverse_biz.db.embedded import EmbeddedPostgres
from tests.support.inbox import FakeInbox


def initial_env(name: str) -> str | None:
    """An environment variable as the test process was started with it. tests/conftest.py removes every
    FEDIVERSE_BIZ_* variable so the suite ignores the developer's settings; switches meant for the
    tests themselves (FEDIVERSE_BIZ_SOAK_SECONDS) are read from the process's original environment."""
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return os.environ.get(name)
    for entry in raw.split(b"\0"):
        key, _, value = entry.partition(b"=")
        if key.decode(errors="replace") == name:
            return value.decode(errors="replace")
    return os.environ.get(name)


async def remote_follower(
    pool: asyncpg.Pool, target: asyncpg.Record, inbox: FakeInbox, username: str
) -> asyncpg.Record:
    """A remote account on the FakeInbox's host (plain http, loopback) following the local `target`."""
    uri = f"http://{inbox.host}/users/{username}"
    async with pool.acquire() as conn, conn.transaction():
        follower = await conn.fetchrow(
            """INSERT INTO actors (username, domain, uri, url, inbox_url, shared_inbox_url, followers_url, key_id,
                                   public_key_pem)
               VALUES ($1, $2, $3, $3, $4, $5, $6, $7, 'unused') RETURNING *""",
            username, inbox.host, uri, f"{uri}/inbox", inbox.url("/inbox"), f"{uri}/followers", f"{uri}#main-key",
        )  # fmt: skip
        await follows.accept_follow(conn, follower, target, None)
    return follower


@dataclass
class OwnCluster:
    """A PostgreSQL cluster of the test's own, so it can be stopped without disturbing other tests."""

    server: EmbeddedPostgres

    @property
    def dsn(self) -> str:
        return self.server.dsn(APP_DATABASE)

    @classmethod
    async def start(cls, directory: Path) -> OwnCluster:
        server = EmbeddedPostgres(directory / "postgres", durable=False)
        await asyncio.to_thread(server.start)
        await ensure_database(server.dsn("postgres"), APP_DATABASE)
        conn = await asyncpg.connect(server.dsn(APP_DATABASE))
        try:
            await migrations.migrate(conn)
        finally:
            await conn.close()
        return cls(server)

    async def stop(self) -> None:
        await asyncio.to_thread(self.server.stop)

    async def restart(self) -> None:
        await asyncio.to_thread(self.server.start)

    def processes(self) -> list[int]:
        """The postmaster (first) and every process it started: backends and background workers."""
        postmaster = int((self.server.pgdata / "postmaster.pid").read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:  # field 4 of proc(5): the parent
                children.append(int(entry.name))
        return [postmaster, *children]

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Every process of the cluster stopped (SIGSTOP), not dead: sockets stay open and unanswered, as
        with a stalled VM or disk. The postmaster first, so that it starts nothing new; all resumed on exit."""
        stopped: list[int] = []
        try:
            postmaster = self.processes()[0]
            os.kill(postmaster, signal.SIGSTOP)
            stopped.append(postmaster)
            for pid in self.processes()[1:]:  # listed once the postmaster can start no more
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            yield
        finally:
            for pid in reversed(stopped):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)


@dataclass
class Outcome:
    path: str
    started: float
    seconds: float
    status: int | None  # None: the request failed without an answer (its error is in `error`)
    error: str = ""


@dataclass
class Traffic:
    outcomes: list[Outcome] = field(default_factory=list)

    @contextmanager
    def timed(self, path: str) -> Iterator[Outcome]:
        outcome = Outcome(path, time.monotonic(), 0.0, None)
        try:
            yield outcome
        except Exception as exc:  # recorded, judged by the test
            outcome.error = f"{type(exc).__name__}: {exc}"
        finally:
            outcome.seconds = time.monotonic() - outcome.started
            self.outcomes.append(outcome)

    def between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if start <= o.started < end]
