"""POST /api/v2/media, /api/v1/media, GET and PUT /api/v1/media/:id: in process, and with Mastodon.py."""

from __future__ import annotations

import asyncio
import errno
from dataclasses import replace
from typing import Any

import httpx
import pytest
from mastodon import MastodonAPIError, MastodonNotFoundError

from fediverse_biz.app import create_app
from fediverse_biz.core import accounts, media
from fediverse_biz.db.database import Database
from tests.support import images
from tests.support.accounts import PASSWORD, api_headers, create_user_sync
from tests.support.mastodon_client import password_login
from tests.support.mastodon_schemas import assert_matches
from tests.support.servers import LiveServer


@pytest.fixture
async def alice(db: Database, urls: Any) -> accounts.NewUser:
    return await accounts.create_user(db.pool, urls, "alice", "alice@example.com", PASSWORD)


@pytest.fixture
async def headers(db: Database, alice: accounts.NewUser) -> dict[str, str]:
    return await api_headers(db.pool, alice)


async def post_file(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    *,
    name: str = "photo.png",
    content_type: str = "image/png",
    path: str = "/api/v2/media",
    **fields: str,
) -> httpx.Response:
    return await client.post(path, headers=headers, files={"file": (name, data, content_type)}, data=fields)


async def test_upload_returns_a_processed_attachment(client, headers) -> None:
    # when a client uploads a PNG with a description and a focal point
    response = await post_file(client, headers, images.png((120, 80)), description="Stand B12", focus="0.1,-0.2")
    # then it gets a finished MediaAttachment straight away (url set: nothing to poll)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches("media_attachment", body)
    assert body["type"] == "image" and body["description"] == "Stand B12"
    assert body["url"].startswith("http://127.0.0.1/media/") and body["url"].endswith(".png")
    assert body["preview_url"].endswith("_small.jpg") and body["remote_url"] is None
    assert body["meta"]["original"]["size"] == "120x80" and body["meta"]["focus"] == {"x": 0.1, "y": -0.2}
    # and both files are served from our origin
    for url in (body["url"], body["preview_url"]):
        served = await client.get(url)
        assert served.status_code == 200 and served.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(body["url"])).headers["content-type"] == "image/png"


async def test_v1_alias_and_client_content_type_is_ignored(client, headers) -> None:
    # a JPEG sent as "image/png" named .gif is still a JPEG
    response = await post_file(client, headers, images.jpeg_with_gps(), name="x.gif", path="/api/v1/media")
    assert response.status_code == 200, response.text
    assert response.json()["url"].endswith(".jpg")


@pytest.mark.parametrize(
    ("data", "name", "content_type", "message"),
    [
        (images.HTML_AS_PNG, "x.png", "image/png", "unsupported file type"),
        (images.SVG, "logo.svg", "image/svg+xml", "unsupported file type"),
        (b"", "empty.png", "image/png", "File can't be blank"),
        (images.png_bomb(), "bomb.png", "image/png", "pixels"),
    ],
    ids=["html-as-png", "svg", "empty", "bomb"],
)
async def test_refused_files_are_422(client, headers, data, name, content_type, message) -> None:
    response = await post_file(client, headers, data, name=name, content_type=content_type)
    assert response.status_code == 422 and message in response.json()["error"]
    assert_matches("error", response.json())


async def test_missing_file_is_422(client, headers) -> None:
    response = await client.post("/api/v2/media", headers=headers, data={"description": "no file"})
    assert response.status_code == 422
    assert response.json() == {"error": "Validation failed: File can't be blank"}


async def test_bad_description_and_focus_are_422(client, headers) -> None:
    too_long = await post_file(client, headers, images.png(), description="d" * 1501)
    bad_focus = await post_file(client, headers, images.png(), focus="2,0")
    assert too_long.status_code == 422 and "too long" in too_long.json()["error"]
    assert bad_focus.status_code == 422 and "focus" in bad_focus.json()["error"]


async def test_scope_and_token_are_required(client, db, alice) -> None:
    read_only = await api_headers(db.pool, alice, "read")
    assert (await post_file(client, {}, images.png())).status_code == 401
    assert (await post_file(client, read_only, images.png())).status_code == 403
    assert (await client.get("/api/v1/media/1", headers=read_only)).status_code == 403
    write_media = await api_headers(db.pool, alice, "write:media")
    assert (await post_file(client, write_media, images.png())).status_code == 200


