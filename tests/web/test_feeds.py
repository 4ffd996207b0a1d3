"""Atom and RSS feeds of an account's public posts: valid documents, the right entries, nothing else."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from email.utils import parsedate_to_datetime

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.core import statuses
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories

BASE = "http://127.0.0.1"
A = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


async def posts_of_every_kind(pool: asyncpg.Pool, urls: LocalUrls) -> dict[str, int]:
    """alice's posts: two public ones (one with a warning and markup), and every kind a feed must skip."""
    alice = await factories.local_actor(pool, urls, "alice")
    bob = await factories.local_actor(pool, urls, "bob")
    await pool.execute(
        "UPDATE actors SET display_name = 'Alice & Co', note = '<p>Anvils</p>' WHERE id = $1", alice["id"]
    )
    ids = {"first": await factories.post(pool, urls, alice, "first <b>news</b> & more")}
    ids["warned"] = await factories.post(pool, urls, alice, "second news", spoiler_text="price list")
    ids["article"] = await factories.post(pool, urls, alice, "the long story", title="Our history")
    ids["unlisted"] = await factories.post(pool, urls, alice, "unlisted words", visibility="unlisted")
    ids["private"] = await factories.post(pool, urls, alice, "private words", visibility="private")
    ids["direct"] = await factories.post(pool, urls, alice, "direct words", visibility="direct")
    ids["held"] = await statuses.create(
        pool, urls, factories.LOCAL_DOMAIN, alice, statuses.Draft(text="held words"), hold_for_approval=True
    )
    bobs = await factories.post(pool, urls, bob, "bob's post")
    ids["reply"] = await factories.post(pool, urls, alice, "reply words", in_reply_to_id=bobs)
    return ids


