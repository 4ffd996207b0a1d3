"""Status text -> Mastodon HTML, and the mentions/hashtags/links found in it.

Golden strings follow Mastodon's TextFormatter output and the cases of its own
`spec/lib/text_formatter_spec.rb` (mastodon/mastodon).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fediverse_biz.text.content import (
    MentionRef,
    ResolvedMention,
    extract_hashtags,
    extract_links,
    extract_mentions,
    html_to_text,
    render_status_html,
)
from fediverse_biz.text.sanitize import sanitize_remote_html

LOCAL = "local.example"
ALICE = ResolvedMention("alice", None, "https://local.example/@alice")
BOB = ResolvedMention("bob", "remote.example", "https://remote.example/@bob")
KNOWN = {("alice", None): ALICE, ("bob", "remote.example"): BOB}
LINK_OPEN = '<a href="{0}" target="_blank" rel="nofollow noopener noreferrer" translate="no">'


def tag_url(name: str) -> str:
    return f"https://{LOCAL}/tags/{quote(name.lower())}"


def render(text: str, mentions: dict[tuple[str, str | None], ResolvedMention] | None = None) -> str:
    return render_status_html(
        text, mentions=KNOWN if mentions is None else mentions, tag_url=tag_url, local_domain=LOCAL
    )


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


# ---- golden output ----------------------------------------------------------------------------
def test_render_matches_mastodon_for_mentions_tag_and_long_link() -> None:
    text = "Hello @alice and @bob@remote.example #Fediverse https://example.com/a/very/long/path/that/gets/ellipsised"

    html = render(text)

    assert html == (
        "<p>Hello "
        '<span class="h-card" translate="no"><a href="https://local.example/@alice" class="u-url mention">'
        "@<span>alice</span></a></span> and "
        '<span class="h-card" translate="no"><a href="https://remote.example/@bob" class="u-url mention">'
        "@<span>bob</span></a></span> "
        '<a href="https://local.example/tags/fediverse" class="mention hashtag" rel="tag">#<span>Fediverse</span></a> '
        + LINK_OPEN.format("https://example.com/a/very/long/path/that/gets/ellipsised")
        + '<span class="invisible">https://</span><span class="ellipsis">example.com/a/very/long/path/t</span>'
        '<span class="invisible">hat/gets/ellipsised</span></a></p>'
    )


def test_short_link_has_empty_class_and_empty_suffix() -> None:
    assert render("see https://x.org/a") == (
        "<p>see "
        + LINK_OPEN.format("https://x.org/a")
        + '<span class="invisible">https://</span><span class="">x.org/a</span><span class="invisible"></span></a></p>'
    )


@pytest.mark.parametrize(
    ("text", "shown", "hidden"),
    [
        # Mastodon's spec: 32 characters after the prefix -> 30 shown, 2 hidden behind an ellipsis...
        ("https://prepitaph.org/wip/web-dovespair/", "prepitaph.org/wip/web-dovespai", "r/"),
        # ...but a single left-over character is shown rather than replaced by an ellipsis.
        ("https://prepitaph.org/wip/web-devspair/", "prepitaph.org/wip/web-devspair/", ""),
        ("http://www.example.com/", "example.com/", ""),  # "www." is part of the hidden prefix
    ],
)
def test_link_display_is_cut_at_30_characters(text: str, shown: str, hidden: str) -> None:
    html = render(text)

    assert f'<span class="{"ellipsis" if hidden else ""}">{shown}</span>' in html
    assert f'<span class="invisible">{hidden}</span></a>' in html


def test_paragraphs_and_line_breaks_follow_simple_format() -> None:
    assert render("one\ntwo\n\nthree\r\nfour\n\n\n\nfive\n") == "<p>one<br />two</p><p>three<br />four</p><p>five</p>"
    assert render("\n\nlead") == "<p></p><p>lead</p>"  # Ruby's split keeps a leading empty field
    assert render("") == ""
    assert render(" \n\t ") == ""


def test_text_is_escaped_like_erb() -> None:
    html = render("""<script>alert("x")</script> & 'q' > <img src=x onerror=alert(1)>""")

    assert html == (
        "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; &gt; "
        "&lt;img src=x onerror=alert(1)&gt;</p>"
    )


# ---- links ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("see https://x.org/a.", "https://x.org/a"),
        ("(http://google.com/)", "http://google.com/"),
        ("http://www.google.com!", "http://www.google.com"),
        ("http://www.google.com'", "http://www.google.com"),
        ('"https://example.com/"', "https://example.com/"),
        ("<https://example.com/>", "https://example.com/"),
        ("https://en.wikipedia.org/wiki/Diaspora_(software)", "https://en.wikipedia.org/wiki/Diaspora_(software)"),
        ("https://example.com/\u3000abc123", "https://example.com/"),
        ("「[https://example.org/」", "https://example.org/"),
        ("https://gta.fandom.com/wiki/TW@ Content", "https://gta.fandom.com/wiki/TW@"),
        ("https://ja.wikipedia.org/wiki/日本", "https://ja.wikipedia.org/wiki/日本"),
        ("https://nic.みんな/", "https://nic.みんな/"),
        ("http://example.gay", "http://example.gay"),
        ("x https://x.org?a=1&b=2! y", "https://x.org?a=1&amp;b=2"),
        ("https://x.org/#anchor, ok", "https://x.org/#anchor"),
        ("gemini://capsule.example/page.", "gemini://capsule.example/page"),
    ],
)
def test_link_boundaries(text: str, url: str) -> None:
    assert hrefs(render(text, {})) == [url]


def test_html_after_a_link_is_not_part_of_it() -> None:
    html = render('http://example.com/blahblahblahblah/a<script>alert("Hello")</script>')

    assert hrefs(html) == ["http://example.com/blahblahblahblah/a"]
    assert "&lt;script&gt;alert(&quot;Hello&quot;)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "text", ["http://www\\.google\\.com", "https://localhost/x", "foohttps://x.org", "ftp://x.org"]
)
def test_not_links(text: str) -> None:
    assert "<a" not in render(text, {})


def test_extract_links_keeps_http_only_in_order_without_duplicates() -> None:
    text = "https://b.example/1 gemini://c.example http://a.example. https://b.example/1 end"

    assert extract_links(text) == ["https://b.example/1", "http://a.example"]


# ---- mentions ---------------------------------------------------------------------------------
def test_mentions_at_start_and_end() -> None:
    html = render("@alice hi @bob@remote.example")

    assert html.startswith('<p><span class="h-card" translate="no"><a href="https://local.example/@alice"')
    assert html.endswith('<a href="https://remote.example/@bob" class="u-url mention">@<span>bob</span></a></span></p>')


@pytest.mark.parametrize(
    "text", ["me@example.com", "x=@alice", "https://x.org/@alice", "@alicé", "@alice@bob@carol", "@alice@x"]
)
def test_not_mentions(text: str) -> None:
    assert extract_mentions(text) == []
    assert "h-card" not in render(text)


def test_unresolved_mention_stays_text_as_typed() -> None:
    assert render("hi @Carol@Else.Example!") == "<p>hi @Carol@Else.Example!</p>"


def test_mention_lookup_is_case_insensitive_and_local_domain_means_local() -> None:
    html = render("@ALICE @alice@LOCAL.example @Bob@Remote.Example")

    assert hrefs(html) == [ALICE.url, ALICE.url, BOB.url]
    assert html.count("@<span>alice</span>") == 2  # the stored username is shown, not the typed one


def test_same_username_on_two_servers_shows_the_domain() -> None:
    other_bob = ResolvedMention("bob", None, "https://local.example/@bob")
    html = render("@bob @bob@remote.example", {("bob", None): other_bob, ("bob", "remote.example"): BOB})

    assert "@<span>bob</span>" in html
    assert "@<span>bob@remote.example</span>" in html


def test_extract_mentions_in_order_deduplicated() -> None:
    text = "@Alice then @bob@Remote.Example, @alice again, @carol@local.example."

    assert extract_mentions(text) == [
        MentionRef("Alice", None),
        MentionRef("bob", "remote.example"),
        MentionRef("carol", "local.example"),
    ]
    assert extract_mentions(text, local_domain=LOCAL)[-1] == MentionRef("carol", None)


# ---- hashtags ---------------------------------------------------------------------------------
def test_hashtag_link_keeps_the_typed_spelling() -> None:
    assert render("#hashtagタグ") == (
        '<p><a href="https://local.example/tags/hashtag%E3%82%BF%E3%82%B0" class="mention hashtag" rel="tag">'
        "#<span>hashtagタグ</span></a></p>"
    )


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("#café and #日本", ["café", "日本"]),
        ("#cafe\u0301 decomposed", ["cafe\u0301"]),  # a combining mark is part of the word
        ("#123 #2024", []),
        ("#1_2 #a1", ["1_2", "a1"]),  # Mastodon allows digits with a separator
        ("#foo·bar #x·", ["foo·bar", "x"]),
        ("https://x.org/#anchor https://x.org/a?b=#c", []),
        ("cafe#tag x/#tag (#ok) ##double", ["ok", "double"]),
        ("#Fedi #fedi #FEDI #other", ["Fedi", "other"]),
        ("#taghttps://x.org", ["tag"]),
        ("#end.", ["end"]),
    ],
)
def test_extract_hashtags(text: str, tags: list[str]) -> None:
    assert extract_hashtags(text) == tags


def test_hashtag_right_after_a_previous_tag_is_not_a_tag() -> None:
    # Ruby's scan consumes the character before '#': "#café#tag" is one tag, as in Mastodon.
    assert extract_hashtags("#café#tag") == ["café"]


# ---- plain text -------------------------------------------------------------------------------
def test_html_to_text() -> None:
    html = (
        "<p>One &amp; <b>two</b><br>three<br />four</p><p>five &lt;6&gt;</p>"
        "<script>x()</script><ul><li>a</li><li>b</li></ul>"
    )

    assert html_to_text(html) == "One & two\nthree\nfour\n\nfive <6>\n\na\nb"


# ---- properties -------------------------------------------------------------------------------
TOKENS = st.sampled_from(
    [
        "a", "Zz", "é", "日本", "1", "_", "·", " ", "\n", "\n\n", "\r\n", "@", "#", "/", ".", ",", ":", "!", "?", "=",
        "(", ")", "<", ">", "&", '"', "'", "\u0301", "\u202e", "\u3000",
        "https://", "http://www.", "x.org", "example.com/path", "@alice", "@bob@remote.example", "#tag", "&amp;",
        "<b>", "</p>", "<script>", "javascript:",
    ]
)  # fmt: skip
TEXTS = st.one_of(st.lists(TOKENS, max_size=40).map("".join), st.text(max_size=200))


def expected_plain(text: str) -> str:
    """What the reader sees: simple_format's paragraphs, with the deleted edge newlines gone."""
    paragraphs = re.split(r"\n\n+", re.sub(r"\r\n?", "\n", text))
    return "\n\n".join(p.strip("\n") for p in paragraphs if p.strip("\n")).strip()


