"""What a member typed -> Mastodon-style status HTML; mentions, hashtags and links found in it.

The output copies Mastodon's `app/lib/text_formatter.rb` (TextFormatter#to_s, #shortened_link,
#link_to_hashtag, #link_to_mention) byte for byte, so clients and peers see what a Mastodon post
looks like. Entities are found the way `app/lib/extractor.rb` finds them, with the regexes of
`app/models/account.rb` (MENTION_RE), `app/models/tag.rb` (HASHTAG_RE) and twitter-text's
`valid_url` as patched by `config/initializers/twitter_regex.rb`. Known differences are listed
in the comments where they occur (no TLD list; Unicode classes approximated from unicodedata).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal

from fediverse_biz.text.sanitize import is_allowed_link


@dataclass(frozen=True)
class MentionRef:
    username: str  # as typed; compare case-insensitively
    domain: str | None  # lowercased; None for "@name" (and for the local domain, if given)


@dataclass(frozen=True)
class ResolvedMention:
    username: str  # the account's stored username, shown in the link
    domain: str | None  # None for a local account
    url: str  # profile URL (the actor's `url`) the mention links to


# ---- character classes ------------------------------------------------------------------------
# Onigmo's Unicode [[:word:]] is Letter|Mark|Decimal_Number|Connector_Punctuation and [[:alpha:]]
# is Alphabetic; Python's \w misses combining marks (e.g. Devanagari vowel signs), so both are
# built from unicodedata. Alphabetic is approximated as Letter|Nl|Mark (unicodedata has no
# Other_Alphabetic). Planes 4-13 and 15-16 hold no letters or marks, so they are not scanned.
def _char_class(categories: Iterable[str]) -> str:
    wanted, parts, start = frozenset(categories), [], -1
    code_points = [*range(0x40000), *range(0xE0000, 0xE1000), sys.maxunicode + 1]
    for prev, cp in zip([-2, *code_points], code_points, strict=False):
        hit = cp <= sys.maxunicode and unicodedata.category(chr(cp)) in wanted
        if start >= 0 and (not hit or cp != prev + 1):
            parts.append(re.escape(chr(start)) + (f"-{re.escape(chr(prev))}" if prev > start else ""))
            start = -1
        if hit and start < 0:
            start = cp
    return "".join(parts)


_LETTER_MARK = ("Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Mn", "Mc", "Me")
_ALPHA = _char_class(_LETTER_MARK)
_WORD = _char_class((*_LETTER_MARK, "Nd", "Pc"))
# twitter-text LATIN_ACCENTS: a mention followed by one of these is not a mention ("@alicé").
_LATIN_ACCENTS = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b"
    "\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
# Unicode White_Space, as \p{White_Space} in twitter_regex.rb (Python's isspace() adds \x1c-\x1f).
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
)

# ---- entity regexes ---------------------------------------------------------------------------
# Account::MENTION_RE (Mastodon 4.x): USERNAME_RE, then an optional "@domain". Unlike Mastodon we
# also accept a ":port" after the domain, so instances on a development host (127.0.0.1:8000) can
# mention each other; a production domain has no port and matches exactly as on Mastodon.
_MENTION_RE = re.compile(
    rf"(?<![=/{_WORD}])@(?P<name>[a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?(?:@[{_WORD}.-]+[{_WORD}]+(?::\d{{1,5}})?)?)",
    re.IGNORECASE,
)
_END_MENTION_RE = re.compile(rf"[@\uff20{_LATIN_ACCENTS}]|://")  # twitter-text end_mention_match
# Tag::HASHTAG_RE: "#" not after "/", ")" or an ASCII word char (Ruby's \w is ASCII), then a name:
# FIRST  [[:word:]_][[:word:]SEP]*[[:alpha:]SEP][[:word:]SEP]*[[:word:]_]  or
# LAST   [[:word:]_]*[[:alpha:]][[:word:]_]*
# Those nested stars backtrack quadratically ("#a" + 50k "·"), so _hashtag_end computes the same
# greedy result with possessive runs instead.
_TAG_SEP = "_\u00b7\u30fb\u200c"
_HASH_RE = re.compile(r"(?<![/)A-Za-z0-9_])#")
_TAG_RUN_RE = re.compile(rf"[{_WORD}{_TAG_SEP}]*+")
_WORD_RUN_RE = re.compile(rf"[{_WORD}]*+")
_WORD_CHAR_RE = re.compile(rf"[{_WORD}]")
_ALPHA_RE = re.compile(rf"[{_ALPHA}]")
_ALPHA_SEP_RE = re.compile(rf"[{_ALPHA}{_TAG_SEP}]")
# twitter-text valid_url up to the port. Twitter-text also requires a TLD from its list; we take
# any alphabetic last label of two or more letters (or punycode), so "https://x.example" links.
_DOMAIN_CHAR = r"[^!-/:-@\[-`{-~\s\x00-\x1f\x7f\ufeff\ufffe\uffff\u202a-\u202e\u180e]"
_URL_RE = re.compile(
    r"(?<![A-Za-z0-9@\uff20$#\uff03\ufeff\ufffe\uffff])"  # valid_url_preceding_chars
    r"(?P<scheme>https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://"
    rf"(?:{_DOMAIN_CHAR}(?:[-_]*{_DOMAIN_CHAR})*\.)+(?:xn--[0-9a-z]+|[^\W\d_]{{2,}})(?![0-9a-z@])"
    r"(?::[0-9]+)?",
    re.IGNORECASE,
)
_PATH_NOT_GENERAL = frozenset("<>()?")
_PATH_NOT_ENDING = frozenset("()?!*\"'「」<>;:=,.$%[]~&|")  # '@' may end a path (Mastodon spec)
_QUERY_ASCII = frozenset("!?*'();:&=+$/%#[]-_.,~|@^")
_QUERY_ENDING_ASCII = frozenset("_&=#/-")
_URL_PREFIX_RE = re.compile(r"https?://(?:www\.)?|xmpp:")  # TextFormatter::URL_PREFIX_REGEX


def _is_uchar(c: str) -> bool:  # twitter_regex.rb UCHARS
    cp = ord(c)
    if cp < 0x10000:
        return 0xA0 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFDCF or 0xFDF0 <= cp <= 0xFFEF
    return (cp & 0xFFFF) <= 0xFFFD and not 0xE0000 <= cp <= 0xE0FFF


def _is_general(c: str) -> bool:  # valid_general_url_path_chars
    return c not in _WHITE_SPACE and c not in _PATH_NOT_GENERAL


def _balanced_end(text: str, i: int) -> int | None:
    """End of the balanced "(...)" at text[i] (one nested level allowed), as valid_url_balanced_parens."""
    j, nested = i + 1, False
    while j < len(text):
        c = text[j]
        if c == ")":
            return j + 1 if j > i + 1 else None
        if c == "(":
            k = j + 1
            while k < len(text) and _is_general(text[k]):
                k += 1
            if nested or k == j + 1 or k >= len(text) or text[k] != ")":
                return None
            nested, j = True, k + 1
        elif _is_general(c):
            j += 1
        else:
            return None
    return None


def _url_end(text: str, pos: int) -> int:
    """Extend a URL past its host: valid_url_path then the query, each ending on an allowed char.

    A hand-written scan instead of twitter-text's nested-quantifier regex: linear on any input.
    """
    if text.startswith("/", pos):
        j = pos = pos + 1
        while j < len(text):
            c = text[j]
            if c == "(":
                k = _balanced_end(text, j)
                if k is None:
                    break
                j = pos = k
            elif _is_general(c):
                j += 1
                pos = j if c not in _PATH_NOT_ENDING else pos
            else:
                break
    if text.startswith("?", pos):
        j = pos + 1
        while j < len(text):
            c = text[j]
            ascii_alnum = c.isascii() and c.isalnum()
            if not (ascii_alnum or c in _QUERY_ASCII or _is_uchar(c)):
                break
            j += 1
            if ascii_alnum or c in _QUERY_ENDING_ASCII or _is_uchar(c):
                pos = j
    return pos


def _run_end(pattern: re.Pattern[str], text: str, i: int) -> int:
    m = pattern.match(text, i)
    return m.end() if m else i


def _hashtag_end(text: str, i: int) -> int | None:
    """End of the hashtag name starting at text[i], per Tag::HASHTAG_RE's greedy match, or None."""
    if not _WORD_CHAR_RE.match(text, i):
        return None
    run_end = _run_end(_TAG_RUN_RE, text, i)
    # FIRST: ends on the run's last word char that has an alpha/separator strictly before it.
    inner = _ALPHA_SEP_RE.search(text, i + 1, run_end)
    if inner is not None:
        for e in range(run_end - 1, inner.start(), -1):
            if _WORD_CHAR_RE.match(text, e):
                return e + 1
    # LAST: the whole word run, if it holds a letter.
    word_end = _run_end(_WORD_RUN_RE, text, i)
    return word_end if _ALPHA_RE.search(text, i, word_end) else None


