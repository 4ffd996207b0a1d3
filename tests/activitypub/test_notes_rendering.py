"""Rendering our statuses as AS2 objects (activitypub/notes.py `status_to_ap`, `announce_to_ap`), and the
round trip back through `note_from_ap`. Reading remote objects: test_notes_parsing.py, test_notes_hostile.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fediverse_biz.activitypub.context import CONTEXT
from fediverse_biz.activitypub.notes import PUBLIC, addressing, announce_to_ap, note_from_ap, status_to_ap
from fediverse_biz.core.hydrate import StatusBundle
from fediverse_biz.text.sanitize import sanitize_remote_html
from fediverse_biz.urls import LocalUrls

URLS = LocalUrls("https://biz.example")
ACME = "https://biz.example/users/acme"
ACME_FOLLOWERS = f"{ACME}/followers"
BOB = "https://remote.example/users/bob"


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
    assert doc["updated"] == "2024-01-02T08:30:15.000999Z"  # to the microsecond: edits in one second differ
    assert doc["inReplyTo"] == "https://remote.example/users/bob/statuses/9"
    assert doc["conversation"] == doc["context"] == "https://remote.example/contexts/9"


def test_replies_collection_has_the_authors_replies_inline_like_mastodon() -> None:
    # NoteSerializer#replies: a Collection, its first page inline with the author's own replies
    uri = f"{ACME}/statuses/111"
    own = [(201, f"{ACME}/statuses/201"), (305, f"{ACME}/statuses/305")]

    doc = status_to_ap(bundle(), URLS, self_replies=own)

    assert doc["replies"] == {
        "id": f"{uri}/replies",
        "type": "Collection",
        "first": {
            "type": "CollectionPage",
            "next": f"{uri}/replies?page=true&min_id=305",
            "partOf": f"{uri}/replies",
            "items": [f"{ACME}/statuses/201", f"{ACME}/statuses/305"],
        },
    }
    # without replies of its own, the next page is everyone else's
    first = status_to_ap(bundle(), URLS, self_replies=())["replies"]["first"]
    assert first["items"] == [] and first["next"] == f"{uri}/replies?page=true&only_other_accounts=true"
    # a caller that did not read the replies sends none, and a peer's post never gets our collection
    assert "replies" not in status_to_ap(bundle(), URLS)
    assert "replies" not in status_to_ap(bundle(status_row(local=False)), URLS, self_replies=own)


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
