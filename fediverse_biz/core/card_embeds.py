"""oEmbed documents (https://oembed.com/, section 2.3) and the players we let clients embed.

A `video` or `rich` oEmbed answer carries HTML that Mastodon clients put in the page as it is. Mastodon
keeps any iframe there (its MASTODON_OEMBED sanitizer config); we keep only an iframe whose `src` is
https on a provider on PLAYER_HOSTS, rebuilt from its src and size, and passed through nh3 with an
iframe-only allow-list for good measure. Anything else (scripts, other hosts' iframes, blockquotes
that need a script) is dropped: the card then becomes a plain `link` card with the title and thumbnail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any, Final
from urllib.parse import urlsplit

import nh3

from fediverse_biz.core.card_pages import MAX_NAME, MAX_TITLE, http_url, parse_html, plain

# The players businesses share from their blogs. A host matches itself and its subdomains
# (www.youtube.com, de.slideshare.net).
PLAYER_HOSTS: Final = ("youtube.com", "youtube-nocookie.com", "player.vimeo.com", "slideshare.net")
OEMBED_CONTENT_TYPES: Final = ("application/json", "application/json+oembed", "text/javascript")
MAX_SIZE: Final = 10_000  # pixels; larger widths and heights are nonsense and are taken as unknown
_IFRAME_ONLY: Final = nh3.Cleaner(
    tags={"iframe"},
    attributes={"iframe": {"src", "width", "height", "frameborder", "allowfullscreen", "allow", "title"}},
    url_schemes={"https"},
    url_relative="deny",
    link_rel=None,
)
_TYPES: Final = frozenset({"link", "photo", "video", "rich"})


@dataclass(frozen=True)
class Embed:
    card_type: str  # link, photo, video or rich; video and rich only with an allowed player in `html`
    title: str
    author_name: str
    author_url: str
    provider_name: str
    provider_url: str
    html: str
    width: int
    height: int
    image_url: str | None  # thumbnail_url, or a photo's url
    embed_url: str


def is_player(url: str) -> bool:
    """Whether `url` is an https page of a provider on PLAYER_HOSTS."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return False
    if parts.scheme != "https" or parts.port not in (None, 443):
        return False
    return any(host == allowed or host.endswith("." + allowed) for allowed in PLAYER_HOSTS)


def player_html(markup: str) -> tuple[str, int, int] | None:
    """(iframe, width, height) of the first iframe in `markup` whose src is a player, or None."""
    for frame in parse_html(markup).css("iframe"):
        src = (frame.attributes.get("src") or "").strip()
        if not is_player(src):
            continue
        width, height = _size(frame.attributes.get("width")), _size(frame.attributes.get("height"))
        rebuilt = (
            f'<iframe src="{escape(src)}" width="{width}" height="{height}" frameborder="0" '
            f'allowfullscreen="true"></iframe>'
        )
        cleaned = _IFRAME_ONLY.clean(rebuilt)
        return (cleaned, width, height) if "src=" in cleaned else None
    return None


def read_oembed(document: Mapping[str, Any], endpoint: str) -> Embed | None:
    """The card an oEmbed answer describes, or None when it describes nothing we can show."""
    kind = document.get("type")
    if not isinstance(kind, str) or kind not in _TYPES or document.get("version") not in ("1.0", 1.0, 1, None):
        return None
    width, height = _size(document.get("width")), _size(document.get("height"))
    markup = document.get("html")
    embed_html, embed_url = "", ""
    image = http_url(_text(document.get("thumbnail_url")), endpoint)
    if kind == "photo":
        embed_url = http_url(_text(document.get("url")), endpoint) or ""
        if not embed_url:
            return None
        image = embed_url
    elif kind in ("video", "rich"):
        player = player_html(markup) if isinstance(markup, str) else None
        if player is None:
            kind, width, height = "link", 0, 0  # html from elsewhere is dropped, the rest still shows
        else:
            embed_html, width, height = player[0], player[1] or width, player[2] or height
    return Embed(
        card_type=str(kind),
        title=plain(_text(document.get("title")), MAX_TITLE),
        author_name=plain(_text(document.get("author_name")), MAX_NAME),
        author_url=http_url(_text(document.get("author_url")), endpoint) or "",
        provider_name=plain(_text(document.get("provider_name")), MAX_NAME),
        provider_url=http_url(_text(document.get("provider_url")), endpoint) or "",
        html=embed_html,
        width=width,
        height=height,
        image_url=image,
        embed_url=embed_url,
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _size(value: object) -> int:
    """A width or height as oEmbed and iframes write it (200, "200", "200px"); 0 when unknown."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str) and (digits := value.strip().removesuffix("px")).isascii() and digits.isdigit():
        number = int(digits)
    else:
        return 0
    return int(number) if 0 < number <= MAX_SIZE else 0
