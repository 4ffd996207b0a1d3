"""The streaming hub: one LISTEN connection per process, fanning events out to subscriber queues.

    hub = StreamingHub(pool, urls)
    await hub.start(dsn)                     # opens the dedicated LISTEN connection
    mark = hub.authority_mark()              # before the client's token is checked
    sub = await hub.subscribe(viewer_actor_id, token_id=…, user_id=…, since=mark)
    hub.add_stream(sub, Stream("user", str(viewer_actor_id)))
    message = await sub.get()                # None: the hub closed this subscription (sub.reason says why)
    hub.unsubscribe(sub); await hub.stop()

Events come from PostgreSQL NOTIFY (core/events.py), so a status written by any web or worker
process reaches the clients connected to every process (docs/architecture.md, "Growing past one machine").
Each subscriber has a bounded queue: a client that does not keep up is dropped and closed rather
than allowed to grow memory; it reconnects, as Mastodon clients do. Events are routed one at a time
(streaming_events.route), so a delete never overtakes the update it follows.

A stream's token is checked once, when the stream opens. After that the hub keeps it honest without
a query per event: the triggers of migration 0013 send an "authority" message on the same channel
whenever a token may have stopped being valid (revoked or deleted, its user removed from the
organization it acts for or given another role, the login disabled or deleted, the account
suspended). The router takes the message in its turn among the events — so an event committed after
the change is routed after it — finds the subscriptions it names (by token, user or acting account),
re-checks their tokens in one query (core.oauth.live_token_ids, find_token's rule) and ends those no
longer valid with reason REVOKED, dropping what they still had queued. Two gaps are covered too: a
message that arrives while a stream is between its token check and its subscription (authority_mark /
subscribe(since=…) and a short log of recent messages), and messages lost while the LISTEN connection
was down (every stream is re-checked once it is back).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from fediverse_biz.api import streaming_events
from fediverse_biz.api.streaming_events import Message, Stream
from fediverse_biz.core import events, oauth
from fediverse_biz.urls import LocalUrls

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0  # Mastodon's SSE heartbeat; read when a hub is created (tests lower it)
QUEUE_SIZE = 100  # messages waiting for one subscriber before it is judged too slow and closed
INBOX_SIZE = 1000  # NOTIFY payloads waiting to be routed; beyond this a burst is dropped, not buffered
RECONNECT_MIN_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 30.0
LISTENER_APPLICATION_NAME = "fediverse_biz streaming"  # visible in pg_stat_activity
# "authority" messages remembered for streams between their token check and their subscription (a
# few milliseconds); a stream whose gap is no longer covered is simply re-checked with a query.
AUTHORITY_LOG_SIZE = 1000

# Why a subscription ended (Subscription.reason); the doors choose how to close from it (api/streaming.py).
ENDED = "ended"  # the client left, or the hub stopped
OVERFLOWED = "overflowed"  # the client fell too far behind
REVOKED = "revoked"  # its token is no longer valid: revoked, membership or login gone, account suspended
UNVERIFIED = "unverified"  # its token could not be re-checked (database unreachable): reconnect, be checked anew
_STALE_QUEUE = frozenset({OVERFLOWED, REVOKED, UNVERIFIED})  # what is still queued is not sent
_AUTHORITY_TAG = f'"{events.AUTHORITY}"'
_RECHECK_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Subscription:
    """One client connection's view of the hub; several streams may share it (WebSocket)."""

    def __init__(
        self,
        viewer_id: int,
        maxsize: int,
        *,
        reads_notifications: bool = True,
        token_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        self.viewer_id = viewer_id  # the actor the token acts as
        self.reads_notifications = reads_notifications  # the `user` stream carries them only then
        # The token the stream was opened with, and its user: what "authority" messages name. A
        # subscription without a token (the hub's own tests) is never re-checked.
        self.token_id = token_id
        self.user_id = user_id
        self.streams: set[Stream] = set()
        self.closed = False
        self.reason: str | None = None  # once closed: ENDED, OVERFLOWED, REVOKED or UNVERIFIED
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

    @property
    def overflowed(self) -> bool:
        return self.reason == OVERFLOWED

    def end(self, reason: str = ENDED) -> None:
        if self.closed:
            return
        self.closed = True
        self.reason = reason
        if reason in _STALE_QUEUE:
            # Stale for a client that will reconnect anyway, or no longer its to read: a message queued
            # before its token was revoked must not be written after.
            while not self._queue.empty():
                self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def get(self) -> Message | None:
        """The next message, or None once the hub has closed this subscription."""
        return await self._queue.get()


@dataclass
class AuthorityChange:
    """Which subscriptions an "authority" message asks to re-check: those opened with one of `tokens`,
    by one of `users`, or acting as one of `actors` — or all of them."""

    tokens: set[int] = field(default_factory=set)
    users: set[int] = field(default_factory=set)
    actors: set[int] = field(default_factory=set)
    everyone: bool = False

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> AuthorityChange:
        def ids(key: str) -> set[int]:
            values = event.get(key) or []  # a message names one kind of id
            if not isinstance(values, list):
                raise ValueError(f"{key} is not a list")
            return {int(v) for v in values}

        try:
            return cls(ids("tokens"), ids("users"), ids("actors"))
        except (TypeError, ValueError):
            log.warning("streaming: malformed authority message %r; re-checking every stream", dict(event))
            return cls(everyone=True)

    def merge(self, other: AuthorityChange) -> None:
        self.tokens |= other.tokens
        self.users |= other.users
        self.actors |= other.actors
        self.everyone = self.everyone or other.everyone

    def concerns(self, sub: Subscription) -> bool:
        if sub.token_id is None:
            return False
        return self.everyone or sub.token_id in self.tokens or sub.user_id in self.users or sub.viewer_id in self.actors


class StreamingHub:
    def __init__(
        self,
        pool: asyncpg.Pool,
        urls: LocalUrls,
        *,
        queue_size: int = QUEUE_SIZE,
        heartbeat_seconds: float | None = None,
    ) -> None:
        self.pool = pool
        self.urls = urls
        self.queue_size = queue_size
        self.heartbeat_seconds = HEARTBEAT_SECONDS if heartbeat_seconds is None else heartbeat_seconds
        self._streams: dict[Stream, set[Subscription]] = {}
        self._subscriptions: set[Subscription] = set()
        self._inbox: asyncio.Queue[dict[str, Any] | AuthorityChange] = asyncio.Queue(INBOX_SIZE)
        # The re-check waiting at the tail of the inbox, if any: later messages join it (an account
        # deletion sends one per token and membership) as long as no event was queued behind it.
        self._open_authority: AuthorityChange | None = None
        self._authority_seq = 0  # "authority" messages heard so far, the losses of the connection included
        self._authority_log: deque[tuple[int, AuthorityChange]] = deque(maxlen=AUTHORITY_LOG_SIZE)
        self._listening = False  # LISTEN is in place: every message from now on reaches _on_notify
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
        if self._listening:  # what is sent until the next start goes unheard (see _on_lost)
            self._listening = False
            self._log_authority(AuthorityChange(everyone=True))
        if conn is not None and not conn.is_closed():
            await conn.close(timeout=5)
        while not self._inbox.empty():  # events for nobody: the next start begins afresh
            self._inbox.get_nowait()
        self._open_authority = None

    async def _open_listener(self) -> None:
        assert self._dsn is not None
        conn = await asyncpg.connect(self._dsn, server_settings={"application_name": LISTENER_APPLICATION_NAME})
        try:
            await conn.add_listener(events.CHANNEL, self._on_notify)
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(self._on_lost)
        self._conn = conn
        self._listening = True

    def _on_lost(self, conn: object) -> None:
        if conn is not self._conn:
            return  # a connection _stop_locked closed: called late (asyncpg schedules it), nothing is lost now
        # Messages sent from now until LISTEN is back are lost. A stream between its token check and
        # its subscription must not count on hearing them: this entry makes subscribe() re-check it.
        self._listening = False
        self._log_authority(AuthorityChange(everyone=True))
        self._lost.set()

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
            # An "authority" message may have been among the lost ones: every stream is re-checked.
            self._authority_changed(AuthorityChange(everyone=True), log_it=False)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        authority = _AUTHORITY_TAG in payload  # kept even with nobody streaming: see authority_mark()
        if not self._subscriptions and not authority:
            return  # nobody listens here: not even worth a query
        try:
            event = json.loads(payload)
        except ValueError:
            log.warning("streaming: ignoring a malformed event %r", payload[:200])
            return
        if not isinstance(event, dict):
            log.warning("streaming: ignoring a malformed event %r", payload[:200])
            return
        if event.get("kind") == events.AUTHORITY:
            self._authority_changed(AuthorityChange.from_event(event))
            return
        if not self._subscriptions:
            return
        try:
            self._inbox.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("streaming: router backlog full; dropping a %s event", event.get("kind"))
            return
        self._open_authority = None  # an event is behind it now: a later re-check must come after that event

    def _log_authority(self, change: AuthorityChange) -> None:
        self._authority_seq += 1
        self._authority_log.append((self._authority_seq, change))

    def _authority_changed(self, change: AuthorityChange, *, log_it: bool = True) -> None:
        """Queue a re-check of the subscriptions `change` names, in order with the events around it."""
        if log_it:
            self._log_authority(change)
        affected = [sub for sub in self._subscriptions if change.concerns(sub)]
        if not affected:
            return  # a stream that subscribes later finds the message in the log
        if self._open_authority is not None:
            self._open_authority.merge(change)
            return
        pending = AuthorityChange()
        pending.merge(change)
        try:
            self._inbox.put_nowait(pending)
        except asyncio.QueueFull:
            # Events are being dropped already; a re-check must not be. Close what it names now: the
            # clients reconnect and have their tokens checked at the door.
            log.warning("streaming: router backlog full; closing %d streams to re-check", len(affected))
            for sub in affected:
                self.close(sub, UNVERIFIED)
            return
        self._open_authority = pending

    async def _route_forever(self) -> None:
        while True:
            item = await self._inbox.get()
            if item is self._open_authority:
                self._open_authority = None
            try:
                if isinstance(item, AuthorityChange):
                    await self.recheck(item)
                else:
                    await streaming_events.route(self, item)
            except Exception:  # one bad event must not stop streaming for everyone
                kind = events.AUTHORITY if isinstance(item, AuthorityChange) else item.get("kind")
                log.exception("streaming: routing %s failed", kind)

    async def recheck(self, change: AuthorityChange) -> None:
        """Re-check the tokens of the subscriptions `change` names, in one query; end those no longer
        valid (REVOKED). When the database cannot answer they are ended too (UNVERIFIED): a stream whose
        authority cannot be confirmed is not kept, and its client is checked afresh when it reconnects."""
        affected = [sub for sub in self._subscriptions if change.concerns(sub)]
        if not affected:
            return
        try:
            live = await oauth.live_token_ids(self.pool, {sub.token_id for sub in affected if sub.token_id is not None})
        except _RECHECK_ERRORS as exc:
            log.warning("streaming: cannot re-check %d streams (%s); closing them", len(affected), exc)
            self._close_all(affected, UNVERIFIED)
            return
        self._close_all([sub for sub in affected if sub.token_id not in live], REVOKED)

    def _close_all(self, subs: Iterable[Subscription], reason: str) -> None:
        for sub in subs:
            self.close(sub, reason)

    # ---- subscriptions --------------------------------------------------------------------------
    def authority_mark(self) -> int | None:
        """Where this hub is in its "authority" messages; a door takes it before it checks a stream's
        token and hands it to subscribe(since=…). None when the hub is not listening (stopped, or its
        connection lost), so it cannot vouch for what happened in between."""
        return self._authority_seq if self.running and self._listening else None

    async def subscribe(
        self,
        viewer_id: int,
        *,
        reads_notifications: bool = True,
        token_id: int | None = None,
        user_id: int | None = None,
        since: int | None = None,
    ) -> Subscription:
        """A new subscription. The token was checked when `since` was the authority mark; a message
        heard since then that concerns it (or no mark) has the token re-checked once more here."""
        async with self._lock:
            await self._start_locked()  # idempotent: a running hub is left as it is
            sub = Subscription(
                viewer_id,
                self.queue_size,
                reads_notifications=reads_notifications,
                token_id=token_id,
                user_id=user_id,
            )
            self._subscriptions.add(sub)
            # No await since the add: a message from now on finds the subscription itself.
            missed = token_id is not None and self._missed(sub, since)
        if missed and token_id is not None:
            await self.recheck(AuthorityChange(tokens={token_id}))
        return sub

    def _missed(self, sub: Subscription, since: int | None) -> bool:
        """Whether a message heard after the mark `since` may concern `sub` (or cannot be ruled out)."""
        if since is None:
            return True
        if self._authority_log and self._authority_log[0][0] > since + 1:
            return True  # messages after the mark were pushed out of the log
        for seq, change in reversed(self._authority_log):
            if seq <= since:
                return False
            if change.concerns(sub):
                return True
        return False

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscription and end its queue (idempotent)."""
        self.close(sub, ENDED)

    def close(self, sub: Subscription, reason: str) -> None:
        """End a subscription for `reason` (Subscription.reason); idempotent, the first reason stays."""
        for stream in list(sub.streams):
            self.remove_stream(sub, stream)
        self._subscriptions.discard(sub)
        sub.end(reason)

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
            self.close(sub, OVERFLOWED)
