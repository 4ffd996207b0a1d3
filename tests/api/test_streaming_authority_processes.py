"""Open streams end when their token stops being valid, across two real `fediverse-biz serve` processes
on one DATABASE_URL and one data directory (as tests/test_scale_out.py runs them). The streams are open
on B; the token is revoked, or its user removed from the organization, through A; B hears of it only
through PostgreSQL. tests/api/test_streaming_authority.py covers every cause with two servers in one
process; this shows the same holds when nothing but the database connects them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import pytest

from fediverse_biz.api import streaming
from fediverse_biz.business import teams
from fediverse_biz.core import accounts, follows
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import cli_processes
from tests.support.cli_processes import START_WITHIN, Process, cli_env, client, free_port, healthy, until
from tests.support.streaming import EventLog, Token, WsLog, sse
from tests.support.streaming import login as streams_login

PASSWORD = "a long enough password"
SCOPES = "read write follow push"
CLOSED_WITHIN = 15.0  # seconds from the change to the stream's end, on a loaded machine
RECEIVED_WITHIN = 15.0
# Above the servers' 15-second heartbeat, so a quiet SSE stream is never cut by the client.
STREAM_TIMEOUT = httpx.Timeout(10, read=40)

processes = cli_processes.processes  # the fixture: every process a test starts is gone after it


@dataclass
class Instance:
    """Two web processes serving one domain; the test's own pool only sets up the accounts."""

    a: Process
    b: Process
    http_a: httpx.AsyncClient
    http_b: httpx.AsyncClient
    port_b: int
    domain: str


@dataclass
class World:
    """acme (owner olive, editor ed) follows sam, as does fan. Every token is made through A."""

    org_id: int
    ed_user: int
    ed_as_acme: Token  # the streams that must end
    olive_as_acme: Token  # survives ed's removal and his token's revocation
    fan: Token  # nothing to do with acme
    sam: Token  # the author of the private posts


@pytest.fixture
async def instance(dsn: str, tmp_path: Path, processes: list[Process]) -> AsyncIterator[Instance]:
    port_a, port_b = free_port(), free_port()
    domain = f"127.0.0.1:{port_a}"  # the public name; B is reached on its own port, as behind a proxy
    env = cli_env(
        tmp_path / "data", None,
        DATABASE_URL=dsn,
        FEDIVERSE_BIZ_DOMAIN=domain,
        FEDIVERSE_BIZ_WORKERS="0",  # no job runs in the web processes: streams must not depend on one
        FEDIVERSE_BIZ_ENABLE_PASSWORD_GRANT="true",
        FEDIVERSE_BIZ_DB_POOL_MIN="1",
        FEDIVERSE_BIZ_DB_POOL_MAX="4",
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    a = Process("serve-a", ["serve", "--port", str(port_a)], env, logs)
    processes.append(a)
    b = Process("serve-b", ["serve", "--port", str(port_b)], env, logs)
    processes.append(b)
    async with (
        client(port_a, domain) as http_a,
        client(port_b, domain, http_timeout=STREAM_TIMEOUT) as http_b,
    ):
        await until(lambda: healthy(http_a), "serve A", START_WITHIN, a)
        await until(lambda: healthy(http_b), "serve B", START_WITHIN, b)
        yield Instance(a, b, http_a, http_b, port_b, domain)
    # both stop cleanly, having closed the streams themselves without a traceback
    assert a.stop() == 0, a.log()
    assert b.stop() == 0, b.log()
    assert "Traceback" not in a.log() + b.log()


async def login(http: httpx.AsyncClient, username: str, actor: str | None = None) -> Token:
    return await streams_login(http, username, PASSWORD, SCOPES, actor)


async def make_world(db: Database, web: Instance) -> World:
    pool, urls = db.pool, LocalUrls(f"http://{web.domain}")
    people = {
        name: await accounts.create_user(pool, urls, name, f"{name}@example.com", PASSWORD)
        for name in ("olive", "ed", "fan", "sam")
    }
    org = await accounts.create_organization(pool, urls, "acme", "olive", display_name="ACME")
    await teams.add_member(pool, org["id"], people["olive"].user_id, "ed", "editor")
    sam = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", people["sam"].actor_id)
    fan = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", people["fan"].actor_id)
    for follower in (org, fan):
        await follows.follow(pool, follower, sam)
    http = web.http_a
    return World(
        org_id=int(org["id"]),
        ed_user=people["ed"].user_id,
        ed_as_acme=await login(http, "ed", "acme"),
        olive_as_acme=await login(http, "olive", "acme"),
        fan=await login(http, "fan"),
        sam=await login(http, "sam"),
    )


async def private_post(web: Instance, world: World, text: str) -> str:
    """A followers-only post by sam, made through A: acme's and fan's home streams carry it."""
    made = await web.http_a.post("/api/v1/statuses", headers=world.sam.headers,
                                 data={"status": text, "visibility": "private"})
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


@asynccontextmanager
async def websocket(web: Instance, token: Token) -> AsyncIterator[WsLog]:
    """The `user` stream over B's WebSocket; B subscribes it before accepting, so it is live once open."""
    url = f"http://127.0.0.1:{web.port_b}/api/v1/streaming"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=10)) as session,
        session.ws_connect(url, params={"access_token": token.access_token, "stream": "user"},
                           headers={"Host": web.domain}) as ws,
    ):
        log = WsLog()
        reader = asyncio.create_task(log.read_ws(ws))
        try:
            yield log
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


