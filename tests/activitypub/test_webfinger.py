"""WebFinger, pure: resources we accept, the JRD we build, what we read from peers' JRDs."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fediverse_biz.activitypub.webfinger import (
    AcctResource,
    InvalidResource,
    UrlResource,
    activitypub_self_link,
    build_jrd,
    host_meta_xml,
    parse_acct,
    parse_resource,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acct:alice@biz.example", AcctResource("alice", "biz.example")),
        ("ACCT:Alice@Biz.Example", AcctResource("Alice", "biz.example")),  # user case kept, host folded
        ("alice@biz.example", AcctResource("alice", "biz.example")),
        ("@alice@biz.example", AcctResource("alice", "biz.example")),
        ("acct:alice@127.0.0.1:8123", AcctResource("alice", "127.0.0.1:8123")),
        ("acct:127.0.0.1@127.0.0.1:8123", AcctResource("127.0.0.1", "127.0.0.1:8123")),  # instance actor
    ],
)
def test_handles_are_parsed(text: str, expected: AcctResource) -> None:
    assert parse_acct(text) == expected
    assert parse_resource(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "acct:",
        "alice",
        "acct:alice",
        "acct:@biz.example",
        "alice@",
        "a@b@c",
        "al ice@biz.example",
        "alice@biz.example/path",
        "alice@biz.example?x",
        "alice@biz\x00.example",
        "x" * 3000 + "@biz.example",
    ],
)
def test_malformed_resources_are_refused(text: str) -> None:
    with pytest.raises(InvalidResource):
        parse_resource(text)


def test_urls_are_resources_too() -> None:
    assert parse_resource("https://biz.example/users/alice") == UrlResource("https://biz.example/users/alice")
    assert parse_resource("HTTP://biz.example/@alice") == UrlResource("HTTP://biz.example/@alice")
    with pytest.raises(InvalidResource):
        parse_resource("https://biz.example/users/al ice")


def test_jrd_has_mastodons_links() -> None:
    jrd = build_jrd(
        subject="acct:alice@biz.example",
        actor_uri="https://biz.example/users/alice",
        profile_url="https://biz.example/@alice",
        base_url="https://biz.example",
    )
    assert jrd == {
        "subject": "acct:alice@biz.example",
        "aliases": ["https://biz.example/users/alice", "https://biz.example/@alice"],
        "links": [
            {"rel": "self", "type": "application/activity+json", "href": "https://biz.example/users/alice"},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "https://biz.example/@alice"},
            {
                "rel": "http://ostatus.org/schema/1.0/subscribe",
                "template": "https://biz.example/authorize_interaction?uri={uri}",
            },
        ],
    }
    # and it is what we read back as a peer
    assert activitypub_self_link(jrd) == "https://biz.example/users/alice"


def test_group_jrd_does_not_repeat_its_alias() -> None:
    jrd = build_jrd(
        subject="acct:hall@biz.example",
        actor_uri="https://biz.example/c/hall",
        profile_url="https://biz.example/c/hall",
        base_url="https://biz.example",
    )
    assert jrd["aliases"] == ["https://biz.example/c/hall"]


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        (
            [{"rel": "self", "type": "application/activity+json", "href": "https://p.example/u/a"}],
            "https://p.example/u/a",
        ),
        (
            [
                {
                    "rel": "self",
                    "type": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
                    "href": "https://p.example/u/a",
                }
            ],
            "https://p.example/u/a",
        ),
        (
            [
                {"rel": "self", "type": "text/html", "href": "https://p.example/@a"},
                {"rel": "self", "type": "application/activity+json", "href": "https://p.example/u/a"},
            ],
            "https://p.example/u/a",
        ),
        ([{"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "https://p.example/@a"}], None),
        ([{"rel": "self", "type": "application/json", "href": "https://p.example/u/a"}], None),
        ([{"rel": "self", "type": "application/activity+json", "href": 42}], None),
        ("not a list", None),
    ],
)
def test_self_link_is_the_activitypub_one(links: object, expected: str | None) -> None:
    assert activitypub_self_link({"subject": "acct:a@p.example", "links": links}) == expected


def test_host_meta_is_xrd_with_the_lrdd_template() -> None:
    root = ET.fromstring(host_meta_xml("https://biz.example"))
    assert root.tag == "{http://docs.oasis-open.org/ns/xri/xrd-1.0}XRD"
    link = root.find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link is not None
    assert link.attrib == {"rel": "lrdd", "template": "https://biz.example/.well-known/webfinger?resource={uri}"}
