"""A company website on a loopback address, for the rel="me" link checks (business/verified_links.py)
and link preview cards (core/cards.py).

It serves what a test gives it, path by path, records every request, and notes how many were in flight
at once (link checks fetch one page at a time per host).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from tests.support.fetch_peer import FakeDNS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

__all__ = ["Website", "linking_back", "resolve_to_loopback"]


@dataclass
class Website:
    """A website: path -> (status, content type, body); records what was fetched."""

    address: str = "127.0.0.1"
    name: str | None = None  # the host name its URLs carry (resolved to `address` by a test's DNS), if any
    delay: float = 0.0  # seconds each answer takes, to see overlapping fetches
    pages: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location
    handlers: dict[str, Handler] = field(default_factory=dict)  # path -> a misbehaving answer of a test's own
    hits: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> Website:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.address, 0, reuse_address=True).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://{self.name or self.address}:{self.port}{path}"

    def page(self, path: str, html: str, *, status: int = 200, content_type: str = "text/html; charset=utf-8") -> str:
        self.pages[path] = (status, content_type, html.encode())
        return self.url(path)

    def file(self, path: str, body: bytes, content_type: str) -> str:
        self.pages[path] = (200, content_type, body)
        return self.url(path)

    def handle(self, path: str, handler: Handler) -> str:
        self.handlers[path] = handler
        return self.url(path)

    def redirect(self, path: str, location: str) -> str:
        self.redirects[path] = location
        return self.url(path)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if request.path == "/moved":
                raise web.HTTPFound(self.url("/home"))
            if request.path in self.handlers:
                return await self.handlers[request.path](request)
            if request.path in self.redirects:
                raise web.HTTPFound(self.redirects[request.path])
            status, content_type, body = self.pages.get(request.path, (404, "text/html", b"not here"))
            return web.Response(status=status, body=body, headers={"Content-Type": content_type})
        finally:
            self.in_flight -= 1


def linking_back(to: str, *, tag: str = "a") -> str:
    """A small home page with a rel="me" link to `to`, as an <a> in the body or a <link> in the head."""
    link = f'<a rel="me" href="{to}">us on the fediverse</a>' if tag == "a" else f'<link rel="me" href="{to}">'
    return f"<!doctype html><html><head><title>ACME</title>{link if tag == 'link' else ''}</head>" \
        f"<body><p>Anvils.</p>{link if tag == 'a' else ''}</body></html>"  # fmt: skip


def resolve_to_loopback(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Every client session made from now on resolves `names` to 127.0.0.1 and nothing else by name.
    Posts link only to names with a top-level domain (Mastodon's grammar, text/content.py), so a site a
    post links to needs one; set this before the app or server under test makes its session."""
    monkeypatch.setattr(aiohttp, "ThreadedResolver", lambda: FakeDNS({name: ["127.0.0.1"] for name in names}))