@dataclass(frozen=True)
class _Entity:
    start: int
    end: int
    kind: Literal["url", "hashtag", "mention"]
    value: str  # the URL, the tag name, or the screen name ("bob" / "bob@example.org")


def _entities(text: str) -> list[_Entity]:
    """Extractor.extract_entities_with_indices: all entities, overlaps dropped (first one wins)."""
    found: list[_Entity] = []
    pos = 0
    while (m := _URL_RE.search(text, pos)) is not None:
        pos = _url_end(text, m.end())
        found.append(_Entity(m.start(), pos, "url", text[m.start() : pos]))
    tag_end = 0
    for m in _HASH_RE.finditer(text):
        start = m.end()
        # Ruby's scan consumes the character before '#', so it may not belong to the previous tag.
        if (m.start() > 0 and m.start() - 1 < tag_end) or (end := _hashtag_end(text, start)) is None:
            continue
        name = text[start:end]
        if text.startswith("://", end) and (cut := re.fullmatch(r"(.+)(https?)", name)):
            name, end = cut.group(1), end - len(cut.group(2))  # "#taghttps://..." -> "tag"
        found.append(_Entity(m.start(), end, "hashtag", name))
        tag_end = end
    for m in _MENTION_RE.finditer(text):
        if not _END_MENTION_RE.match(text, m.end()):
            found.append(_Entity(m.start(), m.end(), "mention", m.group("name")))
    found.sort(key=lambda e: e.start)
    kept: list[_Entity] = []
    for entity in found:
        if not kept or entity.start >= kept[-1].end:
            kept.append(entity)
    return kept


