"""The streaming hub: one LISTEN connection per process, fanning events out to subscriber queues.

    hub = StreamingHub(pool, urls)
    await hub.start(dsn)                     # opens the dedicated LISTEN connection
    sub = await hub.subscribe(viewer_actor_id)
    hub.add_stream(sub, Stream("user", str(viewer_actor_id)))
    message = await sub.get()                # None: the hub closed this subscription
    hub.unsubscribe(sub); await hub.stop()

Events come from PostgreSQL NOTIFY (core/events.py), so a status written by any web or worker
process reaches the clients connected to every process (DESIGN.md "Growing past one machine").
Each subscriber has a bounded queue: a client that does not keep up is dropped and closed rather
than allowed to grow memory; it reconnects, as Mastodon clients do. Events are routed one at a time
(streaming_events.route), so a delete never overtakes the update it follows.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import asyncpg

from ..core import events
from ..core.urls import LocalUrls
from . import streaming_events
from .streaming_events import Message, Stream

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0  # Mastodon's SSE heartbeat; read when a hub is created (tests lower it)
QUEUE_SIZE = 100  # messages waiting for one subscriber before it is judged too slow and closed
INBOX_SIZE = 1000  # NOTIFY payloads waiting to be routed; beyond this a burst is dropped, not buffered
RECONNECT_MIN_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 30.0
LISTENER_APPLICATION_NAME = "fediverse_biz streaming"  # visible in pg_stat_activity


class Subscription:
    """One client connection's view of the hub; several streams may share it (WebSocket)."""

    def __init__(self, viewer_id: int, maxsize: int, *, reads_notifications: bool = True) -> None:
        self.viewer_id = viewer_id
        self.reads_notifications = reads_notifications  # the `user` stream carries them only then
        self.streams: set[Stream] = set()
        self.closed = False
        self.overflowed = False
        self._maxsize = maxsize
        # One slot more than the limit, kept for the closing sentinel.
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize + 1)

    def offer(self, message: Message) -> bool:
        """Queue a message; False when the subscriber is too far behind (the caller then closes it)."""
        if self.closed:
            return True
        if self._queue.qsize() >= self._maxsize:
            return False
        self._queue.put_nowait(message)
        return True

    def end(self, *, overflowed: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self.overflowed = overflowed
        if overflowed:  # what is still queued is stale for a client that will reconnect anyway
            while not self._queue.empty():
                self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def get(self) -> Message | None:
        """The next message, or None once the hub has closed this subscription."""
        return await self._queue.get()


class StreamingHub:
    def __init__(
        self,
        pool: asyncpg.Pool,
        urls: LocalUrls,
        *,
        queue_size: int = QUEUE_SIZE,
        heartbeat_seconds: float | None = None,
        stop_when_idle: bool = False,
    ) -> None:
        self.pool = pool
        self.urls = urls
        self.queue_size = queue_size
        self.heartbeat_seconds = HEARTBEAT_SECONDS if heartbeat_seconds is None else heartbeat_seconds
        # A hub started on demand by a request (no lifespan owns it) closes its connection when its
        # last subscriber leaves, so nothing outlives the server; subscribe() reopens it.
        self.stop_when_idle = stop_when_idle
        self._streams: dict[Stream, set[Subscription]] = {}
        self._subscriptions: set[Subscription] = set()
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(INBOX_SIZE)
        self._lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dsn: str | None = None
        self._closed = False

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    # ---- life cycle -----------------------------------------------------------------------------
    async def start(self, dsn: str) -> None:
        """Open the LISTEN connection (failing loudly if the database is unreachable) and the router.
        Idempotent: a second call on a running hub does nothing."""
        async with self._lock:
            self._dsn = dsn
            await self._start_locked()

    async def stop(self) -> None:
        """Close the LISTEN connection and every subscription (their clients see the stream end)."""
        async with self._lock:
            self._closed = True
            await self._stop_locked()
            for sub in list(self._subscriptions):
                self.unsubscribe(sub)

    async def stop_if_idle(self) -> None:
        if not self.stop_when_idle:
            return
        async with self._lock:
            if not self._subscriptions:
                await self._stop_locked()

    async def _start_locked(self) -> None:
        if self._closed:
            raise RuntimeError("the streaming hub is stopped")
        if self.running:
            return
        await self._open_listener()
        self._lost.clear()
        self._tasks = [
            asyncio.create_task(self._route_forever(), name="streaming-router"),
            asyncio.create_task(self._keep_listening(), name="streaming-listener"),
        ]

    async def _stop_locked(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            await conn.close(timeout=5)
        while not self._inbox.empty():  # events for nobody: the next start begins afresh
            self._inbox.get_nowait()

    async def _open_listener(self) -> None:
        assert self._dsn is not None
        conn = await asyncpg.connect(self._dsn, server_settings={"application_name": LISTENER_APPLICATION_NAME})
        try:
            await conn.add_listener(events.CHANNEL, self._on_notify)
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(lambda _conn: self._lost.set())
        self._conn = conn

    async def _keep_listening(self) -> None:
        """Reopen the LISTEN connection when PostgreSQL drops it (restart, failover, idle kill).
        Events sent while it is down are lost; clients miss them as they would across a reconnect."""
        while True:
            await self._lost.wait()
            self._lost.clear()
            log.warning("streaming: the LISTEN connection was lost; reconnecting")
            delay = RECONNECT_MIN_SECONDS
            while True:
                try:
                    await self._open_listener()
                    break
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("streaming: reconnect failed (%s); next try in %.1fs", exc, delay)
                    await asyncio.sleep(delay)  # exponential backoff, not throttling
                    delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            log.info("streaming: LISTEN connection restored")

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if not self._subscriptions:
            return  # nobody listens here: not even worth a query
        try:
            event = json.loads(payload)
        except ValueError:
            log.warning("streaming: ignoring a malformed event %r", payload[:200])
            return
        try:
            self._inbox.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("streaming: router backlog full; dropping a %s event", event.get("kind"))

    async def _route_forever(self) -> None:
        while True:
            event = await self._inbox.get()
            try:
                await streaming_events.route(self, event)
            except Exception:  # one bad event must not stop streaming for everyone
                log.exception("streaming: routing %s failed", event.get("kind"))

    # ---- subscriptions --------------------------------------------------------------------------
    async def subscribe(self, viewer_id: int, *, reads_notifications: bool = True) -> Subscription:
        async with self._lock:
            await self._start_locked()  # reopens a hub that stopped when idle
            sub = Subscription(viewer_id, self.queue_size, reads_notifications=reads_notifications)
            self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscription and end its queue (idempotent)."""
        for stream in list(sub.streams):
            self.remove_stream(sub, stream)
        self._subscriptions.discard(sub)
        sub.end()

    def add_stream(self, sub: Subscription, stream: Stream) -> None:
        if sub.closed:
            return
        sub.streams.add(stream)
        self._streams.setdefault(stream, set()).add(sub)

    def remove_stream(self, sub: Subscription, stream: Stream) -> None:
        sub.streams.discard(stream)
        subs = self._streams.get(stream)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._streams[stream]

    # ---- used by the router -----------------------------------------------------------------------
    def subscribers(self, stream: Stream) -> list[Subscription]:
        return list(self._streams.get(stream, ()))

    def streams_named(self, name: str) -> list[Stream]:
        return [s for s in self._streams if s.name == name]

    def all_streams(self) -> Iterator[tuple[Stream, Subscription]]:
        for stream, subs in list(self._streams.items()):
            for sub in list(subs):
                yield stream, sub

    def deliver(self, sub: Subscription, message: Message) -> None:
        if not sub.offer(message):
            log.info("streaming: closing a subscriber %d messages behind", self.queue_size)
            for stream in list(sub.streams):
                self.remove_stream(sub, stream)
            self._subscriptions.discard(sub)
            sub.end(overflowed=True)
