"""core/media.py and core/_images.py: validation, privacy stripping, renditions, storage, ownership."""

from __future__ import annotations

import errno
import io
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import blurhash
import pytest
from PIL import Image

from fediverse_biz.config import Settings
from fediverse_biz.core import _images, media, statuses
from fediverse_biz.core.errors import DomainError
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import images
from tests.support.factories import local_actor


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def stored(settings: Settings, relative: str) -> Image.Image:
    return Image.open(settings.media_path / relative)


@pytest.fixture
async def alice(db: Database, urls: LocalUrls) -> Any:
    return await local_actor(db.pool, urls, "alice")


@pytest.fixture
async def bob(db: Database, urls: LocalUrls) -> Any:
    return await local_actor(db.pool, urls, "bob")


async def upload(db: Database, settings: Settings, urls: LocalUrls, actor: Any, data: bytes, **kw: Any) -> Any:
    return await media.store_upload(db.pool, settings, urls, actor["id"], data, "upload.bin", **kw)


# ---- accepted images -------------------------------------------------------------------------------
async def test_png_is_stored_with_preview_meta_and_blurhash(db, settings, urls, alice) -> None:
    # given a PNG with a text chunk, when it is uploaded
    row = await upload(db, settings, urls, alice, images.png((120, 80)), description="Our booth")
    # then the row describes an image, with files where the paths say
    assert row["media_type"] == "image" and row["content_type"] == "image/png"
    assert row["actor_id"] == alice["id"] and row["status_id"] is None
    assert row["description"] == "Our booth"
    prefix = str(row["id"])[-2:]
    assert row["file_path"] == f"{prefix}/{row['id']}.png"
    assert row["preview_path"] == f"{prefix}/{row['id']}_small.jpg"
    assert row["file_size"] == (settings.media_path / row["file_path"]).stat().st_size
    assert row["meta"]["original"] == {"width": 120, "height": 80, "size": "120x80", "aspect": 1.5}
    assert row["meta"]["small"]["width"] == 120 and "focus" not in row["meta"]
    with stored(settings, row["file_path"]) as original:
        assert original.format == "PNG" and "Comment" not in original.info  # metadata dropped
    with stored(settings, row["preview_path"]) as preview:
        assert preview.format == "JPEG" and preview.size == (120, 80)
    # and the blurhash is one clients can decode
    assert blurhash.is_valid_blurhash(row["blurhash"]) and len(row["blurhash"]) == 28  # 4x3 components


async def test_jpeg_loses_exif_and_gps_and_is_turned_upright(db, settings, urls, alice) -> None:
    # given a landscape JPEG with GPS coordinates and orientation 6 (display rotated 90° clockwise)
    data = images.jpeg_with_gps((60, 40), orientation=6)
    with Image.open(io.BytesIO(data)) as source:
        assert source.getexif().get_ifd(images.GPS_IFD)  # the test image really carries GPS
    # when it is uploaded
    row = await upload(db, settings, urls, alice, data)
    # then the stored file is portrait, red on top (the left edge turned up), with no EXIF at all
    assert row["content_type"] == "image/jpeg" and row["file_path"].endswith(".jpg")
    with stored(settings, row["file_path"]) as original:
        assert original.size == (40, 60)
        assert not original.getexif() and "exif" not in original.info
        red, _, blue = original.convert("RGB").getpixel((20, 5))  # type: ignore[misc]
        assert red > 200 and blue < 60
        _, _, blue = original.convert("RGB").getpixel((20, 55))  # type: ignore[misc]
        assert blue > 200
    assert b"Exif" not in (settings.media_path / row["file_path"]).read_bytes()
    assert row["meta"]["original"]["size"] == "40x60"


async def test_animated_gif_is_kept_as_uploaded_with_a_still_preview(db, settings, urls, alice) -> None:
    data = images.animated_gif((40, 30), frames=3)
    row = await upload(db, settings, urls, alice, data)
    assert row["content_type"] == "image/gif" and row["media_type"] == "image"
    assert (settings.media_path / row["file_path"]).read_bytes() == data
    with stored(settings, row["preview_path"]) as preview:
        assert preview.format == "JPEG" and not getattr(preview, "is_animated", False)


async def test_webp_stays_webp(db, settings, urls, alice) -> None:
    row = await upload(db, settings, urls, alice, images.webp((200, 100)))
    assert row["content_type"] == "image/webp" and row["file_path"].endswith(".webp")
    with stored(settings, row["file_path"]) as original:
        assert original.format == "WEBP" and original.size == (200, 100)


