"""Reading remote objects (activitypub/notes.py `note_from_ap`): real servers' payloads from
tests/fixtures/federation/, and inline payloads for shapes the fixtures lack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fediverse_biz.activitypub.activities import types
from fediverse_biz.activitypub.notes import NOTE_TYPES, PUBLIC, note_from_ap

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "federation"


# ---- real servers' payloads ---------------------------------------------------------------------
def _notes_in(doc: Any, pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(doc, dict):
        return
    if types(doc) & set(NOTE_TYPES):
        yield pointer or "/", doc
    elif types(doc) & {"Create", "Update", "Announce"}:
        yield from _notes_in(doc.get("object"), f"{pointer}/object")


def _fixture_notes() -> list[Any]:
    cases = []
    for path in sorted(FIXTURES.glob("*/*.json")):
        for pointer, obj in _notes_in(json.loads(path.read_text(encoding="utf-8"))):
            cases.append(pytest.param(obj, id=f"{path.parent.name}/{path.name}{pointer}"))
    return cases


@pytest.mark.parametrize("obj", _fixture_notes())
def test_every_fixture_note_parses(obj: dict[str, Any]) -> None:
    parsed = note_from_ap(obj, actor_followers_url=None)

    assert parsed.uri == obj["id"]
    assert parsed.type in NOTE_TYPES
    assert parsed.attributed_to.startswith("http")
    assert parsed.visibility in {"public", "unlisted", "private", "direct"}
    assert "<script" not in parsed.content


def test_fixtures_cover_several_servers() -> None:
    servers = {str(p.values[0]["id"]).split("/")[2] for p in _fixture_notes()}
    assert len(servers) >= 5


def _fixture(server: str, name: str) -> dict[str, Any]:
    path = FIXTURES / server / name
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc["object"] if doc.get("type") in ("Create", "Update") else doc


def test_mastodon_note_with_media_blurhash_and_focus() -> None:
    obj = _fixture("mastodon", "note_media_blurhash.json")

    parsed = note_from_ap(obj, actor_followers_url="https://floss.social/users/kde/followers")

    assert parsed.visibility == "public"
    assert parsed.language == "en"
    assert parsed.mentions == ["https://lemmy.kde.social/c/kde"]
    assert parsed.conversation == "tag:floss.social,2024-10-14:objectId=71424279:objectType=Conversation"
    (image,) = parsed.attachments
    assert image["type"] == "image"
    assert image["blurhash"] == "USQv:h-W-qI-^,W;RPs=^-R%NZxbo#sDobSc"
    assert (image["width"], image["height"], image["focus"]) == (1500, 1095, {"x": 0.0, "y": 0.0})


def test_mastodon_hashtag_and_content_warning() -> None:
    parsed = note_from_ap(_fixture("mastodon", "create_note_hashtag.json"), actor_followers_url=None)

    assert parsed.hashtags == ["moo"]
    assert parsed.mentions == ["http://localtesting.pleroma.lol/users/lain"]
    assert (parsed.spoiler_text, parsed.sensitive) == ("cw", True)


def test_gotosocial_note_with_string_addressing_and_content_map() -> None:
    parsed = note_from_ap(
        _fixture("gotosocial", "create_note.json"),
        actor_followers_url="http://localhost:8080/users/the_mighty_zork/followers",
    )

    assert parsed.to == [PUBLIC]
    assert parsed.cc == ["http://localhost:8080/users/the_mighty_zork/followers"]
    assert parsed.visibility == "public"
    assert parsed.language == "en"
    assert parsed.spoiler_text == "introduction post"
    assert parsed.published == datetime(2021, 10, 20, 10, 40, 37, tzinfo=UTC)


def test_pleroma_reply_with_context() -> None:
    parsed = note_from_ap(_fixture("pleroma", "create_note.json"), actor_followers_url=None)

    assert parsed.in_reply_to == "https://enterprise.lemmy.ml/post/55143"
    assert parsed.conversation == "https://greenish.red/contexts/f6244742-0526-4b84-ac4f-ceadf1fb4e56"
    assert parsed.mentions == ["https://enterprise.lemmy.ml/u/picard"]
    assert parsed.spoiler_text == ""


def test_misskey_quote_is_kept() -> None:
    parsed = note_from_ap(_fixture("misskey", "note_quote.json"), actor_followers_url=None)

    assert parsed.quote_uri == "https://misskey.io/notes/8vs6wxufd0"


def test_lemmy_page_title_becomes_first_paragraph_and_language_comes_from_lemmy_field() -> None:
    parsed = note_from_ap(_fixture("lemmy", "page.json"), actor_followers_url=None)

    assert parsed.type == "Page"
    assert parsed.title == "Post title"
    assert parsed.content.startswith("<p><strong>Post title</strong></p><p>This is a post")
    assert parsed.language == "fr"
    assert parsed.attachments == []  # a Lemmy `Link` attachment is a link, not media (Mastodon skips it)
    assert parsed.conversation == "https://enterprise.lemmy.ml/post/55143/context"


# ---- inline payloads for shapes the fixtures lack -----------------------------------------------
def test_misskey_note_with_only_mfm_source_renders_escaped_paragraphs() -> None:
    obj = {
        "id": "https://mk.example/notes/9abc",
        "type": "Note",
        "attributedTo": "https://mk.example/users/9a",
        "_misskey_content": "Hello <b>world</b>\nsecond line\n\nnext",
        "_misskey_quote": "https://mk.example/notes/1",
        "to": [PUBLIC],
        "attachment": [
            {"type": "Document", "mediaType": "video/mp4", "url": "https://mk.example/files/v", "sensitive": True}
        ],
    }

    parsed = note_from_ap(obj, actor_followers_url=None)

    assert parsed.content == "<p>Hello &lt;b&gt;world&lt;/b&gt;<br>second line</p><p>next</p>"
    assert parsed.quote_uri == "https://mk.example/notes/1"
    assert parsed.sensitive is True  # Misskey marks the file, Mastodon-style readers mark the note
    assert parsed.attachments[0]["type"] == "video"


def test_peertube_style_attributed_to_array_picks_the_person() -> None:
    obj = {
        "id": "https://tube.example/videos/watch/1",
        "type": "Note",
        "content": "<p>hi</p>",
        "attributedTo": [
            {"type": "Group", "id": "https://tube.example/video-channels/chan"},
            {"type": "Person", "id": "https://tube.example/accounts/alice"},
        ],
        "url": [
            {"type": "Link", "mediaType": "video/mp4", "href": "https://tube.example/v.mp4"},
            {"type": "Link", "mediaType": "text/html", "href": "https://tube.example/w/1"},
        ],
    }

    parsed = note_from_ap(obj, actor_followers_url=None)

    assert parsed.attributed_to == "https://tube.example/accounts/alice"
    assert parsed.url == "https://tube.example/w/1"
    assert parsed.visibility == "direct"


def test_pleroma_attachment_url_as_link_array() -> None:
    obj = {
        "id": "https://pl.example/objects/1",
        "type": "Note",
        "content": "x",
        "attributedTo": {"id": "https://pl.example/users/a", "type": "Person"},
        "attachment": [
            {
                "type": "Document",
                "name": "cat",
                "url": [{"href": "https://pl.example/m/c.png", "mediaType": "image/png"}],
            }
        ],
    }

    (media,) = note_from_ap(obj, actor_followers_url=None).attachments

    assert (media["url"], media["media_type"], media["type"], media["description"]) == (
        "https://pl.example/m/c.png",
        "image/png",
        "image",
        "cat",
    )


def test_question_poll_is_kept_as_a_dict() -> None:
    obj = {
        "id": "https://m.example/users/a/statuses/2",
        "type": "Question",
        "attributedTo": "https://m.example/users/a",
        "content": "<p>Which hall?</p>",
        "anyOf": [
            {"type": "Note", "name": "Hall A", "replies": {"type": "Collection", "totalItems": 3}},
            {"type": "Note", "name": "Hall B", "replies": {"type": "Collection", "totalItems": 0}},
        ],
        "endTime": "2024-02-01T00:00:00Z",
        "votersCount": 3,
    }

    parsed = note_from_ap(obj, actor_followers_url=None)

    assert parsed.poll == {
        "multiple": True,
        "options": [{"title": "Hall A", "votes_count": 3}, {"title": "Hall B", "votes_count": 0}],
        "expires_at": "2024-02-01T00:00:00+00:00",
        "closed": False,
        "voters_count": 3,
        "hide_totals": False,
    }
