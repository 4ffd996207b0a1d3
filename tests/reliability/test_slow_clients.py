"""Slow and stalling clients against `fediverse-biz serve`, over raw sockets.

One server for the module, with second-long timeouts (FEDIVERSE_BIZ_HEADER_TIMEOUT, _BODY_TIMEOUT) and a
cap of CAP connections (FEDIVERSE_BIZ_MAX_CONNECTIONS), so each test takes seconds. Its log goes to a
file, read by the tests. Every wait is bounded; a test leaves no connection of its own open, so the
next one starts with the server's count of connections at zero.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from fediverse_biz.cli import serve
from fediverse_biz.core import accounts
from fediverse_biz.db.pool import create_pool
from fediverse_biz.middleware import BodyReadTimeout
from fediverse_biz.slow_clients import MAX_HEADER_BYTES
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD, api_headers
from tests.support.cluster import PgCluster

HEADER_TIMEOUT = 1
BODY_TIMEOUT = 1
CAP = 40
MARGIN = 10.0  # seconds past a timeout after which a connection that is still open is a failure


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    token: str

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=MARGIN)
        sock.settimeout(MARGIN)
        return sock

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, predicate: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + MARGIN
        while time.monotonic() < deadline:
            text = self.log_text()
            if predicate(text):
                return text
            time.sleep(0.05)
        raise AssertionError(f"{what} not in the log:\n{self.log_text()[-3000:]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would stall the server
        return subprocess.Popen(
            [sys.executable, "-m", "fediverse_biz.cli", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


@pytest.fixture(scope="module")
async def server(cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    database = await cluster.create_database()
    directory = tmp_path_factory.mktemp("slow-clients")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDIVERSE_BIZ_") and k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=cluster.dsn(database),
        FEDIVERSE_BIZ_DATA_DIR=str(directory / "data"),
        FEDIVERSE_BIZ_PORT=str(port),
        FEDIVERSE_BIZ_DOMAIN=f"127.0.0.1:{port}",
        FEDIVERSE_BIZ_RATE_LIMITS="false",
        FEDIVERSE_BIZ_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        FEDIVERSE_BIZ_BODY_TIMEOUT=str(BODY_TIMEOUT),
        FEDIVERSE_BIZ_MAX_CONNECTIONS=str(CAP),
    )
    log = directory / "serve.log"
    proc = _spawn(env, log)
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=1) as client:
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"serve did not become healthy: {log.read_text()[-3000:]}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        pool = await create_pool(cluster.dsn(database), min_size=1, max_size=1)
        try:
            user = await accounts.create_user(
                pool, LocalUrls(f"http://127.0.0.1:{port}"), "streamer", "streamer@example.com", PASSWORD
            )
            token = (await api_headers(pool, user))["Authorization"].removeprefix("Bearer ")
        finally:
            await pool.close()
        yield Server(proc, port, log, token)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        await cluster.release_database(database)


# ---- raw HTTP/1.1 -----------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def read_head(sock: socket.socket) -> tuple[Answer, bytes]:
    """The status line and headers; the bytes read past them."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed after {buffer!r}")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return Answer(int(status_line.split()[1]), headers, b""), rest


