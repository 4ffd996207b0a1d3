"""Open streams end when their token stops being valid: revoked, its user removed from the organization
it acts for, the login disabled or deleted, the account suspended or deleted — over server-sent events
and the WebSocket, with the change made in another process than the one streaming.

The processes are two live servers on one database (each its own event loop, pool, streaming hub and
LISTEN connection; nothing in memory connects them), plus the test's own pool for what only an
operator does with SQL (suspending, disabling). The stream is opened on A; the change is made through
B or the operator's pool; A hears of it only through PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.api import streaming, streaming_hub
from fediverse_biz.api.streaming_events import Stream
from fediverse_biz.api.streaming_hub import REVOKED, UNVERIFIED, AuthorityChange, StreamingHub
from fediverse_biz.business import teams
from fediverse_biz.core import accounts, events, follows, oauth
from fediverse_biz.db.database import Database
from fediverse_biz.db.pool import create_pool
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import servers
from tests.support.accounts import PASSWORD
from tests.support.factories import post, remote_actor
from tests.support.servers import LiveServer
from tests.support.streaming import DEADLINE, EventLog, Token, WsLog, eventually, sse
from tests.support.streaming import login as streams_login

HEARTBEAT = 0.3
SCOPES = "read write follow push"


# ---- two servers on one database --------------------------------------------------------------------
@dataclass
class Web:
    a: LiveServer  # streams are opened here
    apps: list[Starlette]  # A's app first
    http_a: httpx.AsyncClient
    http_b: httpx.AsyncClient  # the other web process, where the changes are made
    pool: asyncpg.Pool  # a session of neither server: the operator's psql, and the authors' posts
    urls: LocalUrls

    @property
    def hub_a(self) -> StreamingHub:
        hub: StreamingHub = services(self.apps[0]).streaming
        return hub


@pytest.fixture
async def web(
    monkeypatch: pytest.MonkeyPatch, live_server_factory: Callable[..., LiveServer], tmp_path: Path
) -> AsyncIterator[Web]:
    monkeypatch.setattr(streaming_hub, "HEARTBEAT_SECONDS", HEARTBEAT)
    apps = servers.capture_apps(monkeypatch)
    a = await asyncio.to_thread(live_server_factory)
    # B serves the same instance (A's domain) from its own port, as behind a proxy (tests/test_scale_out.py).
    b = LiveServer(a.dsn, tmp_path / "server-b", domain=a.settings.domain)
    await asyncio.to_thread(b.start)
    pool = await create_pool(a.dsn, min_size=1, max_size=3)
    try:
        async with (
            httpx.AsyncClient(base_url=a.base_url, timeout=DEADLINE) as http_a,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{b.port}", timeout=DEADLINE) as http_b,
        ):
            yield Web(a, apps, http_a, http_b, pool, LocalUrls(a.base_url))
    finally:
        await pool.close()
        await asyncio.to_thread(b.stop)


# ---- an organization whose streams carry private things -----------------------------------------------
@dataclass
class World:
    """acme (owner olive, editor ed) follows sam, as do ed and fan. Tokens made on A, as a client would."""

    org: asyncpg.Record
    sam: asyncpg.Record
    olive_user: int
    ed_user: int
    ed_as_acme: Token  # the stream that must end
    olive_as_acme: Token  # another token for the same organization
    ed_personal: Token
    fan: Token  # nothing to do with acme's team

    async def private_post(self, web: Web, text: str) -> int:
        return await post(web.pool, web.urls, self.sam, text, visibility="private")

    async def direct_message(self, web: Web, text: str) -> int:
        return await post(web.pool, web.urls, self.sam, f"@acme @fan {text}", visibility="direct")


async def login(http: httpx.AsyncClient, username: str, actor: str | None = None) -> Token:
    return await streams_login(http, username, PASSWORD, SCOPES, actor)


async def make_world(web: Web) -> World:
    pool, urls = web.pool, web.urls
    people = {}
    for name in ("olive", "ed", "fan", "sam"):
        people[name] = await accounts.create_user(pool, urls, name, f"{name}@example.com", PASSWORD)
    org = await accounts.create_organization(pool, urls, "acme", "olive", display_name="ACME")
    await teams.add_member(pool, org["id"], people["olive"].user_id, "ed", "editor")
    actors = {name: await pool.fetchrow("SELECT * FROM actors WHERE id = $1", u.actor_id) for name, u in people.items()}
    for follower in (org, actors["ed"], actors["fan"]):
        await follows.follow(pool, follower, actors["sam"])
    http = web.http_a
    return World(
        org=org,
        sam=actors["sam"],
        olive_user=people["olive"].user_id,
        ed_user=people["ed"].user_id,
        ed_as_acme=await login(http, "ed", "acme"),
        olive_as_acme=await login(http, "olive", "acme"),
        ed_personal=await login(http, "ed"),
        fan=await login(http, "fan"),
    )


# ---- one reader for both transports -----------------------------------------------------------------
@asynccontextmanager
async def open_stream(web: Web, transport: str, token: Token) -> AsyncIterator[EventLog]:
    """The `user` stream on server A, entered once A has subscribed it."""
    before = web.hub_a.subscriber_count
    if transport == "sse":
        async with sse(web.http_a, "user", token.access_token) as log:
            yield log
        return
    url = f"{web.a.base_url}/api/v1/streaming"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, params={"access_token": token.access_token, "stream": "user"}) as ws,
    ):
        log = WsLog()
        reader = asyncio.create_task(log.read_ws(ws))
        try:
            await eventually(lambda: web.hub_a.subscriber_count > before, "the WebSocket's subscription")
            yield log
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


def updates(log: EventLog) -> list[str]:
    return [s["id"] for s in log.of("update")]


def mentioned_in(log: EventLog) -> list[str]:
    return [n["status"]["id"] for n in log.of("notification") if n.get("status")]


async def receives(log: EventLog, private: int, dm: int, who: str) -> None:
    await log.wait_for("update", lambda s: s["id"] == str(private), f"the followers-only post at {who}")
    await log.wait_for("update", lambda s: s["id"] == str(dm), f"the direct message in the home of {who}")
    await log.wait_for(
        "notification", lambda n: (n.get("status") or {}).get("id") == str(dm), f"the direct message at {who}"
    )


def assert_closed_for_authority(log: EventLog) -> None:
    if isinstance(log, WsLog):
        assert log.close_code == streaming.CLOSE_POLICY_VIOLATION
    else:
        assert "access token no longer valid" in log.comments


# ---- the causes ----------------------------------------------------------------------------------------
Cause = Callable[[Web, World], Awaitable[None]]


async def revoke(web: Web, world: World) -> None:
    token = world.ed_as_acme
    answer = await web.http_b.post(
        "/oauth/revoke",
        data={"token": token.access_token, "client_id": token.client_id, "client_secret": token.client_secret},
    )
    assert answer.status_code == 200, answer.text


async def remove_from_team(web: Web, world: World) -> None:
    path = f"/api/v1/organizations/{world.org['id']}/members/{world.ed_user}"
    answer = await web.http_b.delete(path, headers=world.olive_as_acme.headers)
    assert answer.status_code == 200, answer.text


async def suspend_organization(web: Web, world: World) -> None:
    # No API or command suspends a local account; an operator does it in SQL, which the triggers see too.
    await web.pool.execute("UPDATE actors SET suspended_at = now() WHERE id = $1", world.org["id"])


async def disable_login(web: Web, world: World) -> None:
    await web.pool.execute("UPDATE users SET disabled = true WHERE id = $1", world.ed_user)


async def delete_organization(web: Web, world: World) -> None:
    answer = await web.http_b.post(
        "/api/v1/fediverse_biz/delete_account", headers=world.olive_as_acme.headers, data={"password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text


async def delete_member_account(web: Web, world: World) -> None:
    answer = await web.http_b.post(
        "/api/v1/fediverse_biz/delete_account", headers=world.ed_personal.headers, data={"password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text


# (cause, whether olive's token for acme survives it: the unrelated stream that must keep receiving is
# hers when it does, fan's otherwise)
CAUSES: dict[str, tuple[Cause, bool]] = {
    "revoked": (revoke, True),
    "removed_from_team": (remove_from_team, True),
    "login_disabled": (disable_login, True),
    "member_deleted_account": (delete_member_account, True),
    "organization_suspended": (suspend_organization, False),
    "organization_deleted": (delete_organization, False),
}


@pytest.mark.parametrize("transport", ["sse", "ws"])
@pytest.mark.parametrize("cause", list(CAUSES))
async def test_a_stream_ends_when_its_token_loses_its_authority(web: Web, cause: str, transport: str) -> None:
    world = await make_world(web)
    make_change, olive_keeps_acme = CAUSES[cause]
    bystander = world.olive_as_acme if olive_keeps_acme else world.fan
    async with (
        open_stream(web, transport, world.ed_as_acme) as victim,
        open_stream(web, transport, bystander) as other,
    ):
        # given ed's stream for acme receiving acme's private things: a followers-only post of an
        # account acme follows, and the notification of a direct message to acme
        private = await world.private_post(web, "price list for our partners")
        dm = await world.direct_message(web, "about your order")
        await receives(victim, private, dm, "ed's stream for acme")
        await receives(other, private, dm, "the other stream")
        seen = list(victim.events)

        # when the change is committed in another process, and more private things follow at once
        await make_change(web, world)
        later = await world.private_post(web, "the new price list")
        later_dm = await world.direct_message(web, "your invoice")

        # then the unrelated stream stays open and receives them; ed's stream receives nothing more
        # and is closed within the deadline, saying why
        await receives(other, later, later_dm, "the other stream")
        await eventually(lambda: victim.ended, "ed's stream to be closed")
        assert victim.events == seen
        assert str(later) not in updates(victim) and str(later_dm) not in mentioned_in(victim)
        assert_closed_for_authority(victim)
        assert not other.ended
    await eventually(lambda: web.hub_a.subscriber_count == 0, "A to forget both subscriptions")


@pytest.mark.parametrize("transport", ["sse", "ws"])
async def test_a_role_change_keeps_the_stream(web: Web, transport: str) -> None:
    """Every role reads timelines and notifications (docs/teams.md), so no role change takes the
    right to read away: ed, demoted from editor to contributor in another process, keeps streaming. The
    change is re-checked (it names ed) and passes; the only team change that ends a stream is removal."""
    world = await make_world(web)
    async with (
        open_stream(web, transport, world.ed_as_acme) as ed,
        open_stream(web, transport, world.ed_personal) as ed_personal,
    ):
        mark = web.hub_a.authority_mark()
        assert mark is not None
        path = f"/api/v1/organizations/{world.org['id']}/members/{world.ed_user}"
        answer = await web.http_b.patch(path, headers=world.olive_as_acme.headers, data={"role": "contributor"})
        assert answer.status_code == 200, answer.text
        await eventually(lambda: (web.hub_a.authority_mark() or 0) > mark, "A to hear of the role change")
        assert (
            await web.pool.fetchval("SELECT role FROM organization_members WHERE user_id = $1", world.ed_user)
            == "contributor"
        )
        private = await world.private_post(web, "still for partners")
        dm = await world.direct_message(web, "still talking")
        await receives(ed, private, dm, "ed's stream for acme")
        await ed_personal.wait_for("update", lambda s: s["id"] == str(private), "ed's own home")
        assert not ed.ended and not ed_personal.ended


async def test_leaving_a_team_ends_only_the_streams_for_that_organization(web: Web) -> None:
    """ed leaves acme (through B): his stream for acme ends, his own account's stream, re-checked
    because the message names his login, goes on."""
    world = await make_world(web)
    async with (
        open_stream(web, "sse", world.ed_as_acme) as for_acme,
        open_stream(web, "ws", world.ed_personal) as own,
    ):
        path = f"/api/v1/organizations/{world.org['id']}/members/{world.ed_user}"
        answer = await web.http_b.delete(path, headers=world.ed_personal.headers)
        assert answer.status_code == 200, answer.text
        private = await world.private_post(web, "after ed left")
        await own.wait_for("update", lambda s: s["id"] == str(private), "ed's own home after leaving")
        await eventually(lambda: for_acme.ended, "ed's stream for acme to end")
        assert str(private) not in updates(for_acme)
        assert not own.ended


# ---- the hub: the gaps around a stream's opening, the re-check's failure ------------------------------------
async def token_for(pool: asyncpg.Pool, urls: LocalUrls, name: str) -> tuple[accounts.NewUser, int]:
    user = await accounts.create_user(pool, urls, name, f"{name}@example.com", PASSWORD)
    return await token_for_user(pool, user)


async def token_for_user(pool: asyncpg.Pool, user: accounts.NewUser) -> tuple[accounts.NewUser, int]:
    app = await oauth.create_app(pool, name="hub", redirect_uris=[oauth.OOB_REDIRECT_URI], scopes="read", website=None)
    issued = await oauth.issue_token(pool, app_id=app.id, user_id=user.user_id, actor_id=user.actor_id, scopes=["read"])
    token_id = await pool.fetchval(
        "SELECT id FROM oauth_tokens WHERE token_hash = $1", oauth.hash_secret(issued.access_token)
    )
    return user, int(token_id)


@pytest.fixture
async def hub(db: Database, urls: LocalUrls) -> AsyncIterator[StreamingHub]:
    started = StreamingHub(db.pool, urls)
    await started.start(db.dsn)
    try:
        yield started
    finally:
        await started.stop()


async def test_a_revocation_between_the_token_check_and_the_subscription_is_not_missed(
    db: Database, urls: LocalUrls, hub: StreamingHub
) -> None:
    # given a stream whose token was checked (the mark taken before), and then revoked before the
    # stream subscribed — with nobody subscribed on the hub at the time
    user, token_id = await token_for(db.pool, urls, "late")
    other, other_token = await token_for(db.pool, urls, "bystander")
    mark = hub.authority_mark()
    assert mark is not None and hub.subscriber_count == 0
    await db.pool.execute("UPDATE oauth_tokens SET revoked_at = now() WHERE id = $1", token_id)
    await eventually(lambda: (hub.authority_mark() or 0) > mark, "the hub to hear of the revocation")
    # when it subscribes with that mark, then it is ended at once; another stream is not
    sub = await hub.subscribe(user.actor_id, token_id=token_id, user_id=user.user_id, since=mark)
    assert sub.closed and sub.reason == REVOKED and await sub.get() is None
    unrelated = await hub.subscribe(other.actor_id, token_id=other_token, user_id=other.user_id, since=mark)
    assert not unrelated.closed
    # and without a mark (a hub that was not listening), the token is checked again when subscribing
    again = await hub.subscribe(user.actor_id, token_id=token_id, user_id=user.user_id, since=None)
    assert again.reason == REVOKED


async def test_revocations_lost_with_the_listen_connection_are_caught_up(
    db: Database, urls: LocalUrls, hub: StreamingHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, token_id = await token_for(db.pool, urls, "steady")
    sub = await hub.subscribe(user.actor_id, token_id=token_id, user_id=user.user_id, since=hub.authority_mark())
    hub.add_stream(sub, Stream("user", str(user.actor_id)))
    # hold the reconnection until the revocation has been committed (and its NOTIFY lost)
    gate = asyncio.Event()
    real_open = hub._open_listener

    async def held_open() -> None:
        await gate.wait()
        await real_open()

    monkeypatch.setattr(hub, "_open_listener", held_open)
    [pid] = await db.pool.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
        streaming_hub.LISTENER_APPLICATION_NAME,
    )
    await db.pool.execute("SELECT pg_terminate_backend($1)", pid["pid"])
    await eventually(lambda: hub.authority_mark() is None, "the hub to notice the lost connection")
    await db.pool.execute("UPDATE oauth_tokens SET revoked_at = now() WHERE id = $1", token_id)
    assert not sub.closed
    gate.set()
    await eventually(lambda: sub.closed, "the re-check after reconnecting")
    assert sub.reason == REVOKED


async def test_a_stream_whose_token_cannot_be_rechecked_is_closed_to_reconnect(
    db: Database, urls: LocalUrls, hub: StreamingHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, token_id = await token_for(db.pool, urls, "unsure")
    sub = await hub.subscribe(user.actor_id, token_id=token_id, user_id=user.user_id, since=hub.authority_mark())

    async def unreachable(*_args: object) -> set[int]:
        raise OSError("connection refused")

    monkeypatch.setattr(oauth, "live_token_ids", unreachable)

    async def notify(**ids: list[int]) -> None:
        mark = hub.authority_mark()
        assert mark is not None
        await db.pool.execute("SELECT pg_notify($1, $2)", events.CHANNEL, json.dumps({"kind": events.AUTHORITY, **ids}))
        await eventually(lambda: (hub.authority_mark() or 0) > mark, "the hub to hear the message")

    # messages naming other tokens, logins and accounts concern this stream not at all: no re-check
    await notify(tokens=[token_id + 1])
    await notify(users=[user.user_id + 1])
    await notify(actors=[user.actor_id + 1])
    assert not sub.closed
    # a message naming the user (what a role change of theirs sends), while the database cannot answer
    await notify(users=[user.user_id])
    await eventually(lambda: sub.closed, "the stream to be closed")
    assert sub.reason == UNVERIFIED


def test_a_message_concerns_the_streams_it_names() -> None:
    sub = streaming_hub.Subscription(10, 5, token_id=1, user_id=2)
    for message in ({"tokens": [1]}, {"users": [2]}, {"actors": [10]}, {"tokens": [9], "users": [2]}):
        change = AuthorityChange.from_event({"kind": events.AUTHORITY, **message})
        assert not change.everyone and change.concerns(sub), message
    for message in ({"tokens": [2]}, {"users": [1]}, {"actors": [1]}, {}):
        assert not AuthorityChange.from_event({"kind": events.AUTHORITY, **message}).concerns(sub), message
    # a subscription opened without a token (the hub's own tests) is never re-checked
    assert not AuthorityChange(everyone=True).concerns(streaming_hub.Subscription(10, 5))


def test_a_malformed_message_rechecks_every_stream(caplog: pytest.LogCaptureFixture) -> None:
    for bad in ({"tokens": "1"}, {"users": ["x"]}, {"actors": [None]}):
        assert AuthorityChange.from_event({"kind": events.AUTHORITY, **bad}).everyone, bad
    assert "malformed authority message" in caplog.text


# ---- the triggers: what sends a message, and what does not ------------------------------------------------
async def test_the_triggers_send_authority_messages_only_for_changes_that_matter(db: Database, urls: LocalUrls) -> None:
    heard: list[dict[str, Any]] = []
    conn = await asyncpg.connect(db.dsn)
    await conn.add_listener(events.CHANNEL, lambda *args: heard.append(json.loads(args[3])))
    pool = db.pool

    async def messages_after(sql: str, *args: object) -> list[dict[str, Any]]:
        heard.clear()
        await pool.execute(sql, *args)
        return await authority_heard()

    async def authority_heard() -> list[dict[str, Any]]:
        # NOTIFYs arrive in commit order: once this one is here, any message of the change before is too
        await pool.execute('SELECT pg_notify($1, \'{"kind": "fence"}\')', events.CHANNEL)
        await eventually(lambda: any(m["kind"] == "fence" for m in heard), "the fence")
        return [m for m in heard if m["kind"] == events.AUTHORITY]

    try:
        user, token_id = await token_for(pool, urls, "subject")
        boss = await accounts.create_user(pool, urls, "chief", "chief@example.com", PASSWORD)
        org = await accounts.create_organization(pool, urls, "firm", "chief")
        await teams.add_member(pool, org["id"], boss.user_id, "subject", "editor")
        remote = (await remote_actor(pool, "far"))["id"]
        # frequent writes stay silent
        assert await messages_after("UPDATE oauth_tokens SET last_used_at = now() WHERE id = $1", token_id) == []
        assert await messages_after("UPDATE actors SET display_name = 'x' WHERE id = $1", user.actor_id) == []
        assert await messages_after("UPDATE actors SET suspended_at = now() WHERE id = $1", remote) == []
        assert await messages_after("UPDATE users SET last_login_at = now() WHERE id = $1", user.user_id) == []
        assert (
            await messages_after("UPDATE organization_members SET role = role WHERE user_id = $1", user.user_id) == []
        )
        # each change that may end a token's authority names what to re-check
        users = {"kind": "authority", "users": [user.user_id]}
        assert await messages_after(
            "UPDATE organization_members SET role = 'contributor' WHERE user_id = $1", user.user_id
        ) == [users]
        assert await messages_after("DELETE FROM organization_members WHERE user_id = $1", user.user_id) == [users]
        assert await messages_after("UPDATE users SET disabled = true WHERE id = $1", user.user_id) == [users]
        assert await messages_after("UPDATE users SET disabled = true WHERE id = $1", user.user_id) == []
        assert await messages_after("UPDATE oauth_tokens SET revoked_at = now() WHERE id = $1", token_id) == [
            {"kind": "authority", "tokens": [token_id]}
        ]
        assert await messages_after("UPDATE oauth_tokens SET revoked_at = now() WHERE id = $1", token_id) == []
        assert await messages_after("UPDATE actors SET suspended_at = now() WHERE id = $1", org["id"]) == [
            {"kind": "authority", "actors": [org["id"]]}
        ]
        # a rolled-back change sends nothing
        heard.clear()
        async with pool.acquire() as tx_conn:
            tx = tx_conn.transaction()
            await tx.start()
            await tx_conn.execute("DELETE FROM users WHERE id = $1", boss.user_id)
            await tx.rollback()
        assert await authority_heard() == []
        # a deleted login names itself, its tokens and memberships (cascades) and nothing else
        heard.clear()
        _, boss_token = await token_for_user(pool, boss)
        await pool.execute("DELETE FROM users WHERE id = $1", boss.user_id)
        assert sorted(await authority_heard(), key=json.dumps) == sorted(
            [{"kind": "authority", "tokens": [boss_token]}, {"kind": "authority", "users": [boss.user_id]}],
            key=json.dumps,
        )
    finally:
        await conn.close()
