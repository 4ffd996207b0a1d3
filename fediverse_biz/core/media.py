"""Media attachments and profile pictures: validate, process, store on disk, record.

    row = await store_upload(pool, settings, urls, actor_id, upload.file, upload.filename, description="…")
    row = await update_media(pool, actor_id, media_id, description="…", focus="0.5,-0.2")
    url = await store_avatar(settings, urls, actor_id, data)      # for update_credentials

Processing (decode, EXIF strip and orientation, resize, preview, blurhash) is core/_images.py and runs
in a thread. Files go to `<media_path>/<first two digits of id>/<id>.<ext>` and `<id>_small.jpg`,
each written to a dot-file and renamed, so a reader never sees half a file and /media never serves a
temporary one. Errors are MediaError: 422 for an upload we refuse, 503 "storage is full, try again
later" when the disk (or quota) is full — the client may retry, nothing half-written is left.
"""

from __future__ import annotations

import asyncio
import errno
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import asyncpg

from fediverse_biz.config import Settings
from fediverse_biz.core import _images
from fediverse_biz.core._images import (
    GIF_PIXEL_BUDGET,
    IMAGE_MATRIX_LIMIT,
    IMAGE_SIZE_LIMIT,
    MAX_ORIGINAL_PIXELS,
    PREVIEW_MAX_SIDE,
    SUPPORTED_MIME_TYPES,
    MediaError,
)
from fediverse_biz.core.errors import not_found
from fediverse_biz.urls import LocalUrls

__all__ = [
    "AVATAR_SIZE",
    "DESCRIPTION_LIMIT",
    "GIF_PIXEL_BUDGET",
    "HEADER_SIZE",
    "IMAGE_MATRIX_LIMIT",
    "IMAGE_SIZE_LIMIT",
    "MAX_ORIGINAL_PIXELS",
    "PREVIEW_MAX_SIDE",
    "SUPPORTED_MIME_TYPES",
    "MediaError",
    "StoredPreview",
    "get_media",
    "parse_focus",
    "remove_files",
    "remove_unattached",
    "store_avatar",
    "store_header",
    "store_preview",
    "store_upload",
    "update_media",
]

DESCRIPTION_LIMIT = 1500  # Mastodon's description_limit
AVATAR_SIZE = (400, 400)  # Mastodon crops avatars to 400x400 and headers to 1500x500
HEADER_SIZE = (1500, 500)
UNATTACHED_HORIZON = timedelta(days=1)  # an upload never posted is removed after this
STORAGE_FULL = "storage is full, try again later"
ALREADY_ATTACHED = "Validation failed: the media is attached to a status; edit the status instead"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def check_description(description: str) -> str:
    if len(description) > DESCRIPTION_LIMIT:
        raise MediaError(f"Validation failed: Description is too long (maximum is {DESCRIPTION_LIMIT} characters)")
    if "\x00" in description:
        raise MediaError("Validation failed: Description contains a NUL character")
    return description


