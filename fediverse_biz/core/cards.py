"""Link preview cards: which statuses get one, the `fetch_card` job that makes it, and where it is kept.

Posting never waits for a site: a status with an eligible link (core/card_links.py) gets a `fetch_card`
job in the transaction that publishes it (local posts in statuses.publish and edit, peers' posts in
remote_statuses), and a worker fetches the page later. As Mastodon's FetchLinkCardService
(https://github.com/mastodon/mastodon/blob/main/app/services/fetch_link_card_service.rb):

- one card per URL (`preview_cards`), shared by every status that links it (`status_preview_cards`),
  fetched again when older than REFRESH_AFTER (two weeks);
- the page through the SSRF-safe client (net/fetch.py: public addresses only, every redirect checked,
  at most MAX_PAGE_BYTES — a longer page gets no card, as Mastodon's `body_with_limit` —, 200 and
  text/html only); then the oEmbed document the page announces (core/card_embeds.py), else its
  OpenGraph and Twitter tags (core/card_pages.py); a page without a title and without a player gets
  no card;
- the image through the same client, at most MAX_IMAGE_BYTES, re-encoded and blurhashed like media
  (core/media.store_preview);
- a failure is not retried (Mastodon's LinkCrawlWorker has `retry: 0`): the status simply has no card.

The whole fetch (page, oEmbed, image) must end within FETCH_DEADLINE. When a card arrives for a status
already published, a `status.update` event tells streaming clients (core/events.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import aiohttp
import asyncpg

from fediverse_biz.config import Settings
from fediverse_biz.core import events, media
from fediverse_biz.core.card_embeds import OEMBED_CONTENT_TYPES, Embed, read_oembed
from fediverse_biz.core.card_links import first_link
from fediverse_biz.core.card_pages import PageSummary, decode, read_page
from fediverse_biz.core.hydrate import StatusBundle, load_status
from fediverse_biz.db.executor import Executor
from fediverse_biz.jobs import queue
from fediverse_biz.jobs.contract import Handler, PermanentError, WorkerContext
from fediverse_biz.jobs.queue import Job
from fediverse_biz.net.fetch import MAX_DOCUMENT_BYTES, FetchError, fetch_html, fetch_json, request
from fediverse_biz.urls import LocalUrls

log = logging.getLogger(__name__)

FETCH_CARD: Final = "fetch_card"
REFRESH_AFTER: Final = timedelta(weeks=2)  # Mastodon: `@card.updated_at <= 2.weeks.ago`
MAX_PAGE_BYTES: Final = MAX_DOCUMENT_BYTES  # Mastodon's body_with_limit: 1 MB
MAX_IMAGE_BYTES: Final = 2 * 1024 * 1024  # Mastodon's PreviewCard image limit
FETCH_DEADLINE: Final = 20.0  # seconds for the page, its oEmbed document and the image together
IMAGE_DIRECTORY: Final = "cards"


@dataclass(frozen=True)
class CardFacts:
    """A card as read from the site, before its image is stored."""

    card_type: str
    title: str
    description: str
    author_name: str
    author_url: str
    provider_name: str
    provider_url: str
    html: str
    width: int
    height: int
    embed_url: str
    image_url: str | None


def card_link(bundle: StatusBundle, urls: LocalUrls) -> str | None:
    """The link of a status that gets a card, or None (a boost has none of its own)."""
    status = bundle.status
    if status["reblog_of_id"] is not None:
        return None
    mentioned = {url for m in bundle.mentions for url in (m["url"], m["uri"]) if url}
    return first_link(status["content"] or "", mentioned, urls.base)


async def queue_card(conn: Executor, urls: LocalUrls, bundle: StatusBundle, *, fresh: bool = False) -> bool:
    """Inside the transaction that publishes or edits a status: queue its card when it links somewhere,
    or when it had a card (an edit that removed the link takes the card away; a `fresh` status has
    none, which spares the inbox a query). Returns whether a job was queued."""
    if card_link(bundle, urls) is None and (
        fresh or not await conn.fetchval("SELECT 1 FROM status_preview_cards WHERE status_id = $1", bundle.id)
    ):
        return False
    await queue.enqueue(conn, FETCH_CARD, {"status_id": bundle.id})
    return True


async def cards_of(conn: Executor, status_ids: list[int]) -> dict[int, asyncpg.Record]:
    """The preview_cards rows of these statuses, by status id (for pages and feeds; the client API reads
    them with its page facts, api/entities.py)."""
    if not status_ids:
        return {}
    rows = await conn.fetch(
        """SELECT sc.status_id, c.* FROM status_preview_cards sc JOIN preview_cards c ON c.id = sc.card_id
            WHERE sc.status_id = ANY($1::bigint[])""",
        status_ids,
    )
    return {r["status_id"]: r for r in rows}


# ---- reading a site ------------------------------------------------------------------------------
async def read_link(http: aiohttp.ClientSession, url: str) -> CardFacts | None:
    """What the linked page says for its card, or None when it cannot be fetched or says nothing."""
    try:
        response = await fetch_html(http, url, max_bytes=MAX_PAGE_BYTES, truncate=False)
    except FetchError as exc:
        log.info("no card for %s: %s", url, exc)
        return None
    page = read_page(decode(response.body, response.headers.get("Content-Type", "")), response.url)
    embed = await _oembed(http, page.oembed_url) if page.oembed_url else None
    if embed is not None and (embed.title or embed.html):
        return _from_embed(embed, page)
    if not page.title:
        return None
    return CardFacts(
        card_type="link",
        title=page.title,
        description=page.description,
        author_name=page.author_name,
        author_url=page.author_url,
        provider_name=page.site_name,
        provider_url=_origin(page.url),
        html="",
        width=0,
        height=0,
        embed_url="",
        image_url=page.image_url,
    )


async def _oembed(http: aiohttp.ClientSession, endpoint: str) -> Embed | None:
    try:
        document = await fetch_json(http, endpoint, content_types=OEMBED_CONTENT_TYPES)
    except FetchError as exc:
        log.info("oEmbed %s not read: %s", endpoint, exc)
        return None
    return read_oembed(document, endpoint)


def _from_embed(embed: Embed, page: PageSummary) -> CardFacts:
    # oEmbed has no description; the page's own is shown with it, as Mastodon's newer cards do.
    return CardFacts(
        card_type=embed.card_type,
        title=embed.title or page.title,
        description=page.description,
        author_name=embed.author_name or page.author_name,
        author_url=embed.author_url or page.author_url,
        provider_name=embed.provider_name or page.site_name,
        provider_url=embed.provider_url or _origin(page.url),
        html=embed.html,
        width=embed.width,
        height=embed.height,
        embed_url=embed.embed_url,
        image_url=embed.image_url or page.image_url,
    )


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/"


async def _store_image(
    http: aiohttp.ClientSession, settings: Settings, url: str | None
) -> media.StoredPreview | None:
    if url is None:
        return None
    try:
        response = await request(http, "GET", url, headers={"Accept": "image/*"}, max_bytes=MAX_IMAGE_BYTES)
        if response.status != 200:
            raise FetchError(f"{url} answered HTTP {response.status}")
        return await media.store_preview(settings, response.body, IMAGE_DIRECTORY)
    except (FetchError, media.MediaError) as exc:
        log.info("card image %s not kept: %s", url, exc)
        return None


# ---- storing --------------------------------------------------------------------------------------
async def _save_card(
    pool: asyncpg.Pool, settings: Settings, url: str, facts: CardFacts, image: media.StoredPreview | None
) -> int:
    """Insert or refresh the card of `url`; the image it had before is removed once replaced."""
    width, height = (image.width, image.height) if image and facts.card_type == "link" else (facts.width, facts.height)
    async with pool.acquire() as conn, conn.transaction():
        old_image = await conn.fetchval("SELECT image_path FROM preview_cards WHERE url = $1 FOR UPDATE", url)
        card_id: int = await conn.fetchval(
            """INSERT INTO preview_cards AS c (url, card_type, title, description, author_name, author_url,
                                               provider_name, provider_url, html, width, height, embed_url,
                                               image_path, image_width, image_height, blurhash, fetched_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, now())
               ON CONFLICT (url) DO UPDATE SET
                   card_type = EXCLUDED.card_type, title = EXCLUDED.title, description = EXCLUDED.description,
                   author_name = EXCLUDED.author_name, author_url = EXCLUDED.author_url,
                   provider_name = EXCLUDED.provider_name, provider_url = EXCLUDED.provider_url,
                   html = EXCLUDED.html, width = EXCLUDED.width, height = EXCLUDED.height,
                   embed_url = EXCLUDED.embed_url, image_path = EXCLUDED.image_path,
                   image_width = EXCLUDED.image_width, image_height = EXCLUDED.image_height,
                   blurhash = EXCLUDED.blurhash, fetched_at = now()
               RETURNING id""",
            url,
            facts.card_type,
            facts.title,
            facts.description,
            facts.author_name,
            facts.author_url,
            facts.provider_name,
            facts.provider_url,
            facts.html,
            width,
            height,
            facts.embed_url,
            image.path if image else None,
            image.width if image else None,
            image.height if image else None,
            image.blurhash if image else None,
        )
    if old_image and old_image != (image.path if image else None):
        await media.remove_files(settings, [old_image])
    return card_id


async def _link_status(pool: asyncpg.Pool, status_id: int, card_id: int | None) -> bool:
    """Give the status this card (None: no card); True when that changed what the status shows. A
    published status that changed is announced to streaming clients, in the same transaction."""
    async with pool.acquire() as conn, conn.transaction():
        published = await conn.fetchval(
            "SELECT approval_state = 'published' FROM statuses WHERE id = $1 FOR UPDATE", status_id
        )
        if published is None:
            return False  # deleted meanwhile
        if card_id is None:
            changed = await conn.fetchval(
                "WITH gone AS (DELETE FROM status_preview_cards WHERE status_id = $1 RETURNING 1) "
                "SELECT count(*) > 0 FROM gone",
                status_id,
            )
        else:
            changed = await conn.fetchval(
                """WITH linked AS (
                       INSERT INTO status_preview_cards AS s (status_id, card_id) VALUES ($1, $2)
                       ON CONFLICT (status_id) DO UPDATE SET card_id = EXCLUDED.card_id
                        WHERE s.card_id <> EXCLUDED.card_id
                       RETURNING 1)
                   SELECT count(*) > 0 FROM linked""",
                status_id,
                card_id,
            )
        if changed and published:
            await events.status_updated(conn, status_id)
    return bool(changed)


# ---- the job --------------------------------------------------------------------------------------
async def attach_card(
    pool: asyncpg.Pool, http: aiohttp.ClientSession, settings: Settings, urls: LocalUrls, status_id: int
) -> int | None:
    """Find, fetch or refresh the card of the status's link and attach it; returns the card's id, or None
    when the status has no card (no link, or nothing could be read from it)."""
    bundle = await load_status(pool, status_id)
    if bundle is None:
        return None
    url = card_link(bundle, urls)
    if url is None:
        await _link_status(pool, status_id, None)
        return None
    card = await pool.fetchrow(
        "SELECT id, fetched_at > now() - $2::interval AS fresh FROM preview_cards WHERE url = $1", url, REFRESH_AFTER
    )
    card_id = card["id"] if card is not None else None
    if card is None or not card["fresh"]:
        try:
            async with asyncio.timeout(FETCH_DEADLINE):
                facts = await read_link(http, url)
                image = await _store_image(http, settings, facts.image_url) if facts is not None else None
        except TimeoutError:
            log.info("no card for %s: no answer within %s s", url, FETCH_DEADLINE)
            facts = None
        if facts is not None:
            card_id = await _save_card(pool, settings, url, facts, image)
        # A stale card that could not be refreshed is still shown; Mastodon keeps it too.
    await _link_status(pool, status_id, card_id)
    return card_id


async def handle_fetch_card(ctx: WorkerContext, job: Job) -> None:
    status_id = job.payload.get("status_id")
    if not isinstance(status_id, int) or isinstance(status_id, bool):
        raise PermanentError(f"fetch_card job without a status id: {job.payload!r}")
    await attach_card(ctx.pool, ctx.http, ctx.settings, ctx.urls, status_id)


def handlers() -> dict[str, Handler]:
    return {FETCH_CARD: handle_fetch_card}