@dataclass
class Streams:
    victim_sse: EventLog
    victim_ws: WsLog
    other_sse: EventLog
    other_ws: WsLog

    @property
    def all(self) -> list[EventLog]:
        return [self.victim_sse, self.victim_ws, self.other_sse, self.other_ws]


@asynccontextmanager
async def open_streams(web: Instance, victim: Token, other: Token) -> AsyncIterator[Streams]:
    """Both transports on B for the token that must lose its streams and for one that must keep them."""
    async with AsyncExitStack() as stack:
        yield Streams(
            await stack.enter_async_context(sse(web.http_b, "user", victim.access_token)),
            await stack.enter_async_context(websocket(web, victim)),
            await stack.enter_async_context(sse(web.http_b, "user", other.access_token)),
            await stack.enter_async_context(websocket(web, other)),
        )


async def receives(web: Instance, log: EventLog, status_id: str, what: str) -> None:
    await until(lambda: status_id in log.ids(), what, RECEIVED_WITHIN, web.a, web.b)


async def ends_for_authority(web: Instance, streams: Streams, seen: dict[int, list[tuple[str, str]]],
                             later: str) -> None:
    """The victim's streams end within the deadline, saying why, having received nothing after the
    change; the other token's streams stay open and receive the later post."""
    for log in (streams.other_sse, streams.other_ws):
        await receives(web, log, later, "the later post on the other token's stream")
    for log in (streams.victim_sse, streams.victim_ws):
        await until(lambda log=log: log.ended, "the victim's stream to be closed", CLOSED_WITHIN, web.a, web.b)
        assert log.events == seen[id(log)]
        assert later not in log.ids()
    assert "access token no longer valid" in streams.victim_sse.comments
    assert streams.victim_ws.close_code == streaming.CLOSE_POLICY_VIOLATION == 1008
    assert not streams.other_sse.ended and not streams.other_ws.ended


async def test_a_token_revoked_through_one_process_ends_its_streams_on_the_other(
    db: Database, instance: Instance
) -> None:
    web = instance
    world = await make_world(db, web)
    async with open_streams(web, world.ed_as_acme, world.fan) as streams:
        # given ed's and fan's streams on B, each receiving a private post made through A
        first = await private_post(web, world, "price list for our partners")
        for log in streams.all:
            await receives(web, log, first, "the first private post")
        seen = {id(log): list(log.events) for log in streams.all}

        # when ed's token is revoked through A, and another private post follows at once
        token = world.ed_as_acme
        answer = await web.http_a.post("/oauth/revoke", data={
            "token": token.access_token, "client_id": token.client_id, "client_secret": token.client_secret,
        })
        assert answer.status_code == 200, answer.text
        later = await private_post(web, world, "the new price list")

        # then B closes ed's streams (SSE and WebSocket) and fan's go on
        await ends_for_authority(web, streams, seen, later)


async def test_a_member_removed_through_one_process_loses_the_organizations_streams_on_the_other(
    db: Database, instance: Instance
) -> None:
    web = instance
    world = await make_world(db, web)
    # olive's token for acme is the bystander: the same organization's stream, which removal leaves alone
    async with open_streams(web, world.ed_as_acme, world.olive_as_acme) as streams:
        first = await private_post(web, world, "for the team")
        for log in streams.all:
            await receives(web, log, first, "the first private post")
        seen = {id(log): list(log.events) for log in streams.all}

        # when olive removes ed from acme through A's team API
        path = f"/api/v1/organizations/{world.org_id}/members/{world.ed_user}"
        answer = await web.http_a.delete(path, headers=world.olive_as_acme.headers)
        assert answer.status_code == 200, answer.text
        later = await private_post(web, world, "after ed left")

        # then B closes ed's streams for acme, and olive's for acme go on
        await ends_for_authority(web, streams, seen, later)
