"""Which streams an event reaches, and what each subscriber is sent (Mastodon's FanOutOnWriteService
and streaming server rules, applied to the ids that core/events.py NOTIFYs).

- `status`: the `user` streams of the actors whose home feed got it, each re-checked with can_see and
  rendered for that viewer; the public and hashtag streams when it is public, published, not a boost
  (public streams also skip replies to others), rendered once anonymously and withheld from viewers
  who block or mute its author or a mentioned account, or whom the author blocks.
- `status.update`: the same streams, for viewers whose home feed holds it, as `status.update`.
- `delete`: every stream but `user:notification` (the status is gone, so nobody can be filtered;
  Mastodon also broadcasts deletes); the payload is the bare id.
- `list` streams: a status (or its edit) by a member of a list with an open stream, when the list
  shows it to its owner now (core/lists.showing: the list timeline's rules), rendered for the owner.
- filters: each viewer's filters apply to what they are sent (api/status_filters.py: home for `user`
  and list streams, public for public and hashtag streams, notifications), and `filters_changed` goes
  to the `user` stream of an account whose filters changed.
- `notification`: the recipient's `user` (if its token may read notifications) and
  `user:notification` streams.
- `conversation`: the account's `direct` stream only, as Mastodon's PushConversationWorker publishes on
  timeline:direct:<account>; the direct status itself reaches the `user` streams of its recipients as
  an `update`, since it is in their home feeds.

A status is loaded once per event; rendering needs the viewer's flags, so user streams render per
viewer, at most RENDER_CONCURRENCY at a time, which bounds the pool connections streaming takes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from fediverse_biz.api import conversations, entities, notifications, status_filters
from fediverse_biz.core import account_domain_blocks, domain_blocks, filters, lists
from fediverse_biz.core import conversations as core_conversations
from fediverse_biz.core.hydrate import StatusBundle, load_status
from fediverse_biz.core.visibility import can_see
from fediverse_biz.urls import LocalUrls

log = logging.getLogger(__name__)

RENDER_CONCURRENCY = 4  # pool connections one event may hold while rendering per viewer


@dataclass(frozen=True)
class Stream:
    """One stream a client subscribed to: `user` (key: the actor id), `public:local`, `hashtag` (key:
    the lower-cased tag)…"""

    name: str
    key: str | None = None

    @property
    def label(self) -> list[str]:
        """The `stream` field of WebSocket frames: Mastodon names hashtag and list streams with their
        parameter (["hashtag", "foo"]) and the others alone (["user"])."""
        return [self.name, self.key] if self.name.startswith(("hashtag", "list")) and self.key else [self.name]


@dataclass(frozen=True)
class Message:
    stream: Stream
    event: str  # update, delete, notification, status.update, conversation
    payload: str  # already encoded: a JSON document, the bare id for `delete`, or NO_PAYLOAD


NO_PAYLOAD = "undefined"  # an event that carries nothing (filters_changed)


class Fanout(Protocol):
    """What the router needs from the hub."""

    pool: asyncpg.Pool
    urls: LocalUrls

    def subscribers(self, stream: Stream) -> list[Any]: ...
    def streams_named(self, name: str) -> list[Stream]: ...
    def all_streams(self) -> Iterator[tuple[Stream, Any]]: ...
    def deliver(self, sub: Any, message: Message) -> None: ...


async def route(hub: Fanout, event: Mapping[str, Any]) -> None:
    match event.get("kind"):
        case "status":
            # Without a "home" list (too many readers for one NOTIFY), the readers are looked up.
            readers = [int(a) for a in event["home"]] if "home" in event else None
            await _status(hub, int(event["status_id"]), "update", home=readers)
        case "status.update":
            await _status(hub, int(event["status_id"]), "status.update", home=None)
        case "delete":
            _delete(hub, int(event["status_id"]))
        case "notification":
            await _notification(hub, int(event["notification_id"]), int(event["actor_id"]))
        case core_conversations.EVENT:
            await _conversation(hub, int(event["conversation_id"]), int(event["actor_id"]))
        case filters.EVENT:
            _filters_changed(hub, int(event["actor_id"]))
        case other:
            log.debug("streaming: no route for event kind %r", other)


async def _status(hub: Fanout, status_id: int, event: str, *, home: list[int] | None) -> None:
    user_streams = {int(s.key): s for s in hub.streams_named("user") if s.key is not None}
    bundle = await load_status(hub.pool, status_id)
    if bundle is None:
        return  # deleted before we got to it; its delete event follows
    if home is None:  # an edit, or too many readers for the event: the viewers whose home feed shows it
        rows = await hub.pool.fetch(
            "SELECT actor_id FROM home_feed WHERE status_id = $1 AND actor_id = ANY($2::bigint[])",
            status_id,
            list(user_streams),
        )
        home = [r["actor_id"] for r in rows]
    # The feed row was written before any block the reader made since; the timeline query drops it too.
    hidden = await account_domain_blocks.blocking(hub.pool, home, _domains(bundle))
    home = [a for a in home if a not in hidden]
    limit = asyncio.Semaphore(RENDER_CONCURRENCY)
    await asyncio.gather(
        *(_to_user(hub, limit, bundle, event, user_streams[a]) for a in home if a in user_streams),
        _to_public(hub, bundle, event),
        _to_lists(hub, limit, bundle, event),
    )


async def _to_lists(hub: Fanout, limit: asyncio.Semaphore, bundle: StatusBundle, event: str) -> None:
    open_lists = [int(s.key) for s in hub.streams_named("list") if s.key is not None]
    if not open_lists:
        return
    for list_id, owner_id in await lists.showing(hub.pool, bundle.id, open_lists):
        async with limit:
            rendered = await entities.statuses(hub.pool, [bundle], hub.urls, owner_id)
            rendered = await status_filters.apply(hub.pool, [bundle], rendered, owner_id, "home")
        if not rendered:
            continue
        stream = Stream("list", str(list_id))
        payload = json.dumps(rendered[0])
        for sub in hub.subscribers(stream):
            hub.deliver(sub, Message(stream, event, payload))


async def _to_user(hub: Fanout, limit: asyncio.Semaphore, bundle: StatusBundle, event: str, stream: Stream) -> None:
    viewer_id = int(stream.key or 0)
    async with limit:
        # The home list was computed when the status was written; visibility is checked again now.
        if not await can_see(hub.pool, bundle.status, viewer_id):
            return
        rendered = await entities.statuses(hub.pool, [bundle], hub.urls, viewer_id)
        rendered = await status_filters.apply(hub.pool, [bundle], rendered, viewer_id, "home")
    if not rendered:
        return  # a hide filter of the viewer's home
    payload = json.dumps(rendered[0])
    for sub in hub.subscribers(stream):
        hub.deliver(sub, Message(stream, event, payload))


def broadcastable(bundle: StatusBundle) -> bool:
    """Mastodon's rule for public and hashtag streams: public, published, not a boost, author active."""
    s = bundle.status
    return (
        s["visibility"] == "public"
        and s["approval_state"] == "published"
        and s["reblog_of_id"] is None
        and bundle.author["suspended_at"] is None
    )


