"""A remote inbox on 127.0.0.1 for delivery tests: it records every POST and answers as told.

The only fake in the delivery tests, since no real server fails on cue: a peer that misbehaves on
demand — 500s, 429 with Retry-After, 410, hanging — and, given the sender's public keys, verifies
signatures like a real one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fediverse_biz.activitypub.signatures import SignatureError, digest_header, verify_request
from tests.support.loopback import listen

Respond = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    activity: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    verified_key_id: str | None = None
    path: str = ""  # the inbox's path: one server may host many inboxes


async def accept(request: web.Request) -> web.StreamResponse:
    return web.Response(status=202)


@dataclass
class FakeInbox:
    respond: Respond = accept
    public_keys: Mapping[str, str] | None = None  # keyId -> PEM; when set, bad signatures get a 401
    port: int = 0  # 0: any free port
    received: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # why each refused signature failed
    release: asyncio.Event = field(default_factory=asyncio.Event)  # hanging responders wait on it
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeInbox:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        self.port = await listen(self._runner, self.port)
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str = "/inbox") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ids(self) -> list[str]:
        return [r.activity["id"] for r in self.received]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = dict(request.headers)
        key_id = None
        if self.public_keys is not None:
            try:
                verified = await verify_request(
                    request.method, request.rel_url.raw_path, request.rel_url.raw_query_string,
                    request.headers, body, self._lookup, authority=self.host, scheme="http",
                )
            except SignatureError as exc:
                self.rejected.append(str(exc))
                return web.json_response({"error": str(exc)}, status=401)
            key_id = verified.key_id
        self.received.append(Received(json.loads(body), headers, body, key_id, request.path))
        return await self.respond(request)

    async def _lookup(self, key_id: str) -> str | None:
        assert self.public_keys is not None
        return self.public_keys.get(key_id)


def digest_matches(received: Received) -> bool:
    return received.headers.get("Digest") == digest_header(received.body)
