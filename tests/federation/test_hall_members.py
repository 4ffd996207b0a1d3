"""The pull_hall_members job against a hostile hall: garbage, huge or endless collections and members
naming private addresses or no URL at all break nothing and store nothing but the servers of real-looking
members (federation/hall_members.py). Between live servers: tests/interop/test_directory_discovery.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from fediverse_biz.config import Settings
from fediverse_biz.core import accounts, follows
from fediverse_biz.db.database import Database
from fediverse_biz.federation import directory_sources, hall_members
from fediverse_biz.federation.directory_sources import PULL_DIRECTORY, PULL_HALL_MEMBERS
from fediverse_biz.jobs.contract import WorkerContext
from fediverse_biz.jobs.queue import Job
from fediverse_biz.net.fetch import create_session
from fediverse_biz.urls import LocalUrls
from tests.support import fetch_peer
from tests.support.factories import local_actor
from tests.support.fetch_peer import AP_TYPE, Peer

FOLLOWERS = "/c/hall/followers"


peer = fetch_peer.peer  # the fixture: a running Peer


@pytest.fixture
async def ctx(db: Database, settings: Settings, urls: LocalUrls) -> AsyncIterator[WorkerContext]:
    await accounts.ensure_instance_actor(db.pool, urls, settings.domain)  # the collection is read signed
    async with create_session(["127.0.0.0/8"], user_agent="test", total_timeout=5.0) as http:
        yield WorkerContext(db.pool, http, settings, urls)


@pytest.fixture
async def hall(ctx: WorkerContext, peer: Peer, urls: LocalUrls) -> asyncpg.Record:
    """A remote hall on the peer, which a local account has asked to join."""
    uri = peer.url("/c/hall")
    row = await ctx.pool.fetchrow(
        """INSERT INTO actors (username, domain, actor_type, uri, url, inbox_url, followers_url, key_id,
                               public_key_pem)
           VALUES ('hall', $1, 'Group', $2, $2, $2 || '/inbox', $2 || '/followers', $2 || '#main-key', 'unused')
           RETURNING *""",
        f"127.0.0.1:{peer.port}",
        uri,
    )
    member = await local_actor(ctx.pool, urls, "alice")
    await follows.follow(ctx.pool, member, row)
    return row


def page(path: str, peer: Peer, items: list[Any], **extra: Any) -> dict[str, Any]:
    return {"id": peer.url(path), "type": "CollectionPage", "items": items, **extra}


def collection(peer: Peer, **extra: Any) -> dict[str, Any]:
    return {"id": peer.url(FOLLOWERS), "type": "Collection", "totalItems": 3, "items": [], **extra}


async def met_hosts(pool: asyncpg.Pool) -> set[str]:
    return {r["host"] for r in await pool.fetch("SELECT host FROM directory_sources")}


async def test_joining_a_remote_hall_queues_one_member_pull_within_two_minutes(
    ctx: WorkerContext, hall: asyncpg.Record
) -> None:
    jobs = await ctx.pool.fetch("SELECT *, run_at - now() AS due_in FROM jobs WHERE kind = $1", PULL_HALL_MEMBERS)
    assert len(jobs) == 1 and jobs[0]["due_in"] <= timedelta(minutes=2)
    assert jobs[0]["payload"] == {"hall": hall["uri"]} and jobs[0]["host"] == hall["domain"]
    await directory_sources.schedule_hall(ctx.pool, hall["uri"])  # re-armed while one waits: nothing
    assert await ctx.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = $1", PULL_HALL_MEMBERS) == 1


async def test_only_member_servers_are_met_and_nothing_about_members_is_believed(
    ctx: WorkerContext, peer: Peer, hall: asyncpg.Record
) -> None:
    await ctx.pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ('blocked.example', 'silence')")
    hostile: list[Any] = [
        "https://members.example/users/a",
        "https://members.example/users/b",  # the same server: met once
        {"id": "https://other.example/users/c", "type": "Organization", "name": "Fake GmbH", "discoverable": True},
        "http://10.0.0.1/users/x", "http://169.254.169.254/latest/meta-data", "http://[::ffff:10.0.0.1]/u",
        "http://2130706433/u", "http://[::1", "https://members.example:99999/u",
        "javascript:alert(1)", "file:///etc/passwd", "members.example", "https:///nohost", "http://u:p@creds.example/",
        "https://blocked.example/users/z", "https://sub.blocked.example/users/z",
        "https://" + "x" * 5000 + ".example/u",
        5, None, [], {}, {"id": 7}, {"type": "Person"}, True, 1.5,
    ]  # fmt: skip
    peer.serve_json(FOLLOWERS, collection(peer, first=peer.url("/p1")))
    peer.serve_json("/p1", page("/p1", peer, hostile[:12], next=peer.url("/p2")))
    # the last page points away from the hall's host: not followed
    peer.serve_json("/p2", page("/p2", peer, hostile[12:], next="http://10.0.0.1/p3"))

    outcome, again = await hall_members.pull_hall_members(ctx, hall["uri"])

    assert again and outcome.startswith("ok;") and "2 servers met" in outcome
    assert await met_hosts(ctx.pool) == {"members.example", "other.example"}
    # their directories are pulled by their own job; the hall's word about a member stored nothing
    assert await ctx.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = $1", PULL_DIRECTORY) == 2
    assert await ctx.pool.fetchval("SELECT count(*) FROM actors WHERE domain IS NOT NULL") == 1  # the hall
    assert peer.hits == [FOLLOWERS, "/p1", "/p2"]
    assert peer.headers[FOLLOWERS].get("Signature") or peer.headers[FOLLOWERS].get("Signature-Input")


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b'{"a": "' + b"x" * 1_100_000 + b'"}', AP_TYPE, "bytes"),  # over the 1 MB cap
        (b"<html>not json</html>", AP_TYPE, "JSON"),
        (b"[1, 2, 3]", AP_TYPE, "not an object"),
        (b"[" * 100_000 + b"]" * 100_000, AP_TYPE, "JSON"),  # nesting deeper than the parser goes
        (b"{}", "text/html", "Content-Type"),
        (b'{"id": "https://elsewhere.example/followers", "type": "Collection"}', AP_TYPE, "id"),
        (None, AP_TYPE, "not a collection"),  # an actor where the collection should be
    ],
)
async def test_a_garbage_collection_is_refused_whole_and_pulled_again_next_period(
    ctx: WorkerContext, peer: Peer, hall: asyncpg.Record, body: bytes | None, content_type: str, says: str
) -> None:
    if body is None:
        body = json.dumps({"id": peer.url(FOLLOWERS), "type": "Person", "items": ["https://a.example/u"]}).encode()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type=content_type)

    peer.routes[FOLLOWERS] = handler
    await claim(ctx.pool)
    await hall_members.handle_pull_hall_members(ctx, job_for(hall))
    assert await met_hosts(ctx.pool) == set()
    due = await ctx.pool.fetch("SELECT run_at - now() AS due_in FROM jobs WHERE kind = $1 AND attempts = 0",
                               PULL_HALL_MEMBERS)  # fmt: skip
    assert len(due) == 1 and timedelta(hours=23) < due[0]["due_in"] <= timedelta(hours=24)
    outcome, _ = await hall_members.pull_hall_members(ctx, hall["uri"])
    assert outcome.startswith("not read:") and says in outcome


async def test_endless_or_looping_pages_stop_at_the_bounds(
    ctx: WorkerContext, peer: Peer, hall: asyncpg.Record
) -> None:
    peer.serve_json(FOLLOWERS, collection(peer, first=peer.url("/p1")))
    # every page lists 200 members of 200 servers and points to a next one, forever
    for n in range(1, 20):
        items = [f"https://m{n}-{i}.example/users/u" for i in range(200)]
        peer.serve_json(f"/p{n}", page(f"/p{n}", peer, items, next=peer.url(f"/p{n + 1}")))
    outcome, _ = await hall_members.pull_hall_members(ctx, hall["uri"])
    assert f"{hall_members.MAX_ITEMS} members" in outcome
    assert len(await met_hosts(ctx.pool)) == hall_members.MAX_ITEMS
    assert peer.hits == [FOLLOWERS, "/p1", "/p2", "/p3"]

    # a page that names itself as next, and a collection whose pages are empty: read once each, bounded
    peer.hits.clear()
    peer.serve_json(FOLLOWERS, collection(peer, first=peer.url("/loop")))
    peer.serve_json("/loop", page("/loop", peer, [], next=peer.url("/loop")))
    await hall_members.pull_hall_members(ctx, hall["uri"])
    assert peer.hits == [FOLLOWERS, "/loop"]
    peer.hits.clear()
    peer.serve_json(FOLLOWERS, collection(peer, first=peer.url("/p1")))
    for n in range(1, 20):
        peer.serve_json(f"/p{n}", page(f"/p{n}", peer, [], next=peer.url(f"/p{n + 1}")))
    await hall_members.pull_hall_members(ctx, hall["uri"])
    assert len(peer.hits) == hall_members.PAGES_PER_RUN


async def test_an_embedded_first_page_is_read(ctx: WorkerContext, peer: Peer, hall: asyncpg.Record) -> None:
    first = {"type": "OrderedCollectionPage", "orderedItems": ["https://inline.example/users/a"]}
    peer.serve_json(FOLLOWERS, collection(peer, type="OrderedCollection", first=first))
    outcome, _ = await hall_members.pull_hall_members(ctx, hall["uri"])
    assert outcome.startswith("ok;") and await met_hosts(ctx.pool) == {"inline.example"}


async def test_a_hall_nobody_here_follows_any_more_is_not_pulled_again(
    ctx: WorkerContext, peer: Peer, hall: asyncpg.Record
) -> None:
    await ctx.pool.execute("DELETE FROM follow_requests")
    await claim(ctx.pool)
    await hall_members.handle_pull_hall_members(ctx, job_for(hall))
    assert peer.hits == []
    assert await ctx.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = $1 AND attempts = 0", PULL_HALL_MEMBERS) == 0


async def test_a_domain_blocked_hall_is_not_read(ctx: WorkerContext, peer: Peer, hall: asyncpg.Record) -> None:
    await ctx.pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ($1, 'silence')", hall["domain"])
    peer.serve_json(FOLLOWERS, collection(peer, items=["https://members.example/users/a"]))
    assert await hall_members.pull_hall_members(ctx, hall["uri"]) == ("domain blocked", True)
    assert peer.hits == [] and await met_hosts(ctx.pool) == set()


async def claim(pool: asyncpg.Pool) -> None:
    await pool.execute("UPDATE jobs SET attempts = 1 WHERE kind = $1", PULL_HALL_MEMBERS)


def job_for(hall: asyncpg.Record) -> Job:
    return Job(0, PULL_HALL_MEMBERS, {"hall": hall["uri"]}, hall["domain"], 1, datetime.now(UTC), None)