def _public_streams(*, local: bool, media: bool) -> list[Stream]:
    names = ["public", "public:local" if local else "public:remote"]
    if media:  # the :media variants carry only statuses with attachments
        names += [f"{n}:media" for n in names]
    return [Stream(n) for n in names]


async def _to_public(hub: Fanout, bundle: StatusBundle, event: str) -> None:
    if not broadcastable(bundle):
        return
    domain = bundle.author["domain"]
    if domain is not None and await domain_blocks.blocked(hub.pool, domain):
        return  # silenced (or suspended) domains stay off public timelines, as on Mastodon
    s = bundle.status
    streams: list[Stream] = []
    # Mastodon keeps replies to other people off the public timelines, but not off hashtag streams.
    is_reply = s["in_reply_to_id"] is not None or s["in_reply_to_uri"] is not None
    if not is_reply or s["in_reply_to_actor_id"] == s["actor_id"]:
        streams += _public_streams(local=s["local"], media=bool(bundle.media))
    for tag in {t.lower() for t in bundle.tags}:
        streams.append(Stream("hashtag", tag))
        if s["local"]:
            streams.append(Stream("hashtag:local", tag))
    targets = [(stream, sub) for stream in streams for sub in hub.subscribers(stream)]
    if not targets:
        return
    viewers = {sub.viewer_id for _, sub in targets}
    excluded = await _excluded_viewers(hub.pool, bundle, viewers)
    rendered = await entities.statuses(hub.pool, [bundle], hub.urls, None)  # once, as Mastodon does
    payload = json.dumps(rendered[0])
    # Viewers with filters get their own copy (results added, or nothing when hidden), as Mastodon's
    # streaming server applies each subscriber's filters to public streams.
    personal: dict[int, str | None] = {}
    for viewer_id in await filters.with_active_filters(hub.pool, viewers - excluded):
        own = await status_filters.apply(hub.pool, [bundle], rendered, viewer_id, "public")
        personal[viewer_id] = json.dumps(own[0]) if own else None
    for stream, sub in targets:
        if sub.viewer_id in excluded:
            continue
        text = personal.get(sub.viewer_id, payload)
        if text is not None:
            hub.deliver(sub, Message(stream, event, text))


