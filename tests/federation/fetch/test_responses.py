"""What the SSRF-safe client accepts back: content types, ids, JSON bodies, size caps, timeouts."""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest
from aiohttp import web

from fediverse_biz.net import fetch
from fediverse_biz.net.fetch import (
    AP_ACCEPT,
    MAX_DOCUMENT_BYTES,
    ContentTypeError,
    FetchError,
    IdMismatch,
    TooLarge,
    fetch_ap_object,
    fetch_json,
)
from tests.support.fetch_peer import AP_TYPE, Peer, SessionFactory


@pytest.mark.parametrize(
    "content_type",
    [
        "application/activity+json",
        "application/activity+json; charset=utf-8",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        "application/ld+json",
        "Application/Activity+JSON",
    ],
)
async def test_activitypub_content_types_are_accepted(content_type: str, peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = json.dumps({"id": peer.url("/note")}).encode()
        return web.Response(body=body, headers={"Content-Type": content_type})

    peer.routes["/note"] = handler
    assert await fetch_ap_object(sessions(), peer.url("/note")) == {"id": peer.url("/note")}
    assert peer.headers["/note"]["Accept"] == AP_ACCEPT


@pytest.mark.parametrize("content_type", ["application/json", "text/html", "image/png", "application/jrd+json"])
async def test_other_content_types_are_rejected(content_type: str, peer: Peer, sessions: SessionFactory) -> None:
    peer.serve_json("/upload.json", {"id": peer.url("/upload.json")}, content_type=content_type)
    with pytest.raises(ContentTypeError):
        await fetch_ap_object(sessions(), peer.url("/upload.json"))


@pytest.mark.parametrize(
    "claimed_id",
    [
        None,
        "http://elsewhere.example/note",
        "{url}/",
        "{url}?x=1",
        "{url}#frag",
        "HTTP://127.0.0.1:{port}/note",
    ],
)
async def test_id_must_be_exactly_the_url_served_from(
    claimed_id: str | None, peer: Peer, sessions: SessionFactory
) -> None:
    url = peer.url("/note")
    document = {"type": "Note"} if claimed_id is None else {"id": claimed_id.format(url=url, port=peer.port)}
    peer.serve_json("/note", document)
    with pytest.raises(IdMismatch):
        await fetch_ap_object(sessions(), url)


async def test_fragment_is_not_part_of_the_fetched_url(peer: Peer, sessions: SessionFactory) -> None:
    # Fetching a key id `…/actor#main-key` gets the actor document, whose id has no fragment.
    document = peer.serve_object("/actor")
    assert await fetch_ap_object(sessions(), peer.url("/actor") + "#main-key") == document
    assert peer.hits == ["/actor"]


@pytest.mark.parametrize(
    "body", [b"<html>not json</html>", b"[1, 2]", b'"id"', b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000]
)
async def test_body_must_be_a_json_object(body: bytes, peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type=AP_TYPE)

    peer.routes["/note"] = handler
    with pytest.raises(FetchError) as raised:
        await fetch_ap_object(sessions(), peer.url("/note"))
    assert type(raised.value) is FetchError
    assert raised.value.status == 200


@pytest.mark.parametrize("status", [410, 404, 401, 500])
async def test_error_status_is_reported(status: int, peer: Peer, sessions: SessionFactory) -> None:
    peer.serve_json("/gone", {"id": peer.url("/gone"), "type": "Tombstone"}, status=status)
    with pytest.raises(FetchError) as raised:
        await fetch_ap_object(sessions(), peer.url("/gone"))
    assert raised.value.status == status


async def test_body_of_exactly_the_cap_is_accepted(peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"x" * MAX_DOCUMENT_BYTES)

    peer.routes["/big"] = handler
    response = await fetch.request(sessions(), "GET", peer.url("/big"))
    assert len(response.body) == MAX_DOCUMENT_BYTES


async def test_announced_oversized_body_is_refused(peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"x" * (MAX_DOCUMENT_BYTES + 1), content_type=AP_TYPE)

    peer.routes["/big"] = handler
    with pytest.raises(TooLarge, match="announces"):
        await fetch_ap_object(sessions(), peer.url("/big"))


async def test_chunked_body_is_cut_off_at_the_cap(peer: Peer, sessions: SessionFactory) -> None:
    sent = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": AP_TYPE})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(256):  # 16 MB, no Content-Length: more than socket buffers hold
                await response.write(b" " * 65536)
                sent += 65536
            await response.write_eof()
        except ConnectionError:
            pass  # the client hung up, as it should
        return response

    peer.routes["/stream"] = handler
    with pytest.raises(TooLarge, match="exceeds"):  # counted while streaming, nothing was announced
        await fetch_ap_object(sessions(), peer.url("/stream"))
    assert sent < 256 * 65536  # the client hung up early


async def test_cap_applies_to_decompressed_bytes(peer: Peer, sessions: SessionFactory) -> None:
    bomb = gzip.compress(b" " * (4 * MAX_DOCUMENT_BYTES))

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=bomb, headers={"Content-Type": AP_TYPE, "Content-Encoding": "gzip"})

    peer.routes["/bomb"] = handler
    assert len(bomb) < MAX_DOCUMENT_BYTES
    with pytest.raises(TooLarge, match="exceeds"):
        await fetch_ap_object(sessions(), peer.url("/bomb"))


async def test_smaller_cap_can_be_asked_for(peer: Peer, sessions: SessionFactory) -> None:
    peer.serve_object("/note")
    with pytest.raises(TooLarge):
        await fetch.request(sessions(), "GET", peer.url("/note"), max_bytes=10)


async def test_server_that_never_answers_times_out(peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        await peer.release.wait()
        return web.Response()

    peer.routes["/slow"] = handler
    with pytest.raises(FetchError) as raised:
        await fetch.request(sessions(total_timeout=0.3), "GET", peer.url("/slow"))
    assert raised.value.status is None


async def test_server_that_stalls_mid_body_times_out(peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": AP_TYPE})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"id": ')
        await peer.release.wait()
        return response

    peer.routes["/stall"] = handler
    with pytest.raises(FetchError):
        await fetch_ap_object(sessions(total_timeout=0.3), peer.url("/stall"))


async def test_timeout_covers_the_whole_redirect_chain(peer: Peer, sessions: SessionFactory) -> None:
    async def slow_redirect(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.15)
        return web.Response(status=302, headers={"Location": "/r"})

    peer.routes["/r"] = slow_redirect
    # each hop stays under the per-request limit; three of them do not
    with pytest.raises(FetchError, match="timed out"):
        await fetch.request(sessions(total_timeout=0.4), "GET", peer.url("/r"))


async def test_fetch_json_accepts_webfinger_and_nodeinfo_types(peer: Peer, sessions: SessionFactory) -> None:
    jrd = {"subject": "acct:acme@peer.example", "links": []}
    peer.serve_json("/.well-known/webfinger", jrd, content_type="application/jrd+json")
    peer.serve_json("/nodeinfo", {"version": "2.1"}, content_type="application/json")
    peer.serve_json("/html", {"a": 1}, content_type="text/html")
    session = sessions()
    assert await fetch_json(session, peer.url("/.well-known/webfinger")) == jrd
    assert await fetch_json(session, peer.url("/nodeinfo")) == {"version": "2.1"}
    with pytest.raises(ContentTypeError):
        await fetch_json(session, peer.url("/html"))
    assert await fetch_json(session, peer.url("/html"), content_types=None) == {"a": 1}
    assert peer.headers["/nodeinfo"]["Accept"] == "application/json"
