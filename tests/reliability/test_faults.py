"""Faults: PostgreSQL restarted under load or frozen, and a receiver that fails every way before it recovers.

Covered elsewhere, not repeated here (docs/reliability.md lists them):
- each delivery outcome alone (500, 429 + Retry-After, timeouts, refused connections, the circuit breaker
  opening and closing): tests/federation/test_delivery.py, test_jobs.py, test_worker.py;
- a worker killed with SIGKILL loses nothing: tests/federation/test_worker_crash.py;
- a full disk on media upload is a clear, retryable 503: tests/core/test_media.py
  (test_disk_full_gives_a_clear_error_and_leaves_nothing) and tests/api/test_media.py
  (test_disk_full_is_a_retryable_503).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
import pytest
from aiohttp import web
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse_biz.app import server_error
from fediverse_biz.core import accounts
from fediverse_biz.db.pool import CANCEL_TIMEOUT, BoundedConnection, create_pool, ping
from fediverse_biz.federation import delivery
from fediverse_biz.jobs import hosts
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.middleware import DatabaseUnavailable
from fediverse_biz.net.fetch import create_session
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.reliability._support import OwnCluster, Traffic, remote_follower
from tests.support.accounts import PASSWORD, api_headers
from tests.support.inbox import FakeInbox
from tests.support.servers import LiveServer

CLIENT_TIMEOUT = 35.0  # over the server's 30 s statement_timeout: a request past it has hung
OUTAGE_SECONDS = 2.0
RECOVERY_GRACE = 1.0


# ---- PostgreSQL restarted under load --------------------------------------------------------------------
async def _drive(client: httpx.AsyncClient, headers: dict[str, str], traffic: Traffic, stop: asyncio.Event) -> None:
    while not stop.is_set():
        for path, sent in (("/healthz", {}), ("/api/v1/accounts/verify_credentials", headers)):
            with traffic.timed(path) as outcome:
                outcome.status = (await client.get(path, headers=sent)).status_code
        await asyncio.sleep(0.02)


async def _wait_until(predicate: Any, timeout: float, what: str) -> None:  # noqa: ASYNC109 - a test's bound
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


async def test_postgresql_restart_under_load(tmp_path: Path) -> None:
    # given a server on a cluster of its own, a member, and a remote follower whose inbox is on loopback
    cluster = await OwnCluster.start(tmp_path)
    inbox = await FakeInbox().start()
    server: LiveServer | None = None
    try:
        server = LiveServer(cluster.dsn, tmp_path / "server", rate_limits=False, workers=2).start()
        pool = await create_pool(cluster.dsn, min_size=1, max_size=2)
        try:
            user = await accounts.create_user(pool, LocalUrls(server.base_url), "alice", "a@example.com", PASSWORD)
            alice = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", user.actor_id)
            await remote_follower(pool, alice, inbox, "rita")
            headers = await api_headers(pool, user)
        finally:
            await pool.close()

        traffic, stop = Traffic(), asyncio.Event()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=CLIENT_TIMEOUT) as client:
            drivers = [asyncio.create_task(_drive(client, headers, traffic, stop)) for _ in range(4)]
            await asyncio.sleep(1.0)
            # when PostgreSQL stops (pg_ctl stop -m fast) under that load, and comes back a moment later
            outage_started = time.monotonic()
            await cluster.stop()
            await asyncio.sleep(OUTAGE_SECONDS)
            await cluster.restart()
            restarted = time.monotonic()

            async def healthy() -> bool:
                return (await client.get("/healthz")).status_code == 200

            # then the same server process answers again, its pool reconnected
            await _wait_until(healthy, 30, "/healthz to answer 200 again")
            recovered = time.monotonic()
            await asyncio.sleep(RECOVERY_GRACE + 1.0)
            stop.set()
            await asyncio.gather(*drivers)
            # and its job worker resumes: a post made now is delivered to the follower
            posted = await client.post("/api/v1/statuses", headers=headers, json={"status": "back again"})
            assert posted.status_code == 200, posted.text

            async def delivered() -> bool:
                return any(r.activity.get("object", {}).get("content", "").find("back again") >= 0
                           for r in inbox.received if isinstance(r.activity.get("object"), dict))  # fmt: skip

            await _wait_until(delivered, 30, "the delivery of a post made after the restart")
    finally:
        if server is not None:
            server.stop()
        await inbox.stop()
        await cluster.stop()

    # no request hung: every one was answered within the client's timeout
    unanswered = [o for o in traffic.outcomes if o.status is None]
    assert unanswered == [], unanswered[:5]
    assert max(o.seconds for o in traffic.outcomes) < CLIENT_TIMEOUT
    # during the outage the health check said so, and API calls were told to come back (503, not 500)
    during = traffic.between(outage_started, restarted)
    assert 503 in {o.status for o in during if o.path == "/healthz"}
    assert 503 in {o.status for o in during if o.path.startswith("/api/")}
    assert {o.status for o in during} <= {200, 503}, {o.status for o in during}
    # before it (answered before it began) and after it, everything was fine
    assert {o.status for o in traffic.outcomes if o.started + o.seconds < outage_started} == {200}
    # (from a moment after the first healthy answer: connections opened while PostgreSQL was still starting
    # up can fail a request or two that began just before it)
    late = [(round(o.started - recovered, 2), o.path, o.status, round(o.seconds, 2))
            for o in traffic.between(recovered, float("inf")) if o.status != 200]  # fmt: skip
    assert {o.status for o in traffic.between(recovered + RECOVERY_GRACE, float("inf"))} == {200}, late


# ---- PostgreSQL frozen (processes stopped, not dead) ------------------------------------------------------
# A frozen server keeps its sockets open and answers nothing, so its own statement_timeout never fires; only
# the client's bounds end the waits (db/pool.py). The test's server has a 4 s statement_timeout, so a
# statement against the frozen server is given up after 4 + 3 s, and its connection dropped at most 2 s
# later if the cancel request goes unanswered: 9 s. Before those bounds the wait was twice the client's
# timeout (14 s here; 70 s with the default 30 s statement_timeout).
FROZEN_STATEMENT_TIMEOUT = 4
HEALTH_CLIENT_TIMEOUT = 5.0  # /healthz must say 503 before this: its own bound is 1.5 s
API_CLIENT_TIMEOUT = 11.5  # an API call must be answered 503 before this: its bound is 9 s


def _content_of(received: Any) -> str:
    obj = received.activity.get("object")
    return str(obj.get("content", "")) if isinstance(obj, dict) else ""


async def test_a_frozen_postgresql_is_a_prompt_503_and_everything_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given a server on a cluster of its own, a member, a remote follower on loopback whose server answers
    # at once, except for one post, which it holds until the database is frozen
    cluster = await OwnCluster.start(tmp_path)
    frozen = asyncio.Event()

    async def respond(request: web.Request) -> web.StreamResponse:
        if "in flight" in _content_of(inbox.received[-1]):
            await frozen.wait()
        return web.Response(status=202)

    inbox = await FakeInbox(respond=respond).start()
    server: LiveServer | None = None
    figures: dict[str, float] = {}
    try:
        server = LiveServer(cluster.dsn, tmp_path / "server", rate_limits=False, workers=2,
                            db_statement_timeout=FROZEN_STATEMENT_TIMEOUT, db_acquire_timeout=3).start()  # fmt: skip
        pool = await create_pool(cluster.dsn, min_size=1, max_size=2)
        try:
            user = await accounts.create_user(pool, LocalUrls(server.base_url), "alice", "a@example.com", PASSWORD)
            alice = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", user.actor_id)
            await remote_follower(pool, alice, inbox, "rita")
            headers = await api_headers(pool, user)
        finally:
            await pool.close()

        def delivered(text: str) -> int:
            return sum(1 for r in inbox.received if text in _content_of(r))

        async with httpx.AsyncClient(base_url=server.base_url, timeout=API_CLIENT_TIMEOUT) as client:

            async def post(text: str) -> httpx.Response:
                return await client.post("/api/v1/statuses", headers=headers, json={"status": text})

            assert (await post("before")).status_code == 200
            assert (await post("in flight")).status_code == 200

            async def in_flight_held() -> bool:
                return delivered("before") == 1 and delivered("in flight") == 1

            await _wait_until(in_flight_held, 30, "the second post's delivery to be held by the receiver")

            # when every PostgreSQL process is stopped, and the held delivery is answered meanwhile
            with cluster.frozen():
                frozen.set()
                # then API calls, a timeline among them, are answered 503 with Retry-After, not held: on the
                # pool's idle connections, whose statements the client gives up on and whose cancel requests
                # it stops waiting for
                async def timed(path: str) -> httpx.Response:
                    started = time.monotonic()
                    response = await client.get(path, headers=headers)
                    figures[f"{path} 503"] = time.monotonic() - started
                    return response

                answers = await asyncio.gather(
                    timed("/api/v1/accounts/verify_credentials"), timed("/api/v1/timelines/home")
                )
                for answer in answers:
                    assert answer.status_code == 503, answer.text
                    assert answer.headers["Retry-After"] == "5"
                    assert set(answer.json()) == {"error"}

                # and /healthz says so within its short bound, in its usual shape
                started = time.monotonic()
                health = await client.get("/healthz", timeout=HEALTH_CLIENT_TIMEOUT)
                figures["healthz 503"] = time.monotonic() - started
                assert health.status_code == 503
                assert health.json() == {"status": "unavailable", "database": "down"}
                # (a post sent now waits on the frozen server, and goes through when it wakes)
                during = asyncio.create_task(post("during"))
                await asyncio.sleep(0.5)
                thawed = time.monotonic()

            # then, once PostgreSQL runs again, the same process answers as before...
            async def healthy() -> bool:
                return (await client.get("/healthz", timeout=HEALTH_CLIENT_TIMEOUT)).status_code == 200

            await _wait_until(healthy, 30, "/healthz to answer 200 again")
            figures["healthz 200 after thaw"] = time.monotonic() - thawed
            assert (await client.get("/api/v1/accounts/verify_credentials", headers=headers)).status_code == 200
            assert (await client.get("/api/v1/timelines/home", headers=headers)).status_code == 200
            assert (await during).status_code == 200
            assert (await post("after")).status_code == 200

            # ...and its worker, which stopped claiming while the database was away, resumes by itself:
            # the posts of the freeze and after it are delivered, and the delivery answered during the
            # freeze is deleted then, not left to run again when its lease ends
            async def settled() -> bool:
                conn = await asyncpg.connect(cluster.dsn)
                try:
                    remaining = await conn.fetchval("SELECT count(*) FROM jobs")
                finally:
                    await conn.close()
                return remaining == 0 and delivered("during") >= 1 and delivered("after") >= 1

            await _wait_until(settled, 30, "every post delivered and no job left")
            figures["queue empty after thaw"] = time.monotonic() - thawed
    finally:
        frozen.set()
        if server is not None:
            server.stop()
        await inbox.stop()
        await cluster.stop()

    # each post arrived exactly once: none lost, none sent twice
    assert [delivered(text) for text in ("before", "in flight", "during", "after")] == [1, 1, 1, 1]
    assert "the database does not answer; claiming nothing until it does" in caplog.text
    assert "the database answers again" in caplog.text
    print("frozen PostgreSQL:", {name: round(seconds, 2) for name, seconds in figures.items()})


async def test_a_statement_on_a_frozen_server_is_given_up_and_its_connection_dropped(tmp_path: Path) -> None:
    # given a connection as the pool makes them, and a pool, to a cluster of the test's own
    cluster = await OwnCluster.start(tmp_path)
    conn = await asyncpg.connect(cluster.dsn, connection_class=BoundedConnection, command_timeout=6)
    pool = await create_pool(cluster.dsn, min_size=1, max_size=2, statement_timeout=3)
    try:
        # when the server freezes
        with cluster.frozen():
            # then a statement is given up after the client's timeout, and once the cancel request asyncpg
            # sends goes unanswered for CANCEL_TIMEOUT, the connection is dropped; asyncpg alone would wait
            # for that answer as long as the statement's timeout again (6 s here)
            with pytest.raises(TimeoutError):
                await conn.fetchval("SELECT 1")
            gave_up = time.monotonic()
            while not conn.is_closed() and time.monotonic() < gave_up + CANCEL_TIMEOUT + 2.0:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            assert conn.is_closed()
            # and the health check fails within its own short bound, not the statement's
            check = asyncio.create_task(ping(pool))
            done, _ = await asyncio.wait([check], timeout=5)
            assert check in done and isinstance(check.exception(), TimeoutError)
        # then once the server runs again the pool answers, on a new connection where one was dropped
        await ping(pool)
        assert await pool.fetchval("SELECT 2") == 2
    finally:
        conn.terminate()
        await pool.close()
        await cluster.stop()


# ---- a receiver failing every way, then recovering ------------------------------------------------------
class Misbehaving:
    """Answers the n-th POST as the script says: 500s, a 429 with Retry-After, hangs (timeouts), then 202."""

    def __init__(self) -> None:
        self.script = ["500", "500", "429", "500", *(["hang"] * 8)]
        self.recovered = False
        self.release = asyncio.Event()
        self.answered: list[tuple[float, str]] = []

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if self.recovered or not self.script:
            self.answered.append((time.time(), "202"))
            return web.Response(status=202)
        step = self.script.pop(0)
        self.answered.append((time.time(), step))
        if step == "hang":
            await self.release.wait()
            return web.Response(status=202)
        if step == "429":
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(status=int(step))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    session = create_session(["127.0.0.0/8"], user_agent="test", total_timeout=0.5)
    yield session
    await session.close()


async def test_a_receiver_failing_every_way_gets_every_delivery_once_it_recovers(
    app: Starlette, client: httpx.AsyncClient, http: aiohttp.ClientSession, urls: LocalUrls
) -> None:
    pool = services(app).pool
    # given a member with a remote follower whose server will fail in every way before it recovers
    behaviour = Misbehaving()
    inbox = await FakeInbox(respond=behaviour).start()
    try:
        user = await accounts.create_user(pool, urls, "alice", "a@example.com", PASSWORD)
        alice = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", user.actor_id)
        await remote_follower(pool, alice, inbox, "rita")
        headers = await api_headers(pool, user)
        worker = Worker(pool, http, services(app).settings, delivery.handlers(), backoff_scale=0.0, per_host_limit=1)

        async def post(text: str) -> str:
            response = await client.post("/api/v1/statuses", headers=headers, json={"status": text})
            assert response.status_code == 200, response.text
            return str(response.json()["uri"])

        # when she posts, and the follower's server answers 500, 500 (retried at once: no backoff in this
        # test), then 429 with Retry-After: 1
        posts = [await post("news 0")]
        await worker.run_until_idle(timeout=15)
        assert [step for _, step in behaviour.answered] == ["500", "500", "429"]
        answered_429 = behaviour.answered[-1][0]
        # then the job waits at least as long as the peer asked
        run_at = await pool.fetchval("SELECT run_at FROM jobs WHERE kind = 'deliver'")
        assert run_at.timestamp() >= answered_429 + 1 - 0.01
        # when she posts twice more and the server keeps failing, now by not answering at all
        posts += [await post("news 1"), await post("news 2")]
        while await hosts.circuit_state(pool, inbox.host) != "open":
            await worker.run_until_idle(timeout=15)
            await asyncio.sleep(0.1)
        # then the first post was not tried again sooner than the 429 said, and the circuit opened on the host
        tries_of_first = [at for (at, _), got in zip(behaviour.answered, inbox.received, strict=True)
                          if got.activity["object"]["id"] == posts[0]]  # fmt: skip
        assert all(at >= answered_429 + 1 - 0.01 for at in tries_of_first[3:])
        assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'deliver'") == 3  # nothing lost
        tries = len(behaviour.answered)
        await worker.run_until_idle(timeout=5)
        assert len(behaviour.answered) == tries  # open: no request while cooling down

        # when the receiver recovers and the cool-down is over (moved to now, as waiting a minute would)
        behaviour.recovered = True
        behaviour.release.set()
        await pool.execute("UPDATE remote_hosts SET circuit_open_until = now() WHERE host = $1", inbox.host)
        await pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'deliver'")
        await worker.run_until_idle(timeout=15)

        # then one probe closed the circuit and every post arrived
        assert await hosts.circuit_state(pool, inbox.host) == "closed"
        arrived = {r.activity["object"]["id"] for r in inbox.received if r.activity["type"] == "Create"}
        assert arrived == set(posts)
        assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'deliver'") == 0
    finally:
        await inbox.stop()


# ---- the 503 itself --------------------------------------------------------------------------------------
def _failing_app(exc: Exception) -> Starlette:
    async def fail(request: Request) -> Response:
        raise exc

    async def connect_to_a_dead_socket(request: Request) -> Response:
        await asyncpg.connect("postgresql://nobody@/none?host=/nonexistent-socket-dir")  # OSError inside asyncpg
        raise AssertionError("unreachable")

    app = Starlette(
        routes=[Route("/api/v1/fail", fail), Route("/api/v1/connect", connect_to_a_dead_socket)],
        middleware=[Middleware(DatabaseUnavailable)],
        exception_handlers={Exception: server_error},
    )
    return app


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (asyncpg.CannotConnectNowError("the database system is starting up"), 503),
        (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), 503),
        (asyncpg.QueryCanceledError("canceling statement due to statement timeout"), 500),  # slow, not gone
        (FileNotFoundError("a file, not the database"), 500),
    ],
)
async def test_an_unreachable_database_is_a_503_and_other_errors_are_not(exc: Exception, status: int) -> None:
    transport = httpx.ASGITransport(app=_failing_app(exc), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        response = await c.get("/api/v1/fail")
        assert response.status_code == status
        if status == 503:
            assert response.headers["Retry-After"] == "5"
            assert response.json() == {"error": "the database is unavailable, try again shortly"}
        assert (await c.get("/api/v1/connect")).status_code == 503