async def test_show_and_update_own_media(client, headers) -> None:
    created = (await post_file(client, headers, images.png())).json()
    shown = await client.get(f"/api/v1/media/{created['id']}", headers=headers)
    assert shown.status_code == 200 and shown.json() == created
    # form-encoded (Mastodon.py, Tusky) and JSON (toot, Elk) updates both work
    form = await client.put(f"/api/v1/media/{created['id']}", headers=headers, data={"description": "Hall 3"})
    assert form.status_code == 200 and form.json()["description"] == "Hall 3"
    as_json = await client.put(f"/api/v1/media/{created['id']}", headers=headers, json={"focus": "-0.5,0.5"})
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["description"] == "Hall 3" and as_json.json()["meta"]["focus"] == {"x": -0.5, "y": 0.5}
    assert_matches("media_attachment", as_json.json())


async def test_someone_elses_media_is_not_found(client, db, urls, headers) -> None:
    created = (await post_file(client, headers, images.png())).json()
    bob = await accounts.create_user(db.pool, urls, "bob", "bob@example.com", PASSWORD)
    bob_headers = await api_headers(db.pool, bob)
    assert (await client.get(f"/api/v1/media/{created['id']}", headers=bob_headers)).status_code == 404
    put = await client.put(f"/api/v1/media/{created['id']}", headers=bob_headers, data={"description": "x"})
    assert put.status_code == 404 and put.json() == {"error": "Record not found"}
    for bad_id in ("abc", "99999999999999999999", "-1", "\uff11\uff12"):  # fullwidth: isdigit(), not an id
        assert (await client.get(f"/api/v1/media/{bad_id}", headers=headers)).status_code == 404


async def test_disk_full_is_a_retryable_503(client, headers, monkeypatch) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(media, "_write_file", full)
    response = await post_file(client, headers, images.png())
    assert response.status_code == 503 and response.headers["retry-after"] == "60"
    assert response.json() == {"error": "storage is full, try again later"}


async def test_body_over_the_request_cap_is_413(settings, db, alice) -> None:
    small = replace(settings, max_request_bytes=4096)
    app = create_app(small, db)
    headers = await api_headers(db.pool, alice)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=small.base_url) as client:
            response = await post_file(client, headers, images.png((400, 400)) + b"\x00" * 8192)
    assert response.status_code == 413 and "error" in response.json()


async def test_instance_advertises_the_limits_we_enforce(client) -> None:
    limits = (await client.get("/api/v2/instance")).json()["configuration"]["media_attachments"]
    assert limits["image_size_limit"] == media.IMAGE_SIZE_LIMIT
    assert limits["image_matrix_limit"] == media.IMAGE_MATRIX_LIMIT
    assert limits["description_limit"] == media.DESCRIPTION_LIMIT
    assert sorted(limits["supported_mime_types"]) == sorted(media.SUPPORTED_MIME_TYPES)
    assert limits["video_size_limit"] == 0  # no video yet: clients (Tusky) then do not offer it


# ---- the real client --------------------------------------------------------------------------------
async def test_mastodon_py_uploads_updates_and_fetches(live_server: LiveServer) -> None:
    await asyncio.to_thread(create_user_sync, live_server, "carol")
    await asyncio.to_thread(create_user_sync, live_server, "dave")

    def scenario() -> None:
        api = password_login(live_server.base_url, "carol", PASSWORD)
        posted = api.media_post(
            images.jpeg_with_gps(), mime_type="image/jpeg", description="Booth photo", focus=(0.25, -0.5)
        )
        assert posted.url and posted.description == "Booth photo"  # no polling needed
        assert posted.meta.original.width == 40 and posted.meta.original.height == 60  # turned upright
        updated = api.media_update(posted, description="Our booth", focus=(0.0, 1.0))
        assert updated.description == "Our booth" and updated.meta.focus.y == 1.0
        assert api.media(posted).description == "Our booth"
        served = httpx.get(posted.url)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert b"Exif" not in served.content
        with pytest.raises(MastodonAPIError):
            api.media_post(images.HTML_AS_PNG, mime_type="image/png")
        other = password_login(live_server.base_url, "dave", PASSWORD)
        with pytest.raises(MastodonNotFoundError):
            other.media(posted)

    await asyncio.to_thread(scenario)
