"""Link preview cards end to end in one process (core/cards.py): a status posted through the client API,
a website on 127.0.0.1 serving the linked page, its oEmbed document and its picture, the real
`fetch_card` job through the SSRF-safe client, and the card read back through the API.

The hostile sites (a redirect to a private address, 50 MB, no answer, not HTML, broken markup, script
in the title) each leave the status without a card, unaffected, and served with 200."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from starlette.applications import Starlette

from fediverse_biz.core import cards
from fediverse_biz.db.database import Database
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.images import png
from tests.support.social import Member, checked, member
from tests.support.websites import Website, resolve_to_loopback


@pytest.fixture(autouse=True)
def shop_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    resolve_to_loopback(monkeypatch, "shop.example")  # autouse: before the app makes its client session


@pytest.fixture
async def site() -> AsyncIterator[Website]:
    server = await Website(name="shop.example").start()
    yield server
    await server.stop()


@pytest.fixture
async def alice(db: Database, urls: LocalUrls) -> Member:
    return await member(db, urls, "alice")


async def run_card_jobs(app: Starlette) -> None:
    state = services(app)
    await Worker(state.pool, state.http, state.settings, cards.handlers()).run_until_idle(timeout=30)


async def post(client: httpx.AsyncClient, who: Member, text: str, visibility: str = "public") -> dict[str, Any]:
    status: dict[str, Any] = await checked(
        client.post("/api/v1/statuses", data={"status": text, "visibility": visibility}, headers=who.headers),
        "status",
    )
    return status


def opengraph(title: str, *, image: str | None = None, extra: str = "") -> str:
    image_tag = f'<meta property="og:image" content="{image}">' if image else ""
    return (
        f'<!doctype html><html><head><title>fallback</title><meta property="og:title" content="{title}">'
        f'<meta property="og:description" content="Forged in Europe."><meta property="og:site_name" content="ACME">'
        f"{image_tag}{extra}</head><body><p>Anvils.</p></body></html>"
    )


async def card_of(client: httpx.AsyncClient, status_id: str, headers: dict[str, str] | None = None) -> Any:
    status = await checked(client.get(f"/api/v1/statuses/{status_id}", headers=headers or {}), "status")
    return status["card"]


# ---- what a card is made of ---------------------------------------------------------------------------
async def test_an_opengraph_page_gives_a_link_card_with_its_picture(
    app: Starlette, client: httpx.AsyncClient, db: Database, alice: Member, site: Website
) -> None:
    picture = site.file("/anvil.png", png((1280, 800)), "image/png")
    page = site.page("/news", opengraph("New anvils", image="/anvil.png"))
    status = await post(client, alice, f"Our news: {page} #anvils")
    # posting does not wait for the site: the job is queued, nothing fetched yet, no card yet
    assert status["card"] is None and site.hits == []
    assert await db.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'fetch_card'") == 1
    await run_card_jobs(app)
    card = await card_of(client, status["id"])
    assert card["type"] == "link"
    assert (card["url"], card["title"], card["description"]) == (page, "New anvils", "Forged in Europe.")
    assert (card["provider_name"], card["provider_url"]) == ("ACME", site.url("/"))
    assert card["html"] == "" and card["blurhash"]
    # our own copy, resized like media previews (at most 640 px), served from /media
    assert card["image"].startswith("http://127.0.0.1/media/cards/") and (card["width"], card["height"]) == (640, 400)
    served = await client.get(card["image"].removeprefix("http://127.0.0.1"))
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert site.hits == ["/news", "/anvil.png"] and picture
    assert await checked(client.get(f"/api/v1/statuses/{status['id']}/card"), "card") == card


async def test_oembed_discovered_from_the_page_gives_a_video_card(
    app: Starlette, client: httpx.AsyncClient, alice: Member, site: Website
) -> None:
    site.file("/thumb.png", png((480, 360)), "image/png")
    endpoint = site.file(
        "/oembed",
        (
            '{"version": "1.0", "type": "video", "title": "Anvil demo", "provider_name": "YouTube", '
            '"provider_url": "https://www.youtube.com/", "author_name": "ACME", '
            '"author_url": "https://www.youtube.com/@acme", "width": 560, "height": 315, '
            f'"thumbnail_url": "{site.url("/thumb.png")}", '
            '"html": "<iframe width=\\"560\\" height=\\"315\\" src=\\"https://www.youtube-nocookie.com/embed/abc\\" '
            'onload=\\"alert(1)\\"></iframe><script>alert(2)</script>"}'
        ).encode(),
        "application/json",
    )
    page = site.page(
        "/video",
        f'<link rel="alternate" type="application/json+oembed" href="{endpoint}"><title>Anvil demo - YouTube</title>',
    )
    status = await post(client, alice, f"Watch {page}")
    await run_card_jobs(app)
    card = await card_of(client, status["id"])
    assert (card["type"], card["title"], card["provider_name"], card["author_name"]) == (
        "video", "Anvil demo", "YouTube", "ACME",
    )
    assert card["html"] == (
        '<iframe src="https://www.youtube-nocookie.com/embed/abc" width="560" height="315" frameborder="0" '
        'allowfullscreen="true"></iframe>'
    )
    assert (card["width"], card["height"]) == (560, 315)
    assert card["image"] is not None and card["authors"] == [
        {"name": "ACME", "url": "https://www.youtube.com/@acme", "account": None}
    ]


async def test_an_iframe_from_another_host_is_dropped(
    app: Starlette, client: httpx.AsyncClient, alice: Member, site: Website
) -> None:
    endpoint = site.file(
        "/oembed.json",
        b'{"version": "1.0", "type": "rich", "title": "Slides", '
        b'"html": "<iframe src=\\"https://tracker.example/embed\\"></iframe>"}',
        "application/json+oembed",
    )
    page = site.page("/slides", f'<link rel="alternate" type="application/json+oembed" href="{endpoint}">')
    status = await post(client, alice, f"Slides: {page}")
    await run_card_jobs(app)
    card = await card_of(client, status["id"])
    assert (card["type"], card["title"], card["html"]) == ("link", "Slides", "")


async def test_one_card_per_url_shared_and_refreshed_after_two_weeks(
    app: Starlette, client: httpx.AsyncClient, db: Database, alice: Member, site: Website
) -> None:
    page = site.page("/shared", opengraph("First title"))
    first = await post(client, alice, f"one {page}")
    second = await post(client, alice, f"two {page}")
    await run_card_jobs(app)
    assert site.hits == ["/shared"]  # fetched once for both
    assert (await card_of(client, first["id"]))["title"] == (await card_of(client, second["id"]))["title"]
    assert await db.pool.fetchval("SELECT count(*) FROM preview_cards") == 1
    # a fresh card is reused without a fetch; a card older than two weeks is fetched again
    site.page("/shared", opengraph("Second title"))
    await post(client, alice, f"three {page}")
    await run_card_jobs(app)
    assert site.hits == ["/shared"]
    await db.pool.execute("UPDATE preview_cards SET fetched_at = now() - interval '15 days'")
    third = await post(client, alice, f"four {page}")
    await run_card_jobs(app)
    assert site.hits == ["/shared", "/shared"]
    assert (await card_of(client, third["id"]))["title"] == "Second title"
    assert (await card_of(client, first["id"]))["title"] == "Second title"  # one card, shared


async def test_an_edit_that_removes_the_link_removes_the_card(
    app: Starlette, client: httpx.AsyncClient, alice: Member, site: Website
) -> None:
    page = site.page("/a", opengraph("A"))
    status = await post(client, alice, f"see {page}")
    await run_card_jobs(app)
    assert (await card_of(client, status["id"]))["title"] == "A"
    edited = await client.put(f"/api/v1/statuses/{status['id']}", data={"status": "no link now"}, headers=alice.headers)
    assert edited.status_code == 200
    await run_card_jobs(app)
    assert await card_of(client, status["id"]) is None
    assert (await client.get(f"/api/v1/statuses/{status['id']}/card")).json() == {}


async def test_the_card_of_a_private_status_is_only_shown_to_those_who_see_it(
    app: Starlette, client: httpx.AsyncClient, db: Database, urls: LocalUrls, alice: Member, site: Website
) -> None:
    page = site.page("/private", opengraph("Internal"))
    status = await post(client, alice, f"followers only {page}", visibility="private")
    await run_card_jobs(app)
    assert (await card_of(client, status["id"], alice.headers))["title"] == "Internal"
    stranger = await member(db, urls, "mallory")
    for headers in ({}, stranger.headers):
        for path in (f"/api/v1/statuses/{status['id']}/card", f"/api/v1/statuses/{status['id']}"):
            response = await client.get(path, headers=headers)
            assert response.status_code == 404 and response.json() == {"error": "Record not found"}
    own = await client.get(f"/api/v1/statuses/{status['id']}/card", headers=alice.headers)
    assert own.json()["title"] == "Internal"


async def test_card_endpoint_errors(client: httpx.AsyncClient, alice: Member) -> None:
    assert (await client.get("/api/v1/statuses/12345/card")).status_code == 404
    assert (await client.get("/api/v1/statuses/x/card")).json() == {"error": "Record not found"}
    revoked = await client.get("/api/v1/statuses/1/card", headers={"Authorization": "Bearer nonsense"})
    assert revoked.status_code == 401 and "error" in revoked.json()


# ---- hostile sites: no card, no 5xx, the status as it was -----------------------------------------------
async def _no_card(app: Starlette, client: httpx.AsyncClient, db: Database, alice: Member, link: str) -> None:
    status = await post(client, alice, f"look {link}")
    started = time.monotonic()
    await run_card_jobs(app)
    assert time.monotonic() - started < 15
    after = await checked(client.get(f"/api/v1/statuses/{status['id']}", headers=alice.headers), "status")
    assert after["card"] is None
    assert {k: v for k, v in after.items() if k != "card"} == {k: v for k, v in status.items() if k != "card"}
    assert (await client.get(f"/api/v1/statuses/{status['id']}/card")).json() == {}
    assert await db.pool.fetchval("SELECT count(*) FROM preview_cards") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0  # not retried


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]/"])
async def test_a_redirect_to_a_private_address_is_refused(
    app: Starlette, client: httpx.AsyncClient, db: Database, alice: Member, site: Website, target: str
) -> None:
    # The test settings allow 127.0.0.0/8 (the site itself); every other private range stays forbidden.
    await _no_card(app, client, db, alice, site.redirect("/go", target))
    assert site.hits == ["/go"]


async def test_a_50_mb_page_is_cut_off(
    app: Starlette, client: httpx.AsyncClient, db: Database, alice: Member, site: Website
) -> None:
    sent = 0

    async def huge(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "text/html"})  # chunked: no length announced
        await response.prepare(request)
        chunk = b"<title>huge</title>" + b"x" * (64 * 1024)
        try:
            while sent < 50 * 1024 * 1024:
                await response.write(chunk)
                sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the reader hung up: what we want
        return response

    await _no_card(app, client, db, alice, site.handle("/huge", huge))
    assert sent < 10 * 1024 * 1024  # reading stopped after the first megabyte


async def test_a_page_that_never_answers_times_out(
    app: Starlette, client: httpx.AsyncClient, db: Database, alice: Member, site: Website,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cards, "FETCH_DEADLINE", 1.0)
    release = asyncio.Event()

    async def silent(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(text="too late")

    try:
        await _no_card(app, client, db, alice, site.handle("/silent", silent))
    finally:
        release.set()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/pdf", opengraph("A PDF").encode()),
        ("text/plain", opengraph("Plain").encode()),
        ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"><title>x</title></svg>'),
    ],
)
async def test_content_other_than_html_gets_no_card(
    app: Starlette, client: httpx.AsyncClient, db: Database, alice: Member, site: Website, content_type: str,
    body: bytes,
) -> None:
    await _no_card(app, client, db, alice, site.file("/doc", body, content_type))


@pytest.mark.parametrize(
    "html",
    ["<<<>>>", "<html><head><meta property=og:title", "\x00\xff\xfe garbage <title></title>", "<p>no title at all</p>"],
)
async def test_malformed_or_empty_pages_get_no_card(
    app: Starlette, client: httpx.AsyncClient, db: Database, alice: Member, site: Website, html: str
) -> None:
    await _no_card(app, client, db, alice, site.page("/broken", html))


async def test_errors_and_broken_oembed_get_no_card(
    app: Starlette, client: httpx.AsyncClient, db: Database, alice: Member, site: Website
) -> None:
    site.page("/gone", opengraph("Gone"), status=410)
    await _no_card(app, client, db, alice, site.url("/gone"))
    endpoint = site.file("/bad-oembed", b'{"type": "video", "html": ', "application/json")
    discovery = f'<link rel="alternate" type="application/json+oembed" href="{endpoint}">'
    await _no_card(app, client, db, alice, site.page("/embeds", discovery))


async def test_script_in_the_title_is_sanitised(
    app: Starlette, client: httpx.AsyncClient, alice: Member, site: Website
) -> None:
    page = site.page(
        "/xss",
        '<meta property="og:title" content="&lt;script&gt;alert(1)&lt;/script&gt;Anvils <b>sale</b>">'
        '<meta property="og:description" content="<img src=x onerror=alert(1)>Cheap">',
    )
    status = await post(client, alice, f"look {page}")
    await run_card_jobs(app)
    card = await card_of(client, status["id"])
    assert (card["title"], card["description"]) == ("Anvils sale", "Cheap")


async def test_a_picture_that_is_not_an_image_or_on_a_private_address_leaves_the_card_without_one(
    app: Starlette, client: httpx.AsyncClient, alice: Member, site: Website
) -> None:
    site.file("/fake.png", b"<html>not an image</html>", "image/png")
    fake = site.page("/fake", opengraph("Fake picture", image="/fake.png"))
    private = site.page("/private-picture", opengraph("Private picture", image="http://169.254.169.254/x.png"))
    first, second = await post(client, alice, f"a {fake}"), await post(client, alice, f"b {private}")
    await run_card_jobs(app)
    for status, title in ((first, "Fake picture"), (second, "Private picture")):
        card = await card_of(client, status["id"])
        assert (card["title"], card["image"], card["blurhash"]) == (title, None, None)