def parse_focus(focus: str | None) -> dict[str, float] | None:
    """Mastodon's focal point "x,y", each in [-1, 1] (x right, y up); None or "" for none."""
    if focus is None or not focus.strip():
        return None
    parts = focus.split(",")
    try:
        x, y = (float(part) for part in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        x = y = math.nan
    if not (-1.0 <= x <= 1.0 and -1.0 <= y <= 1.0):  # also false for NaN
        raise MediaError("Validation failed: focus must be two numbers between -1 and 1, like 0.5,-0.25")
    return {"x": x, "y": y}


async def store_upload(
    pool: asyncpg.Pool,
    settings: Settings,
    urls: LocalUrls,
    actor_id: int,
    data: bytes | IO[bytes],
    filename: str | None = None,
    *,
    description: str = "",
    focus: str | None = None,
) -> asyncpg.Record:
    """Process an uploaded image and record it, unattached, for `actor_id`. The type is read from the
    bytes; `filename` and the client's content type are never trusted (they are not even looked at)."""
    description = check_description(description)
    focus_point = parse_focus(focus)
    raw = await asyncio.to_thread(_read_limited, data)
    image = await asyncio.to_thread(_images.process_attachment, raw)
    media_id: int = await pool.fetchval("SELECT next_id()")
    # The low 16 bits of an id are a sequence, so its last digits spread files over 100 directories
    # (the leading digits are a timestamp and would put years of uploads in one directory).
    stem = f"{str(media_id)[-2:]}/{media_id}"
    file_path, preview_path = f"{stem}.{image.original.extension}", f"{stem}_small.jpg"
    files = {file_path: image.original.data, preview_path: image.preview.data}
    root = settings.media_path
    await asyncio.to_thread(_write_files, root, files)
    meta: dict[str, Any] = {"original": image.original.dimensions(), "small": image.preview.dimensions()}
    if focus_point is not None:
        meta["focus"] = focus_point
    try:
        row: asyncpg.Record = await pool.fetchrow(
            """INSERT INTO media_attachments (id, actor_id, media_type, content_type, file_path, preview_path,
                                              description, blurhash, meta, file_size)
               VALUES ($1, $2, 'image', $3, $4, $5, $6, $7, $8, $9) RETURNING *""",
            media_id,
            actor_id,
            image.original.content_type,
            file_path,
            preview_path,
            description,
            image.blurhash,
            meta,
            len(image.original.data),
        )
    except BaseException:  # nothing half-written survives: no row means no files
        _remove_files(root, list(files))
        raise
    return row


async def get_media(pool: asyncpg.Pool, actor_id: int, media_id: int) -> asyncpg.Record:
    """One of the actor's own uploads; anyone else's is "not found", not "forbidden"."""
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT * FROM media_attachments WHERE id = $1 AND actor_id = $2", media_id, actor_id
    )
    if row is None:
        raise not_found()
    return row


async def update_media(
    pool: asyncpg.Pool, actor_id: int, media_id: int, *, description: str | None = None, focus: str | None = None
) -> asyncpg.Record:
    """Change description and focus until the media is posted. Mastodon answers 404 for attached media;
    we say why (422) — once posted, changes go through a status edit so followers see the edit."""
    row = await get_media(pool, actor_id, media_id)
    if row["status_id"] is not None:
        raise MediaError(ALREADY_ATTACHED)
    new_description = row["description"] if description is None else check_description(description)
    meta = dict(row["meta"] or {})
    focus_point = parse_focus(focus)
    if focus_point is not None:
        meta["focus"] = focus_point
    updated: asyncpg.Record | None = await pool.fetchrow(
        """UPDATE media_attachments SET description = $3, meta = $4
            WHERE id = $1 AND actor_id = $2 AND status_id IS NULL RETURNING *""",
        media_id,
        actor_id,
        new_description,
        meta,
    )
    if updated is None:  # attached (or deleted) between our read and this write
        raise MediaError(ALREADY_ATTACHED)
    return updated


async def store_avatar(settings: Settings, urls: LocalUrls, actor_id: int, data: bytes | IO[bytes]) -> str:
    """Crop to AVATAR_SIZE, store, and return the absolute URL to put in actors.avatar_url."""
    return await _store_profile_image(settings, urls, actor_id, data, "avatar", AVATAR_SIZE)


async def store_header(settings: Settings, urls: LocalUrls, actor_id: int, data: bytes | IO[bytes]) -> str:
    """Crop to HEADER_SIZE, store, and return the absolute URL to put in actors.header_url."""
    return await _store_profile_image(settings, urls, actor_id, data, "header", HEADER_SIZE)


