"""Which link of a status gets a preview card: Mastodon's rules (FetchLinkCardService#parse_urls,
https://github.com/mastodon/mastodon/blob/main/app/services/fetch_link_card_service.rb).

The first link of the status's HTML that is not a hashtag (`rel="tag"`, or the class `hashtag`), not a
mention (a class `u-url`, `h-card` or `mention`, or an href that is the profile of an account the
status mentions), is http(s)
with a host, and is not on this server. Mastodon scans a local status's source text and a remote
one's HTML; ours renders the source text into the same HTML (text/content.py, with the same classes
Mastodon writes), so one reading of the HTML serves both.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Final
from urllib.parse import urlsplit

from fediverse_biz.core.card_pages import parse_html

MAX_URL_BYTES: Final = 2048  # longer links get no card (migration 0021 checks the same)
# Mastodon's /u-url|h-card/, and the classes of its hashtag and mention links: a peer's `rel="tag"` does
# not survive our sanitiser (text/sanitize.py sets rel on every link), their class does.
_MENTION_OR_TAG: Final = re.compile(r"u-url|h-card|\bmention\b|\bhashtag\b")


def first_link(content_html: str, mention_urls: Collection[str], local_base: str) -> str | None:
    """The URL of the status's first eligible link, without its fragment (never sent to the site), or None."""
    if "<a" not in content_html:
        return None
    local = _authority(local_base)
    for anchor in parse_html(content_html).css("a"):
        attributes = anchor.attributes
        href = (attributes.get("href") or "").strip()
        rel = (attributes.get("rel") or "").lower().split()
        if not href or "tag" in rel or _MENTION_OR_TAG.search(attributes.get("class") or ""):
            continue
        if href in mention_urls:
            continue
        link = href.split("#", 1)[0]
        if _eligible(link, local):
            return link
    return None


def _authority(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""


def _eligible(url: str, local_authority: str) -> bool:
    if len(url.encode()) > MAX_URL_BYTES or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # "http://[x": not a link anyone can follow
        return False
    return parts.scheme in ("http", "https") and bool(hostname) and parts.netloc.lower() != local_authority
