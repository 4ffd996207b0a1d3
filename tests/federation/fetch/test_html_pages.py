"""`fetch_html`: the SSRF-safe client reading a web page (the target of a profile link) — 200 and
text/html only, redirects checked like every request, and a long page cut at the cap, not refused."""

from __future__ import annotations

import gzip

import pytest
from aiohttp import web

from fediverse_biz.net.fetch import (
    MAX_DOCUMENT_BYTES,
    BlockedAddress,
    ContentTypeError,
    FetchError,
    fetch_html,
)
from tests.support.fetch_peer import FakeDNS, Peer, SessionFactory

HTML = "text/html; charset=utf-8"


def serve(peer: Peer, path: str, body: bytes, *, content_type: str = HTML, status: int = 200, **headers: str) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, headers={"Content-Type": content_type, **headers})

    peer.routes[path] = handler


async def test_a_page_is_read_unsigned_and_asks_for_html(peer: Peer, sessions: SessionFactory) -> None:
    serve(peer, "/", b"<p>hello</p>")
    response = await fetch_html(sessions(), peer.url("/"))
    assert response.body == b"<p>hello</p>" and response.status == 200
    assert peer.headers["/"]["Accept"] == "text/html"
    assert "Signature" not in peer.headers["/"]


@pytest.mark.parametrize("status", [201, 204, 404, 410, 500])
async def test_only_200_is_a_page(status: int, peer: Peer, sessions: SessionFactory) -> None:
    serve(peer, "/", b"<p>hello</p>", status=status)
    with pytest.raises(FetchError) as raised:
        await fetch_html(sessions(), peer.url("/"))
    assert raised.value.status == status


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "application/xhtml+xml", "image/png"])
async def test_only_html_is_a_page(content_type: str, peer: Peer, sessions: SessionFactory) -> None:
    serve(peer, "/", b"<p>hello</p>", content_type=content_type)
    with pytest.raises(ContentTypeError):
        await fetch_html(sessions(), peer.url("/"))


async def test_a_long_page_is_cut_at_the_cap(peer: Peer, sessions: SessionFactory) -> None:
    # Content-Length announces 3 MB: read anyway, up to the cap, and no further.
    serve(peer, "/long", b"<p>" + b"x" * (3 * MAX_DOCUMENT_BYTES))
    response = await fetch_html(sessions(), peer.url("/long"))
    assert len(response.body) == MAX_DOCUMENT_BYTES and response.body.startswith(b"<p>xxx")


async def test_a_streamed_page_is_cut_and_the_rest_not_read(peer: Peer, sessions: SessionFactory) -> None:
    sent = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": HTML})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(256):  # 16 MB, more than socket buffers hold
                await response.write(b" " * 65536)
                sent += 65536
            await response.write_eof()
        except ConnectionError:
            pass  # the client hung up, as it should
        return response

    peer.routes["/stream"] = handler
    response = await fetch_html(sessions(), peer.url("/stream"), max_bytes=100_000)
    assert len(response.body) == 100_000
    assert sent < 256 * 65536


async def test_a_compressed_page_is_cut_after_decompression(peer: Peer, sessions: SessionFactory) -> None:
    bomb = gzip.compress(b"<p>" + b" " * (8 * MAX_DOCUMENT_BYTES))
    serve(peer, "/bomb", bomb, **{"Content-Encoding": "gzip"})
    response = await fetch_html(sessions(), peer.url("/bomb"))
    assert len(response.body) == MAX_DOCUMENT_BYTES


@pytest.mark.parametrize("target", ["http://10.0.0.1/", "http://127.0.0.2:{port}/", "/private"])
async def test_a_redirect_to_a_forbidden_address_is_refused(
    target: str, peer: Peer, sessions: SessionFactory, connected: list[str]
) -> None:
    serve(peer, "/inside", b"<p>secret</p>")
    peer.redirect("/r", target.format(port=peer.port))
    peer.redirect("/private", f"http://intranet.example:{peer.port}/inside")
    with pytest.raises(BlockedAddress):
        await fetch_html(sessions(resolver=FakeDNS({"intranet.example": ["10.0.0.1"]})), peer.url("/r"))
    assert set(connected) == {"127.0.0.1"} and "/inside" not in peer.hits


async def test_redirects_are_followed_to_the_final_page(peer: Peer, sessions: SessionFactory) -> None:
    serve(peer, "/home", b"<p>home</p>")
    peer.redirect("/", "/home")
    response = await fetch_html(sessions(), peer.url("/"))
    assert response.url == peer.url("/home") and response.body == b"<p>home</p>"