async def remove_unattached(
    pool: asyncpg.Pool, settings: Settings, *, older_than: timedelta = UNATTACHED_HORIZON
) -> int:
    """The clean-up horizon for uploads never posted and media of deleted statuses: rows first, then
    files, so a failure can orphan a file but never leave a row pointing at nothing. Returns the count."""
    rows = await pool.fetch(
        """DELETE FROM media_attachments m
            WHERE m.status_id IS NULL AND m.remote_url IS NULL AND m.created_at < now() - $1::interval
              -- dropped by an edit but still shown in that status's edit history
              AND NOT EXISTS (SELECT 1 FROM status_edits e WHERE m.id = ANY(e.media_ids))
        RETURNING m.file_path, m.preview_path""",
        older_than,
    )
    paths = [path for row in rows for path in (row["file_path"], row["preview_path"]) if path]
    await asyncio.to_thread(_remove_files, settings.media_path, paths)
    return len(rows)


async def _store_profile_image(
    settings: Settings, urls: LocalUrls, actor_id: int, data: bytes | IO[bytes], kind: str, box: tuple[int, int]
) -> str:
    raw = await asyncio.to_thread(_read_limited, data)
    rendition = await asyncio.to_thread(_images.process_profile_image, raw, box)
    # A new name per upload: /media responses are cached as immutable, so a file never changes.
    path = f"accounts/{actor_id}/{kind}-{secrets.token_hex(8)}.{rendition.extension}"
    await asyncio.to_thread(_write_files, settings.media_path, {path: rendition.data})
    return urls.media(path)


@dataclass(frozen=True)
class StoredPreview:
    path: str  # under the media directory
    width: int
    height: int
    blurhash: str


async def store_preview(settings: Settings, data: bytes, directory: str) -> StoredPreview:
    """A picture from elsewhere that we show small (a link card's image): validated and re-encoded as an
    upload is (core/_images.py: only JPEG, PNG, GIF and WebP, EXIF gone), kept only as its preview JPEG of
    at most PREVIEW_MAX_SIDE, as Mastodon keeps card images at 640 px. MediaError for what we refuse.

    A new random name each time: /media responses are cached as immutable, so a refreshed picture
    must not reuse the old name."""
    if len(data) > IMAGE_SIZE_LIMIT:
        raise MediaError(_images.TOO_LARGE)
    image = await asyncio.to_thread(_images.process_attachment, data)
    name = secrets.token_hex(8)
    path = f"{directory}/{name[:2]}/{name}.jpg"
    await asyncio.to_thread(_write_files, settings.media_path, {path: image.preview.data})
    return StoredPreview(path, image.preview.width, image.preview.height, image.blurhash)


async def remove_files(settings: Settings, paths: list[str]) -> None:
    """Remove files written by this module, best effort (a left-over file is harmless)."""
    await asyncio.to_thread(_remove_files, settings.media_path, paths)


def _read_limited(data: bytes | IO[bytes]) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if data.seekable():
        data.seek(0)  # an UploadFile may be left at its end by the form parser
    raw = data.read(IMAGE_SIZE_LIMIT + 1)  # one byte more than allowed is enough to refuse it
    if len(raw) > IMAGE_SIZE_LIMIT:
        raise MediaError(_images.TOO_LARGE)
    return raw


def _write_files(root: Path, files: Mapping[str, bytes]) -> None:
    """Write every file or none: on any failure the ones already written are removed again."""
    written: list[str] = []
    try:
        for relative, content in files.items():
            _write_file(root / relative, content)
            written.append(relative)
    except OSError as exc:
        _remove_files(root, written)
        if exc.errno in _DISK_FULL:
            raise MediaError(STORAGE_FULL, 503) from exc
        raise


def _write_file(path: Path, content: bytes) -> None:
    """Temp file + fsync + rename: readers see the whole file or none, even after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _remove_files(root: Path, relatives: list[str]) -> None:
    for relative in relatives:
        try:
            (root / relative).unlink(missing_ok=True)
        except OSError:
            pass  # best effort: a left-over file is harmless, a crash here would hide the real error
