"""Actor documents: rendering ours field by field, and reading every real peer's actor we hold."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fediverse_biz.activitypub.actors import (
    ACTOR_TYPES,
    MAX_DISPLAY_NAME,
    InvalidActor,
    actor_from_ap,
    actor_to_ap,
    authority,
)
from fediverse_biz.activitypub.context import CONTEXT
from fediverse_biz.urls import LocalUrls

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "federation"
URLS = LocalUrls("https://biz.example")
PEM = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----\n"


def local_row(**overrides: Any) -> dict[str, Any]:
    uri = "https://biz.example/users/acme"
    row: dict[str, Any] = {
        "id": 1,
        "username": "acme",
        "domain": None,
        "actor_type": "Organization",
        "display_name": "ACME GmbH",
        "note": "<p>Anvils since 1949</p>",
        "avatar_url": "https://biz.example/media/avatars/acme.png",
        "header_url": None,
        "fields": [
            {"name": "Website", "value": '<a href="https://acme.example">acme.example</a>', "verified_at": None}
        ],
        "locked": False,
        "discoverable": True,
        "indexable": True,
        "bot": False,
        "is_instance_actor": False,
        "uri": uri,
        "url": "https://biz.example/@acme",
        "inbox_url": uri + "/inbox",
        "shared_inbox_url": "https://biz.example/inbox",
        "outbox_url": uri + "/outbox",
        "followers_url": uri + "/followers",
        "following_url": uri + "/following",
        "featured_url": uri + "/collections/featured",
        "key_id": uri + "#main-key",
        "public_key_pem": PEM,
        "also_known_as": [],
        "moved_to_actor_id": None,
        "created_at": datetime(2024, 3, 5, 14, 30, 12, tzinfo=UTC),
        "suspended_at": None,
    }
    row.update(overrides)
    return row


# ---- actor_to_ap -------------------------------------------------------------------------------


def test_organization_document_has_every_field_mastodon_reads() -> None:
    doc = actor_to_ap(local_row(), URLS)
    uri = "https://biz.example/users/acme"
    assert doc == {
        "@context": CONTEXT,
        "id": uri,
        "type": "Organization",
        "following": uri + "/following",
        "followers": uri + "/followers",
        "inbox": uri + "/inbox",
        "outbox": uri + "/outbox",
        "featured": uri + "/collections/featured",
        "preferredUsername": "acme",
        "name": "ACME GmbH",
        "summary": "<p>Anvils since 1949</p>",
        "url": "https://biz.example/@acme",
        "manuallyApprovesFollowers": False,
        "discoverable": True,
        "indexable": True,
        "published": "2024-03-05T00:00:00Z",  # the day only, as Mastodon
        "memorial": False,
        "publicKey": {"id": uri + "#main-key", "owner": uri, "publicKeyPem": PEM},
        "tag": [],
        "attachment": [
            {"type": "PropertyValue", "name": "Website", "value": '<a href="https://acme.example">acme.example</a>'}
        ],
        "endpoints": {"sharedInbox": "https://biz.example/inbox"},
        "icon": {"type": "Image", "url": "https://biz.example/media/avatars/acme.png", "mediaType": "image/png"},
    }


def test_person_document_with_header_aliases_and_move() -> None:
    uri = "https://biz.example/users/bob"
    row = local_row(
        username="bob",
        actor_type="Person",
        display_name="",
        note="",
        avatar_url=None,
        header_url="headers/bob.jpg",  # a path under the media directory
        fields=[],
        locked=True,
        discoverable=False,
        indexable=False,
        uri=uri,
        url="https://biz.example/@bob",
        key_id=uri + "#main-key",
        also_known_as=["https://old.example/users/bob"],
    )
    doc = actor_to_ap(row, URLS, moved_to="https://new.example/users/bob")
    assert doc["type"] == "Person"
    assert doc["id"] == uri
    assert doc["preferredUsername"] == "bob"
    assert doc["name"] == "" and doc["summary"] == ""
    assert doc["manuallyApprovesFollowers"] is True
    assert doc["discoverable"] is False and doc["indexable"] is False
    assert "icon" not in doc
    assert doc["image"] == {
        "type": "Image",
        "url": "https://biz.example/media/headers/bob.jpg",
        "mediaType": "image/jpeg",
    }
    assert doc["attachment"] == []
    assert doc["alsoKnownAs"] == ["https://old.example/users/bob"]
    assert doc["movedTo"] == "https://new.example/users/bob"
    assert doc["publicKey"]["owner"] == uri


def test_instance_actor_is_an_application_without_social_graph() -> None:
    uri = "https://biz.example/actor"
    row = local_row(
        username="biz.example",
        actor_type="Application",
        is_instance_actor=True,
        uri=uri,
        url="https://biz.example/about",
        inbox_url=uri + "/inbox",
        key_id=uri + "#main-key",
        locked=True,
        fields=[],
        avatar_url=None,
    )
    doc = actor_to_ap(row, URLS)
    assert doc["type"] == "Application"
    assert doc["preferredUsername"] == "biz.example"
    assert doc["inbox"] == "https://biz.example/actor/inbox"
    assert doc["endpoints"]["sharedInbox"] == "https://biz.example/inbox"
    assert doc["manuallyApprovesFollowers"] is True
    assert not {"followers", "following", "featured"} & doc.keys()


def test_our_document_reads_back_as_the_same_actor() -> None:
    row = local_row()
    fields = actor_from_ap(actor_to_ap(row, URLS))
    assert (fields.uri, fields.username, fields.actor_type) == (row["uri"], "acme", "Organization")
    assert fields.domain == "biz.example"
    assert fields.key_id == row["key_id"] and fields.public_key_pem == PEM
    assert fields.inbox_url == row["inbox_url"] and fields.shared_inbox_url == row["shared_inbox_url"]
    assert fields.display_name == "ACME GmbH"
    assert fields.avatar_url == row["avatar_url"]
    assert fields.fields[0]["name"] == "Website"
    assert (fields.locked, fields.discoverable, fields.indexable, fields.bot) == (False, True, True, False)


# ---- actor_from_ap on real peers' documents ------------------------------------------------------


def _fixture_actors() -> list[Any]:
    found = []
    for path in sorted(FIXTURES.glob("*/*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("type") == "Update" and isinstance(doc.get("object"), dict):
            doc = doc["object"]  # an actor embedded in Update is parsed the same way
        if doc.get("type") in ACTOR_TYPES:
            found.append(pytest.param(doc, id=f"{path.parent.name}/{path.stem}"))
    return found


ACTOR_FIXTURES = _fixture_actors()


def test_fixtures_cover_every_server_family() -> None:
    families = {p.id.split("/")[0] for p in ACTOR_FIXTURES}
    assert {"mastodon", "lemmy"} <= families


@pytest.mark.parametrize("doc", ACTOR_FIXTURES)
def test_every_real_actor_document_is_read(doc: dict[str, Any]) -> None:
    fields = actor_from_ap(doc)
    assert fields.uri == doc["id"]
    assert fields.username == doc["preferredUsername"]
    assert fields.domain == authority(doc["id"])
    assert fields.actor_type == doc["type"]
    assert fields.inbox_url == doc["inbox"]
    assert fields.key_id.startswith(doc["id"])
    assert fields.public_key_pem.startswith("-----BEGIN")
    assert fields.url is not None and authority(fields.url) == fields.domain
    assert "<script" not in fields.note


def test_mastodon_person_fields() -> None:
    doc = json.loads((FIXTURES / "mastodon" / "person.json").read_text())
    fields = actor_from_ap(doc)
    assert fields.domain == "mastodon.example.org"
    assert fields.display_name == ""  # "name": null
    assert fields.fields == [{"name": "foo", "value": "bar"}, {"name": "foo1", "value": "bar1"}]
    assert fields.shared_inbox_url == "http://mastodon.example.org/inbox"
    assert fields.avatar_url == doc["icon"]["url"]
    assert fields.header_url == doc["image"]["url"]
    assert fields.also_known_as == ["http://example.org/users/foo"]
    assert fields.key_id == "http://mastodon.example.org/users/admin#main-key"
    assert fields.url == "http://mastodon.example.org/@admin"
    assert fields.discoverable is False  # absent: opt-in means no
    assert fields.bot is False and fields.locked is False


def test_lemmy_group_fields() -> None:
    doc = json.loads((FIXTURES / "lemmy" / "group.json").read_text())
    fields = actor_from_ap(doc)
    assert fields.actor_type == "Group"
    assert fields.username == "tenforward"
    assert fields.display_name == "Ten Forward"
    assert fields.featured_url == "https://enterprise.lemmy.ml/c/tenforward//featured"
    assert fields.following_url is None
    assert fields.url == doc["id"]  # no url: the id stands in, as in Mastodon
    assert fields.published == datetime(2019, 6, 2, 16, 43, 50, 799554, tzinfo=UTC)


# ---- hostile documents -------------------------------------------------------------------------


def peer_actor(**overrides: Any) -> dict[str, Any]:
    uri = "https://peer.example/users/mallory"
    doc: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": uri,
        "type": "Person",
        "preferredUsername": "mallory",
        "name": "Mallory",
        "summary": "<p>hello</p>",
        "inbox": uri + "/inbox",
        "publicKey": {"id": uri + "#main-key", "owner": uri, "publicKeyPem": PEM},
    }
    doc.update(overrides)
    return doc


@pytest.mark.parametrize(
    "icon",
    [
        {"type": "Image", "url": "javascript:alert(1)"},
        "javascript:alert(1)",
        {"type": "Image", "url": "data:image/png;base64,AAAA"},
        {"type": "Image", "url": "https://user:pw@peer.example/a.png"},
        {"type": "Image", "url": "https://peer.example/a b.png"},
    ],
)
def test_icon_that_is_not_a_plain_web_url_is_dropped(icon: Any) -> None:
    assert actor_from_ap(peer_actor(icon=icon)).avatar_url is None


@pytest.mark.parametrize(
    "icon",
    [
        {"type": "Image", "url": "https://cdn.example/a.png"},
        [{"type": "Image", "url": "javascript:x"}, {"type": "Image", "url": "https://cdn.example/a.png"}],
        "https://cdn.example/a.png",
        {"type": "Image", "url": {"type": "Link", "href": "https://cdn.example/a.png"}},
    ],
)
def test_icon_shapes_seen_in_the_wild(icon: Any) -> None:
    assert actor_from_ap(peer_actor(icon=icon)).avatar_url == "https://cdn.example/a.png"


def test_huge_name_is_truncated_and_flattened() -> None:
    fields = actor_from_ap(peer_actor(name="A\u202e\nB " + "x" * 100_000))
    assert len(fields.display_name) == MAX_DISPLAY_NAME
    assert fields.display_name.startswith("A B x")  # bidi override gone, line break a space


def test_summary_and_field_values_are_sanitised() -> None:
    doc = peer_actor(
        summary='<p onclick="x()">hi<script>alert(1)</script></p><img src=x onerror=alert(1)>',
        attachment=[
            {"type": "PropertyValue", "name": "<b>Site</b>", "value": '<a href="javascript:alert(1)">click</a>'},
            {"type": "Note", "name": "ignored", "value": "not a field"},
        ],
    )
    fields = actor_from_ap(doc)
    assert fields.note == "<p>hi</p>"
    assert fields.fields == [{"name": "<b>Site</b>", "value": "click"}]  # names are plain text, shown escaped


def test_key_owned_by_someone_else_is_rejected() -> None:
    doc = peer_actor()
    doc["publicKey"] = dict(doc["publicKey"], owner="https://peer.example/users/alice")
    with pytest.raises(InvalidActor, match="no publicKey owned by the actor"):
        actor_from_ap(doc)


def test_key_on_another_host_is_rejected() -> None:
    doc = peer_actor()
    doc["publicKey"] = dict(doc["publicKey"], id="https://other.example/keys/1")
    with pytest.raises(InvalidActor, match="another origin"):
        actor_from_ap(doc)


def test_owned_key_is_picked_from_a_list() -> None:
    uri = "https://peer.example/users/mallory"
    keys = [
        {
            "id": "https://peer.example/users/alice#main-key",
            "owner": "https://peer.example/users/alice",
            "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nA\n-----END PUBLIC KEY-----",
        },
        {"id": uri + "#main-key", "owner": uri, "publicKeyPem": PEM},
    ]
    fields = actor_from_ap(peer_actor(publicKey=keys))
    assert (fields.key_id, fields.public_key_pem) == (uri + "#main-key", PEM)


@pytest.mark.parametrize("username", [None, "", "a b", "evil@other.example", "a/b", "tab\there"])
def test_unusable_preferred_username_is_rejected(username: Any) -> None:
    doc = peer_actor(preferredUsername=username) if username is not None else peer_actor()
    if username is None:
        del doc["preferredUsername"]
    with pytest.raises(InvalidActor):
        actor_from_ap(doc)


def test_schema_violations_are_invalid_actors() -> None:
    doc = peer_actor()
    del doc["inbox"]
    with pytest.raises(InvalidActor, match="inbox"):
        actor_from_ap(doc)
    with pytest.raises(InvalidActor):
        actor_from_ap(peer_actor(type="Note"))


def test_profile_url_on_another_host_falls_back_to_the_id() -> None:
    doc = peer_actor(url="https://phishing.example/@mallory")
    assert actor_from_ap(doc).url == doc["id"]


def test_profile_url_prefers_the_html_link() -> None:
    doc = peer_actor(
        url=[
            {"type": "Link", "mediaType": "application/activity+json", "href": "https://peer.example/users/mallory"},
            {"type": "Link", "mediaType": "text/html", "href": "https://peer.example/@mallory"},
        ]
    )
    assert actor_from_ap(doc).url == "https://peer.example/@mallory"


def test_service_is_a_bot_and_moves_are_kept() -> None:
    doc = peer_actor(type="Service", movedTo="https://new.example/users/m", alsoKnownAs="https://old.example/u/m")
    fields = actor_from_ap(doc)
    assert fields.bot is True
    assert fields.moved_to == "https://new.example/users/m"
    assert fields.also_known_as == ["https://old.example/u/m"]


def test_input_document_is_not_modified() -> None:
    doc = peer_actor(attachment=[{"type": "PropertyValue", "name": "a", "value": "<b>b</b>"}])
    before = copy.deepcopy(doc)
    actor_from_ap(doc)
    assert doc == before


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Peer.Example/users/a", "peer.example"),
        ("https://peer.example:443/users/a", "peer.example"),
        ("http://127.0.0.1:8123/users/a", "127.0.0.1:8123"),
        ("http://[::1]:8000/users/a", "[::1]:8000"),
    ],
)
def test_authority_keeps_only_non_default_ports(url: str, expected: str) -> None:
    assert authority(url) == expected
