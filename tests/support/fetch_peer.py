"""Misbehaving peers for the SSRF-safe client tests (tests/federation/fetch/): a raw aiohttp server on
127.0.0.1 with one handler per path, and a DNS resolver answering from a fixed table.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from tests.support.loopback import listen

AP_TYPE = "application/activity+json"
LOOPBACK_ONLY = ("127.0.0.1/32",)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Peer:
    """A remote server on 127.0.0.1: one handler per path, and a record of every request it got."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: list[str] = []
        self.headers: dict[str, dict[str, str]] = {}
        self.release = asyncio.Event()  # slow handlers wait on it; set at teardown
        self._runner = web.AppRunner(self._app())
        self.port = 0

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        self.headers[request.path] = dict(request.headers)
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404)
        return await handler(request)

    async def start(self) -> None:
        self.port = await listen(self._runner)

    async def stop(self) -> None:
        self.release.set()
        await self._runner.cleanup()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def serve_json(self, path: str, document: Any, content_type: str = AP_TYPE, status: int = 200) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, body=json.dumps(document).encode(), content_type=content_type)

        self.routes[path] = handler

    def serve_object(self, path: str, host: str = "127.0.0.1") -> dict[str, Any]:
        document = {"id": self.url(path, host), "type": "Note", "content": "hello"}
        self.serve_json(path, document)
        return document

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": location})

        self.routes[path] = handler


class FakeDNS(AbstractResolver):
    """Answers from a fixed table; unknown names fail, so nothing ever asks a real DNS server."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        if host not in self.records:
            raise OSError(f"fake DNS has no record for {host}")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in self.records[host]
        ]

    async def close(self) -> None:
        pass


SessionFactory = Callable[..., aiohttp.ClientSession]


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    """A running Peer, stopped after the test. Modules take it as `peer = fetch_peer.peer`."""
    server = Peer()
    await server.start()
    yield server
    await server.stop()
