"""Delivering activities to peers that verify signatures or misbehave (federation/delivery.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from fediverse_biz.config import Settings
from fediverse_biz.core import accounts, outbound
from fediverse_biz.db.database import Database
from fediverse_biz.federation import delivery
from fediverse_biz.jobs import hosts, queue
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.net.fetch import create_session
from fediverse_biz.urls import LocalUrls
from tests.support.inbox import FakeInbox, Respond, digest_matches


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    session = create_session(["127.0.0.0/8"], user_agent="test", total_timeout=1.0)
    yield session
    await session.close()


@pytest.fixture
async def actor(db: Database, urls: LocalUrls) -> asyncpg.Record:
    async with db.pool.acquire() as conn:
        return await accounts.insert_local_actor(conn, urls, "acme", actor_type="Organization")


@pytest.fixture
async def inbox_factory(actor: asyncpg.Record) -> AsyncIterator[Callable[..., Awaitable[FakeInbox]]]:
    started: list[FakeInbox] = []

    async def start(respond: Respond | None = None, *, verify: bool = True) -> FakeInbox:
        keys = {actor["key_id"]: actor["public_key_pem"]} if verify else None
        inbox = FakeInbox(respond=respond or _status(202), public_keys=keys)
        started.append(await inbox.start())
        return inbox

    yield start
    for inbox in started:
        await inbox.stop()


def _status(status: int, headers: dict[str, str] | None = None) -> Respond:
    async def respond(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers=headers)

    return respond


def activity(actor: asyncpg.Record, n: int = 1) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor['uri']}/statuses/{n}/activity",
        "type": "Create",
        "actor": actor["uri"],
        "object": {"id": f"{actor['uri']}/statuses/{n}", "type": "Note", "content": "<p>Grüße</p>"},
    }


async def deliver_all(db: Database, http: aiohttp.ClientSession, settings: Settings, **options: Any) -> None:
    await Worker(db.pool, http, settings, delivery.handlers(), **options).run_until_idle(timeout=15)


async def test_delivery_is_signed_and_verified_by_the_receiver(
    db: Database, http: aiohttp.ClientSession, settings: Settings, actor: asyncpg.Record,
    inbox_factory: Callable[..., Awaitable[FakeInbox]],
) -> None:
    inbox = await inbox_factory()
    await outbound.deliver(db.pool, actor, activity(actor), [inbox.url()])
    await deliver_all(db, http, settings)
    assert inbox.rejected == []
    [got] = inbox.received
    assert got.verified_key_id == actor["key_id"]
    assert digest_matches(got)
    assert got.headers["Content-Type"] == "application/activity+json"
    assert got.activity == activity(actor)
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0
    health = await db.pool.fetchrow("SELECT * FROM remote_hosts WHERE host = $1", inbox.host)
    assert health["last_success_at"] is not None and health["failures"] == 0


async def test_server_error_is_retried_later_and_counted_against_the_host(
    db: Database, http: aiohttp.ClientSession, settings: Settings, actor: asyncpg.Record,
    inbox_factory: Callable[..., Awaitable[FakeInbox]],
) -> None:
    inbox = await inbox_factory(_status(500))
    await outbound.deliver(db.pool, actor, activity(actor), [inbox.url()])
    await deliver_all(db, http, settings)
    job = await db.pool.fetchrow("SELECT *, run_at > now() AS later FROM jobs")
    assert job["later"] and job["attempts"] == 1 and job["last_error"].endswith("HTTP 500")
    assert await db.pool.fetchval("SELECT failures FROM remote_hosts WHERE host = $1", inbox.host) == 1
    assert len(inbox.received) == 1


@pytest.mark.parametrize("header", ["seconds", "http-date"])
async def test_429_retry_after_is_honoured(
    db: Database, http: aiohttp.ClientSession, settings: Settings, actor: asyncpg.Record,
    inbox_factory: Callable[..., Awaitable[FakeInbox]], header: str,
) -> None:
    wait = timedelta(hours=1)
    value = "3600" if header == "seconds" else format_datetime(datetime.now(UTC) + wait, usegmt=True)
    inbox = await inbox_factory(_status(429, {"Retry-After": value}))
    await outbound.deliver(db.pool, actor, activity(actor), [inbox.url()])
    before = await db.pool.fetchval("SELECT now()")
    await deliver_all(db, http, settings)
    run_at = await db.pool.fetchval("SELECT run_at FROM jobs")
    assert run_at >= before + wait - timedelta(seconds=2)  # an HTTP-date has whole seconds


@pytest.mark.parametrize("status", [400, 403, 404, 410, 501])
async def test_final_answers_drop_the_job_without_retry(
    db: Database, http: aiohttp.ClientSession, settings: Settings, actor: asyncpg.Record,
    inbox_factory: Callable[..., Awaitable[FakeInbox]], status: int,
) -> None:
    inbox = await inbox_factory(_status(status))
    await outbound.deliver(db.pool, actor, activity(actor), [inbox.url()])
    await deliver_all(db, http, settings)
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0
    assert len(inbox.received) == 1
    assert await hosts.circuit_state(db.pool, inbox.host) == "closed"  # the host answered: it is up


@pytest.mark.parametrize("status", [401, 408])
async def test_salvageable_4xx_is_retried(
    db: Database, http: aiohttp.ClientSession, settings: Settings, actor: asyncpg.Record,
    inbox_factory: Callable[..., Awaitable[FakeInbox]], status: int,
) -> None:
    inbox = await inbox_factory(_status(status))
    await outbound.deliver(db.pool, actor, activity(actor), [inbox.url()])
    await deliver_all(db, http, settings)
    assert await db.pool.fetchval("SELECT attempts FROM jobs") == 1


async def test_timeout_and_refused_connection_are_retried(
    db: Database, http: aiohttp.ClientSession, settings: Settings, actor: asyncpg.Record,
    inbox_factory: Callable[..., Awaitable[FakeInbox]],
) -> None:
    async def hang(request: web.Request) -> web.StreamResponse:
        await inbox.release.wait()
        return web.Response(status=202)

    inbox = await inbox_factory(hang)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/inbox"
    for url in (inbox.url(), closed):
        await outbound.deliver(db.pool, actor, activity(actor), [url])
    await deliver_all(db, http, settings)
    errors = sorted(r["last_error"] for r in await db.pool.fetch("SELECT last_error FROM jobs"))
    assert len(errors) == 2
    assert any("timed out" in e for e in errors), errors
    assert await db.pool.fetchval("SELECT sum(failures) FROM remote_hosts") == 2


async def test_delivery_for_a_deleted_actor_is_dropped(
    db: Database, http: aiohttp.ClientSession, settings: Settings, actor: asyncpg.Record,
    inbox_factory: Callable[..., Awaitable[FakeInbox]],
) -> None:
    inbox = await inbox_factory()
    await outbound.deliver(db.pool, actor, activity(actor), [inbox.url()])
    await db.pool.execute("DELETE FROM actors WHERE id = $1", actor["id"])
    await deliver_all(db, http, settings)
    assert inbox.received == []
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_failing_host_trips_the_breaker_then_recovers_through_a_probe(
    db: Database, http: aiohttp.ClientSession, settings: Settings, actor: asyncpg.Record,
    inbox_factory: Callable[..., Awaitable[FakeInbox]],
) -> None:
    answer = {"status": 503}

    async def respond(request: web.Request) -> web.StreamResponse:
        return web.Response(status=answer["status"])

    inbox = await inbox_factory(respond)
    activities = [activity(actor, n) for n in range(12)]
    for a in activities:
        await outbound.deliver(db.pool, actor, a, [inbox.url()])
    # given retries without delay, the worker keeps trying until the circuit opens and it goes idle
    await deliver_all(db, http, settings, backoff_scale=0.0)
    assert await hosts.circuit_state(db.pool, inbox.host) == "open"
    tries = len(inbox.received)
    assert hosts.FAILURE_THRESHOLD <= tries < hosts.FAILURE_THRESHOLD + 4  # + what was in flight
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 12
    # when the peer is back and the cool-down is over, one probe closes the circuit and the rest follow
    answer["status"] = 202
    await db.pool.execute("UPDATE remote_hosts SET circuit_open_until = now()")
    await db.pool.execute("UPDATE jobs SET run_at = now()")  # they were deferred to the circuit's end
    await deliver_all(db, http, settings)
    assert await hosts.circuit_state(db.pool, inbox.host) == "closed"
    delivered = {r.activity["id"] for r in inbox.received[tries:]}
    assert delivered == {a["id"] for a in activities}
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_fan_out_makes_one_job_per_distinct_inbox(db: Database, actor: asyncpg.Record) -> None:
    inboxes = ["https://a.example/inbox", "https://B.example:8443/inbox", "https://a.example/inbox"]
    count = await outbound.deliver(db.pool, actor, activity(actor), inboxes)
    assert count == 2
    rows = await db.pool.fetch("SELECT host, payload FROM jobs ORDER BY host")
    assert [r["host"] for r in rows] == ["a.example", "b.example:8443"]
    assert rows[1]["payload"]["inbox"] == "https://B.example:8443/inbox"


async def test_a_large_fan_out_stores_its_body_once_and_sends_it_byte_for_byte(
    db: Database, http: aiohttp.ClientSession, settings: Settings, actor: asyncpg.Record,
    inbox_factory: Callable[..., Awaitable[FakeInbox]],
) -> None:
    # given a fan-out to as many inboxes as make the activity worth storing once (one receiver, many paths)
    inbox = await inbox_factory()
    urls = [inbox.url(f"/users/{n}/inbox") for n in range(outbound.SHARED_BODY_FROM)]
    sent = activity(actor)
    async with db.pool.acquire() as conn, conn.transaction():
        await outbound.deliver(conn, actor, sent, urls)
    # then the jobs name one stored body instead of each carrying the activity
    payloads = [r["payload"] for r in await db.pool.fetch("SELECT payload FROM jobs")]
    assert len(payloads) == len(urls) and all("activity" not in p for p in payloads)
    assert {p["body_id"] for p in payloads} == {await db.pool.fetchval("SELECT id FROM job_bodies")}
    # when they run, every receiver gets the activity, signed, with a matching digest
    await deliver_all(db, http, settings)
    assert inbox.rejected == [] and len(inbox.received) == len(urls)
    assert all(got.activity == sent and digest_matches(got) for got in inbox.received)
    assert len({got.body for got in inbox.received}) == 1
    # and once no job names the body, the purge deletes it (not before its grace)
    assert await queue.purge_bodies(db.pool) == 0
    assert await queue.purge_bodies(db.pool, grace=timedelta(0)) == 1


async def test_a_small_fan_out_carries_the_activity_in_each_job(db: Database, actor: asyncpg.Record) -> None:
    urls = [f"https://h{n}.example/inbox" for n in range(outbound.SHARED_BODY_FROM - 1)]
    await outbound.deliver(db.pool, actor, activity(actor), urls)
    payloads = [r["payload"] for r in await db.pool.fetch("SELECT payload FROM jobs")]
    assert all(p["activity"] == activity(actor) for p in payloads)
    assert await db.pool.fetchval("SELECT count(*) FROM job_bodies") == 0


async def test_a_body_still_named_by_a_job_is_never_purged_and_a_lost_one_fails_its_job(
    db: Database, http: aiohttp.ClientSession, settings: Settings, actor: asyncpg.Record,
    inbox_factory: Callable[..., Awaitable[FakeInbox]],
) -> None:
    inbox = await inbox_factory()
    urls = [inbox.url(f"/users/{n}/inbox") for n in range(outbound.SHARED_BODY_FROM)]
    async with db.pool.acquire() as conn, conn.transaction():
        await outbound.deliver(conn, actor, activity(actor), urls)
    assert await queue.purge_bodies(db.pool, grace=timedelta(0)) == 0  # its jobs are still queued
    # a body deleted behind the queue's back (by hand): its jobs are dropped, not retried for days
    await db.pool.execute("DELETE FROM job_bodies")
    await deliver_all(db, http, settings)
    assert inbox.received == []
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert delivery.parse_retry_after("120") == timedelta(seconds=120)
    assert delivery.parse_retry_after("Thu, 26 Nov 2026 12:30:00 GMT", now=now) == timedelta(minutes=30)
    assert delivery.parse_retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now=now) == timedelta(0)
    assert delivery.parse_retry_after("soon") is None
    assert delivery.parse_retry_after("²") is None  # isdigit() is true, int() refuses it
    assert delivery.parse_retry_after("99999999999999999999") is None  # would overflow timedelta
    assert delivery.parse_retry_after("-5") is None
    assert delivery.parse_retry_after(None) is None


async def test_concurrent_deliveries_hold_no_connection_while_waiting(
    db: Database, http: aiohttp.ClientSession, settings: Settings, actor: asyncpg.Record,
    inbox_factory: Callable[..., Awaitable[FakeInbox]],
) -> None:
    # given a pool of 5 connections and 12 deliveries hanging on slow peers at once
    waiting = asyncio.Event()
    inboxes = []

    async def slow(request: web.Request) -> web.StreamResponse:
        await waiting.wait()
        return web.Response(status=202)

    for _ in range(3):
        inboxes.append(await inbox_factory(slow))
    for inbox in inboxes:
        for n in range(4):
            await outbound.deliver(db.pool, actor, activity(actor, n), [inbox.url()])
    run = asyncio.create_task(deliver_all(db, http, settings))
    async with asyncio.timeout(10):
        while sum(len(i.received) for i in inboxes) < 12:  # noqa: ASYNC110 - counting requests as they land
            await asyncio.sleep(0.02)
    # then the database is still usable: the 12 in-flight jobs hold leases, not connections
    async with asyncio.timeout(2):
        assert await db.pool.fetchval("SELECT count(*) FROM jobs WHERE locked_until > now()") == 12
    waiting.set()
    await run
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0