def _split_mention(screen_name: str, local_domain: str | None) -> tuple[str, str | None]:
    username, _, typed_domain = screen_name.partition("@")
    domain = typed_domain.lower() or None
    return username, None if local_domain and domain == local_domain.lower() else domain


def extract_mentions(text: str, *, local_domain: str | None = None) -> list[MentionRef]:
    """Mentions in order, de-duplicated case-insensitively; `local_domain` mentions get domain None."""
    refs: dict[tuple[str, str | None], MentionRef] = {}
    for e in _entities(text):
        if e.kind == "mention":
            username, domain = _split_mention(e.value, local_domain)
            refs.setdefault((username.lower(), domain), MentionRef(username, domain))
    return list(refs.values())


def extract_hashtags(text: str) -> list[str]:
    """Tag names without '#', de-duplicated case-insensitively, first spelling kept.

    Taken from the same entity list as the HTML, so a '#' inside a link never becomes a tag.
    """
    first_spelling: dict[str, str] = {}
    for e in _entities(text):
        if e.kind == "hashtag":
            first_spelling.setdefault(e.value.casefold(), e.value)
    return list(first_spelling.values())


def extract_links(text: str) -> list[str]:
    """http(s) URLs that render_status_html links, in order, de-duplicated."""
    urls = [
        e.value
        for e in _entities(text)
        if e.kind == "url" and e.value[:4].lower() == "http" and is_allowed_link(e.value)
    ]
    return list(dict.fromkeys(urls))


# ---- rendering --------------------------------------------------------------------------------
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


def _h(s: str) -> str:
    """ERB::Util.html_escape, which writes ' as &#39; (Python's html.escape writes &#x27;)."""
    return s.translate(_ESCAPES)