def read_answer(sock: socket.socket) -> Answer:
    answer, body = read_head(sock)
    length = int(answer.headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed mid-body")
        body += chunk
    answer.body = body[:length]
    return answer


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection within `seconds` (whatever it sends before)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def request_head(method: str, path: str, *, length: int | None = None, content_type: str | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@contextmanager
def connections(server: Server, count: int) -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(server.connect())
        yield socks
    finally:
        for sock in socks:
            sock.close()


def get_healthz(server: Server) -> int:
    with server.connect() as sock:
        sock.sendall(request_head("GET", "/healthz"))
        return read_answer(sock).status


# ---- headers ----------------------------------------------------------------------------------------
def test_connections_that_never_finish_their_headers_are_closed(server: Server) -> None:
    partial = [b"", b"GET /healthz HT", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "]
    per_kind = 50
    with connections(server, per_kind * len(partial)) as socks:
        started = time.monotonic()
        for n, sock in enumerate(socks):
            if partial[n % len(partial)]:
                sock.sendall(partial[n % len(partial)])
        # Above the cap while they are open: a complete request is refused, not queued behind them.
        assert get_healthz(server) == 503
        # A client dripping a byte at a time does not push its deadline back.
        with server.connect() as dripper:
            dripper.sendall(b"G")
            dripped_until = time.monotonic() + HEADER_TIMEOUT + MARGIN
            try:
                for byte in b"ET /healthz HTTP/1.1\r\nX-Drip: " + b"x" * 1000:
                    if time.monotonic() > dripped_until:
                        break
                    dripper.sendall(bytes([byte]))
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass
            dripped_for = time.monotonic() - started
            assert dripped_for < HEADER_TIMEOUT + MARGIN / 2, "the dripping client was not cut off"

        selector = selectors.DefaultSelector()
        answers: dict[socket.socket, bytes] = {}
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            answers[sock] = b""
        open_ = set(socks)
        deadline = started + HEADER_TIMEOUT + MARGIN
        while open_ and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                answers[sock] += chunk
                if not chunk:
                    selector.unregister(sock)
                    open_.discard(sock)
        selector.close()
        assert not open_, f"{len(open_)} of {len(socks)} stalled connections still open"
        assert time.monotonic() - started >= HEADER_TIMEOUT * 0.9  # closed by the deadline, not at once

    silent = [answers[s] for n, s in enumerate(socks) if n % len(partial) == 0]
    begun = [answers[s] for n, s in enumerate(socks) if n % len(partial) != 0]
    assert silent == [b""] * per_kind  # nothing asked, nothing answered
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in begun), begun[:3]
    assert b"connection: close" in begun[0].lower()
    text = server.wait_for_log(
        lambda log: log.count("request headers incomplete") >= len(begun) + 1, "a line per stalled request"
    )
    assert "Traceback" not in text
    assert get_healthz(server) == 200  # the server serves again once they are gone


def test_the_cap_counts_open_connections(server: Server) -> None:
    # CAP connections, all open before any asks: each is served, and stays open (keep-alive)...
    with connections(server, CAP) as idle:
        for sock in idle:
            sock.sendall(request_head("GET", "/healthz"))
        assert [read_answer(sock).status for sock in idle] == [200] * CAP
        # ...and one more is refused while they are
        with server.connect() as over:
            over.sendall(request_head("GET", "/healthz"))
            refused = read_answer(over)
            assert refused.status == 503 and refused.headers["connection"] == "close"
            assert closed_within(over, MARGIN)
    server.wait_for_log(lambda log: "Exceeded concurrency limit" in log, "uvicorn's line for the 503")


def test_oversized_headers_are_refused(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 1024))
        answer = read_answer(sock)
        assert answer.status == 431
        assert closed_within(sock, MARGIN)
    with server.connect() as sock:  # large but under the cap: served
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        assert read_answer(sock).status == 200


# ---- bodies ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/inbox", "/api/v1/apps"])
def test_a_stalled_body_is_answered_408_and_closed(server: Server, path: str) -> None:
    with server.connect() as sock:
        sock.sendall(request_head("POST", path, length=1000, content_type="application/json") + b'{"name": "x')
        started = time.monotonic()
        answer = read_answer(sock)
        waited = time.monotonic() - started
        assert answer.status == 408
        assert answer.headers["connection"] == "close"
        assert "request body not received in time" in json.loads(answer.body)["error"]
        assert BODY_TIMEOUT * 0.9 <= waited < BODY_TIMEOUT + MARGIN
        assert closed_within(sock, MARGIN)
    server.wait_for_log(lambda log: f"POST {path} 408" in log, "the 408 in the access log")


def test_a_slow_body_that_keeps_moving_is_read_whole(server: Server) -> None:
    body = json.dumps({"client_name": "slow but steady", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}).encode()
    pieces = [body[i : i + 10] for i in range(0, len(body), 10)]
    with server.connect() as sock:
        sock.sendall(request_head("POST", "/api/v1/apps", length=len(body), content_type="application/json"))
        started = time.monotonic()
        for piece in pieces:
            time.sleep(BODY_TIMEOUT / 3)
            sock.sendall(piece)
        # longer than either timeout in all, and never idle for one
        assert time.monotonic() - started > BODY_TIMEOUT + HEADER_TIMEOUT
        answer = read_answer(sock)
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["name"] == "slow but steady"


def test_a_client_leaving_mid_body_is_a_499_without_traceback(server: Server) -> None:
    multipart = (
        b'--b\r\nContent-Disposition: form-data; name="client_name"\r\n\r\nleaving\r\n--b\r\nContent-Disp'
    )
    sent = [
        ("/inbox", "application/json", b'{"type": "Create", "actor": "http'),
        ("/api/v1/apps", "application/json", b'{"client_name": "lea'),
        ("/api/v1/apps", "application/x-www-form-urlencoded", b"client_name=leav"),
        ("/api/v1/apps", "multipart/form-data; boundary=b", multipart),
    ]
    for path, content_type, part in sent:
        with server.connect() as sock:
            sock.sendall(request_head("POST", path, length=5000, content_type=content_type) + part)
            time.sleep(0.2)  # the application is reading the body when the client goes
    text = server.wait_for_log(
        lambda log: log.count("POST /inbox 499") >= 1 and log.count("POST /api/v1/apps 499") >= 3,
        "a 499 per departed client",
    )
    assert "Traceback" not in text
    assert " 500 " not in text and "ERROR" not in text


def test_the_unread_rest_of_an_answered_body_cannot_hold_the_connection(server: Server) -> None:
    with server.connect() as sock:
        # refused (no token) before the body is read; the client goes on sending it, a byte at a time
        sock.sendall(request_head("POST", "/api/v1/statuses", length=100_000, content_type="application/json"))
        assert read_answer(sock).status == 401
        started = time.monotonic()
        closed = False
        while not closed and time.monotonic() - started < BODY_TIMEOUT + MARGIN:
            try:
                sock.sendall(b"x")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            closed = closed_within(sock, 0.1)
        assert closed, "a client trickling an unread body kept its connection"


# ---- long responses are not cut -----------------------------------------------------------------------
def test_a_stream_stays_open_past_every_timeout(server: Server) -> None:
    with server.connect() as stream:
        stream.sendall(
            f"GET /api/v1/streaming/public HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}"
            "\r\n\r\n".encode()
        )
        answer, received = read_head(stream)
        assert answer.status == 200 and answer.headers["content-type"].startswith("text/event-stream")
        assert not closed_within(stream, 3 * max(HEADER_TIMEOUT, BODY_TIMEOUT))
        status = httpx.post(
            f"http://127.0.0.1:{server.port}/api/v1/statuses",
            headers={"Authorization": f"Bearer {server.token}"}, json={"status": "still streaming"}, timeout=MARGIN,
        )  # fmt: skip
        assert status.status_code == 200
        deadline = time.monotonic() + MARGIN
        while b"still streaming" not in received and time.monotonic() < deadline:
            stream.settimeout(max(deadline - time.monotonic(), 0.01))
            received += stream.recv(65536)
        assert b"event: update" in received and b"still streaming" in received


async def test_a_websocket_stays_open_past_every_timeout(server: Server) -> None:
    url = f"ws://127.0.0.1:{server.port}/api/v1/streaming?stream=public&access_token={server.token}"
    timeout = aiohttp.ClientWSTimeout(ws_close=MARGIN)
    async with aiohttp.ClientSession() as session, session.ws_connect(url, timeout=timeout) as ws:
        await asyncio.sleep(3 * max(HEADER_TIMEOUT, BODY_TIMEOUT))
        assert not ws.closed
        async with session.post(
            f"http://127.0.0.1:{server.port}/api/v1/statuses",
            headers={"Authorization": f"Bearer {server.token}"}, json={"status": "websocket too"},
        ) as posted:  # fmt: skip
            assert posted.status == 200
        async with asyncio.timeout(MARGIN):
            while True:
                message = await ws.receive_json()
                if message.get("event") == "update" and "websocket too" in message["payload"]:
                    break


# ---- the pieces alone -----------------------------------------------------------------------------------
async def test_after_the_body_receive_is_not_timed() -> None:
    """A streaming response waits in receive() for the client to leave, for as long as it takes."""
    messages: list[Message] = [{"type": "http.request", "body": b"{}", "more_body": False}]
    received: list[Message] = []

    async def receive() -> Message:
        if messages:
            return messages.pop()
        await asyncio.sleep(0.3)  # many times the idle limit below
        return {"type": "http.disconnect"}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(await receive())
        received.append(await receive())

    async def send(message: Message) -> None:
        raise AssertionError(f"nothing should be sent: {message}")

    guard = BodyReadTimeout(app, idle_seconds=0.05)
    await guard({"type": "http", "path": "/", "method": "POST", "headers": [(b"content-length", b"2")]}, receive, send)
    assert [m["type"] for m in received] == ["http.request", "http.disconnect"]


@pytest.mark.parametrize(
    ("limits", "cap", "raised_to", "warned"),
    [
        ((1024, 1 << 20), 1000, 1000 + serve.OTHER_FILES, False),  # the usual soft limit, a high hard one
        ((1024, 1200), 1000, 1200, True),  # as far as the hard limit goes, and said
        ((1 << 16, 1 << 20), 1000, None, False),  # enough already: untouched
        ((1024, resource.RLIM_INFINITY), 5000, 5000 + serve.OTHER_FILES, False),
    ],
)
def test_serve_raises_its_open_file_limit_for_the_cap(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    limits: tuple[int, int], cap: int, raised_to: int | None, warned: bool,
) -> None:  # fmt: skip
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(serve.resource, "getrlimit", lambda _which: limits)
    monkeypatch.setattr(serve.resource, "setrlimit", lambda _which, value: calls.append(value))
    with caplog.at_level(logging.WARNING, logger="fediverse_biz.cli.serve"):
        serve._raise_file_limit(cap)
    assert calls == ([] if raised_to is None else [(raised_to, limits[1])])
    assert ("open-file limit" in caplog.text) is warned