async def test_large_originals_are_scaled_down_and_previews_to_640(db, settings, urls, alice) -> None:
    # given a 12-megapixel photo (over Mastodon's 8.3 MP for originals)
    row = await upload(db, settings, urls, alice, images.png((4000, 3000)))
    width, height = row["meta"]["original"]["width"], row["meta"]["original"]["height"]
    assert width * height <= media.MAX_ORIGINAL_PIXELS and abs(width / height - 4 / 3) < 0.01
    assert max(row["meta"]["small"]["width"], row["meta"]["small"]["height"]) == media.PREVIEW_MAX_SIDE
    with stored(settings, row["preview_path"]) as preview:
        assert max(preview.size) <= 640


async def test_focus_and_description_are_stored_and_updated(db, settings, urls, alice) -> None:
    row = await upload(db, settings, urls, alice, images.png(), description="first", focus="0.5,-0.25")
    assert row["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    updated = await media.update_media(db.pool, alice["id"], row["id"], description="second", focus="-1,1")
    assert updated["description"] == "second" and updated["meta"]["focus"] == {"x": -1.0, "y": 1.0}
    assert updated["meta"]["original"] == row["meta"]["original"]  # the rest of meta is kept
    unchanged = await media.update_media(db.pool, alice["id"], row["id"])
    assert unchanged["description"] == "second"


# ---- refused uploads -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "can't be blank"),
        (images.HTML_AS_PNG, "unsupported file type"),
        (images.SVG, "unsupported file type"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "unsupported file type"),  # a PNG signature and nothing else
        (images.png_bomb(10_000, 10_000), "larger than 33177600 pixels"),
        (images.MP4, "unsupported file type"),  # video and audio: not supported yet (docs/media.md)
    ],
    ids=["empty", "html-named-png", "svg", "png-signature-only", "decompression-bomb", "video"],
)
async def test_refused_uploads_leave_nothing(db, settings, urls, alice, data, message) -> None:
    with pytest.raises(media.MediaError) as caught:
        await upload(db, settings, urls, alice, data)
    assert caught.value.status == 422 and message in str(caught.value)
    assert await db.pool.fetchval("SELECT count(*) FROM media_attachments") == 0
    assert files_under(settings.media_path) == []


def test_matrix_limit_is_ours_even_where_pillow_only_warns() -> None:
    # 6000x6000 is over our limit but under twice Pillow's: Pillow merely warns (production does not
    # turn warnings into errors), so our own check must refuse it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(media.MediaError, match="larger than"):
            _images.process_attachment(images.png_bomb(6000, 6000))


async def test_a_file_over_the_size_limit_is_refused_before_decoding(db, settings, urls, alice) -> None:
    oversized = io.BytesIO(images.png() + b"\x00" * media.IMAGE_SIZE_LIMIT)
    with pytest.raises(media.MediaError, match="less than 16 MB") as caught:
        await media.store_upload(db.pool, settings, urls, alice["id"], oversized, "big.png")
    assert caught.value.status == 422


async def test_animations_with_too_many_frames_are_refused(db, settings, urls, alice, monkeypatch) -> None:
    monkeypatch.setattr(_images, "GIF_PIXEL_BUDGET", 40 * 30 * 4)  # four frames of 40x30
    await upload(db, settings, urls, alice, images.animated_gif((40, 30), frames=4))
    with pytest.raises(media.MediaError, match="too many frames"):
        await upload(db, settings, urls, alice, images.animated_gif((40, 30), frames=5))


async def test_description_is_limited_to_1500_characters(db, settings, urls, alice) -> None:
    await upload(db, settings, urls, alice, images.png(), description="x" * 1500)
    with pytest.raises(media.MediaError, match="too long") as caught:
        await upload(db, settings, urls, alice, images.png(), description="x" * 1501)
    assert caught.value.status == 422


@pytest.mark.parametrize("focus", ["1.5,0", "0,-1.01", "0.5", "a,b", "nan,0", "inf,0", "0,0,0", ","])
async def test_bad_focus_is_refused(db, settings, urls, alice, focus) -> None:
    with pytest.raises(media.MediaError, match="focus") as caught:
        await upload(db, settings, urls, alice, images.png(), focus=focus)
    assert caught.value.status == 422
    assert files_under(settings.media_path) == []  # validated before anything is written


# ---- ownership -------------------------------------------------------------------------------------
async def test_only_the_uploader_sees_or_changes_media(db, settings, urls, alice, bob) -> None:
    row = await upload(db, settings, urls, alice, images.png())
    assert (await media.get_media(db.pool, alice["id"], row["id"]))["id"] == row["id"]
    for attempt in (
        media.get_media(db.pool, bob["id"], row["id"]),
        media.update_media(db.pool, bob["id"], row["id"], description="mine now"),
        media.get_media(db.pool, alice["id"], row["id"] + 1),
    ):
        with pytest.raises(DomainError) as caught:
            await attempt
        assert caught.value.status == 404
    assert (await media.get_media(db.pool, alice["id"], row["id"]))["description"] == ""


