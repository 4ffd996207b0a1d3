"""Remote HTML made safe with Mastodon's allow-list; plain-text fields cleaned."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fediverse_biz.text.sanitize import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    LINK_SCHEMES,
    is_allowed_link,
    sanitize_plain,
    sanitize_remote_html,
)

LINK_TAIL = 'target="_blank" rel="nofollow noopener noreferrer"'


# ---- what Mastodon sends comes through --------------------------------------------------------
def test_mastodon_status_html_survives_with_our_link_attributes() -> None:
    mastodon = (
        '<p><span class="h-card" translate="no"><a href="https://m.example/@bob" class="u-url mention">'
        '@<span>bob</span></a></span> see <a href="https://m.example/tags/fedi" class="mention hashtag" rel="tag">'
        '#<span>fedi</span></a> <a href="https://example.com/a/very/long/path/that/gets/ellipsised" '
        'target="_blank" rel="nofollow noopener noreferrer" translate="no"><span class="invisible">https://</span>'
        '<span class="ellipsis">example.com/a/very/long/path/t</span><span class="invisible">hat/gets/ellipsised'
        "</span></a></p><p>line<br>break</p>"
    )

    assert sanitize_remote_html(mastodon) == (
        '<p><span class="h-card" translate="no"><a href="https://m.example/@bob" class="u-url mention" '
        f'{LINK_TAIL}>@<span>bob</span></a></span> see <a href="https://m.example/tags/fedi" '
        f'class="mention hashtag" {LINK_TAIL}>#<span>fedi</span></a> '
        '<a href="https://example.com/a/very/long/path/that/gets/ellipsised" translate="no" '
        f'{LINK_TAIL}><span class="invisible">https://</span><span class="ellipsis">example.com/a/very/long/path/t'
        '</span><span class="invisible">hat/gets/ellipsised</span></a></p><p>line<br>break</p>'
    )


def test_formatting_lists_and_ruby_are_kept() -> None:
    html = (
        '<p lang="fr"><b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><del>d</del><s>s</s><code>c</code></p>'
        '<pre>pre</pre><blockquote>q</blockquote><ol start="3" reversed=""><li value="5">x</li></ol><ul><li>y</li></ul>'
        "<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>"
    )

    assert sanitize_remote_html(html) == html


# ---- hostile input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>hi<script>alert(1)</script></p>", "<p>hi</p>"),
        ("<style>p{color:red}</style>text", "text"),
        ('<iframe src="https://evil.example"></iframe>after', "after"),
        ('<object data="x.swf">fallback</object>ok', "ok"),
        ('<svg onload="alert(1)"><a href="https://x.example/"><text>svg text</text></a></svg>ok', "ok"),
        ("<math><mi>x</mi><annotation>y</annotation></math>ok", "ok"),
        ('<img src="x" onerror="alert(1)">caption', "caption"),
        ('<p onclick="alert(1)" style="color:red" id="x" dir="rtl">p</p>', "<p>p</p>"),
        ('<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>', '"&gt;'),
        ("<<script>script>alert(1)<</script>/script>", "&lt;/script&gt;"),
        ("<b><i>unclosed", "<b><i>unclosed</i></b>"),
        ("</p></b>stray<p>", "<p></p>stray<p></p>"),
        ("<div><table><tr><td>cell</td></tr></table></div>", "cell"),
        ("<!-- comment --><![CDATA[x]]>text", "text"),
        ('<form action="https://evil.example"><input value="x"><button>go</button></form>', "go"),
    ],
)
def test_hostile_markup_is_removed(html: str, expected: str) -> None:
    assert sanitize_remote_html(html) == expected


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "javascript&colon;alert(1)",
        "&#106;avascript:alert(1)",
        "java\tscript:alert(1)",
        "  javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "/relative/path",
        "//evil.example/protocol-relative",
        "#fragment",
    ],
)
def test_links_with_unsupported_schemes_become_their_text(href: str) -> None:
    # Mastodon's UNSUPPORTED_HREF_TRANSFORMER replaces the link with its text.
    assert sanitize_remote_html(f'<p><a href="{href}" class="mention">click</a> me</p>') == "<p>click me</p>"


@pytest.mark.parametrize("scheme", sorted(LINK_SCHEMES))
def test_links_with_mastodon_schemes_are_kept(scheme: str) -> None:
    href = "magnet:?xt=urn:btih:c12fe1c0" if scheme == "magnet" else f"{scheme}://host.example/x"
    if scheme == "xmpp":
        href = "xmpp:muc@host.example?join"

    html = sanitize_remote_html(f'<a href="{href}" rel="me" target="_self" translate="yes">l</a>')

    assert html == f'<a href="{href.replace("&", "&amp;")}" {LINK_TAIL}>l</a>'


def test_classes_are_filtered_to_mastodons_set() -> None:
    html = sanitize_remote_html(
        '<p class="quote-inline evil"><span class="h-card p-name u-photo dt-x e-content mention hashtag ellipsis '
        'invisible hidden status__content">a</span><span class="only-bad">b</span></p>'
    )

    assert html == (
        '<p class="quote-inline"><span class="h-card p-name u-photo dt-x e-content mention hashtag ellipsis '
        'invisible">a</span><span>b</span></p>'
    )


def test_translate_is_kept_only_when_no() -> None:
    assert sanitize_remote_html('<span translate="yes">a</span><span translate="no">b</span>') == (
        '<span>a</span><span translate="no">b</span>'
    )


def test_headings_become_strong_paragraphs() -> None:
    html = sanitize_remote_html("<h1>Title <em>now</em></h1><h3>Sub</h3><h2><p>one</p><p>two</p></h2>tail")

    assert html == (
        "<p><strong>Title <em>now</em></strong></p><p><strong>Sub</strong></p><p><strong>one<br>two</strong></p>tail"
    )


def test_text_stays_escaped() -> None:
    assert (
        sanitize_remote_html("<p>1 &lt; 2 &amp;&amp; 3 &gt; &quot;0&quot;</p>")
        == '<p>1 &lt; 2 &amp;&amp; 3 &gt; "0"</p>'
    )


def test_huge_input_still_works() -> None:
    chunk = '<p>word <b>bold</b> <a href="https://x.example/">link</a> <script>bad()</script></p>'
    html = chunk * (100_000 // len(chunk) + 1)

    out = sanitize_remote_html(html)

    assert out.count("<p>") == html.count("<p>")
    assert "script" not in out
    assert sanitize_remote_html("<b>" * 100_000 + "deep").endswith("deep" + "</b>" * 100_000)


def test_is_allowed_link() -> None:
    assert is_allowed_link("https://nic.みんな/")
    assert not is_allowed_link("https://\u0301x.example/")  # UTS #46: a label may not start with a mark
    assert not is_allowed_link("javascript:alert(1)")


# ---- properties -------------------------------------------------------------------------------
FRAGMENTS = st.sampled_from(
    [
        "<p>", "</p>", "<h1>", "</h1>", "<a href='https://x.example/'>", "<a href='javascript:alert(1)'>",
        "<a href='java&#x09;script:x'>", "<a>", "</a>", "<b>", "</b>", "<br>", "<br/>", "<span class='h-card bad'>",
        "</span>", "<ul>", "<li>", "</li>", "<script>", "</script>", "<svg>", "</svg>", "<math>", "<img src=x ",
        "onerror=alert(1)>", "<style>", "<iframe>", "<table><td>", "<!--", "-->", "<![CDATA[", "]]>", "<noscript>",
        "<template>", "<textarea>", "<p style='x'>", "<span translate='yes'>", "text", "&amp;", "&lt;", "&#0;", " ",
        "\n", "<", ">", "'", '"', "=", "/",
    ]
)  # fmt: skip
HOSTILE = st.one_of(st.lists(FRAGMENTS, max_size=40).map("".join), st.text(max_size=200))


class Inventory(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


@given(HOSTILE)
def test_output_only_uses_the_allow_list(html: str) -> None:
    out = sanitize_remote_html(html)

    for tag, attrs in Inventory(out).tags:
        assert tag in ALLOWED_TAGS
        for name, value in attrs:
            allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, set()) | {"translate"}
            assert name in allowed | ({"rel", "target"} if tag == "a" else set())
            if name == "href":
                assert (value or "").split(":", 1)[0].lower() in LINK_SCHEMES
    assert not re.search(r"<(script|style|svg|math|iframe|img|textarea)\b", out)


@given(HOSTILE)
def test_sanitizing_twice_changes_nothing(html: str) -> None:
    once = sanitize_remote_html(html)

    assert sanitize_remote_html(once) == once


# ---- plain text -------------------------------------------------------------------------------
def test_plain_text_drops_bidi_overrides_and_controls() -> None:
    # "Evil\u202egnp.exe" would be shown as "Evilexe.png".
    assert sanitize_plain("Evil\u202egnp.exe\u2066x\u2069\x00\x07\x1b[31m\ufeff", 100) == "Evilgnp.exex[31m"


def test_plain_text_is_one_line() -> None:
    assert sanitize_plain("  Acme\n\tGmbH\r\n\u2028& Co.  ", 100) == "Acme GmbH & Co."


def test_plain_text_keeps_scripts_marks_and_emoji_sequences() -> None:
    name = "\u05e9\u05dc\u05d5\u05dd\u200f \u0645\u0631\u062d\u0628\u0627 \U0001f469\u200d\U0001f4bb caf\u00e9"

    assert sanitize_plain(name, 100) == name


def test_plain_text_drops_lone_surrogates() -> None:
    assert sanitize_plain("a\ud800b", 10) == "ab"


def test_plain_text_is_cut_to_max_len() -> None:
    assert sanitize_plain("abcdef", 4) == "abcd"
    assert sanitize_plain("abc def", 4) == "abc"
    assert sanitize_plain("x" * 100_000, 30) == "x" * 30
    assert sanitize_plain("abc", 0) == ""
    with pytest.raises(ValueError):
        sanitize_plain("abc", -1)


@given(st.text(), st.integers(min_value=0, max_value=50))
def test_plain_text_properties(text: str, max_len: int) -> None:
    out = sanitize_plain(text, max_len)

    assert len(out) <= max_len
    assert out == out.strip()
    assert not any(ch in out for ch in "\n\r\t\x00\u202e\u2066")
    out.encode("utf-8")  # storable: no lone surrogates
