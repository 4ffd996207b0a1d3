"""Helpers for streaming tests: polling with a deadline, a server-sent events reader and its WebSocket
counterpart, password-grant tokens made as a client would, a Mastodon.py listener that records what it
receives."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
from mastodon import StreamListener

from fediverse_biz.core import oauth

DEADLINE = 10.0  # seconds any expected event may take; generous for loaded CI machines


async def eventually(check: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """Poll a condition until it holds (short polling, never a fixed wait)."""
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class EventLog:
    events: list[tuple[str, str]] = field(default_factory=list)  # (event, data)
    comments: list[str] = field(default_factory=list)
    ended: bool = False

    def of(self, event: str) -> list[Any]:
        return [json.loads(d) if event != "delete" else d for e, d in self.events if e == event]

    def ids(self, event: str = "update") -> list[str]:
        return [s["id"] for s in self.of(event)]

    async def wait_for(self, event: str, predicate: Callable[[Any], bool], what: str) -> Any:
        await eventually(lambda: any(predicate(x) for x in self.of(event)), what)
        return next(x for x in self.of(event) if predicate(x))

    async def read(self, response: httpx.Response) -> None:
        event, data = "", []
        async for line in response.aiter_lines():
            if line.startswith(":"):
                self.comments.append(line[1:])
            elif line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
            elif line == "" and event:
                self.events.append((event, "\n".join(data)))
                event, data = "", []
        self.ended = True


@asynccontextmanager
async def sse(http: httpx.AsyncClient, path: str, token: str, **params: str) -> AsyncIterator[EventLog]:
    """Read /api/v1/streaming/<path> in the background; entered once the server has subscribed us."""
    headers = {"Authorization": f"Bearer {token}"}
    async with http.stream("GET", f"/api/v1/streaming/{path}", headers=headers, params=params) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        log = EventLog()
        reader = asyncio.create_task(log.read(response))
        try:
            await eventually(lambda: ")" in log.comments, "the stream's greeting")  # subscribed from here on
            yield log
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


class WsLog(EventLog):
    """A WebSocket's frames in EventLog's shape, and the code the server closed it with."""

    close_code: int | None = None

    async def read_ws(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                frame = json.loads(message.data)
                if "event" in frame:
                    self.events.append((frame["event"], frame["payload"]))
        self.close_code = ws.close_code
        self.ended = True


@dataclass
class Token:
    access_token: str
    client_id: str
    client_secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def login(
    http: httpx.AsyncClient, username: str, password: str, scopes: str, actor: str | None = None
) -> Token:
    """A password-grant token through the API: a new app, then /oauth/token (optionally acting as `actor`)."""
    app = await http.post(
        "/api/v1/apps",
        data={"client_name": "streams", "redirect_uris": oauth.OOB_REDIRECT_URI, "scopes": scopes},
    )
    assert app.status_code == 200, app.text
    made = app.json()
    form = {
        "grant_type": "password",
        "username": username,
        "password": password,
        "scope": scopes,
        "client_id": made["client_id"],
        "client_secret": made["client_secret"],
    }
    if actor is not None:
        form["actor"] = actor  # the identity a member picks on the authorize page
    token = await http.post("/oauth/token", data=form)
    assert token.status_code == 200, token.text
    return Token(token.json()["access_token"], made["client_id"], made["client_secret"])


class Collector(StreamListener):
    """A Mastodon.py listener that keeps what it is given (called from the client's own thread)."""

    def __init__(self) -> None:
        self.updates: list[Any] = []
        self.notifications: list[Any] = []
        self.opened = threading.Event()

    def on_update(self, status: Any) -> None:
        self.updates.append(status)

    def on_notification(self, notification: Any) -> None:
        self.notifications.append(notification)

    def handle_heartbeat(self) -> None:
        self.opened.set()  # our greeting comment arrives as soon as the subscription is live