async def test_attached_media_is_edited_through_its_status(db, settings, urls, alice) -> None:
    row = await upload(db, settings, urls, alice, images.png())
    await statuses.create(db.pool, urls, "127.0.0.1", alice, statuses.Draft(text="look", media_ids=[row["id"]]))
    with pytest.raises(media.MediaError, match="attached") as caught:
        await media.update_media(db.pool, alice["id"], row["id"], description="late")
    assert caught.value.status == 422


# ---- storage failures and clean-up -----------------------------------------------------------------
async def test_disk_full_gives_a_clear_error_and_leaves_nothing(db, settings, urls, alice, monkeypatch) -> None:
    # given a disk that fills up once the original is written, while the preview is being flushed
    # (the disk is the environment, not our code: simulated at the system call)
    real_fsync = media.os.fsync
    calls: list[int] = []

    def fsync_then_fill_up(fd: int) -> None:
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(media.os, "fsync", fsync_then_fill_up)
    # when an image is uploaded
    with pytest.raises(media.MediaError) as caught:
        await upload(db, settings, urls, alice, images.png())
    # then the error says so, with a retryable status, and no row, file or temporary file is left
    assert caught.value.status == 503 and str(caught.value) == "storage is full, try again later"
    assert len(calls) == 2
    assert await db.pool.fetchval("SELECT count(*) FROM media_attachments") == 0
    assert files_under(settings.media_path) == []


async def test_atomic_write_leaves_no_temporary_file_when_rename_fails(tmp_path, monkeypatch) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(media.os, "replace", full)
    with pytest.raises(media.MediaError, match="storage is full"):
        media._write_files(tmp_path, {"12/1.png": b"data"})
    assert files_under(tmp_path) == []


async def test_unattached_uploads_are_removed_after_the_horizon(db, settings, urls, alice) -> None:
    kept = await upload(db, settings, urls, alice, images.png())
    await statuses.create(db.pool, urls, "127.0.0.1", alice, statuses.Draft(text="x", media_ids=[kept["id"]]))
    stale = await upload(db, settings, urls, alice, images.png())
    fresh = await upload(db, settings, urls, alice, images.png())
    await db.pool.execute(
        "UPDATE media_attachments SET created_at = now() - interval '2 days' WHERE id = ANY($1::bigint[])",
        [kept["id"], stale["id"]],
    )
    assert await media.remove_unattached(db.pool, settings, older_than=timedelta(days=1)) == 1
    remaining = {r["id"] for r in await db.pool.fetch("SELECT id FROM media_attachments")}
    assert remaining == {kept["id"], fresh["id"]}
    assert not (settings.media_path / stale["file_path"]).exists()
    assert not (settings.media_path / stale["preview_path"]).exists()
    assert (settings.media_path / kept["file_path"]).exists()


async def test_media_dropped_by_an_edit_stays_for_the_edit_history(db, settings, urls, alice) -> None:
    # given a status whose picture was replaced by an edit, long ago
    first = await upload(db, settings, urls, alice, images.png())
    second = await upload(db, settings, urls, alice, images.png())
    status_id = await statuses.create(
        db.pool, urls, "127.0.0.1", alice, statuses.Draft(text="v1", media_ids=[first["id"]])
    )
    await statuses.edit(
        db.pool, urls, "127.0.0.1", alice, status_id, statuses.Draft(text="v2", media_ids=[second["id"]])
    )
    await db.pool.execute("UPDATE media_attachments SET created_at = now() - interval '2 days'")
    # when the clean-up runs, then the old picture is kept: the history still shows it
    assert await media.remove_unattached(db.pool, settings) == 0
    assert (settings.media_path / first["file_path"]).exists()


# ---- profile pictures ------------------------------------------------------------------------------
async def test_avatar_and_header_are_cropped_and_served_from_media(settings, urls) -> None:
    avatar = await media.store_avatar(settings, urls, 7, images.jpeg_with_gps((900, 300)))
    header = await media.store_header(settings, urls, 7, images.png((600, 600), (0, 0, 0, 0), mode="RGBA"))
    assert avatar.startswith(urls.media("accounts/7/avatar-")) and avatar.endswith(".jpg")
    assert header.startswith(urls.media("accounts/7/header-")) and header.endswith(".png")  # alpha kept
    with Image.open(settings.media_path / avatar.removeprefix(urls.media(""))) as image:
        assert image.size == media.AVATAR_SIZE and not image.getexif()
    with Image.open(settings.media_path / header.removeprefix(urls.media(""))) as image:
        assert image.size == media.HEADER_SIZE and image.mode == "RGBA"


async def test_avatar_refuses_what_uploads_refuse(settings, urls) -> None:
    with pytest.raises(media.MediaError, match="unsupported"):
        await media.store_avatar(settings, urls, 7, images.HTML_AS_PNG)
    assert files_under(settings.media_path) == []
