"""A link preview card end to end on a real server: a status posted through the client API with a link to
an OpenGraph page on 127.0.0.1, the server's own background workers fetch it, and within seconds the card
is in GET /api/v1/statuses/:id, arrives as a `status.update` on the author's stream, and shows on the
booth page; Mastodon.py reads it as a PreviewCard."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from fediverse_biz.core import accounts
from fediverse_biz.db.pool import create_pool
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.images import png
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer
from tests.support.streaming import DEADLINE, eventually, login, sse
from tests.support.websites import Website, resolve_to_loopback


async def test_a_posted_link_gets_its_card_in_the_api_the_stream_and_the_booth(
    live_server_factory: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    resolve_to_loopback(monkeypatch, "shop.example")
    live = await asyncio.to_thread(live_server_factory)  # with its background workers
    site = await Website(name="shop.example").start()
    pool = await create_pool(live.dsn, min_size=1, max_size=2)
    try:
        await accounts.create_user(pool, LocalUrls(live.base_url), "alice", "alice@example.com", PASSWORD)
        site.file("/anvil.png", png((600, 300)), "image/png")
        link = site.page(
            "/news",
            '<meta property="og:title" content="New anvils"><meta property="og:description" content="Forged.">'
            '<meta property="og:image" content="/anvil.png">',
        )
        async with httpx.AsyncClient(base_url=live.base_url, timeout=DEADLINE) as http:
            token = await login(http, "alice", PASSWORD, "read write")
            async with sse(http, "user", token.access_token) as stream:
                started = time.monotonic()
                posted = await http.post("/api/v1/statuses", data={"status": f"News: {link}"}, headers=token.headers)
                assert posted.status_code == 200, posted.text
                status = posted.json()
                assert status["card"] is None  # the post does not wait for the site
                updated = await stream.wait_for(
                    "status.update", lambda s: s["id"] == status["id"] and s["card"] is not None, "the card"
                )
                assert time.monotonic() - started < DEADLINE
            assert updated["card"]["title"] == "New anvils" and updated["card"]["url"] == link
            shown = (await http.get(f"/api/v1/statuses/{status['id']}")).json()
            assert shown["card"] == updated["card"] and shown["card"]["image"].startswith(f"{live.base_url}/media/")
            booth = await http.get("/@alice", headers={"Accept": "text/html"})
            assert 'class="preview-card"' in booth.text and "New anvils" in booth.text and "Forged." in booth.text
            # Mastodon.py reads the card as Mastodon's PreviewCard entity
            api = await asyncio.to_thread(password_login, live.base_url, "alice", PASSWORD)
            card = await asyncio.to_thread(api.status_card, status["id"])
            assert (card.title, card.type, card.url, card.image) == ("New anvils", "link", link, shown["card"]["image"])
            picture = await http.get(shown["card"]["image"])
            assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
            await eventually(lambda: site.hits == ["/news", "/anvil.png"], "one fetch of the page and picture")
    finally:
        await pool.close()
        await site.stop()
