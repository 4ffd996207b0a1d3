"""Atom 1.0 (RFC 4287) and RSS 2.0 feeds of an account's public posts: `/@{name}.atom`, `/@{name}.rss`.

`/users/{name}.atom` and `.rss` reach these too: the actor route answers non-ActivityPub requests
with a redirect to `/@{name}…` (federation/actor_endpoints.py), and feed readers follow it.

What a feed holds: the newest 20 posts that are public (not unlisted: a feed is a broadcast, and
Mastodon's RSS leaves unlisted posts out too), published (never held or rejected), not boosts, and
not replies to others (self-threads stay), newest first. The documents are built with ElementTree,
so every piece of text — post HTML included — is escaped once, as the formats require for
`type="html"` (Atom) and `<description>` (RSS).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from typing import Final

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.core import cards, hydrate
from fediverse_biz.services import services
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.pages import published_actor
from fediverse_biz.web.rendering import excerpt
from fediverse_biz.web.views import AuthorView, StatusView, author_view, status_view, summary_of

FEED_SIZE: Final = 20
ATOM_NS: Final = "http://www.w3.org/2005/Atom"
ATOM_TYPE: Final = "application/atom+xml; charset=utf-8"
RSS_TYPE: Final = "application/rss+xml; charset=utf-8"
ENTRY_TITLE_LENGTH: Final = 80
_HEADERS: Final = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}
_FEED_STATUSES: Final = """
    SELECT id FROM statuses
     WHERE actor_id = $1 AND local AND visibility = 'public' AND approval_state = 'published'
       AND reblog_of_id IS NULL AND (in_reply_to_id IS NULL OR in_reply_to_actor_id = actor_id)
     ORDER BY id DESC LIMIT $2"""


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# XML 1.0 cannot carry C0 controls other than tab and line breaks, nor U+FFFE/U+FFFF, even escaped
# (ElementTree would write them and leave the document unreadable). Post text keeps them as typed
# (fediverse_biz/storable.py), so the feed drops them: one post must not break a whole feed.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {name: _xml_text(value) for name, value in attributes.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def _entry_html(status: StatusView) -> str:
    """The post as one HTML fragment: warning, text, then its pictures as links and images."""
    parts = []
    if status.spoiler:
        parts.append(f"<p><strong>{escape(status.spoiler)}</strong></p>")
    parts.append(status.content)
    for media in status.media:
        label, href = escape(media.description or "attachment"), escape(media.url)
        if media.embedded:
            parts.append(f'<p><a href="{href}"><img src="{escape(media.preview_url)}" alt="{label}"></a></p>')
        else:
            parts.append(f'<p><a href="{href}">{label}</a></p>')
    return "".join(parts)


def _serialize(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def atom_feed(
    author: AuthorView, actor_uri: str, statuses: list[StatusView], *, self_url: str, updated: datetime
) -> bytes:
    # The default namespace is written as a plain attribute: no global ET.register_namespace needed.
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(feed, "id", self_url)
    _sub(feed, "title", f"{author.name} ({author.handle})")
    _sub(feed, "updated", _rfc3339(max((s.edited or s.published for s in statuses), default=updated)))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=author.url)
    _sub(feed, "link", rel="alternate", type="application/activity+json", href=actor_uri)
    person = _sub(feed, "author")
    _sub(person, "name", author.name)
    _sub(person, "uri", author.url)
    _sub(feed, "icon", author.avatar)
    _sub(feed, "generator", "fediverse_biz")
    for status in statuses:
        entry = _sub(feed, "entry")
        _sub(entry, "id", status.uri)
        _sub(entry, "title", excerpt(summary_of(status), ENTRY_TITLE_LENGTH))
        _sub(entry, "link", rel="alternate", type="text/html", href=status.url)
        _sub(entry, "published", _rfc3339(status.published))
        _sub(entry, "updated", _rfc3339(status.edited or status.published))
        _sub(entry, "content", _entry_html(status), type="html")
        if status.card is not None:  # the page the post links to, with the title its card found
            _sub(entry, "link", rel="related", type="text/html", href=status.card.url, title=status.card.title)
        for media in status.media:
            attributes = {"rel": "enclosure", "href": media.url}
            if media.content_type:
                attributes["type"] = media.content_type
            if media.size:
                attributes["length"] = str(media.size)
            _sub(entry, "link", **attributes)
    return _serialize(feed)


def rss_feed(author: AuthorView, statuses: list[StatusView], *, self_url: str, description: str) -> bytes:
    rss = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS})
    channel = _sub(rss, "channel")
    _sub(channel, "title", f"{author.name} ({author.handle})")
    _sub(channel, "link", author.url)
    _sub(channel, "description", description or f"Public posts from {author.handle}")
    _sub(channel, "atom:link", rel="self", type="application/rss+xml", href=self_url)
    _sub(channel, "generator", "fediverse_biz")
    if statuses:
        newest = max(s.edited or s.published for s in statuses)
        _sub(channel, "lastBuildDate", format_datetime(newest.astimezone(UTC), usegmt=True))
    image = _sub(channel, "image")
    _sub(image, "url", author.avatar)
    _sub(image, "title", f"{author.name} ({author.handle})")
    _sub(image, "link", author.url)
    for status in statuses:
        item = _sub(channel, "item")
        if status.title:  # RSS items need a title or a description, not both; Mastodon sends none
            _sub(item, "title", status.title)
        _sub(item, "link", status.url)
        _sub(item, "guid", status.uri, isPermaLink="false")
        _sub(item, "pubDate", format_datetime(status.published.astimezone(UTC), usegmt=True))
        _sub(item, "description", _entry_html(status))
        # RSS 2.0 allows one enclosure per item, with its length (0 when unknown, as the spec's readers expect).
        first = next(iter(status.media), None)
        if first is not None:
            media_type = first.content_type or "application/octet-stream"
            _sub(item, "enclosure", url=first.url, length=str(first.size or 0), type=media_type)
    return _serialize(rss)


async def _feed_statuses(pool: asyncpg.Pool, actor_id: int, urls: LocalUrls, domain: str) -> list[StatusView]:
    ids = [r["id"] for r in await pool.fetch(_FEED_STATUSES, actor_id, FEED_SIZE)]
    bundles = await hydrate.load_statuses(pool, ids)
    previews = await cards.cards_of(pool, ids)
    return [status_view(bundles[i], urls, domain, previews.get(i)) for i in ids if i in bundles]


async def _feed(request: Request, kind: str) -> Response:
    pool: asyncpg.Pool = services(request).pool
    urls: LocalUrls = services(request).urls
    domain: str = services(request).settings.domain
    actor = await published_actor(pool, request.path_params["username"])
    if actor is None or actor["actor_type"] == "Group":
        return Response("no such account\n", status_code=404, media_type="text/plain")
    if actor["suspended_at"] is not None:
        return Response("account gone\n", status_code=410, media_type="text/plain")
    author = author_view(actor, urls, domain)
    statuses = await _feed_statuses(pool, actor["id"], urls, domain)
    self_url = f"{urls.profile_page(actor['username'])}.{kind}"
    if kind == "atom":
        body = atom_feed(author, actor["uri"], statuses, self_url=self_url, updated=actor["updated_at"])
        return Response(body, media_type=ATOM_TYPE, headers=_HEADERS)
    body = rss_feed(author, statuses, self_url=self_url, description=excerpt(html_to_text(actor["note"] or "")))
    return Response(body, media_type=RSS_TYPE, headers=_HEADERS)


async def atom(request: Request) -> Response:
    return await _feed(request, "atom")


async def rss(request: Request) -> Response:
    return await _feed(request, "rss")


# Before the booth route: `/@{username}` would otherwise take "alice.atom" as a name.
routes: list[BaseRoute] = [
    Route("/@{username}.atom", atom, methods=["GET", "HEAD"]),
    Route("/@{username}.rss", rss, methods=["GET", "HEAD"]),
]
