"""Reading our HTML pages in tests: strict HTML5 parsing and small queries over the tree.

page = parse(response.text)           # raises html5lib's ParseError on any HTML5 parse error
meta(page, "og:title")                # content of <meta property|name="og:title">
links(page, "alternate")              # [(type, href)] of <link rel="alternate">
text(page)                            # all visible text, whitespace squeezed (text_of(element): one element's)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import html5lib


def parse(markup: str) -> ET.Element:
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"), strict=True, namespaceHTMLElements=False)
    document: ET.Element = parser.parse(markup)
    return document


def meta(page: ET.Element, name: str) -> str | None:
    for element in page.iter("meta"):
        if element.get("property") == name or element.get("name") == name:
            return element.get("content")
    return None


def links(page: ET.Element, rel: str) -> list[tuple[str | None, str | None]]:
    return [(e.get("type"), e.get("href")) for e in page.iter("link") if rel in (e.get("rel") or "").split()]


def text(page: ET.Element) -> str:
    body = page.find("body")
    assert body is not None
    return text_of(body)


def text_of(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def by_class(page: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in page.iter() if name in (e.get("class") or "").split()]
