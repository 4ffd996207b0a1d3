"""What uvicorn's HTTP/1.1 protocol lacks against clients that never finish their request.

uvicorn (httptools) times out only an idle keep-alive connection, after a response. A connection that
sends nothing, part of a request line or part of its headers stays open for ever, holding a file
descriptor: 3,000 of them held 3,000 descriptors and none was closed after 30 s. httptools also keeps
any amount of header bytes (a 200 MB header was accepted into memory). `ReadLimitedProtocol` adds:

- a header deadline: from the moment a connection is opened, or from the first byte after it was idle,
  the request's headers must be complete within FEDIVERSE_BIZ_HEADER_TIMEOUT seconds. Bytes arriving
  meanwhile do not move the deadline (a client dripping a byte a second is closed on time). A request
  begun is answered 408 and closed; a connection that sent nothing is just closed.
- a deadline for the rest of a body the application answered without reading: uvicorn reads and
  discards it, so that the client gets the answer rather than a reset, and would do so for ever, one
  byte at a time. It must all arrive within FEDIVERSE_BIZ_BODY_TIMEOUT seconds of its first byte after
  the answer (nginx's lingering_time plays the same part).
- a cap on header bytes (MAX_HEADER_BYTES): 431 and closed beyond it.

Once the headers are complete the request belongs to the application: reading its body is bounded by
middleware.BodyReadTimeout, and a long response (server-sent events) is never cut. A WebSocket upgrade
hands the connection to uvicorn's WebSocket protocol, which pings it. `serve` passes the class to
uvicorn (cli/serve.py); the cap on concurrent connections is uvicorn's own `limit_concurrency`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# Request line and headers together. nginx allows 4 x 8 KB by default, h11 16 KB; HTTP signatures and
# cookies fit many times over. A read that starts a request after another one's body is not counted, so
# a connection may hold up to this plus one read (uvloop reads at most 256 KB) before the answer.
MAX_HEADER_BYTES = 64 * 1024

access_log = logging.getLogger("fediverse_biz.access")


class ReadLimitedProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0  # both set by protocol_class()
    body_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._message_open = False  # the parser is inside a request (headers or body)
        self._in_headers = False  # ...and its headers are not complete
        self._headers_completed = 0
        self._header_bytes = 0
        self._upgraded = False

    # ---- uvicorn's protocol, extended ------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # A read that begins while no request is open starts at a request's first byte, so all of it
        # is header bytes if the headers are still incomplete after it.
        at_boundary = self._in_headers or not self._message_open
        completed = self._headers_completed
        super().data_received(data)
        if self._upgraded or self.transport.is_closing():
            self._disarm()
            return
        if self._in_headers and self._headers_completed == completed and at_boundary:
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(431, "request headers too large")
                return
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # the application has the request
        elif self._message_open:
            if self._deadline is None:  # never pushed back by more bytes
                self._arm(self.header_timeout if self._in_headers else self.body_timeout)
        else:
            # Idle between requests: uvicorn's keep-alive timer, which these bytes (e.g. a stray CRLF)
            # cancelled, closes the connection unless a request begins.
            self._disarm()
            if self.timeout_keep_alive_task is None:
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self.timeout_keep_alive_handler
                )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._message_open = True
        self._in_headers = True
        self._header_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._headers_completed += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._message_open = False

    def handle_websocket_upgrade(self) -> None:
        self._upgraded = True
        self._disarm()
        super().handle_websocket_upgrade()

    # ---- the deadline ----------------------------------------------------------------------------
    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._deadline_passed, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self, seconds: float) -> None:
        self._deadline = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown client"
        if self._in_headers:
            access_log.info(
                "%s: request headers incomplete after %gs, 408 and closed", client, seconds,
                extra={"status": 408, "client": client},
            )  # fmt: skip
            self._refuse(408, "request headers not received in time")
        elif self._message_open:
            access_log.info(
                "%s: rest of an answered request's body not received within %gs, closed", client, seconds,
                extra={"client": client},
            )  # fmt: skip
            self.transport.close()
        else:  # opened and never used: browsers' speculative connections do it, so not worth a line
            access_log.debug("%s: no request within %gs, closed", client, seconds)
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        self._disarm()
        body = message.encode()
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: %d\r\n" % len(body),
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def protocol_class(header_timeout: float, body_timeout: float) -> type[ReadLimitedProtocol]:
    """The protocol for uvicorn.Config(http=...): uvicorn builds it with its own arguments only."""
    limits = {"header_timeout": float(header_timeout), "body_timeout": float(body_timeout)}
    return type("ReadLimitedProtocol", (ReadLimitedProtocol,), limits)
