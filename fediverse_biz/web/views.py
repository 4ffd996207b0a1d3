"""What templates show of actors and statuses: small frozen views built from rows and bundles.

Templates never see a database row: a view names exactly what a page may show, so a column added to
`actors` or `statuses` cannot reach a public page by accident. Images of remote actors and remote
media are not embedded (pages load nothing from elsewhere, which also keeps visitors' addresses
from other servers); remote media become links instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fediverse_biz.core.hydrate import StatusBundle
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.static_files import DEFAULT_AVATAR, DEFAULT_HEADER

Row = Mapping[str, Any]


@dataclass(frozen=True)
class AuthorView:
    id: int
    username: str
    name: str
    handle: str  # @user@domain
    url: str  # where a visitor reads more: our booth, or the actor's own page on its server
    avatar: str
    header: str
    local: bool
    actor_type: str


@dataclass(frozen=True)
class MediaView:
    url: str
    preview_url: str
    description: str
    embedded: bool  # a local image shown inline; otherwise a link to the remote file
    media_type: str
    content_type: str | None
    size: int | None


@dataclass(frozen=True)
class CardView:
    """A link's preview card (core/cards.py). A video is shown as its picture and a link to the
    provider, never as the provider's player: our pages load nothing from other servers."""

    url: str
    title: str
    description: str
    image: str | None  # our copy of the card's picture
    provider: str  # its name, or the link's host
    video: bool


@dataclass(frozen=True)
class StatusView:
    id: int
    uri: str
    url: str
    author: AuthorView
    published: datetime
    edited: datetime | None
    content: str  # HTML we rendered (local) or sanitised on arrival (remote)
    text: str  # the same, as plain text, for descriptions
    spoiler: str
    sensitive: bool
    title: str | None
    language: str | None
    media: tuple[MediaView, ...]
    visibility: str
    replies: int
    boosts: int
    favourites: int
    in_reply_to_url: str | None
    card: CardView | None = None


def card_view(card: Row, urls: LocalUrls) -> CardView:
    return CardView(
        url=card["url"],
        title=card["title"],
        description=card["description"],
        image=urls.media(card["image_path"]) if card["image_path"] else None,
        provider=card["provider_name"] or (urlsplit(card["url"]).hostname or ""),
        video=card["card_type"] in ("video", "rich"),
    )


def author_view(actor: Row, urls: LocalUrls, local_domain: str) -> AuthorView:
    local = actor["domain"] is None
    avatar = actor["avatar_url"] if local and actor["avatar_url"] else urls.static(DEFAULT_AVATAR)
    header = actor["header_url"] if local and actor["header_url"] else urls.static(DEFAULT_HEADER)
    if local:
        url = urls.profile_page(actor["username"], actor["actor_type"])
    else:
        url = actor["url"] or actor["uri"]
    return AuthorView(
        id=actor["id"],
        username=actor["username"],
        name=actor["display_name"] or actor["username"],
        handle=f"@{actor['username']}@{actor['domain'] or local_domain}",
        url=url,
        avatar=avatar,
        header=header,
        local=local,
        actor_type=actor["actor_type"],
    )


def media_view(media: Row, urls: LocalUrls) -> MediaView:
    if media["file_path"]:
        url = urls.media(media["file_path"])
        preview = urls.media(media["preview_path"]) if media["preview_path"] else url
        embedded = media["media_type"] == "image"
    else:
        url = media["remote_url"] or ""
        preview, embedded = url, False
    return MediaView(
        url=url,
        preview_url=preview,
        description=media["description"] or "",
        embedded=embedded,
        media_type=media["media_type"],
        content_type=media["content_type"],
        size=media["file_size"],
    )


def status_view(bundle: StatusBundle, urls: LocalUrls, local_domain: str, card: Row | None = None) -> StatusView:
    s = bundle.status
    author = author_view(bundle.author, urls, local_domain)
    url = urls.status_page(bundle.author["username"], s["id"]) if s["local"] else (s["url"] or s["uri"])
    return StatusView(
        id=s["id"],
        uri=s["uri"],
        url=url,
        author=author,
        published=s["published_at"],
        edited=s["edited_at"],
        content=s["content"] or "",
        text=html_to_text(s["content"] or ""),
        spoiler=s["spoiler_text"] or "",
        sensitive=s["sensitive"],
        title=s["title"],
        language=s["language"],
        media=tuple(media_view(m, urls) for m in bundle.media if m["file_path"] or m["remote_url"]),
        visibility=s["visibility"],
        replies=s["replies_count"],
        boosts=s["reblogs_count"],
        favourites=s["favourites_count"],
        in_reply_to_url=s["in_reply_to_uri"],  # our URIs send browsers on to the permalink
        card=card_view(card, urls) if card is not None else None,
    )


def summary_of(status: StatusView) -> str:
    """What a link preview or feed title says about a post: its title, its warning, or its text."""
    if status.title:
        return status.title
    if status.spoiler:
        return f"Content warning: {status.spoiler}"
    return status.text or f"{len(status.media)} attachment(s)"
