"""GET /media/{path}: uploaded files, served from Settings.media_path on our own origin.

Uploads share the origin with the client API and the login pages, so a file must never be able to
act as a page there (stored XSS). Layers, each enough on its own for the usual attacks:
- only names core/media.py writes are served: plain segments, no dot-files (temporary writes), one of
  our image extensions — and the type comes from that extension, never from the bytes or a guess;
- the resolved file must lie inside the media directory (no `..`, no symlink escape);
- `X-Content-Type-Options: nosniff` stops browsers from sniffing HTML in an "image";
- `Content-Security-Policy: sandbox` with no script or plugin sources neuters the file even if a
  browser renders it as a document.
Files are immutable (a new upload gets a new name), hence a year of caching and ETag revalidation.
"""

from __future__ import annotations

import asyncio
import os
import re
from email.utils import parsedate_to_datetime
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.services import services

CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}
MAX_PATH_LENGTH = 255
# What core/media.py writes ("17/1734…_small.jpg", "accounts/5/avatar-9f….png"); also keeps the name
# safe to quote in Content-Disposition.
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Firefox styles its standalone image view inline; nothing else may load or run.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "Cache-Control": "public, max-age=31536000, immutable",
    # Web clients on other origins (Elk, Phanpy) read media into canvases; Mastodon allows it too.
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


def resolve_media_file(root: Path, relative: str) -> tuple[Path, str] | None:
    """The file and its content type for a URL path under /media/, or None if we would not serve it."""
    if len(relative) > MAX_PATH_LENGTH:
        return None
    segments = relative.split("/")
    if not all(_SEGMENT_RE.fullmatch(segment) for segment in segments):  # "", ".", "..", dot-files, "%2e", "\\"
        return None
    extension = segments[-1].rpartition(".")[2].lower()
    content_type = CONTENT_TYPES.get(extension)
    if content_type is None:
        return None
    try:
        base = root.resolve(strict=True)
        path = (base / relative).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, unreadable, or a symlink loop
        return None
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path, content_type


async def serve_media(request: Request) -> Response:
    relative: str = request.path_params["path"]
    # Starlette's route regex ends in `$`, which also matches before a final newline: "/media/a.png\n"
    # arrives as "a.png". Serve only when the parameter really is the whole rest of the path.
    if not request.scope["path"].endswith("/media/" + relative):
        raise HTTPException(404, "Not Found")
    found = await asyncio.to_thread(_find, services(request).settings.media_path, relative)
    if found is None:
        raise HTTPException(404, "Not Found")
    path, content_type, stat = found
    response = FileResponse(
        path,
        media_type=content_type,
        stat_result=stat,
        headers={**SECURITY_HEADERS, "Content-Disposition": f'inline; filename="{path.name}"'},
    )
    if _not_modified(request, response):
        headers = {key: value for key, value in response.headers.items() if key in _KEPT_ON_304}
        return Response(status_code=304, headers=headers)
    return response


def _find(root: Path, relative: str) -> tuple[Path, str, os.stat_result] | None:
    found = resolve_media_file(root, relative)
    if found is None:
        return None
    try:
        return found[0], found[1], os.stat(found[0])
    except OSError:  # removed since we resolved it
        return None


# RFC 9110 §15.4.5: a 304 repeats the validators and caching headers of the 200 it stands for.
_KEPT_ON_304 = ("etag", "last-modified", "cache-control", "content-location", "vary", "expires")


def _not_modified(request: Request, response: Response) -> bool:
    etag = response.headers.get("etag", "")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or etag in tags
    # If-Modified-Since is only consulted without If-None-Match (RFC 9110 §13.1.3).
    since = request.headers.get("if-modified-since")
    if not since:
        return False
    try:
        return parsedate_to_datetime(response.headers["last-modified"]) <= parsedate_to_datetime(since)
    except (KeyError, TypeError, ValueError):  # an unparseable date means "send the file"
        return False


routes: list[BaseRoute] = [Route("/media/{path:path}", serve_media, methods=["GET", "HEAD"])]