async def test_atom_feed_is_atom_1_0_with_the_public_posts(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    ids = await posts_of_every_kind(pool, urls)
    response = await client.get("/@alice.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{A}feed"
    assert feed.findtext(f"{A}id") == f"{BASE}/@alice.atom"
    assert feed.findtext(f"{A}title") == "Alice & Co (@alice@127.0.0.1)"
    assert datetime.fromisoformat(feed.findtext(f"{A}updated") or "")
    self_link = [link.get("href") for link in feed.findall(f"{A}link") if link.get("rel") == "self"]
    assert self_link == [f"{BASE}/@alice.atom"]
    assert feed.findtext(f"{A}author/{A}name") == "Alice & Co"
    entries = feed.findall(f"{A}entry")
    # newest first; only the public posts of alice herself
    expected = [ids["article"], ids["warned"], ids["first"]]
    assert [e.findtext(f"{A}id") for e in entries] == [f"{BASE}/users/alice/statuses/{i}" for i in expected]
    for entry, status_id in zip(entries, expected, strict=True):
        link = entry.find(f"{A}link[@rel='alternate']")
        assert link is not None and link.get("href") == f"{BASE}/@alice/{status_id}"
        assert datetime.fromisoformat(entry.findtext(f"{A}updated") or "")
        assert datetime.fromisoformat(entry.findtext(f"{A}published") or "")
        assert entry.findtext(f"{A}title")
    content = entries[2].find(f"{A}content")
    assert content is not None and content.get("type") == "html"
    # The parsed text is the post's HTML (whose own text is escaped); in the XML it is escaped once more.
    assert content.text == "<p>first &lt;b&gt;news&lt;/b&gt; &amp; more</p>"
    assert b"&lt;p&gt;first &amp;lt;b&amp;gt;news" in response.content
    assert entries[0].findtext(f"{A}title") == "Our history"
    assert entries[1].findtext(f"{A}title") == "Content warning: price list"
    body = response.text
    for absent in ("unlisted words", "private words", "direct words", "held words", "reply words", "bob"):
        assert absent not in body


async def test_rss_feed_is_rss_2_0_with_the_public_posts(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    ids = await posts_of_every_kind(pool, urls)
    response = await client.get("/@alice.rss")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    rss = ET.fromstring(response.content)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel is not None
    assert channel.findtext("title") == "Alice & Co (@alice@127.0.0.1)"
    assert channel.findtext("link") == f"{BASE}/@alice"
    assert channel.findtext("description") == "Anvils"
    assert channel.find(f"{A}link[@rel='self']") is not None
    items = channel.findall("item")
    expected = [ids["article"], ids["warned"], ids["first"]]
    assert [i.findtext("guid") for i in items] == [f"{BASE}/users/alice/statuses/{n}" for n in expected]
    for item, status_id in zip(items, expected, strict=True):
        assert item.findtext("link") == f"{BASE}/@alice/{status_id}"
        assert parsedate_to_datetime(item.findtext("pubDate") or "").tzinfo is not None
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false"
    assert items[0].findtext("title") == "Our history"
    assert items[2].findtext("description") == "<p>first &lt;b&gt;news&lt;/b&gt; &amp; more</p>"
    assert "<strong>price list</strong>" in (items[1].findtext("description") or "")
    for absent in ("unlisted words", "private words", "direct words", "held words", "reply words"):
        assert absent not in response.text


async def test_feeds_hold_the_newest_twenty(client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    ids = [await factories.post(pool, urls, alice, f"post {n}") for n in range(23)]
    feed = ET.fromstring((await client.get("/@alice.atom")).content)
    assert [e.findtext(f"{A}id") for e in feed.findall(f"{A}entry")] == [
        f"{BASE}/users/alice/statuses/{i}" for i in reversed(ids[3:])
    ]
    channel = ET.fromstring((await client.get("/@alice.rss")).content).find("channel")
    assert channel is not None and len(channel.findall("item")) == 20


async def test_control_characters_kept_in_a_post_do_not_break_the_feeds(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    # Post text is kept as typed (fediverse_biz/storable.py): XML 1.0 cannot carry these, so feeds drop them.
    alice = await factories.local_actor(pool, urls, "alice")
    await factories.post(pool, urls, alice, "bell\x07 and\x01 tab\there\x1f \uffff", spoiler_text="warn\x0b")
    feed = ET.fromstring((await client.get("/@alice.atom")).content)
    entry = feed.find(f"{A}entry")
    assert entry is not None and "bell and tab\there" in (entry.findtext(f"{A}content") or "")
    assert "<strong>warn</strong>" in (entry.findtext(f"{A}content") or "")
    channel = ET.fromstring((await client.get("/@alice.rss")).content).find("channel")
    assert channel is not None and "bell and tab\there" in (channel.findtext("item/description") or "")


async def test_empty_feed_is_still_valid(client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls) -> None:
    await factories.local_actor(pool, urls, "alice")
    feed = ET.fromstring((await client.get("/@alice.atom")).content)
    assert feed.findall(f"{A}entry") == [] and feed.findtext(f"{A}updated")
    rss = ET.fromstring((await client.get("/@alice.rss")).content)
    assert rss.find("channel/item") is None


async def test_actor_urls_lead_to_the_feeds(client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    await factories.post(pool, urls, alice, "hello feed")
    for suffix in ("atom", "rss"):
        response = await client.get(f"/users/alice.{suffix}", headers={"Accept": "application/xml, */*"})
        assert response.status_code == 302 and response.headers["location"] == f"{BASE}/@alice.{suffix}"
        followed = await client.get(f"/users/alice.{suffix}", follow_redirects=True)
        assert followed.status_code == 200 and "hello feed" in followed.text


async def test_feeds_of_unknown_and_suspended_accounts(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    assert (await client.get("/@nobody.atom")).status_code == 404
    assert (await client.get("/@nobody.rss")).status_code == 404
    await pool.execute("UPDATE actors SET suspended_at = now() WHERE id = $1", alice["id"])
    assert (await client.get("/@alice.rss")).status_code == 410


async def test_media_are_enclosures(client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    media_id = await pool.fetchval(
        """INSERT INTO media_attachments (actor_id, media_type, content_type, file_path, preview_path, description,
                                          file_size)
           VALUES ($1, 'image', 'image/png', '12/1.png', '12/1_small.jpg', 'an anvil', 1234) RETURNING id""",
        alice["id"],
    )
    await factories.post(pool, urls, alice, "look", media_ids=[media_id])
    entry = ET.fromstring((await client.get("/@alice.atom")).content).find(f"{A}entry")
    assert entry is not None
    enclosure = entry.find(f"{A}link[@rel='enclosure']")
    assert enclosure is not None
    assert (enclosure.get("href"), enclosure.get("type"), enclosure.get("length")) == (
        f"{BASE}/media/12/1.png",
        "image/png",
        "1234",
    )
    assert 'alt="an anvil"' in (entry.findtext(f"{A}content") or "")
    item = ET.fromstring((await client.get("/@alice.rss")).content).find("channel/item")
    assert item is not None
    rss_enclosure = item.find("enclosure")
    assert rss_enclosure is not None and rss_enclosure.get("url") == f"{BASE}/media/12/1.png"
    assert rss_enclosure.get("length") == "1234"
