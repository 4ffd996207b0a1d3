"""Markdown for texts the operator writes (the privacy policy), rendered to safe HTML.

Mastodon keeps its privacy policy in Markdown and serves it rendered (GET /api/v1/instance/privacy_policy
answers `content` as HTML). We parse with markdown-it-py, a maintained CommonMark implementation, with raw
HTML switched off: HTML in the source is shown as text, never passed through. The result goes through nh3
with a small allow-list all the same: the parser is convenience, nh3 is the boundary.
"""

from __future__ import annotations

import re
from html import escape
from typing import Final

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS: Final = frozenset(
    {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code"}
    | {"strong", "em", "a"}
)
LINK_SCHEMES: Final = frozenset({"http", "https", "mailto"})
_CLEANER: Final = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={"a": {"href"}, "ol": {"start"}},
    link_rel="nofollow noopener noreferrer",
    url_schemes=set(LINK_SCHEMES),
    url_relative="deny",
)
# CommonMark without raw HTML; nh3 then drops what a policy does not need (images among them).
_PARSER: Final = MarkdownIt("commonmark", {"html": False})


def render(markdown: str) -> str:
    """`markdown` as sanitised HTML."""
    return _CLEANER.clean(_PARSER.render(markdown.replace("\x00", ""))).strip()


def render_plain(text: str) -> str:
    """Plain text as HTML paragraphs (blank lines between them, line breaks kept), everything escaped."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))]
    return "\n\n".join(
        "<p>" + "<br>\n".join(escape(line.strip(), quote=False) for line in p.split("\n")) + "</p>"
        for p in paragraphs
        if p
    )