def _domains(bundle: StatusBundle) -> list[str | None]:
    """The domains of the status's author and, for a boost, of the boosted status's author."""
    return [bundle.author["domain"], bundle.reblog.author["domain"] if bundle.reblog else None]


async def _excluded_viewers(pool: asyncpg.Pool, bundle: StatusBundle, viewers: Iterable[int]) -> set[int]:
    """Viewers who block or mute the author or a mentioned account, or whom the author blocks, or who
    block the author's domain."""
    author_id = bundle.author["id"]
    concerned = [author_id, *(m["id"] for m in bundle.mentions)]
    rows = await pool.fetch(
        """SELECT v FROM unnest($1::bigint[]) AS v
            WHERE EXISTS (SELECT 1 FROM blocks b WHERE b.actor_id = v AND b.target_actor_id = ANY($2::bigint[]))
               OR EXISTS (SELECT 1 FROM blocks b WHERE b.actor_id = $3 AND b.target_actor_id = v)
               OR EXISTS (SELECT 1 FROM mutes m WHERE m.actor_id = v AND m.target_actor_id = ANY($2::bigint[])
                            AND (m.expires_at IS NULL OR m.expires_at > now()))""",
        sorted(set(viewers)),
        concerned,
        author_id,
    )
    return {r["v"] for r in rows} | await account_domain_blocks.blocking(pool, viewers, _domains(bundle))


def _delete(hub: Fanout, status_id: int) -> None:
    for stream, sub in hub.all_streams():
        if stream.name != "user:notification":
            hub.deliver(sub, Message(stream, "delete", str(status_id)))


async def _notification(hub: Fanout, notification_id: int, actor_id: int) -> None:
    streams = [Stream("user", str(actor_id)), Stream("user:notification", str(actor_id))]
    # Mastodon's streaming server leaves notifications off a `user` stream whose token cannot read them.
    targets = [(stream, sub) for stream in streams for sub in hub.subscribers(stream) if sub.reads_notifications]
    if not targets:
        return
    row = await hub.pool.fetchrow("SELECT * FROM notifications WHERE id = $1", notification_id)
    if row is None:
        return  # dismissed already
    entity = await render_notification(hub.pool, row, hub.urls, actor_id)
    if entity is None:
        return
    payload = json.dumps(entity)
    for stream, sub in targets:
        hub.deliver(sub, Message(stream, "notification", payload))


def _filters_changed(hub: Fanout, actor_id: int) -> None:
    """Mastodon tells the user stream, without a payload, so that clients fetch the filters again: an
    event stream's data is then the word `undefined` (Mastodon's streaming server writes JavaScript's
    undefined), and a WebSocket frame has no `payload` (Mastodon.py accepts either)."""
    stream = Stream("user", str(actor_id))
    for sub in hub.subscribers(stream):
        hub.deliver(sub, Message(stream, "filters_changed", NO_PAYLOAD))


async def _conversation(hub: Fanout, conversation_id: int, actor_id: int) -> None:
    stream = Stream("direct", str(actor_id))
    subscribers = hub.subscribers(stream)
    if not subscribers:
        return
    found = await core_conversations.get(hub.pool, actor_id, conversation_id)
    if found is None:
        return  # removed, or its statuses deleted, since
    [entity] = await conversations.conversation_entities(hub.pool, hub.urls, None, [found], actor_id)
    payload = json.dumps(entity)
    for sub in subscribers:
        hub.deliver(sub, Message(stream, "conversation", payload))


async def render_notification(
    pool: asyncpg.Pool, row: asyncpg.Record, urls: LocalUrls, viewer_id: int
) -> dict[str, Any] | None:
    """One Notification entity, or None when its status is gone or hidden from the recipient.

    """
    rendered = await notifications.notification_entities(pool, urls, None, [row], viewer_id)
    return rendered[0] if rendered else None
