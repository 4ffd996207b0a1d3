"""The streaming API (https://docs.joinmastodon.org/methods/streaming/): server-sent events per stream, one multiplexed
WebSocket, and a health check.

    GET /api/v1/streaming/user            event: update\\ndata: {status}\\n\\n, heartbeats `:thump`
    GET /api/v1/streaming  (WebSocket)    {"type": "subscribe", "stream": "hashtag", "tag": "x"}
                                          <- {"stream": ["hashtag", "x"], "event": "update", "payload": "{...}"}

Every stream needs a user token (Mastodon ≥ 4.2, https://github.com/mastodon/mastodon/pull/23989) with
`read` or the stream's narrower scope;
errors use the streaming server's words and status (401 for every token problem, as Mastodon's
streaming/index.js does, also on the WebSocket upgrade). Events come from the process's StreamingHub.

A stream lives only as long as its token stays valid: the hub ends it when the token is revoked, the
user leaves the organization the token acts for, the login is disabled or deleted or the account
suspended (streaming_hub.py). An event stream then ends, a WebSocket closes with 1008.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from fediverse_biz.api.auth import Viewer, bearer_token, current_viewer, has_scope
from fediverse_biz.api.errors import ApiError
from fediverse_biz.api.streaming_events import NO_PAYLOAD, Stream
from fediverse_biz.api.streaming_hub import OVERFLOWED, REVOKED, UNVERIFIED, StreamingHub, Subscription
from fediverse_biz.core import lists
from fediverse_biz.core.ids import parse_id
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

STREAM_SCOPES = {  # any token with `read` also passes (auth.has_scope)
    "user": "read:statuses",
    "user:notification": "read:notifications",
    "direct": "read:statuses",
    "public": "read:statuses",
    "public:media": "read:statuses",
    "public:local": "read:statuses",
    "public:local:media": "read:statuses",
    "public:remote": "read:statuses",
    "public:remote:media": "read:statuses",
    "hashtag": "read:statuses",
    "hashtag:local": "read:statuses",
    "list": "read:lists",  # Mastodon's streaming server asks read:lists for a list stream
}
PERSONAL_STREAMS = ("user", "user:notification", "direct")
SSE_PATHS = {
    "user": "user",
    "user/notification": "user:notification",
    "public": "public",
    "public/local": "public:local",
    "public/remote": "public:remote",
    "hashtag": "hashtag",
    "hashtag/local": "hashtag:local",
    "direct": "direct",
    "list": "list",
}
TRUTHY = ("1", "t", "true", "y", "yes", "on")  # Mastodon streaming's isTruthy
CLOSE_GOING_AWAY = 1001  # the server is stopping
CLOSE_TRY_AGAIN_LATER = 1013  # the client fell too far behind, or its token could not be re-checked: reconnect
# The token no longer grants the stream. Mastodon's streaming server ends such a stream when Rails
# publishes {"event": "kill"} on timeline:access_token:<id> (a token revoked or destroyed:
# app/lib/access_token_extension.rb) or timeline:system:<account> (User#disable!, a suspension):
# createSystemMessageListener's onKill in streaming/index.js ends an event stream with res.end() and
# closes a WebSocket with websocket.close(), without a code (the client sees 1005). We close with 1008,
# policy violation, the code _deny uses for a refused token, so that a client can tell "this token is
# done" from a restart (1001) or a dropped connection; one that reconnects anyway meets the 401 at the
# upgrade, as on Mastodon.
CLOSE_POLICY_VIOLATION = 1008
REVOKED_REASON = "Invalid access token"  # the words of the 401 a reconnection gets
# An event stream ends as Mastodon's does, after a comment: ignored by EventSource and every client
# parser (like the `:thump` heartbeat), it tells a person reading the stream why it ended.
REVOKED_COMMENT = b":access token no longer valid\n\n"


class StreamError(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


async def stream_viewer(connection: HTTPConnection) -> Viewer:
    if bearer_token(connection) is None:
        raise StreamError(401, "Missing access token")
    try:
        viewer = await current_viewer(connection)
    except ApiError:
        raise StreamError(401, "Invalid access token") from None
    if viewer is None or viewer.user_id is None or viewer.actor_id is None:
        raise StreamError(401, "Invalid access token")  # app tokens: streams are per user
    return viewer


def parse_stream(name: str, params: Mapping[str, str], viewer: Viewer) -> Stream:
    """The Stream for a stream name and its parameters (`tag`, `only_media`), checked against the token."""
    if name in ("public", "public:local", "public:remote") and params.get("only_media", "").lower() in TRUTHY:
        name += ":media"
    scope = STREAM_SCOPES.get(name)
    if scope is None:
        raise StreamError(400, "Unknown stream type")
    if not has_scope(viewer, scope):
        raise StreamError(401, "Access token does not have the required scopes")
    if name in PERSONAL_STREAMS:
        return Stream(name, str(viewer.actor_id))
    if name.startswith("hashtag"):
        tag = params.get("tag", "").strip().lstrip("#").lower()
        if not tag:
            raise StreamError(400, "No tag for stream provided")
        return Stream(name, tag)
    if name == "list":
        list_id = parse_id(params.get("list", "").strip())
        if list_id is None:
            raise StreamError(400, "Missing list name parameter")
        return Stream(name, str(list_id))
    return Stream(name)


async def open_stream(name: str, params: Mapping[str, str], viewer: Viewer, pool: asyncpg.Pool) -> Stream:
    """parse_stream, and for a list stream the check that the viewer owns the list (Mastodon's
    authorizeListAccess answers 401 "List not found" for a list that is not the viewer's)."""
    stream = parse_stream(name, params, viewer)
    if stream.name == "list" and not await lists.is_owner(pool, viewer.actor_id or 0, int(stream.key or 0)):
        raise StreamError(401, "List not found")
    return stream


async def hub_for(app: Starlette) -> StreamingHub:
    """The lifespan's hub (services.py), started there."""
    hub = services(app).streaming
    assert isinstance(hub, StreamingHub)
    return hub


def authority_mark(app: Starlette) -> int | None:
    """The hub's authority mark, taken before the token is checked (StreamingHub.authority_mark)."""
    hub = services(app).streaming
    assert isinstance(hub, StreamingHub)
    return hub.authority_mark()


async def subscribe(hub: StreamingHub, viewer: Viewer, mark: int | None) -> Subscription:
    assert viewer.actor_id is not None  # stream_viewer admits user tokens only
    return await hub.subscribe(
        viewer.actor_id,
        reads_notifications=has_scope(viewer, "read:notifications"),
        token_id=viewer.token_id,
        user_id=viewer.user_id,
        since=mark,
    )


def close_code(sub: Subscription) -> int:
    """The WebSocket close code for a subscription the hub ended."""
    if sub.reason == REVOKED:
        return CLOSE_POLICY_VIOLATION
    if sub.reason in (OVERFLOWED, UNVERIFIED):
        return CLOSE_TRY_AGAIN_LATER
    return CLOSE_GOING_AWAY


async def _leave(hub: StreamingHub, sub: Subscription) -> None:
    hub.unsubscribe(sub)


# ---- server-sent events ---------------------------------------------------------------------------
class EventStreamResponse(Response):
    """An endless text/event-stream: one event per hub message, a `:thump` comment when idle (proxies
    and clients drop silent connections), ending when the client leaves or the hub closes it."""

    media_type = "text/event-stream"

    def __init__(self, hub: StreamingHub, viewer: Viewer, stream: Stream, mark: int | None) -> None:
        self.hub, self.viewer, self.stream, self.mark = hub, viewer, stream, mark
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "private, no-store", "X-Accel-Buffering": "no"})  # no length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub = self.hub
        sub = await subscribe(hub, self.viewer, self.mark)
        hub.add_stream(sub, self.stream)

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            hub.unsubscribe(sub)  # ends the queue, which ends the loop below

        watcher = asyncio.create_task(watch_disconnect())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            # Mastodon greets with a comment too: the client knows the stream is live at once.
            await send({"type": "http.response.body", "body": b":)\n\n", "more_body": True})
            while True:
                try:
                    message = await asyncio.wait_for(sub.get(), hub.heartbeat_seconds)
                except TimeoutError:
                    await send({"type": "http.response.body", "body": b":thump\n\n", "more_body": True})
                    continue
                if message is None:
                    break
                chunk = f"event: {message.event}\ndata: {message.payload}\n\n".encode()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            ending = REVOKED_COMMENT if sub.reason == REVOKED else b""
            await send({"type": "http.response.body", "body": ending, "more_body": False})
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await _leave(hub, sub)


