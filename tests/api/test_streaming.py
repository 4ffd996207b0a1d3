"""The streaming API against a real uvicorn server: Mastodon.py's stream_user, SSE read with httpx, the
WebSocket with aiohttp. Every status is written through a pool the server does not own, so each
delivery crosses PostgreSQL LISTEN/NOTIFY exactly as it would from another process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.api import streaming_hub
from fediverse_biz.api.streaming_events import Stream
from fediverse_biz.api.streaming_hub import StreamingHub
from fediverse_biz.core import accounts, events, follows, oauth, statuses
from fediverse_biz.db.database import Database
from fediverse_biz.db.pool import create_pool
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import servers
from tests.support.accounts import PASSWORD
from tests.support.factories import post
from tests.support.mastodon_client import password_login
from tests.support.peers import FakePeer
from tests.support.peers import deliver as deliver_to
from tests.support.servers import LiveServer
from tests.support.streaming import DEADLINE, Collector, eventually, sse

HEARTBEAT = 0.3


# ---- a live server whose app the test can inspect, and a pool it does not own -------------------
@dataclass
class Streaming:
    live: LiveServer
    apps: list[Starlette]
    pool: asyncpg.Pool
    urls: LocalUrls
    http: httpx.AsyncClient

    @property
    def hub(self) -> StreamingHub:
        hub: StreamingHub = services(self.apps[0]).streaming
        return hub

    async def user(self, name: str, scopes: str = "read write follow push") -> tuple[asyncpg.Record, str]:
        """A local account and a user token for it, made through the real code paths."""
        new = await accounts.create_user(self.pool, self.urls, name, f"{name}@example.com", PASSWORD)
        app = await oauth.create_app(
            self.pool, name="streaming tests", redirect_uris=[oauth.OOB_REDIRECT_URI], scopes=scopes, website=None
        )
        token = await oauth.issue_token(
            self.pool, app_id=app.id, user_id=new.user_id, actor_id=new.actor_id, scopes=scopes.split()
        )
        actor = await self.pool.fetchrow("SELECT * FROM actors WHERE id = $1", new.actor_id)
        return actor, token.access_token

    async def post(self, author: asyncpg.Record, text: str, **draft: Any) -> int:
        return await post(self.pool, self.urls, author, text, **draft)


@pytest.fixture
async def streaming(
    monkeypatch: pytest.MonkeyPatch, live_server_factory: Callable[..., LiveServer]
) -> AsyncIterator[Streaming]:
    monkeypatch.setattr(streaming_hub, "HEARTBEAT_SECONDS", HEARTBEAT)
    apps = servers.capture_apps(monkeypatch)
    live = await asyncio.to_thread(live_server_factory)  # it runs its own event loop
    pool = await create_pool(live.dsn, min_size=1, max_size=3)
    try:
        async with httpx.AsyncClient(base_url=live.base_url, timeout=DEADLINE) as http:
            yield Streaming(live, apps, pool, LocalUrls(live.base_url), http)
    finally:
        await pool.close()


async def test_mastodon_py_stream_user_receives_updates_and_mentions(streaming: Streaming) -> None:
    # given alice following bob, and alice streaming her user timeline with the real client
    alice, _ = await streaming.user("alice")
    bob, _ = await streaming.user("bob")
    await follows.follow(streaming.pool, alice, bob)
    api = await asyncio.to_thread(password_login, streaming.live.base_url, "alice", PASSWORD)
    listener = Collector()
    handle = await asyncio.to_thread(api.stream_user, listener, run_async=True)
    try:
        await eventually(listener.opened.is_set, "Mastodon.py to connect")
        # when bob posts, then mentions alice
        first = await streaming.post(bob, "Our new product line is out")
        # (Mastodon.py wraps ids in its own type, which compares equal only as a string)
        await eventually(lambda: any(str(u["id"]) == str(first) for u in listener.updates), "on_update")
        mention = await streaming.post(bob, "@alice see you at the fair")
        # then the listener gets the update and a mention notification
        await eventually(lambda: bool(listener.notifications), "on_notification")
        note = listener.notifications[0]
        assert note["type"] == "mention"
        assert str(note["status"]["id"]) == str(mention)
        assert note["account"]["acct"] == "bob"
    finally:
        handle.close()
        await asyncio.to_thread(handle.join, DEADLINE)  # the heartbeat wakes its blocked read
    assert not handle.is_alive()
    await eventually(lambda: streaming.hub.subscriber_count == 0, "the server to drop the subscription")


# ---- server-sent events ---------------------------------------------------------------------------
async def test_health_and_auth_errors(streaming: Streaming) -> None:
    health = await streaming.http.get("/api/v1/streaming/health")
    assert (health.status_code, health.text) == (200, "OK")
    _, narrow = await streaming.user("carol", scopes="read:notifications")
    missing = await streaming.http.get("/api/v1/streaming/public")
    assert (missing.status_code, missing.json()) == (401, {"error": "Missing access token"})
    bad = await streaming.http.get("/api/v1/streaming/public", params={"access_token": "nope"})
    assert (bad.status_code, bad.json()) == (401, {"error": "Invalid access token"})
    scoped = await streaming.http.get("/api/v1/streaming/user", headers={"Authorization": f"Bearer {narrow}"})
    assert scoped.status_code == 401
    assert scoped.json() == {"error": "Access token does not have the required scopes"}
    app = await oauth.create_app(
        streaming.pool, name="app only", redirect_uris=[oauth.OOB_REDIRECT_URI], scopes="read", website=None
    )
    app_token = await oauth.client_credentials_token(streaming.pool, app, "read")
    anonymous = await streaming.http.get("/api/v1/streaming/public", params={"access_token": app_token.access_token})
    assert anonymous.status_code == 401  # Mastodon ≥ 4.2 streams to users only
    _, reader = await streaming.user("dave", scopes="read")
    no_tag = await streaming.http.get("/api/v1/streaming/hashtag", headers={"Authorization": f"Bearer {reader}"})
    assert (no_tag.status_code, no_tag.json()) == (400, {"error": "No tag for stream provided"})


async def test_followers_only_post_reaches_followers_only(streaming: Streaming) -> None:
    # given an author, a follower and a stranger, each streaming
    author, _ = await streaming.user("acme")
    follower, follower_token = await streaming.user("fan")
    stranger, stranger_token = await streaming.user("stranger")
    await follows.follow(streaming.pool, follower, author)
    async with (
        sse(streaming.http, "user", follower_token) as fan_home,
        sse(streaming.http, "user", stranger_token) as stranger_home,
        sse(streaming.http, "public", stranger_token) as public,
    ):
        # when the author posts followers-only — and a forged event even names the stranger as a
        # reader (the stream must re-check visibility, not trust the event) — then a public marker
        private = await streaming.post(author, "for our followers only", visibility="private")
        await events.emit(streaming.pool, "status", status_id=private, home=[stranger["id"]])
        marker = await streaming.post(author, "public marker")
        own = await streaming.post(stranger, "the stranger's own post")  # reaches the stranger's home
        # then the follower gets both, and nobody else gets the private one
        await fan_home.wait_for("update", lambda s: s["id"] == str(marker), "the marker at the follower")
        assert fan_home.ids() == [str(private), str(marker)]
        assert fan_home.of("update")[0]["visibility"] == "private"
        await public.wait_for("update", lambda s: s["id"] == str(own), "the last post on /public")
        assert public.ids() == [str(marker), str(own)]
        await stranger_home.wait_for("update", lambda s: s["id"] == str(own), "the stranger's own post")
        assert stranger_home.ids() == [str(own)]


async def test_public_streams_local_hashtag_and_filters(streaming: Streaming) -> None:
    author, _ = await streaming.user("booth")
    other, _ = await streaming.user("other")
    viewer, token = await streaming.user("visitor")
    await follows.mute(streaming.pool, viewer, other)
    async with (
        sse(streaming.http, "public/local", token) as local,
        sse(streaming.http, "public/remote", token) as remote,
        sse(streaming.http, "hashtag", token, tag="TradeFair") as tag,
        sse(streaming.http, "public", token, only_media="true") as media,
    ):
        muted = await streaming.post(other, "muted voice #tradefair")
        unlisted = await streaming.post(author, "quiet #tradefair", visibility="unlisted")
        reply = await streaming.post(author, "@other thanks", in_reply_to_id=muted)
        tagged = await streaming.post(author, "Visit us at the #TradeFair")
        await tag.wait_for("update", lambda s: s["id"] == str(tagged), "the hashtag stream")
        await local.wait_for("update", lambda s: s["id"] == str(tagged), "public:local")
        # the muted author's post, the unlisted one and the reply to someone else stay off these streams
        assert tag.ids() == [str(tagged)]
        assert local.ids() == [str(tagged)]
        assert str(unlisted) not in local.ids() and str(reply) not in local.ids()
        assert remote.ids() == [] and media.ids() == []


async def test_delete_status_update_and_notification_streams(streaming: Streaming) -> None:
    author, _ = await streaming.user("writer")
    reader, token = await streaming.user("reader")
    observer, statuses_only = await streaming.user("observer", scopes="read:statuses")
    await follows.follow(streaming.pool, reader, author)
    await follows.follow(streaming.pool, observer, author)
    async with (
        sse(streaming.http, "user", token) as home,
        sse(streaming.http, "user/notification", token) as notes,
        sse(streaming.http, "public", token) as public,
        sse(streaming.http, "user", statuses_only) as narrow_home,
    ):
        status_id = await streaming.post(author, "first draft")
        await home.wait_for("update", lambda s: s["id"] == str(status_id), "the update")
        await statuses.edit(
            streaming.pool, streaming.urls, "127.0.0.1", author, status_id, statuses.Draft(text="final text")
        )
        edited = await home.wait_for("status.update", lambda s: s["id"] == str(status_id), "the edit")
        assert "final text" in edited["content"]
        await public.wait_for("status.update", lambda s: s["id"] == str(status_id), "the edit on /public")
        await statuses.delete(streaming.pool, streaming.urls, author, status_id)
        await home.wait_for("delete", lambda d: d == str(status_id), "the delete on /user")
        await public.wait_for("delete", lambda d: d == str(status_id), "the delete on /public")
        await streaming.post(author, "@reader @observer a question for you")
        await notes.wait_for("notification", lambda n: n["type"] == "mention", "the notification")
        assert notes.of("update") == [] and notes.of("delete") == []  # notifications only
        await home.wait_for("notification", lambda n: n["type"] == "mention", "the notification on /user")
        # a token without read:notifications gets the timeline on /user, but not the notifications
        await narrow_home.wait_for("update", lambda s: "question" in s["content"], "the mention as an update")
        marker = await streaming.post(author, "marker")
        await narrow_home.wait_for("update", lambda s: s["id"] == str(marker), "the marker")
        assert narrow_home.of("notification") == []


async def test_heartbeat_and_disconnect_cleanup(streaming: Streaming) -> None:
    _, token = await streaming.user("idle")
    async with sse(streaming.http, "user", token) as log:
        await eventually(lambda: log.comments.count("thump") >= 2, "two heartbeats")
        assert streaming.hub.subscriber_count == 1
    # the client left: its subscription is gone
    await eventually(lambda: streaming.hub.subscriber_count == 0, "the subscription to be dropped")


# ---- WebSocket ------------------------------------------------------------------------------------
async def next_frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    frame: dict[str, Any] = await ws.receive_json(timeout=DEADLINE)
    return frame


async def test_websocket_query_token_subscribe_and_unsubscribe(streaming: Streaming) -> None:
    author, _ = await streaming.user("exhibitor")
    _, token = await streaming.user("guest")
    url = f"{streaming.live.base_url}/api/v1/streaming"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, params={"access_token": token, "stream": "public:local"}) as ws,
    ):
        await ws.send_json({"type": "subscribe", "stream": "hashtag", "tag": "Jobs"})
        await ws.send_json({"type": "subscribe", "stream": "public:everything"})
        error = await next_frame(ws)  # answered in order: the subscribe above has been applied
        assert error == {"error": "Unknown stream type", "status": 400, "stream": ["public:everything"]}
        await ws.send_json({"type": "subscribe", "stream": "list", "list": "1"})  # no list of the guest's
        assert await next_frame(ws) == {"error": "List not found", "status": 401, "stream": ["list"]}
        job = await streaming.post(author, "We are hiring #jobs")
        frames = [await next_frame(ws), await next_frame(ws)]
        assert sorted(f["stream"][0] for f in frames) == ["hashtag", "public:local"]
        for frame in frames:
            assert frame["event"] == "update"
            assert isinstance(frame["payload"], str)  # a JSON document inside a string, as Mastodon sends
            assert json.loads(frame["payload"])["id"] == str(job)
        assert next(f for f in frames if f["stream"][0] == "hashtag")["stream"] == ["hashtag", "jobs"]
        await ws.send_json({"type": "unsubscribe", "stream": "hashtag", "tag": "jobs"})
        await ws.send_json({"type": "subscribe", "stream": "list", "list": "1"})
        await next_frame(ws)  # the unsubscribe has been applied
        second = await streaming.post(author, "Still hiring #jobs")
        frame = await next_frame(ws)
        assert (frame["stream"], json.loads(frame["payload"])["id"]) == (["public:local"], str(second))
    await eventually(lambda: streaming.hub.subscriber_count == 0, "the WebSocket subscription to be dropped")


async def test_websocket_token_as_subprotocol_is_echoed(streaming: Streaming) -> None:
    author, _ = await streaming.user("poster")
    reader, token = await streaming.user("follower")
    await follows.follow(streaming.pool, reader, author)
    url = f"{streaming.live.base_url}/api/v1/streaming?stream=user"
    async with aiohttp.ClientSession() as session, session.ws_connect(url, protocols=[token]) as ws:
        assert ws.protocol == token
        status_id = await streaming.post(author, "news for followers", visibility="private")
        frame = await next_frame(ws)
        assert frame["stream"] == ["user"] and frame["event"] == "update"
        assert json.loads(frame["payload"])["id"] == str(status_id)


async def test_websocket_rejects_a_bad_token_at_the_upgrade(streaming: Streaming) -> None:
    url = f"{streaming.live.base_url}/api/v1/streaming/"
    async with aiohttp.ClientSession() as session:
        for kwargs in ({"params": {"access_token": "wrong"}}, {"protocols": ["wrong"]}, {}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                async with session.ws_connect(url, **kwargs):  # type: ignore[arg-type]
                    pass
            assert refused.value.status == 401


# ---- the hub itself: one LISTEN connection, reconnects, slow consumers ---------------------------
async def listeners(pool: asyncpg.Pool) -> list[int]:
    rows = await pool.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
        streaming_hub.LISTENER_APPLICATION_NAME,
    )
    return [r["pid"] for r in rows]


async def test_one_listen_connection_survives_a_database_kill(streaming: Streaming) -> None:
    author, _ = await streaming.user("steady")
    _, token = await streaming.user("watcher")
    async with sse(streaming.http, "public", token) as first, sse(streaming.http, "public", token) as second:
        [pid] = await listeners(streaming.pool)  # one per process, not per client
        await streaming.pool.execute("SELECT pg_terminate_backend($1)", pid)

        async def reconnected() -> bool:
            pids = await listeners(streaming.pool)
            return len(pids) == 1 and pids[0] != pid

        end = time.monotonic() + DEADLINE
        while not await reconnected():
            assert time.monotonic() < end, "the hub did not reconnect"
            await asyncio.sleep(0.05)
        status_id = await streaming.post(author, "after the outage")
        for log in (first, second):
            await log.wait_for("update", lambda s: s["id"] == str(status_id), "delivery after reconnecting")


async def test_a_slow_subscriber_is_dropped_not_buffered(db: Database, urls: LocalUrls) -> None:
    hub = StreamingHub(db.pool, urls, queue_size=2)
    await hub.start(db.dsn)
    try:
        author = await accounts.create_user(db.pool, urls, "flood", "flood@example.com", PASSWORD)
        actor = await db.pool.fetchrow("SELECT * FROM actors WHERE id = $1", author.actor_id)
        slow = await hub.subscribe(author.actor_id)
        hub.add_stream(slow, Stream("public"))
        for n in range(4):
            await post(db.pool, urls, actor, f"post {n}")
        await eventually(lambda: slow.closed, "the slow subscriber to be closed")
        assert slow.overflowed and hub.subscriber_count == 0
        assert await slow.get() is None  # nothing stale is kept for it
        fresh = await hub.subscribe(author.actor_id)
    finally:
        await hub.stop()
    assert fresh.closed and await fresh.get() is None  # stopping ends every stream
    assert await listeners(db.pool) == []



async def _stored(pool: asyncpg.Pool, uri: str) -> int:
    """The id of the actor `uri` once the live server's inbox job has stored it."""
    end = time.monotonic() + DEADLINE
    while (found := await pool.fetchval("SELECT id FROM actors WHERE uri = $1", uri)) is None:
        assert time.monotonic() < end, f"{uri} never stored"
        await asyncio.sleep(0.02)
    return int(found)


