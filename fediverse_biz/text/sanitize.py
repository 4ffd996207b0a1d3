"""Make remote HTML safe to store and show, the way Mastodon does, and clean plain-text fields.

The allow-list is Mastodon's `Sanitize::Config::MASTODON_STRICT` (lib/sanitize_ext/sanitize_config.rb):
elements, per-element attributes, the class transformer (microformats prefixes plus a few
semantic classes), `translate` kept only when "no", LINK_PROTOCOLS for links, h1-h6 turned into
<p><strong>, and links with an unsupported scheme turned into their text. nh3 (ammonia) is the
parser and the security boundary; the two Mastodon transformers nh3 cannot express run between
two nh3 passes over already-clean HTML.
"""

from __future__ import annotations

import re
import unicodedata
from html import escape
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = frozenset(
    {"p", "br", "span", "a", "del", "s", "pre", "blockquote", "code", "b", "strong", "u", "i", "em"}
    | {"ul", "ol", "li", "ruby", "rt", "rp"}
)
ALLOWED_ATTRIBUTES = {
    "*": {"lang"},
    "a": {"href", "class"},  # rel is always replaced (add_attributes), translate checked below
    "span": {"class"},
    "p": {"class"},
    "ol": {"start", "reversed"},
    "li": {"value"},
}
# LINK_PROTOCOLS; anything else, relative links included, loses the link and keeps the text.
LINK_SCHEMES = frozenset({"http", "https", "dat", "dweb", "ipfs", "ipns", "ssb", "gopher", "xmpp", "magnet", "gemini"})
LINK_REL = "nofollow noopener noreferrer"
# Dropped with their contents: the Sanitize gem's default remove_contents (iframe math noembed
# noframes noscript plaintext script style svg xmp), plus elements whose text is never prose.
DROPPED_WITH_CONTENTS = frozenset(
    {"iframe", "math", "noembed", "noframes", "noscript", "plaintext", "script", "style", "svg", "xmp"}
    | {"object", "embed", "template", "title", "textarea", "select", "head"}
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# ALLOWED_CLASS_TRANSFORMER: microformats prefixes, semantic and link-formatting classes.
_ALLOWED_CLASS_RE = re.compile(r"(?:h|p|u|dt|e)-.*|mention|hashtag|ellipsis|invisible|quote-inline", re.DOTALL)


def _filter_class(element: str, attribute: str, value: str) -> str | None:
    if attribute != "class":
        return value
    kept = [c for c in re.split(r"[\t\n\f\r ]+", value) if _ALLOWED_CLASS_RE.fullmatch(c)]
    return " ".join(kept) or None


def _cleaner(tags: frozenset[str], link_rel: str | None, set_values: dict[str, dict[str, str]]) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(tags),
        clean_content_tags=set(DROPPED_WITH_CONTENTS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_filter_class,
        link_rel=link_rel,
        tag_attribute_values={"a": {"translate": {"no"}}, "span": {"translate": {"no"}}},
        set_tag_attribute_values=set_values,
        url_schemes=set(LINK_SCHEMES),
        url_relative="deny",
    )


# Pass 1 also keeps headings and leaves links bare, so the rewrite can see both.
_FIRST_PASS = _cleaner(ALLOWED_TAGS | _HEADINGS, None, {})
_FINAL_PASS = _cleaner(ALLOWED_TAGS, LINK_REL, {"a": {"target": "_blank"}})


class _Rewriter(HTMLParser):
    """UNSUPPORTED_ELEMENTS_TRANSFORMER and UNSUPPORTED_HREF_TRANSFORMER over pass-1 output.

    Input is nh3's own serialisation (well formed, one <a> never inside another), so a stack of
    "was this <a> kept" flags pairs each </a> with its start tag.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links_kept: list[bool] = []
        self.in_heading = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HEADINGS:
            self.in_heading += 1
            self.out.append("<p><strong>" if self.in_heading == 1 else "")
            return
        if tag == "p" and self.in_heading:  # a <p> would split the new one: break the line instead
            self.out.append("" if self.out[-1] == "<p><strong>" else "<br>")
            return
        if tag == "a":
            self.links_kept.append(any(name == "href" and value for name, value in attrs))
            if not self.links_kept[-1]:
                return  # scheme refused by pass 1: keep the text, drop the link
        rendered = "".join(f' {name}="{escape(value or "")}"' for name, value in attrs)
        self.out.append(f"<{tag}{rendered}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HEADINGS:
            self.in_heading = max(0, self.in_heading - 1)
            self.out.append("" if self.in_heading else "</strong></p>")
        elif tag == "a" and self.links_kept and not self.links_kept.pop():
            return
        elif tag != "br" and not (tag == "p" and self.in_heading):
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))


def sanitize_remote_html(html: str) -> str:
    """Remote `content`/`summary`/profile HTML -> HTML that is safe to store and render."""
    rewriter = _Rewriter()
    rewriter.feed(_FIRST_PASS.clean(html))
    rewriter.close()
    return _FINAL_PASS.clean("".join(rewriter.out))


_LINK_CHECK = nh3.Cleaner(
    tags={"a"}, attributes={"a": {"href"}}, link_rel=None, url_schemes=set(LINK_SCHEMES), url_relative="deny"
)


def is_allowed_link(url: str) -> bool:
    """Whether `url` stays a link through sanitize_remote_html: an allowed scheme and a host that a
    WHATWG URL parser accepts (ammonia's, as in browsers; "https://\u0301x.org" fails UTS #46)."""
    return "href=" in _LINK_CHECK.clean(f'<a href="{escape(url)}"></a>')


# ---- plain text -------------------------------------------------------------------------------
# Embeddings, overrides and isolates can flip the text around a name ("moc.elgoog" shown as
# "google.com"); the marks LRM/RLM/ALM only affect neutral characters and are kept.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset("\ufeff\ufff9\ufffa\ufffb\ufffe\uffff")


def sanitize_plain(text: str, max_len: int) -> str:
    """Display names, field names and the like: one line, no control characters, at most max_len.

    Line breaks and tabs become spaces and runs of whitespace collapse to one; C0/C1 controls,
    lone surrogates (PostgreSQL rejects them), bidi embeddings/overrides/isolates and BOMs go.
    """
    if max_len < 0:
        raise ValueError("max_len must be >= 0")
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch.isspace() or category in ("Zl", "Zp"):
            kept.append(" ")
        elif category not in ("Cc", "Cs") and ch not in _BIDI_CONTROLS and ch not in _INVISIBLE:
            kept.append(ch)
    return " ".join("".join(kept).split())[:max_len].rstrip()