def event_stream(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        mark = authority_mark(request.app)
        try:
            viewer = await stream_viewer(request)
            stream = await open_stream(name, request.query_params, viewer, services(request).pool)
        except StreamError as exc:
            return JSONResponse({"error": exc.error}, status_code=exc.status)
        return EventStreamResponse(await hub_for(request.app), viewer, stream, mark)

    return handler


async def health(request: Request) -> Response:
    return PlainTextResponse("OK")


# ---- WebSocket ------------------------------------------------------------------------------------
class _Socket:
    """One WebSocket client: its subscription, and a lock so frames from the event writer and the
    error replies of the frame reader never interleave."""

    def __init__(self, ws: WebSocket, hub: StreamingHub, sub: Subscription, viewer: Viewer) -> None:
        self.ws, self.hub, self.sub, self.viewer = ws, hub, sub, viewer
        self._send_lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.ws.send_text(json.dumps(frame))

    async def apply(self, frame: Mapping[str, Any]) -> None:
        """A client frame: {"type": "subscribe"|"unsubscribe", "stream": name, "tag"?: …}."""
        name = frame.get("stream")
        kind = frame.get("type")
        if kind not in ("subscribe", "unsubscribe") or not isinstance(name, str):
            await self.send({"error": "Unknown message type", "status": 400})
            return
        params = {k: str(v) for k, v in frame.items() if k in ("tag", "only_media", "list") and v is not None}
        try:
            stream = await open_stream(name, params, self.viewer, self.hub.pool)
        except StreamError as exc:
            await self.send({"error": exc.error, "status": exc.status, "stream": [name]})
            return
        if kind == "subscribe":
            self.hub.add_stream(self.sub, stream)
        else:
            self.hub.remove_stream(self.sub, stream)

    async def read_frames(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                frame = json.loads(message.get("text") or message.get("bytes") or b"")
            except ValueError:
                frame = None
            if isinstance(frame, dict):
                await self.apply(frame)
            else:
                await self.send({"error": "Invalid JSON", "status": 400})

    async def write_events(self) -> None:
        while (message := await self.sub.get()) is not None:
            frame = {"stream": message.stream.label, "event": message.event}
            if message.payload != NO_PAYLOAD:
                frame["payload"] = message.payload
            await self.send(frame)


def _echoed_protocol(ws: WebSocket) -> str | None:
    """The subprotocol to accept: the token itself when the client sent it that way (masto.js), since a
    browser drops a connection whose 101 response does not name one of the offered protocols."""
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",")]
    token = bearer_token(ws)
    return token if token is not None and token in offered else None


