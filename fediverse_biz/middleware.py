"""Pure ASGI middleware (never BaseHTTPMiddleware: it buffers bodies and breaks streaming).

- RequestLog: one structured line per request (method, path, status, duration).
- CountRequests: how many requests the process is serving (WebLoad), which in-process workers yield to.
- BodySizeLimit: refuses bodies over the configured cap with 413, before the handler reads them.
- BodyReadTimeout: 408 and the connection closed when a client stops sending the body it announced.
- DatabaseUnavailable: 503 with Retry-After, not a 500 and a traceback, while PostgreSQL cannot be reached
  (restarting, failing over); the pool reconnects by itself once it is back (tests/reliability/test_faults.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback

import asyncpg
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("fediverse_biz.access")
log = logging.getLogger(__name__)

# Paths whose errors are JSON for programs, not HTML for people.
JSON_PREFIXES = ("/api/", "/oauth/", "/.well-known/", "/nodeinfo/", "/inbox", "/users/", "/c/", "/actor")


def wants_json(path: str) -> bool:
    return path.startswith(JSON_PREFIXES) or path == "/healthz"


# In-process background work (jobs/worker.py) steps back while this many ordinary requests are in
# flight: under a burst of inbox deliveries the workers took most of the CPU the door needed, and the
# door is what peers wait on (docs/benchmarks.md). The jobs are durable; they run a moment later.
BUSY_REQUESTS = 8
# Long-lived responses (Server-Sent Events) are not load: an open stream would mark the process busy.
_LONG_LIVED_PREFIX = "/api/v1/streaming"


class WebLoad:
    """The number of ordinary HTTP requests in flight in this process."""

    def __init__(self) -> None:
        self.requests = 0

    def busy(self) -> bool:
        return self.requests >= BUSY_REQUESTS


class CountRequests:
    def __init__(self, app: ASGIApp, load: WebLoad) -> None:
        self.app = app
        self.load = load

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_LONG_LIVED_PREFIX):
            await self.app(scope, receive, send)
            return
        self.load.requests += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.load.requests -= 1


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not access_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)  # nothing to log: no wrapper around every send
            return
        started = time.perf_counter()
        status = 500

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            access_log.info(
                "%s %s %d %.1fms",
                scope["method"], scope["path"], status, (time.perf_counter() - started) * 1000,
                extra={
                    "method": scope["method"], "path": scope["path"], "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )


class BodyTooLarge(HTTPException):
    """Raised from receive() when a streamed body passes the cap; an HTTPException so the app's
    error handler renders it (JSON for API paths) like any other 413."""

    def __init__(self) -> None:
        super().__init__(413, "request body too large")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _reject(scope, send, 400, "invalid Content-Length")
                    return
                if declared > self.max_bytes:
                    await _reject(scope, send, 413, "request body too large")
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _reject(scope, send, 413, "request body too large")


class BodyStalled(HTTPException):
    """Raised from receive() when the client sent nothing of its body for the idle timeout; an
    HTTPException so the app's error handler renders the 408 like any other error."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"request body not received in time (nothing for {seconds:g} s)")


class BodyReadTimeout:
    """A client that announced a body must keep it coming: when the application waits `idle_seconds` for
    the next part of it in vain, the answer is 408 and the connection is closed (`Connection: close`).

    The wait is per part, not for the whole body: a large upload over a slow link is fine as long as it
    moves. Once the body is complete, receive() is passed through untouched: a streaming response waits
    there for the client to go away, for as long as it likes. The headers' deadline is the HTTP
    protocol's (slow_clients.py); this covers what only the application knows, that it is waiting.
    """

    def __init__(self, app: ASGIApp, idle_seconds: float) -> None:
        self.app = app
        self.idle_seconds = idle_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _announces_body(scope["headers"]):
            await self.app(scope, receive, send)  # nothing to wait for: no wrappers on the common GET
            return
        body_complete = False
        stalled = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_complete, stalled
            if body_complete:
                return await receive()
            try:
                async with asyncio.timeout(self.idle_seconds):
                    message = await receive()
            except TimeoutError:
                stalled = True
                raise BodyStalled(self.idle_seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_complete = True
            return message

        async def closing_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if stalled:  # the rest of that body may still come: this connection cannot carry another request
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, timed_receive, closing_send)
        except BodyStalled as exc:
            # Handlers' own error handling renders it (app.http_error); this is for a middleware or
            # handler that let it through. Once a response has started there is nothing to say: uvicorn
            # closes a connection whose response the application left unfinished.
            if not started:
                await _reject(scope, closing_send, 408, exc.detail)


def _announces_body(headers: list[tuple[bytes, bytes]]) -> bool:
    # HTTP/1.1 (RFC 9112 6.3): without either header a request has no body.
    return any(
        name == b"transfer-encoding" or (name == b"content-length" and value != b"0") for name, value in headers
    )


# The database is out of reach, as opposed to a query that failed: asyncpg's connection-level errors...
_UNREACHABLE = (
    asyncpg.PostgresConnectionError,  # 08xxx: the connection failed or was closed mid-query
    asyncpg.CannotConnectNowError,  # starting up / shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)
DATABASE_RETRY_AFTER = "5"  # seconds: a restart of PostgreSQL takes about that


# ...and, raised from inside asyncpg, socket errors and timeouts (connecting, reading), and the protocol
# state errors a connection lost mid-statement leaves behind ("cannot switch to state 12; another operation
# is in progress"). Those two could also mean misuse of a connection, so they are logged with a traceback.
_LOST_MID_STATEMENT = (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)


def database_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, _UNREACHABLE):
        return True
    if isinstance(exc, (OSError, TimeoutError, *_LOST_MID_STATEMENT)):
        return any("asyncpg" in frame.f_code.co_filename for frame, _ in traceback.walk_tb(exc.__traceback__))
    return False


class DatabaseUnavailable:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started or not database_unreachable(exc):
                raise
            log.warning("database unavailable for %s %s: %s: %s", scope["method"], scope["path"],
                        type(exc).__name__, exc, exc_info=isinstance(exc, _LOST_MID_STATEMENT))  # fmt: skip
            await _reject(scope, send, 503, "the database is unavailable, try again shortly",
                          headers=[(b"retry-after", DATABASE_RETRY_AFTER.encode())])  # fmt: skip


async def _reject(
    scope: Scope, send: Send, status: int, message: str, *, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    if wants_json(scope["path"]):
        body = json.dumps({"error": message}).encode()
        content_type = b"application/json"
    else:
        body = message.encode()
        content_type = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(headers or [])
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
