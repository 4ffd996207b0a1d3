"""Reading pages, oEmbed documents and statuses for link preview cards (core/card_pages.py,
core/card_embeds.py, core/card_links.py): hostile markup included. The fetching job and its limits are
tests/core/test_cards.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fediverse_biz.core.card_embeds import is_player, player_html, read_oembed
from fediverse_biz.core.card_links import first_link
from fediverse_biz.core.card_pages import decode, read_page

PAGE = "https://blog.example/post"


# ---- pages ----------------------------------------------------------------------------------------
def test_opengraph_tags_are_read_and_relative_urls_resolved() -> None:
    page = read_page(
        """<!doctype html><html><head><title>Fallback</title>
        <meta property="og:title" content="Anvils &amp; hammers">
        <meta property="og:description" content="Our new range.">
        <meta property="og:image" content="/img/anvil.png">
        <meta property="og:site_name" content="ACME blog">
        <meta name="author" content="Wile E.">
        <link rel="author" href="/team/wile">
        </head><body></body></html>""",
        PAGE,
    )
    assert page.title == "Anvils & hammers"
    assert page.description == "Our new range."
    assert page.image_url == "https://blog.example/img/anvil.png"
    assert page.site_name == "ACME blog"
    assert (page.author_name, page.author_url) == ("Wile E.", "https://blog.example/team/wile")
    assert page.oembed_url is None


def test_twitter_tags_and_the_title_element_are_fallbacks() -> None:
    twitter = read_page(
        '<meta name="twitter:title" content="T"><meta name="twitter:image" content="https://cdn.example/i.jpg">'
        '<meta name="description" content="D">',
        PAGE,
    )
    assert (twitter.title, twitter.description, twitter.image_url) == ("T", "D", "https://cdn.example/i.jpg")
    assert read_page("<title>  Just a\n title </title>", PAGE).title == "Just a title"


def test_the_oembed_endpoint_is_discovered_from_the_link_element() -> None:
    page = read_page(
        '<link rel="alternate" type="application/json+oembed" href="/oembed?url=x&amp;format=json">'
        '<link rel="alternate" type="text/xml+oembed" href="/oembed.xml">',
        PAGE,
    )
    assert page.oembed_url == "https://blog.example/oembed?url=x&format=json"


@pytest.mark.parametrize(
    "title",
    [
        "<script>alert(1)</script>Real title",
        "<img src=x onerror=alert(1)>Real title",
        "&lt;script&gt;alert(1)&lt;/script&gt;Real title",
        "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;Real title",  # escaped twice
        "Real\u202e title",  # a bidi override would flip what follows
    ],
)
def test_markup_in_titles_never_survives(title: str) -> None:
    tags = f'<meta property="og:title" content="{title}"><meta property="og:description" content="{title}">'
    page = read_page(tags, PAGE)
    for text in (page.title, page.description):
        assert "<" not in text and ">" not in text and "\u202e" not in text
        assert "Real" in text and "title" in text
    # a <script> inside <title> is the title element's text: it is dropped too; a literal "<" stays
    assert read_page("<title><script>alert(1)</script>Hi</title>", PAGE).title == "Hi"
    assert read_page("<title>1 &lt; 2 &amp; 3 > 2</title>", PAGE).title == "1 < 2 & 3 > 2"


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<meta",
        "<<<>>><meta property='og:title' content='x",
        "<html><head><meta property=og:title content=ok></head><body><div><div><p>" * 2000,
        "\x00\x01<title>\ud800</title>",
        '<meta property="og:image" content="javascript:alert(1)"><meta property="og:image" content="http://[x">',
    ],
)
def test_malformed_pages_are_read_without_error(html: str) -> None:
    page = read_page(html, PAGE)
    assert page.image_url is None or page.image_url.startswith("https://")
    assert "\x00" not in page.title


_MARKUP = st.lists(
    st.sampled_from(["<", ">", "<title>", "</title>", "<meta property=og:title content=", '"', "'", "<script>",
                     "&lt;", "&#0;", "\x00", "\ud800", "<link rel=alternate type=application/json+oembed href=",
                     "javascript:", "http://", "<!--", "]]>", "x", " "]) | st.text(max_size=5),
    max_size=40,
).map("".join)


@given(_MARKUP)
def test_any_page_reads_as_plain_text(markup: str) -> None:
    page = read_page(markup, PAGE)
    for text in (page.title, page.description, page.site_name, page.author_name):
        assert "\x00" not in text and "\n" not in text and "<script" not in text.lower()
    for url in (page.image_url, page.oembed_url):
        assert url is None or url.startswith(("http://", "https://"))


@given(_MARKUP)
def test_any_oembed_html_is_an_allowed_player_or_nothing(markup: str) -> None:
    embed = read_oembed({"type": "video", "title": "t", "html": markup}, "https://x.example/oembed")
    assert embed is not None
    assert embed.html == "" or embed.html.startswith('<iframe src="https://')


def test_image_urls_other_than_http_are_ignored() -> None:
    for image in ("javascript:alert(1)", "data:image/png;base64,AAAA", "file:///etc/passwd", "http://", "https://[x"):
        assert read_page(f'<meta property="og:image" content="{image}">', PAGE).image_url is None


def test_the_charset_comes_from_the_header_or_the_page() -> None:
    latin = "<title>Caf\xe9</title>".encode("latin-1")
    assert read_page(decode(latin, "text/html; charset=ISO-8859-1"), PAGE).title == "Café"
    assert read_page(decode(b'<meta charset="latin1">' + latin, "text/html"), PAGE).title == "Café"
    assert read_page(decode(latin, "text/html; charset=no-such-charset"), PAGE).title == "Caf\ufffd"


# ---- oEmbed -----------------------------------------------------------------------------------------
YOUTUBE_HTML = (
    '<iframe width="560" height="315" src="https://www.youtube.com/embed/abc?feature=oembed" '
    'frameborder="0" allow="autoplay" onload="alert(1)" allowfullscreen></iframe>'
)


def test_a_video_from_an_allowed_player_keeps_a_rebuilt_iframe() -> None:
    embed = read_oembed(
        {"type": "video", "version": "1.0", "title": "Demo", "html": YOUTUBE_HTML, "width": 560, "height": 315,
         "provider_name": "YouTube", "provider_url": "https://www.youtube.com/", "author_name": "ACME",
         "author_url": "https://www.youtube.com/@acme", "thumbnail_url": "https://i.ytimg.com/vi/abc/hq.jpg"},
        "https://www.youtube.com/oembed",
    )
    assert embed is not None and embed.card_type == "video"
    assert embed.html.startswith('<iframe src="https://www.youtube.com/embed/abc?feature=oembed"')
    assert "onload" not in embed.html and "allow=" not in embed.html
    assert (embed.width, embed.height, embed.provider_name) == (560, 315, "YouTube")
    assert embed.image_url == "https://i.ytimg.com/vi/abc/hq.jpg"


@pytest.mark.parametrize(
    "html",
    [
        '<iframe src="https://evil.example/embed"></iframe>',
        '<iframe src="https://youtube.com.evil.example/embed"></iframe>',
        '<iframe src="https://evilyoutube.com/embed"></iframe>',
        '<iframe src="http://www.youtube.com/embed/abc"></iframe>',  # not https
        '<iframe src="https://www.youtube.com:8443/embed/abc"></iframe>',
        '<iframe src="javascript:alert(1)//youtube.com"></iframe>',
        '<script src="https://www.youtube.com/iframe_api"></script>',
        '<blockquote class="twitter-tweet"><a href="https://x.example">x</a></blockquote><script></script>',
        "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
        "",
    ],
)
def test_other_html_is_dropped_and_the_card_becomes_a_link(html: str) -> None:
    embed = read_oembed({"type": "rich", "version": "1.0", "title": "Slides", "html": html}, "https://x.example/oembed")
    assert embed is not None
    assert (embed.card_type, embed.html, embed.width, embed.height) == ("link", "", 0, 0)
    assert embed.title == "Slides"


def test_the_allowed_players() -> None:
    for url in (
        "https://www.youtube.com/embed/x",
        "https://www.youtube-nocookie.com/embed/x",
        "https://player.vimeo.com/video/1",
        "https://www.slideshare.net/slideshow/embed_code/key/abc",
    ):
        assert is_player(url), url
    for url in ("https://vimeo.com/1", "https://evil.example/?youtube.com", "https://user@evil.example", "nonsense"):
        assert not is_player(url), url
    assert player_html('<iframe src="https://player.vimeo.com/video/1" width="640px" height="x"></iframe>') == (
        '<iframe src="https://player.vimeo.com/video/1" width="640" height="0" frameborder="0" allowfullscreen="true">'
        "</iframe>",
        640,
        0,
    )


@pytest.mark.parametrize(
    "document",
    [
        {"type": "video"},  # no html: still a link card if it has a title; without one, nothing to show
        {"type": "nonsense", "title": "x"},
        {"type": "photo", "title": "x"},  # a photo without its url
        {"type": "link", "version": "2.0", "title": "x"},
        {"type": ["link"], "title": "x"},
    ],
)
def test_oembed_answers_that_describe_nothing_usable(document: dict[str, object]) -> None:
    embed = read_oembed(document, "https://x.example/oembed")
    assert embed is None or (embed.html == "" and embed.title == "")


def test_oembed_sizes_and_texts_are_checked() -> None:
    embed = read_oembed(
        {"type": "photo", "url": "/p.jpg", "width": 10**12, "height": True, "title": ["x"],
         "author_url": "javascript:alert(1)"},
        "https://x.example/oembed",
    )
    assert embed is not None
    assert (embed.width, embed.height, embed.title, embed.author_url) == (0, 0, "", "")
    assert embed.image_url == embed.embed_url == "https://x.example/p.jpg"


# ---- which link ---------------------------------------------------------------------------------------
def test_mentions_hashtags_and_local_links_get_no_card() -> None:
    local = "https://social.example"
    html = (
        '<p><span class="h-card"><a href="https://peer.example/@bob" class="u-url mention">@bob</a></span> '
        '<a href="https://social.example/tags/fair" class="mention hashtag" rel="tag">#fair</a> '
        '<a href="https://peer.example/users/carol">carol</a> '
        '<a href="https://social.example/@alice/1">ours</a> '
        '<a href="mailto:x@example.com">mail</a> '
        '<a href="https://blog.example/post#comments">the post</a> '
        '<a href="https://later.example/">later</a></p>'
    )
    assert first_link(html, {"https://peer.example/users/carol"}, local) == "https://blog.example/post"
    assert first_link("<p>no links</p>", set(), local) is None
    assert first_link('<a href="https://social.example/x">ours</a>', set(), local) is None
    assert first_link('<a href="https://x.example/' + "a" * 3000 + '">long</a>', set(), local) is None