async def _deny(ws: WebSocket, exc: StreamError) -> None:
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(JSONResponse({"error": exc.error}, status_code=exc.status))
    else:  # a server without the denial extension can only refuse with 403
        await ws.close(code=1008, reason=exc.error)


async def websocket_stream(ws: WebSocket) -> None:
    mark = authority_mark(ws.app)
    try:
        viewer = await stream_viewer(ws)
        name = ws.query_params.get("stream")
        initial = await open_stream(name, ws.query_params, viewer, services(ws).pool) if name else None
    except StreamError as exc:
        await _deny(ws, exc)
        return
    hub = await hub_for(ws.app)
    sub = await subscribe(hub, viewer, mark)
    try:
        if initial is not None:
            hub.add_stream(sub, initial)
        await ws.accept(subprotocol=_echoed_protocol(ws))
        client = _Socket(ws, hub, sub, viewer)
        reader = asyncio.create_task(client.read_frames())
        writer = asyncio.create_task(client.write_events())
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, writer):
                task.cancel()
            results = await asyncio.gather(reader, writer, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, WebSocketDisconnect):
                raise result
        if reader not in done and ws.client_state == WebSocketState.CONNECTED:  # the hub ended it
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                code = close_code(sub)
                await ws.close(code=code, reason=REVOKED_REASON if code == CLOSE_POLICY_VIOLATION else None)
    finally:
        await _leave(hub, sub)


routes: list[BaseRoute] = [
    Route("/api/v1/streaming/health", health, methods=["GET", "HEAD"]),
    *(Route(f"/api/v1/streaming/{path}", event_stream(name), methods=["GET"]) for path, name in SSE_PATHS.items()),
    WebSocketRoute("/api/v1/streaming", websocket_stream),
    WebSocketRoute("/api/v1/streaming/", websocket_stream),
]
