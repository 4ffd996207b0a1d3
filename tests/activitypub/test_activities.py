"""Activity builders and inbox readers (activitypub/activities.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from fediverse_biz.activitypub import activities as ap
from fediverse_biz.activitypub.context import CONTEXT, PUBLIC

ACME = "https://biz.example/users/acme"
BOB = "https://remote.example/users/bob"
NOTE_URI = f"{ACME}/statuses/111"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "federation"

NOTE: dict[str, Any] = {
    "id": NOTE_URI,
    "type": "Note",
    "published": "2024-01-01T12:00:00Z",
    "attributedTo": ACME,
    "to": [PUBLIC],
    "cc": [f"{ACME}/followers", BOB],
    "content": "<p>hi</p>",
}


# ---- builders -----------------------------------------------------------------------------------
def test_create_wraps_the_note_and_copies_its_addressing() -> None:
    doc = ap.create(NOTE, ACME)

    assert doc == {
        "@context": CONTEXT,
        "id": f"{NOTE_URI}/activity",
        "type": "Create",
        "actor": ACME,
        "published": "2024-01-01T12:00:00Z",
        "to": [PUBLIC],
        "cc": [f"{ACME}/followers", BOB],
        "object": NOTE,
    }
    assert next(iter(doc)) == "@context"


def test_embedded_objects_lose_their_own_context() -> None:
    doc = ap.create({"@context": CONTEXT, **NOTE}, ACME)

    assert "@context" not in doc["object"]
    assert doc["object"] == NOTE


def test_create_of_an_object_with_string_addressing() -> None:
    doc = ap.create(NOTE | {"to": PUBLIC, "cc": None}, ACME)

    assert (doc["to"], doc["cc"]) == ([PUBLIC], [])


def test_update_note_id_carries_the_serial_of_that_one_activity() -> None:
    edited = datetime(2024, 1, 2, 8, 30, tzinfo=UTC)

    doc = ap.update_note(NOTE | {"updated": "2024-01-02T08:30:00Z"}, ACME, edited, serial=7351)

    assert doc["id"] == f"{NOTE_URI}#updates/7351"
    assert (doc["type"], doc["published"]) == ("Update", "2024-01-02T08:30:00Z")
    assert (doc["to"], doc["cc"]) == (NOTE["to"], NOTE["cc"])
    assert doc["object"]["updated"] == "2024-01-02T08:30:00Z"


def test_two_updates_within_one_second_have_two_ids_and_ordered_times() -> None:
    # Mastodon's `#updates/<unix seconds>` gave both the same id; the serial is per activity
    first_edit = datetime(2024, 1, 2, 8, 30, 15, 100000, tzinfo=UTC)
    second_edit = first_edit + timedelta(milliseconds=300)
    first = ap.update_note(NOTE, ACME, first_edit, serial=1001)
    second = ap.update_note(NOTE, ACME, second_edit, serial=1002)
    assert int(first_edit.timestamp()) == int(second_edit.timestamp())
    assert first["id"] != second["id"]
    # `updated` keeps the microseconds, so a receiver can tell which edit is newer, and reads them back
    stamps = [ap.format_datetime(t, precise=True) for t in (first_edit, second_edit)]
    assert stamps == ["2024-01-02T08:30:15.100000Z", "2024-01-02T08:30:15.400000Z"]
    assert [ap.parse_datetime(s) for s in stamps] == [first_edit, second_edit]


def test_delete_note_sends_a_tombstone_to_the_given_audience() -> None:
    doc = ap.delete_note(NOTE_URI, ACME, [f"{ACME}/followers"], [BOB])

    assert doc == {
        "@context": CONTEXT,
        "id": f"{NOTE_URI}#delete",
        "type": "Delete",
        "actor": ACME,
        "to": [f"{ACME}/followers"],
        "cc": [BOB],
        "object": {"id": NOTE_URI, "type": "Tombstone", "atomUri": NOTE_URI},
    }


def test_update_and_delete_actor() -> None:
    actor_doc = {"@context": CONTEXT, "id": ACME, "type": "Organization", "name": "ACME"}
    when = datetime(2024, 3, 1, 9, 15, 2, 345678, tzinfo=UTC)

    update = ap.update_actor(actor_doc, serial=42, updated_at=when)
    delete = ap.delete_actor(ACME)

    assert update == {
        "@context": CONTEXT,
        "id": f"{ACME}#updates/42",
        "type": "Update",
        "actor": ACME,
        "to": [PUBLIC],
        "object": {"id": ACME, "type": "Organization", "name": "ACME", "updated": "2024-03-01T09:15:02.345678Z"},
    }
    assert "updated" not in ap.update_actor(actor_doc, serial=43)["object"]
    assert "updated" not in actor_doc  # the caller's document is left as it was
    assert delete == {
        "@context": CONTEXT,
        "id": f"{ACME}#delete",
        "type": "Delete",
        "actor": ACME,
        "to": [PUBLIC],
        "object": ACME,
    }


def test_follow_accept_reject_and_undo() -> None:
    follow = ap.follow(f"{BOB}#follows/9", BOB, ACME)
    received = follow | {"to": [ACME], "signature": {"type": "RsaSignature2017"}}

    accept = ap.accept(f"{ACME}#accepts/follows/9", ACME, received)
    reject = ap.reject(f"{ACME}#rejects/follows/9", ACME, f"{BOB}#follows/9")
    undo = ap.undo(f"{BOB}#follows/9/undo", BOB, follow)

    assert follow == {"@context": CONTEXT, "id": f"{BOB}#follows/9", "type": "Follow", "actor": BOB, "object": ACME}
    assert accept == {
        "@context": CONTEXT,
        "id": f"{ACME}#accepts/follows/9",
        "type": "Accept",
        "actor": ACME,
        "object": {"id": f"{BOB}#follows/9", "type": "Follow", "actor": BOB, "object": ACME},
    }
    assert reject["type"] == "Reject"
    assert reject["object"] == f"{BOB}#follows/9"
    assert undo["object"] == {"id": f"{BOB}#follows/9", "type": "Follow", "actor": BOB, "object": ACME}
    assert undo["id"] == f"{BOB}#follows/9/undo"


def test_like_block_flag_move_add_remove_announce() -> None:
    published = datetime(2024, 1, 1, 12, tzinfo=UTC)
    featured = f"{ACME}/collections/featured"

    assert ap.like(f"{ACME}#likes/5", ACME, f"{BOB}/statuses/1") == {
        "@context": CONTEXT,
        "id": f"{ACME}#likes/5",
        "type": "Like",
        "actor": ACME,
        "object": f"{BOB}/statuses/1",
    }
    assert ap.block(f"{ACME}#blocks/3", ACME, BOB) == {
        "@context": CONTEXT,
        "id": f"{ACME}#blocks/3",
        "type": "Block",
        "actor": ACME,
        "to": [BOB],
        "object": BOB,
    }
    assert ap.flag("https://biz.example/actor#flags/8", "https://biz.example/actor", [BOB, f"{BOB}/s/1"], "spam") == {
        "@context": CONTEXT,
        "id": "https://biz.example/actor#flags/8",
        "type": "Flag",
        "actor": "https://biz.example/actor",
        "to": [BOB],
        "object": [BOB, f"{BOB}/s/1"],
        "content": "spam",
    }
    assert ap.move(f"{ACME}#moves/1", ACME, BOB, to=[f"{ACME}/followers"]) == {
        "@context": CONTEXT,
        "id": f"{ACME}#moves/1",
        "type": "Move",
        "actor": ACME,
        "to": [f"{ACME}/followers"],
        "object": ACME,
        "target": BOB,
    }
    add = ap.add(f"{ACME}#featured/add/4", ACME, NOTE_URI, featured)
    assert (add["type"], add["object"], add["target"]) == ("Add", NOTE_URI, featured)
    remove = ap.remove(f"{ACME}#featured/remove/4", ACME, NOTE_URI, featured)
    assert (remove["type"], remove["object"], remove["target"]) == ("Remove", NOTE_URI, featured)
    assert ap.announce(f"{NOTE_URI}/activity", ACME, f"{BOB}/s/1", to=[PUBLIC], cc=[BOB], published=published) == {
        "@context": CONTEXT,
        "id": f"{NOTE_URI}/activity",
        "type": "Announce",
        "actor": ACME,
        "published": "2024-01-01T12:00:00Z",
        "to": [PUBLIC],
        "cc": [BOB],
        "object": f"{BOB}/s/1",
    }


def test_builders_emit_json() -> None:
    json.dumps(ap.create(NOTE, ACME))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2024, 1, 1, 12, 0, 0, 999_999, tzinfo=UTC), "2024-01-01T12:00:00Z"),
        (datetime(2024, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))), "2024-01-01T12:00:00Z"),
        (datetime(2024, 1, 1, 12, 0), "2024-01-01T12:00:00Z"),
    ],
)
def test_format_datetime_is_utc_second_precision(value: datetime, expected: str) -> None:
    assert ap.format_datetime(value) == expected


# ---- readers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (BOB, BOB),
        ({"id": BOB, "type": "Person"}, BOB),
        ({"type": "Person"}, None),
        ({"id": 5}, None),
        ("", None),
        (None, None),
        ([BOB], None),
        (7, None),
    ],
)
def test_object_id(value: Any, expected: str | None) -> None:
    assert ap.object_id(value) == expected


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"actor": BOB}, BOB),
        ({"actor": {"id": BOB}}, BOB),
        ({"actor": [BOB, ACME]}, BOB),
        ({"actor": []}, None),
        ({}, None),
        ("not a doc", None),
    ],
)
def test_actor_id(doc: Any, expected: str | None) -> None:
    assert ap.actor_id(doc) == expected


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"type": "Note"}, {"Note"}),
        ({"type": ["Note", "schema:JobPosting", 3]}, {"Note", "schema:JobPosting"}),
        ({}, set()),
        ({"type": None}, set()),
        ([], set()),
    ],
)
def test_types(doc: Any, expected: set[str]) -> None:
    assert ap.types(doc) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://a.example/x", "https://a.example/x"),
        ("http://a.example", "http://a.example"),
        ("javascript:alert(1)", None),
        ("/relative", None),
        ("https://", None),
        ("http://[::1", None),
        ({"id": "https://a.example/x"}, None),
    ],
)
def test_http_uri(value: Any, expected: str | None) -> None:
    assert ap.http_uri(value) == expected


@pytest.mark.parametrize(
    ("value", "preferred", "expected"),
    [
        ("https://a.example/p", "text/html", ("https://a.example/p", None)),
        (
            {"type": "Link", "href": "https://a.example/p", "mediaType": "text/html"},
            None,
            ("https://a.example/p", "text/html"),
        ),
        (
            [
                {"href": "https://a.example/v.mp4", "mediaType": "video/mp4"},
                {"href": "https://a.example/p", "mediaType": "text/html"},
            ],
            "text/html",
            ("https://a.example/p", "text/html"),
        ),
        (
            [{"href": "https://a.example/v.mp4", "mimeType": "video/mp4"}],
            "text/html",
            ("https://a.example/v.mp4", None),
        ),
        (None, None, (None, None)),
        ([], None, (None, None)),
        (5, None, (None, None)),
    ],
)
def test_url_to_href(value: Any, preferred: str | None, expected: tuple[str | None, str | None]) -> None:
    assert ap.url_to_href(value, preferred) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-02-17T17:14:26Z", datetime(2018, 2, 17, 17, 14, 26, tzinfo=UTC)),
        ("2021-11-01T11:45:49.794920Z", datetime(2021, 11, 1, 11, 45, 49, 794920, tzinfo=UTC)),
        ("2021-10-20T12:40:37+02:00", datetime(2021, 10, 20, 10, 40, 37, tzinfo=UTC)),
        ("2021-10-20T12:40:37", datetime(2021, 10, 20, 12, 40, 37, tzinfo=UTC)),
        ("yesterday", None),
        (1700000000, None),
        (None, None),
    ],
)
def test_parse_datetime(value: Any, expected: datetime | None) -> None:
    assert ap.parse_datetime(value) == expected


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_readers_handle_every_fixture(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))

    assert ap.types(doc), "every fixture has a type"
    if "actor" in doc:
        assert (ap.actor_id(doc) or "").startswith("http")
    if isinstance(doc.get("object"), (str, dict)):
        assert ap.object_id(doc["object"]) is not None


def test_mastodon_fixture_shapes_match_our_builders() -> None:
    # Our Undo(Follow) and Like have the same keys (bar @context details) as Mastodon's own.
    undo_path, like_path = FIXTURES / "mastodon" / "undo_follow.json", FIXTURES / "mastodon" / "like.json"
    theirs_undo = json.loads(undo_path.read_text(encoding="utf-8"))
    theirs_like = json.loads(like_path.read_text(encoding="utf-8"))
    inner = theirs_undo["object"]

    ours_undo = ap.undo(
        theirs_undo["id"], theirs_undo["actor"], ap.follow(inner["id"], inner["actor"], inner["object"])
    )
    ours_like = ap.like(theirs_like["id"], theirs_like["actor"], theirs_like["object"])

    assert {k: v for k, v in ours_undo.items() if k != "@context"} == {
        k: v for k, v in theirs_undo.items() if k != "@context"
    }
    assert {k: v for k, v in ours_like.items() if k != "@context"} == {
        k: v for k, v in theirs_like.items() if k != "@context"
    }
