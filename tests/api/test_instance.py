"""The instance documents, preferences and the per-server lists, plus the stubs clients call at start."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from mastodon import Mastodon

from fediverse_biz.api.stubs import STUBS
from fediverse_biz.app import create_app
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD, api_headers, create_user_sync
from tests.support.factories import local_actor, post, remote_actor
from tests.support.mastodon_client import login_mastodon
from tests.support.mastodon_schemas import assert_matches
from tests.support.servers import LiveServer


@pytest.mark.parametrize("path", ["/api/v1/instance", "/api/v1/instance/"])
async def test_v1_document(client: httpx.AsyncClient, settings: Settings, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    doc = response.json()
    assert_matches("instance_v1", doc)
    assert doc["uri"] == settings.domain
    assert doc["version"] == "4.3.0 (compatible; fediverse_biz 0.1.0)"
    assert doc["urls"]["streaming_api"] == f"ws://{settings.domain}"
    assert doc["thumbnail"] == f"{settings.base_url}/static/thumbnail.png"
    assert doc["configuration"]["statuses"] == {
        "max_characters": 5000, "max_media_attachments": 4, "characters_reserved_per_url": 23,
    }  # fmt: skip
    media = doc["configuration"]["media_attachments"]
    assert media["supported_mime_types"] == ["image/jpeg", "image/png", "image/gif", "image/webp"]
    assert media["image_size_limit"] == 16 * 1024 * 1024 and media["image_matrix_limit"] == 33_177_600


@pytest.mark.parametrize("path", ["/api/v2/instance", "/api/v2/instance/"])
async def test_v2_document(client: httpx.AsyncClient, settings: Settings, path: str) -> None:
    doc = (await client.get(path)).json()
    assert_matches("instance_v2", doc)
    assert doc["domain"] == settings.domain
    assert doc["api_versions"] == {"mastodon": 2}
    assert doc["configuration"]["urls"]["streaming"] == f"ws://{settings.domain}"
    assert doc["configuration"]["accounts"]["max_pinned_statuses"] == 5
    assert doc["configuration"]["translation"] == {"enabled": False}
    assert doc["contact"] == {"email": "", "account": None}
    assert doc["registrations"]["enabled"] is True and doc["registrations"]["approval_required"] is False


async def test_thumbnail_url_points_at_a_served_image(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/api/v2/instance")).json()
    image = await client.get(doc["thumbnail"]["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"


@pytest.fixture
def app_for(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    """A client for an app with other settings: `async with app_for(scheme=...) as client`."""
    import contextlib

    @contextlib.asynccontextmanager
    async def make(**overrides: object) -> AsyncIterator[httpx.AsyncClient]:
        application = create_app(replace(settings, **overrides), db)  # type: ignore[arg-type]
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as c:
                yield c

    return make


@pytest.mark.parametrize(
    ("mode", "enabled", "approval"), [("open", True, False), ("approval", True, True), ("closed", False, False)]
)
async def test_registration_modes(app_for, mode: str, enabled: bool, approval: bool) -> None:  # type: ignore[no-untyped-def]
    async with app_for(registration_mode=mode) as client:
        v1 = (await client.get("/api/v1/instance")).json()
        v2 = (await client.get("/api/v2/instance")).json()
    assert (v1["registrations"], v1["approval_required"]) == (enabled, approval)
    assert (v2["registrations"]["enabled"], v2["registrations"]["approval_required"]) == (enabled, approval)


async def test_streaming_url_follows_the_scheme(app_for) -> None:  # type: ignore[no-untyped-def]
    async with app_for(scheme="https", domain="social.example") as client:
        v1 = (await client.get("/api/v1/instance")).json()
        v2 = (await client.get("/api/v2/instance")).json()
    assert v1["urls"]["streaming_api"] == "wss://social.example"
    assert v2["configuration"]["urls"]["streaming"] == "wss://social.example"
    assert v1["thumbnail"] == "https://social.example/static/thumbnail.png"


async def test_stats_count_local_accounts_statuses_and_known_domains(
    app_for,
    db: Database,
    urls: LocalUrls,  # type: ignore[no-untyped-def]
) -> None:
    # given two local people, one organization, a remote actor on each of two domains, two local posts
    author = await local_actor(db.pool, urls, "alice")
    await local_actor(db.pool, urls, "bob")
    await accounts.create_organization(db.pool, urls, "acme", "alice")
    await remote_actor(db.pool, "carol", "one.example")
    await remote_actor(db.pool, "dave", "two.example")
    await remote_actor(db.pool, "erin", "two.example")
    await post(db.pool, urls, author, "first")
    await post(db.pool, urls, author, "second")
    async with app_for() as client:
        stats = (await client.get("/api/v1/instance")).json()["stats"]
        peers = (await client.get("/api/v1/instance/peers")).json()
    assert stats == {"user_count": 3, "status_count": 2, "domain_count": 2}
    assert peers == ["one.example", "two.example"]


async def test_suspended_domains_are_not_peers(client: httpx.AsyncClient, db: Database) -> None:
    await remote_actor(db.pool, "carol", "good.example")
    await remote_actor(db.pool, "mallory", "bad.example")
    await db.pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ('bad.example', 'suspend')")
    assert (await client.get("/api/v1/instance/peers")).json() == ["good.example"]


async def test_instance_texts_and_rules_come_from_instance_settings(app_for, db: Database) -> None:  # type: ignore[no-untyped-def]
    values = {
        "title": "Hall 7",
        "short_description": "Machine builders of the region",
        "contact_email": "team@hall7.example",
        "rules": ["Be kind", {"text": "No spam", "hint": "Offers go in #offers"}],
        "languages": ["de", "en"],
    }
    for key, value in values.items():  # the pool's jsonb codec encodes Python values
        await db.pool.execute("INSERT INTO instance_settings (key, value) VALUES ($1, $2)", key, value)
    async with app_for() as client:
        v1 = (await client.get("/api/v1/instance")).json()
        v2 = (await client.get("/api/v2/instance")).json()
        rules = (await client.get("/api/v1/instance/rules")).json()
    assert_matches("instance_v1", v1)
    assert_matches("instance_v2", v2)
    assert v1["title"] == v2["title"] == "Hall 7"
    assert v2["description"] == "Machine builders of the region" and v1["email"] == "team@hall7.example"
    assert v2["contact"]["email"] == "team@hall7.example" and v2["languages"] == ["de", "en"]
    assert rules == [
        {"id": "1", "text": "Be kind", "hint": ""},
        {"id": "2", "text": "No spam", "hint": "Offers go in #offers"},
    ]
    assert v1["rules"] == v2["rules"] == rules


async def test_activity_and_custom_emojis_are_empty_lists(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/instance/activity")).json() == []
    assert (await client.get("/api/v1/custom_emojis")).json() == []


# ---- preferences ---------------------------------------------------------------------------------
async def test_preferences_need_read_accounts(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    user = await accounts.create_user(db.pool, urls, "alice", "alice@example.com", PASSWORD)
    assert (await client.get("/api/v1/preferences")).status_code == 401
    write_only = await api_headers(db.pool, user, "write")
    assert (await client.get("/api/v1/preferences", headers=write_only)).status_code == 403
    response = await client.get("/api/v1/preferences", headers=await api_headers(db.pool, user, "read:accounts"))
    assert response.status_code == 200
    assert_matches("preferences", response.json())
    assert response.json()["posting:default:visibility"] == "public"


# ---- stubs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "scope"), STUBS)
async def test_stubs_answer_empty_lists_with_mastodons_auth(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, path: str, scope: str | None
) -> None:
    user = await accounts.create_user(db.pool, urls, "alice", "alice@example.com", PASSWORD)
    anonymous = await client.get(path)
    if scope is None:
        assert anonymous.status_code == 200 and anonymous.json() == []
        assert (await client.get(path, headers={"Authorization": "Bearer bad"})).status_code == 401
        return
    assert anonymous.status_code == 401
    assert (await client.get(path, headers=await api_headers(db.pool, user, "push"))).status_code == 403
    allowed = await client.get(path, headers=await api_headers(db.pool, user, "read"))
    assert allowed.status_code == 200 and allowed.json() == []


# ---- the real Mastodon.py --------------------------------------------------------------------------
def test_mastodon_py_reads_both_documents_without_warnings(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "version >= 4.3.0 but no API version found"
        api = login_mastodon(live_server.base_url, "alice", PASSWORD)
        v1 = api.instance_v1()
        v2 = api.instance_v2()
        assert api.instance()["domain"] == live_server.settings.domain  # picks v2 for >= 4.0.0
    assert v1["uri"] == live_server.settings.domain and v2["api_versions"]["mastodon"] == 2
    assert api.instance_rules() == [] and api.instance_peers() == [] and api.custom_emojis() == []
    assert api.preferences()["posting:default:visibility"] == "public"


def test_mastodon_py_streaming_base_is_this_host(live_server: LiveServer) -> None:
    # Mastodon.py turns urls.streaming_api into its streaming base; anything but ws(s)://host raises
    api = Mastodon(api_base_url=live_server.base_url)
    base = api._Mastodon__get_streaming_base()  # type: ignore[attr-defined]
    assert base == live_server.base_url