def _link_url(url: str) -> str:
    """TextFormatter.shortened_link: prefix hidden, 30 characters shown, the rest hidden."""
    if not is_allowed_link(url):  # Mastodon rescues IDNA errors the same way: plain text
        return _h(url)
    prefix_match = _URL_PREFIX_RE.match(url)  # case-sensitive, as in Mastodon
    prefix = prefix_match.group(0) if prefix_match else ""
    shown, hidden = url[len(prefix) : len(prefix) + 30], url[len(prefix) + 30 :]
    if len(hidden) == 1:  # Mastodon: an ellipsis in place of one character saves nothing
        shown, hidden = shown + hidden, ""
    return (
        f'<a href="{_h(url)}" target="_blank" rel="nofollow noopener noreferrer" translate="no">'
        f'<span class="invisible">{_h(prefix)}</span>'
        f'<span class="{"ellipsis" if hidden else ""}">{_h(shown)}</span>'
        f'<span class="invisible">{_h(hidden)}</span></a>'
    )


def _link_mention(
    screen_name: str, mentions: Mapping[tuple[str, str | None], ResolvedMention], local_domain: str
) -> str:
    username, domain = _split_mention(screen_name, local_domain)
    account = mentions.get((username.lower(), domain))
    if account is None:
        return f"@{_h(screen_name)}"
    # Mastodon shows user@domain when another known account has the same username.
    clash = any(
        other.username.lower() == account.username.lower() and other.domain != account.domain
        for other in mentions.values()
    )
    shown = f"{account.username}@{account.domain}" if clash and account.domain else account.username
    return (
        f'<span class="h-card" translate="no"><a href="{_h(account.url)}" class="u-url mention">'
        f"@<span>{_h(shown)}</span></a></span>"
    )


def render_status_html(
    text: str,
    *,
    mentions: Mapping[tuple[str, str | None], ResolvedMention],
    tag_url: Callable[[str], str],
    local_domain: str,
) -> str:
    """TextFormatter#to_s: escape, link entities, then Rails' simple_format with newlines deleted."""
    if not text.strip():
        return ""
    out, last = [], 0
    for e in _entities(text):
        out.append(_h(text[last : e.start]))
        if e.kind == "url":
            out.append(_link_url(e.value))
        elif e.kind == "hashtag":
            href = _h(tag_url(e.value))
            out.append(f'<a href="{href}" class="mention hashtag" rel="tag">#<span>{_h(e.value)}</span></a>')
        else:
            out.append(_link_mention(e.value, mentions, local_domain))
        last = e.end
    out.append(_h(text[last:]))
    # simple_format: CR/CRLF -> LF, split on blank lines (Ruby's split drops trailing empties),
    # "<br />" after a newline between two non-newlines; then .delete("\n").
    paragraphs = re.split(r"\n\n+", re.sub(r"\r\n?", "\n", "".join(out)))
    while paragraphs and not paragraphs[-1]:
        paragraphs.pop()
    return "".join("<p>" + re.sub(r"([^\n]\n)(?=[^\n])", r"\1<br />", p).replace("\n", "") + "</p>" for p in paragraphs)


# ---- HTML -> plain text -----------------------------------------------------------------------
class _PlainText(HTMLParser):
    _DROP = frozenset({"script", "style", "iframe", "object", "svg", "math", "noscript", "template", "title"})
    _BLOCK = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.pending = ""  # the separator owed before the next text
        self.dropping = 0

    def _owe(self, sep: str) -> None:
        if self.parts and len(sep) > len(self.pending):
            self.pending = sep

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._DROP:
            self.dropping += 1
        elif tag == "br":
            self.handle_data("\n")
        elif tag in self._BLOCK or tag == "li":
            self._owe("\n" if tag == "li" else "\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._DROP:
            self.dropping = max(0, self.dropping - 1)
        elif tag in self._BLOCK:
            self._owe("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.dropping and data:
            self.parts += [self.pending, data]
            self.pending = ""


def html_to_text(html: str) -> str:
    """Plain-text fallback: <br> -> newline, paragraphs -> blank line, tags stripped, entities decoded."""
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts).strip()
