"""Reading hostile and odd remote objects (activitypub/notes.py `note_from_ap`): refused with ValueError,
sanitised, capped, or read the way Mastodon reads them.
"""

from __future__ import annotations

from typing import Any

import pytest

from fediverse_biz.activitypub.notes import MAX_HASHTAGS, MAX_MENTIONS, PUBLIC, note_from_ap

BOB = "https://remote.example/users/bob"


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
