"""Link preview cards on the booth, the permalink and the Atom feed (web/pages.py, web/feeds.py): title,
description and our copy of the picture, a link to the page; a video as its picture and a link, never
the provider's player (our pages load nothing from other servers)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.core import cards
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.html import by_class, parse, text_of
from tests.support.images import png
from tests.support.websites import Website, resolve_to_loopback

A = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(autouse=True)
def shop_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    resolve_to_loopback(monkeypatch, "shop.example")  # autouse: before the app makes its client session


@pytest.fixture
async def site() -> AsyncIterator[Website]:
    server = await Website(name="shop.example").start()
    yield server
    await server.stop()


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


async def run_card_jobs(app: Starlette) -> None:
    state = services(app)
    await Worker(state.pool, state.http, state.settings, cards.handlers()).run_until_idle(timeout=30)


async def html_page(client: httpx.AsyncClient, path: str) -> ET.Element:
    response = await client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text[:300]
    assert "<iframe" not in response.text
    return parse(response.text)


async def test_booth_permalink_and_feed_show_the_card(
    app: Starlette, client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, site: Website
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    site.file("/anvil.png", png((800, 400)), "image/png")
    link = site.page(
        "/news",
        '<meta property="og:title" content="New anvils &lt;script&gt;x&lt;/script&gt;">'
        '<meta property="og:description" content="Forged in Europe."><meta property="og:image" content="/anvil.png">',
    )
    status_id = await factories.post(pool, urls, alice, f"Our news {link}")
    await run_card_jobs(app)
    image_path = await pool.fetchval("SELECT image_path FROM preview_cards")
    for path in ("/@alice", f"/@alice/{status_id}"):
        page = await html_page(client, path)
        [card] = by_class(page, "preview-card")
        assert card.get("href") == link and "nofollow" in (card.get("rel") or "")
        assert "New anvils" in text_of(card) and "Forged in Europe." in text_of(card)
        assert "<script>" not in text_of(card)
        [image] = card.iter("img")
        assert image.get("src") == urls.media(image_path)  # our copy, never the site's
    feed = ET.fromstring((await client.get("/@alice.atom")).content)
    [entry] = feed.iter(f"{A}entry")
    related = [e for e in entry.iter(f"{A}link") if e.get("rel") == "related"]
    assert [(e.get("href"), e.get("title")) for e in related] == [(link, "New anvils")]


async def test_a_video_card_is_a_picture_and_a_link_not_a_player(
    app: Starlette, client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, site: Website
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    site.file("/thumb.png", png((320, 180)), "image/png")
    endpoint = site.file(
        "/oembed",
        (
            '{"type": "video", "version": "1.0", "title": "Demo", "provider_name": "Vimeo", '
            f'"thumbnail_url": "{site.url("/thumb.png")}", '
            '"html": "<iframe src=\\"https://player.vimeo.com/video/1\\" width=\\"640\\" height=\\"360\\"></iframe>"}'
        ).encode(),
        "application/json",
    )
    link = site.page("/watch", f'<link rel="alternate" type="application/json+oembed" href="{endpoint}">')
    status_id = await factories.post(pool, urls, alice, f"Watch {link}")
    await run_card_jobs(app)
    assert await pool.fetchval("SELECT card_type FROM preview_cards") == "video"  # the API has the player
    page = await html_page(client, f"/@alice/{status_id}")
    [card] = by_class(page, "preview-card")
    assert card.get("href") == link and "Demo" in text_of(card) and "Vimeo" in text_of(card)
    assert len(list(card.iter("img"))) == 1
