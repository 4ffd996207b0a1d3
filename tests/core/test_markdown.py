"""The Markdown of operator-written texts (core/markdown.py): what a privacy policy needs, and nothing unsafe."""

from __future__ import annotations

import pytest

from fediverse_biz.core.markdown import render, render_plain

REL = 'rel="nofollow noopener noreferrer"'


def test_a_policy_renders_headings_lists_emphasis_and_links() -> None:
    source = (
        "# Privacy policy\n\n"
        "We keep **your e-mail address** and *nothing else*.\n"
        "Questions: [write to us](mailto:privacy@example.com) or see <https://example.com/faq>.\n\n"
        "## What we collect\n\n"
        "- the address you sign up with\n"
        "- your posts,\n"
        "  public or not\n\n"
        "3. third\n"
        "4. fourth\n\n"
        "> Quoted _law_\n\n"
        "---\n\n"
        "Use `snake_case_names` freely; first line  \n"
        "second line\n"
    )
    assert render(source) == (
        "<h1>Privacy policy</h1>\n"
        "<p>We keep <strong>your e-mail address</strong> and <em>nothing else</em>.\n"
        f'Questions: <a href="mailto:privacy@example.com" {REL}>write to us</a> or see '
        f'<a href="https://example.com/faq" {REL}>https://example.com/faq</a>.</p>\n'
        "<h2>What we collect</h2>\n"
        "<ul>\n<li>the address you sign up with</li>\n<li>your posts,\npublic or not</li>\n</ul>\n"
        '<ol start="3">\n<li>third</li>\n<li>fourth</li>\n</ol>\n'
        "<blockquote>\n<p>Quoted <em>law</em></p>\n</blockquote>\n"
        "<hr>\n"
        "<p>Use <code>snake_case_names</code> freely; first line<br>\nsecond line</p>"
    )


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ('<img src="x" onerror="alert(1)">', "<p>&lt;img src=\"x\" onerror=\"alert(1)\"&gt;</p>"),
        ("[click](javascript:alert)", "<p>[click](javascript:alert)</p>"),
        ("![tracker](https://example.com/pixel.png)", "<p></p>"),
        ("[page](/relative)", f"<p><a {REL}>page</a></p>"),
        ('[x](https://e.com/"onclick="alert)', f'<p><a href="https://e.com/%22onclick=%22alert" {REL}>x</a></p>'),
        ("```\n<b>kept as text</b>\n```", "<pre><code>&lt;b&gt;kept as text&lt;/b&gt;\n</code></pre>"),
        ("a\x00b", "<p>ab</p>"),
    ],
)
def test_raw_html_is_text_and_unsafe_links_lose_their_target(source: str, html: str) -> None:
    assert render(source) == html


def test_plain_text_becomes_escaped_paragraphs() -> None:
    assert render_plain("We make anvils.\nSince 1949.\n\n\nAsk <us> & see") == (
        "<p>We make anvils.<br>\nSince 1949.</p>\n\n<p>Ask &lt;us&gt; &amp; see</p>"
    )
    assert render_plain("  \n\n ") == ""
