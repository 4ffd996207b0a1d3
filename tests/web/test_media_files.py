"""GET /media/{path}: only our files, with headers that keep an upload from ever acting as a page."""

from __future__ import annotations

import asyncio
import http.client
import os
from pathlib import Path

import pytest

from fediverse_biz.config import Settings
from fediverse_biz.web.media_files import resolve_media_file
from tests.support import images
from tests.support.servers import LiveServer

TRAVERSALS = [
    "/media/../secret.png",
    "/media/../../etc/passwd",
    "/media/%2e%2e/secret.png",
    "/media/%2E%2E%2Fsecret.png",
    "/media/..%2Fsecret.png",
    "/media/..%2f..%2fetc%2fpasswd",
    "/media/%252e%252e%252fsecret.png",
    "/media/..%5Csecret.png",
    "/media/..\\secret.png",
    "/media//etc/passwd",
    "/media/%2Fetc%2Fpasswd",
    "/media/12/../../secret.png",
    "/media/12/%00.png",
    "/media/link.png",  # a symlink pointing out of the media directory
    "/media/page.html",  # not one of our image types
    "/media/12/.123.png.abcd.tmp",  # an upload still being written
    "/media/12/123.png%0a",
]


def populate(settings: Settings) -> bytes:
    """A stored image, a secret next to the media directory, and traps inside it."""
    media = settings.media_path
    (media / "12").mkdir(parents=True)
    data = images.png()
    (media / "12" / "123.png").write_bytes(data)
    (media / "12" / ".123.png.abcd.tmp").write_bytes(data)
    (media / "page.html").write_text("<script>alert(1)</script>")
    (media.parent / "secret.png").write_bytes(b"secret")
    os.symlink(media.parent / "secret.png", media / "link.png")
    return data


async def test_a_stored_file_is_served_with_safe_headers(client, settings) -> None:
    data = populate(settings)
    response = await client.get("/media/12/123.png")
    assert response.status_code == 200 and response.content == data
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert response.headers["content-disposition"] == 'inline; filename="123.png"'
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["access-control-allow-origin"] == "*"
    # HEAD answers the same headers without a body; a known ETag is revalidated with 304
    head = await client.head("/media/12/123.png")
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == response.headers["etag"]
    cached = await client.get("/media/12/123.png", headers={"If-None-Match": response.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b"" and "immutable" in cached.headers["cache-control"]
    since = await client.get("/media/12/123.png", headers={"If-Modified-Since": response.headers["last-modified"]})
    assert since.status_code == 304


async def test_missing_files_are_404(client, settings) -> None:
    populate(settings)
    for path in ("/media/12/999.png", "/media/12", "/media/", "/media/13/123.png"):
        assert (await client.get(path)).status_code == 404, path


@pytest.mark.parametrize("path", TRAVERSALS)
def test_resolution_refuses_anything_but_our_files(tmp_path: Path, path: str) -> None:
    from urllib.parse import unquote

    media = tmp_path / "media"
    (media / "12").mkdir(parents=True)
    (media / "12" / "123.png").write_bytes(b"png")
    (media / "12" / ".123.png.abcd.tmp").write_bytes(b"png")
    (media / "page.html").write_text("<script>")
    (tmp_path / "secret.png").write_bytes(b"secret")
    os.symlink(tmp_path / "secret.png", media / "link.png")
    # the ASGI server hands us the percent-decoded path
    assert resolve_media_file(media, unquote(path.removeprefix("/media/"))) is None
    assert resolve_media_file(media, "12/123.png") == ((media / "12" / "123.png").resolve(), "image/png")


async def test_traversal_over_real_http_is_404(live_server: LiveServer) -> None:
    # http.client sends the path exactly as written: no client-side dot-segment clean-up
    populate(live_server.settings)

    def fetch(path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
        try:
            connection.putrequest("GET", path, skip_accept_encoding=True)
            connection.endheaders()
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    assert (await asyncio.to_thread(fetch, "/media/12/123.png"))[0] == 200
    for path in TRAVERSALS:
        status, body = await asyncio.to_thread(fetch, path)
        assert status in (400, 404), (path, status)
        assert b"secret" not in body and b"root:" not in body and b"<script>" not in body