async def test_a_domain_the_reader_blocks_stays_off_their_streams(streaming: Streaming) -> None:
    """A status from a blocked domain reaches neither the blocker's user stream (its home-feed row was
    written regardless) nor their public stream, while another reader gets it on both."""
    peer = await FakePeer().start()
    try:
        bob = peer.actor("bob")
        alice, alice_token = await streaming.user("alice")
        bella, bella_token = await streaming.user("bella")
        first = peer.note(bob, "<p>introducing ourselves</p>")
        assert (await deliver_to(streaming.http, peer.activity("Create", bob, first), bob)).status_code == 202
        bob_id = await _stored(streaming.pool, bob.uri)
        await streaming.pool.execute(
            "INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $3), ($2, $3)",
            alice["id"], bella["id"], bob_id,
        )  # fmt: skip
        blocked = await streaming.http.post("/api/v1/domain_blocks", data={"domain": peer.host},
                                            headers={"Authorization": f"Bearer {bella_token}"})  # fmt: skip
        assert blocked.status_code == 200
        async with (
            sse(streaming.http, "user", alice_token) as alice_home,
            sse(streaming.http, "user", bella_token) as bella_home,
            sse(streaming.http, "public", bella_token) as bella_public,
            sse(streaming.http, "public", alice_token) as alice_public,
        ):
            note = peer.note(bob, "<p>new prices</p>")
            assert (await deliver_to(streaming.http, peer.activity("Create", bob, note), bob)).status_code == 202
            await alice_home.wait_for("update", lambda s: s["uri"] == note["id"], "alice's home stream")
            await alice_public.wait_for("update", lambda s: s["uri"] == note["id"], "alice's public stream")
            local = await streaming.post(alice, "a local post after it")
            await bella_public.wait_for("update", lambda s: s["id"] == str(local), "bella's public stream")
            assert bella_home.ids() == [] and bella_public.ids() == [str(local)]
    finally:
        await peer.stop()