class Structure(HTMLParser):
    """Tags, attributes (rel/target aside, empty ones dropped) and text, for comparing two documents."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, ...]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kept = sorted(f"{k}={v}" for k, v in attrs if k not in ("rel", "target") and v)
        self.items.append(("start", tag, *kept))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # "<br />" and "<br>" are the same element

    def handle_endtag(self, tag: str) -> None:
        self.items.append(("end", tag))

    def handle_data(self, data: str) -> None:
        if self.items and self.items[-1][0] == "text":
            data = self.items.pop()[1] + data
        self.items.append(("text", data))


@given(TEXTS)
def test_rendered_text_reads_back_as_typed(text: str) -> None:
    # Every character the member typed comes back, so nothing was interpreted as markup.
    assert html_to_text(render(text, {})) == expected_plain(text)


@given(TEXTS)
def test_sanitizer_keeps_rendered_html_intact(text: str) -> None:
    assume("\x00" not in text)  # HTML parsers drop NUL, and PostgreSQL text cannot hold it anyway
    html = render(text)

    assert Structure(sanitize_remote_html(html)).items == Structure(html).items
    assert {item[1] for item in Structure(html).items if item[0] == "start"} <= {"p", "br", "a", "span"}


@given(TEXTS)
def test_extractors_agree_with_the_html(text: str) -> None:
    html = render(text)
    linked_tags = [html_to_text(t) for t in re.findall(r'rel="tag">#<span>(.*?)</span>', html)]
    linked_urls = [html_to_text(u) for u in re.findall(r'<a href="([^"]*)" target="_blank"', html)]

    first_spellings: dict[str, str] = {}
    for tag in linked_tags:
        first_spellings.setdefault(tag.casefold(), tag)
    assert extract_hashtags(text) == list(first_spellings.values())
    assert extract_links(text) == list(dict.fromkeys(u for u in linked_urls if u.lower().startswith("http")))


@pytest.mark.parametrize(
    "text",
    [
        "#a" + "·" * 100_000,
        "#" + "1" * 100_000,
        "https://" + "a." * 50_000 + "1",
        "https://x.org/" + "(a" * 50_000,
        "https://x.org/?" + "." * 100_000,
        "@a@" + "." * 100_000,
        "@a" + "-" * 100_000,
        "<" * 100_000,
        ("Hello @alice #tag https://x.org/a?b=c <b>&amp;\n\n") * 2_000,
    ],
)
def test_huge_hostile_input_is_handled(text: str) -> None:
    # Each of these backtracks quadratically in a naive port of the Ruby regexes.
    html = render(text)

    assert html.startswith("<p>")
    assert html_to_text(html) == expected_plain(text)
