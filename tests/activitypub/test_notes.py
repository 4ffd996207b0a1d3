"""Rendering our statuses as AS2 objects and reading remote ones (activitypub/notes.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fediverse_biz.activitypub.activities import types
from fediverse_biz.activitypub.context import CONTEXT
from fediverse_biz.activitypub.notes import (
    MAX_HASHTAGS,
    MAX_MENTIONS,
    NOTE_TYPES,
    PUBLIC,
    addressing,
    announce_to_ap,
    note_from_ap,
    status_to_ap,
)
from fediverse_biz.core.hydrate import StatusBundle
from fediverse_biz.core.sanitize import sanitize_remote_html
from fediverse_biz.core.urls import LocalUrls

URLS = LocalUrls("https://biz.example")
ACME = "https://biz.example/users/acme"
ACME_FOLLOWERS = f"{ACME}/followers"
BOB = "https://remote.example/users/bob"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "federation"


# ---- rows, as plain dicts where asyncpg Records are expected ------------------------------------
def actor_row(username: str, domain: str | None, uri: str, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": abs(hash(uri)) % 10**9,
        "username": username,
        "domain": domain,
        "actor_type": "Person",
        "uri": uri,
        "url": None,
        "followers_url": f"{uri}/followers",
    }
    return row | overrides


AUTHOR = actor_row("acme", None, ACME, actor_type="Organization")
REMOTE_BOB = actor_row("bob", "remote.example", BOB)
LOCAL_CAROL = actor_row("carol", None, "https://biz.example/users/carol")
HALL = actor_row("fair", None, "https://biz.example/c/fair", actor_type="Group")

CONTENT = (
    '<p>Hello <span class="h-card" translate="no"><a href="https://remote.example/@bob" class="u-url mention">'
    '@<span>bob</span></a></span> <a href="https://biz.example/tags/Fair" class="mention hashtag" rel="tag">'
    "#<span>Fair</span></a></p>"
)


def status_row(**overrides: Any) -> dict[str, Any]:
    row = {
        "id": 111,
        "uri": f"{ACME}/statuses/111",
        "url": "https://biz.example/@acme/111",
        "actor_id": AUTHOR["id"],
        "local": True,
        "object_type": "Note",
        "visibility": "public",
        "content": CONTENT,
        "spoiler_text": "",
        "sensitive": False,
        "language": "en",
        "title": None,
        "in_reply_to_uri": None,
        "reblog_of_id": None,
        "conversation_uri": None,
        "published_at": datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
        "edited_at": None,
        "ap_to": [],
        "ap_cc": [],
        "extra": {},
    }
    return row | overrides


IMAGE = {
    "id": 5,
    "media_type": "image",
    "content_type": "image/png",
    "file_path": "acme/original/5.png",
    "remote_url": None,
    "description": "Our booth",
    "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
    "meta": {"focus": {"x": 0.5, "y": -0.25}, "original": {"width": 640, "height": 480}},
}


def bundle(status: dict[str, Any] | None = None, **parts: Any) -> StatusBundle:
    return StatusBundle(status=status or status_row(), author=parts.pop("author", AUTHOR), **parts)


# ---- rendering ----------------------------------------------------------------------------------
def test_public_note_with_mention_hashtag_and_image_renders_like_mastodon() -> None:
    # given a public status mentioning a remote account, tagged #Fair, with one image
    note = bundle(mentions=[REMOTE_BOB], tags=["Fair"], media=[IMAGE])

    # when rendered
    doc = status_to_ap(note, URLS)

    # then it is exactly NoteSerializer's shape
    assert doc == {
        "id": f"{ACME}/statuses/111",
        "type": "Note",
        "summary": None,
        "inReplyTo": None,
        "published": "2024-01-01T12:00:00Z",
        "url": "https://biz.example/@acme/111",
        "attributedTo": ACME,
        "to": [PUBLIC],
        "cc": [ACME_FOLLOWERS, BOB],
        "sensitive": False,
        "content": CONTENT,
        "contentMap": {"en": CONTENT},
        "attachment": [
            {
                "type": "Document",
                "mediaType": "image/png",
                "url": "https://biz.example/media/acme/original/5.png",
                "name": "Our booth",
                "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
                "focalPoint": [0.5, -0.25],
                "width": 640,
                "height": 480,
            }
        ],
        "tag": [
            {"type": "Mention", "href": BOB, "name": "@bob@remote.example"},
            {"type": "Hashtag", "href": "https://biz.example/tags/fair", "name": "#Fair"},
        ],
    }
    assert "@context" not in doc


@pytest.mark.parametrize(
    ("visibility", "to", "cc"),
    [
        ("public", [PUBLIC], [ACME_FOLLOWERS, BOB, LOCAL_CAROL["uri"]]),
        ("unlisted", [ACME_FOLLOWERS], [PUBLIC, BOB, LOCAL_CAROL["uri"]]),
        ("private", [ACME_FOLLOWERS], [BOB, LOCAL_CAROL["uri"]]),
        ("direct", [BOB, LOCAL_CAROL["uri"]], []),
    ],
)
def test_each_visibility_is_addressed_like_mastodon(visibility: str, to: list[str], cc: list[str]) -> None:
    note = bundle(status_row(visibility=visibility), mentions=[REMOTE_BOB, LOCAL_CAROL])

    assert addressing(note, ACME_FOLLOWERS) == (to, cc)
    doc = status_to_ap(note, URLS)
    assert (doc["to"], doc["cc"]) == (to, cc)


def test_local_mentions_carry_our_host_and_groups_add_their_followers() -> None:
    note = bundle(mentions=[LOCAL_CAROL, HALL])

    doc = status_to_ap(note, URLS)

    assert [t["name"] for t in doc["tag"]] == ["@carol@biz.example", "@fair@biz.example"]
    assert doc["cc"] == [ACME_FOLLOWERS, LOCAL_CAROL["uri"], HALL["uri"], HALL["followers_url"]]


def test_stored_addressing_wins_over_computed() -> None:
    note = bundle(status_row(ap_to=[PUBLIC, HALL["uri"]], ap_cc=[ACME_FOLLOWERS]), mentions=[REMOTE_BOB])

    doc = status_to_ap(note, URLS)

    assert (doc["to"], doc["cc"]) == ([PUBLIC, HALL["uri"]], [ACME_FOLLOWERS])


def test_article_has_name_and_edited_reply_has_updated_in_reply_to_and_conversation() -> None:
    status = status_row(
        object_type="Article",
        title="Spring catalogue",
        spoiler_text="long read",
        sensitive=True,
        language=None,
        in_reply_to_uri="https://remote.example/users/bob/statuses/9",
        conversation_uri="https://remote.example/contexts/9",
        edited_at=datetime(2024, 1, 2, 8, 30, 15, 999, tzinfo=UTC),
    )

    doc = status_to_ap(bundle(status), URLS)

    assert doc["type"] == "Article"
    assert doc["name"] == "Spring catalogue"
    assert list(doc)[:3] == ["id", "type", "name"]
    assert doc["summary"] == "long read"
    assert doc["sensitive"] is True
    assert "contentMap" not in doc
    assert doc["updated"] == "2024-01-02T08:30:15Z"
    assert doc["inReplyTo"] == "https://remote.example/users/bob/statuses/9"
    assert doc["conversation"] == doc["context"] == "https://remote.example/contexts/9"


def test_tag_uri_conversation_is_not_sent_as_context() -> None:
    # NoteSerializer#context: only http(s) URIs; ostatus `conversation` takes any URI
    doc = status_to_ap(bundle(status_row(conversation_uri="tag:biz.example,2024:objectId=1")), URLS)

    assert doc["conversation"] == "tag:biz.example,2024:objectId=1"
    assert "context" not in doc


def test_remote_media_keeps_its_remote_url_and_missing_meta_is_omitted() -> None:
    remote = IMAGE | {"file_path": None, "remote_url": "https://cdn.remote.example/a.jpg", "meta": {}}
    remote |= {"description": "", "blurhash": None}

    (attachment,) = status_to_ap(bundle(media=[remote]), URLS)["attachment"]

    assert attachment == {
        "type": "Document",
        "mediaType": "image/png",
        "url": "https://cdn.remote.example/a.jpg",
        "name": None,
        "blurhash": None,
    }


def test_extra_properties_are_merged_but_cannot_replace_identity() -> None:
    job = {"schema:jobTitle": "Welder"}

    assert status_to_ap(bundle(), URLS, extra_properties=job)["schema:jobTitle"] == "Welder"
    with pytest.raises(ValueError, match="attributedTo"):
        status_to_ap(bundle(), URLS, extra_properties={"attributedTo": BOB})


def test_boost_is_an_announce_with_original_author_first_in_cc() -> None:
    original = bundle(status_row(uri=f"{BOB}/statuses/7"), author=REMOTE_BOB)
    boost = bundle(
        status_row(id=222, uri=f"{ACME}/statuses/222/activity", content="", reblog_of_id=7),
        reblog=original,
    )

    doc = announce_to_ap(boost, URLS)

    assert doc == {
        "@context": CONTEXT,
        "id": f"{ACME}/statuses/222/activity",
        "type": "Announce",
        "actor": ACME,
        "published": "2024-01-01T12:00:00Z",
        "to": [PUBLIC],
        "cc": [BOB, ACME_FOLLOWERS],
        "object": f"{BOB}/statuses/7",
    }
    with pytest.raises(ValueError, match="Announce"):
        status_to_ap(boost, URLS)
    with pytest.raises(ValueError, match="not a boost"):
        announce_to_ap(original, URLS)


def test_unlisted_boost_addressing() -> None:
    original = bundle(status_row(uri=f"{BOB}/statuses/7"), author=REMOTE_BOB)
    boost = bundle(status_row(visibility="unlisted", uri=f"{ACME}/statuses/3/activity"), reblog=original)

    doc = announce_to_ap(boost, URLS)

    assert (doc["to"], doc["cc"]) == ([ACME_FOLLOWERS], [BOB, PUBLIC])


# ---- round trip ---------------------------------------------------------------------------------
@pytest.mark.parametrize("visibility", ["public", "unlisted", "private", "direct"])
def test_round_trip_keeps_content_visibility_mentions_tags_media_and_reply(visibility: str) -> None:
    status = status_row(visibility=visibility, in_reply_to_uri=f"{BOB}/statuses/1", spoiler_text="cw")
    note = bundle(status, mentions=[REMOTE_BOB], tags=["Fair"], media=[IMAGE])

    parsed = note_from_ap(status_to_ap(note, URLS), actor_followers_url=ACME_FOLLOWERS)

    assert parsed.uri == status["uri"]
    assert parsed.attributed_to == ACME
    assert parsed.content == sanitize_remote_html(CONTENT)  # links gain rel/target, nothing else
    assert parsed.visibility == visibility
    assert parsed.mentions == [BOB]
    assert parsed.hashtags == ["Fair"]
    assert parsed.in_reply_to == f"{BOB}/statuses/1"
    assert parsed.spoiler_text == "cw"
    assert parsed.language == "en"
    assert parsed.url == status["url"]
    assert parsed.published == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert parsed.attachments == [
        {
            "url": "https://biz.example/media/acme/original/5.png",
            "media_type": "image/png",
            "type": "image",
            "description": "Our booth",
            "blurhash": IMAGE["blurhash"],
            "width": 640,
            "height": 480,
            "focus": {"x": 0.5, "y": -0.25},
        }
    ]


def test_plain_paragraph_survives_round_trip_unchanged() -> None:
    note = bundle(status_row(content="<p>Plain &amp; simple</p>"))

    assert note_from_ap(status_to_ap(note, URLS), actor_followers_url=None).content == "<p>Plain &amp; simple</p>"


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
    }


# ---- hostile and odd input ----------------------------------------------------------------------
def remote_note(**overrides: Any) -> dict[str, Any]:
    return {
        "id": f"{BOB}/statuses/1",
        "type": "Note",
        "attributedTo": BOB,
        "content": "<p>hi</p>",
        "to": [PUBLIC],
        "cc": [f"{BOB}/followers"],
    } | overrides


def test_script_is_sanitised_away() -> None:
    parsed = note_from_ap(
        remote_note(
            content='<p>hi<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:x">y</a></p>'
        ),
        actor_followers_url=None,
    )

    assert parsed.content == "<p>hiy</p>"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"attributedTo": None}, "attributedTo"),
        ({"attributedTo": "javascript:alert(1)"}, "attributedTo"),
        ({"content": 42}, "content is not a string"),
        ({"content": ["<p>a</p>"]}, "content is not a string"),
        ({"id": None}, "id"),
        ({"id": "urn:uuid:1"}, "id"),
        ({"type": "Create"}, "unsupported object type"),
    ],
)
def test_unusable_objects_raise_value_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        note_from_ap(remote_note(**overrides), actor_followers_url=None)


def test_missing_attributed_to_raises() -> None:
    obj = remote_note()
    del obj["attributedTo"]

    with pytest.raises(ValueError, match="attributedTo"):
        note_from_ap(obj, actor_followers_url=None)


def test_non_object_raises() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        note_from_ap("https://x.example/1", actor_followers_url=None)  # type: ignore[arg-type]


def test_javascript_and_relative_attachment_urls_are_dropped() -> None:
    attachments = [
        {"type": "Document", "mediaType": "image/png", "url": "javascript:alert(1)"},
        {"type": "Document", "mediaType": "image/png", "url": "/relative.png"},
        {"type": "Document", "mediaType": "image/png"},
        "https://bare-string.example/a.png",
        {"type": "Image", "url": "https://remote.example/ok.png", "blurhash": "not a hash", "width": -3},
    ]

    parsed = note_from_ap(remote_note(attachment=attachments), actor_followers_url=None)

    assert parsed.attachments == [
        {
            "url": "https://remote.example/ok.png",
            "media_type": None,
            "type": "image",
            "description": None,
            "blurhash": None,
            "width": None,
            "height": None,
            "focus": None,
        }
    ]


def test_ten_thousand_tags_are_capped() -> None:
    tags: list[Any] = [{"type": "Hashtag", "name": f"#tag{i}"} for i in range(10_000)]
    tags += [{"type": "Mention", "href": f"https://remote.example/users/u{i}"} for i in range(10_000)]
    tags += ["junk", 7, None, {"type": ["Mention"], "href": "javascript:x"}]

    parsed = note_from_ap(remote_note(tag=tags), actor_followers_url=None)

    assert len(parsed.hashtags) == MAX_HASHTAGS
    assert len(parsed.mentions) == MAX_MENTIONS
    assert parsed.hashtags[:2] == ["tag0", "tag1"]


def test_hashtags_are_deduplicated_case_insensitively_and_invalid_names_skipped() -> None:
    tags = [
        {"type": "Hashtag", "name": "#Fair"},
        {"type": "Hashtag", "name": "#fair"},
        {"type": "Hashtag", "name": "#2024"},
        {"type": "Hashtag", "name": "#a b"},
        {"type": "Hashtag", "name": None},
        {"type": "Hashtag", "name": "#" + "x" * 200},
    ]

    assert note_from_ap(remote_note(tag=tags), actor_followers_url=None).hashtags == ["Fair"]


@pytest.mark.parametrize(
    ("to", "cc", "visibility"),
    [
        ([PUBLIC], [], "public"),
        (["as:Public"], [], "public"),
        (["Public"], [], "public"),
        ([f"{BOB}/followers"], ["as:Public"], "unlisted"),
        ([f"{BOB}/followers"], ["Public"], "unlisted"),
        ([f"{BOB}/followers"], [], "private"),
        ([], [f"{BOB}/followers"], "private"),
        (["https://biz.example/users/acme"], [], "direct"),
        ([{"id": PUBLIC}], [], "public"),
        (PUBLIC, None, "public"),
    ],
)
def test_visibility_is_computed_like_mastodon(to: Any, cc: Any, visibility: str) -> None:
    parsed = note_from_ap(remote_note(to=to, cc=cc), actor_followers_url=f"{BOB}/followers")

    assert parsed.visibility == visibility


def test_followers_only_without_known_followers_url_is_direct() -> None:
    parsed = note_from_ap(remote_note(to=[f"{BOB}/followers"], cc=[]), actor_followers_url=None)

    assert parsed.visibility == "direct"


def test_permalink_on_another_host_is_ignored_and_bad_dates_are_none() -> None:
    parsed = note_from_ap(
        remote_note(url="https://evil.example/@bob/1", published="yesterday", updated=17),
        actor_followers_url=None,
    )

    assert parsed.url is None
    assert parsed.published is None and parsed.updated is None


def test_content_map_is_used_when_content_is_absent_and_language_checked() -> None:
    obj = remote_note(content=None, contentMap={"de": "<p>Hallo</p>", "en": "<p>Hello</p>"})

    parsed = note_from_ap(obj, actor_followers_url=None)

    assert (parsed.content, parsed.language) == ("<p>Hallo</p>", "de")
    bogus = note_from_ap(remote_note(contentMap={"<script>": "<p>hi</p>"}), actor_followers_url=None)
    assert bogus.language is None
