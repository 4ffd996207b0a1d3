"""The JSON Schemas for the Mastodon entities we emit (schemas/mastodon/) are sound and mean what we want.

Samples are the examples of the Mastodon documentation (mastodon/documentation content/en/entities/),
brought to the contract we hold ourselves to: datetimes always `YYYY-MM-DDThh:mm:ss.sssZ` (the docs'
Field.verified_at uses `+00:00`), Account.last_status_at a date, and the fields added since the example
was written (group, discoverable, edited_at, api_versions).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.support.json_schemas import load, schema_refs
from tests.support.mastodon_schemas import SCHEMA_DIR, assert_matches, registry

ENTITIES = [
    "account", "credential_account", "field", "emoji", "status", "status_edit", "status_source",
    "media_attachment", "mention", "tag", "context", "relationship", "notification", "instance_v1",
    "instance_v2", "application", "credential_application", "token", "error", "search", "marker",
    "preferences", "poll", "card", "rule", "featured_tag", "list", "role", "conversation", "filter",
    "filter_keyword", "filter_status", "filter_v1", "report",
]  # fmt: skip

SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.schema.json"))

# The Account and Status examples of Mastodon's documentation (Gargron, as embedded in the Status example:
# https://docs.joinmastodon.org/entities/Status/).
ACCOUNT: dict[str, Any] = {
    "id": "1",
    "username": "Gargron",
    "acct": "Gargron",
    "display_name": "Eugen",
    "locked": False,
    "bot": False,
    "discoverable": True,
    "group": False,
    "created_at": "2016-03-16T14:34:26.392Z",
    "note": "<p>Developer of Mastodon and administrator of mastodon.social. I post service announcements, "
    "development updates, and personal stuff.</p>",
    "url": "https://mastodon.social/@Gargron",
    "avatar": "https://files.mastodon.social/accounts/avatars/000/000/001/original/d96d39a0abb45b92.jpg",
    "avatar_static": "https://files.mastodon.social/accounts/avatars/000/000/001/original/d96d39a0abb45b92.jpg",
    "header": "https://files.mastodon.social/accounts/headers/000/000/001/original/c91b871f294ea63e.png",
    "header_static": "https://files.mastodon.social/accounts/headers/000/000/001/original/c91b871f294ea63e.png",
    "followers_count": 322930,
    "following_count": 459,
    "statuses_count": 61323,
    "last_status_at": "2019-12-10",
    "emojis": [],
    "fields": [
        {
            "name": "Patreon",
            "value": '<a href="https://www.patreon.com/mastodon" rel="me nofollow noopener noreferrer" '
            'target="_blank"><span class="invisible">https://www.</span><span class="">patreon.com/mastodon'
            '</span><span class="invisible"></span></a>',
            "verified_at": None,
        },
        {
            "name": "Homepage",
            "value": '<a href="https://zeonfederated.com" rel="me nofollow noopener noreferrer" '
            'target="_blank"><span class="invisible">https://</span><span class="">zeonfederated.com'
            '</span><span class="invisible"></span></a>',
            "verified_at": "2019-07-15T18:29:57.191Z",
        },
    ],
}

STATUS: dict[str, Any] = {
    "id": "103270115826048975",
    "created_at": "2019-12-08T03:48:33.901Z",
    "edited_at": None,
    "in_reply_to_id": None,
    "in_reply_to_account_id": None,
    "sensitive": False,
    "spoiler_text": "",
    "visibility": "public",
    "language": "en",
    "uri": "https://mastodon.social/users/Gargron/statuses/103270115826048975",
    "url": "https://mastodon.social/@Gargron/103270115826048975",
    "replies_count": 5,
    "reblogs_count": 6,
    "favourites_count": 11,
    "favourited": False,
    "reblogged": False,
    "muted": False,
    "bookmarked": False,
    "content": "<p>&quot;I lost my inheritance with one wrong digit on my sort code&quot;</p>",
    "reblog": None,
    "application": {"name": "Web", "website": None},
    "account": ACCOUNT,
    "media_attachments": [],
    "mentions": [],
    "tags": [],
    "emojis": [],
    "card": {
        "url": "https://www.theguardian.com/money/2019/dec/07/i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code",
        "title": "\u2018I lost my \u00a3193,000 inheritance \u2013 with one wrong digit on my sort code\u2019",
        "description": "When Peter Teich\u2019s money went to another Barclays customer, the bank offered "
        "\u00a325 as a token gesture",
        "type": "link",
        "author_name": "",
        "author_url": "",
        "provider_name": "",
        "provider_url": "",
        "html": "",
        "width": 0,
        "height": 0,
        "image": None,
        "embed_url": "",
    },
    "poll": None,
}

# A status with everything the short example leaves empty (the MediaAttachment, Poll and Status entities of
# https://docs.joinmastodon.org/entities/).
RICH_STATUS: dict[str, Any] = {
    **STATUS,
    "id": "103270115826048976",
    "media_attachments": [
        {
            "id": "22345792",
            "type": "image",
            "url": "https://files.mastodon.social/media_attachments/files/022/345/792/original/57859aede991da25.jpeg",
            "preview_url": "https://files.mastodon.social/media_attachments/files/022/345/792/small/57859aede991da25.jpeg",
            "remote_url": None,
            "text_url": "https://mastodon.social/media/2N4uvkuUtPVrkZGysms",
            "meta": {
                "original": {"width": 640, "height": 480, "size": "640x480", "aspect": 1.3333333333333333},
                "small": {"width": 461, "height": 346, "size": "461x346", "aspect": 1.3323699421965318},
                "focus": {"x": -0.27, "y": 0.51},
            },
            "description": "test media description",
            "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}",
        }
    ],
    "mentions": [{"id": "14715", "username": "trwnh", "url": "https://mastodon.social/@trwnh", "acct": "trwnh"}],
    "tags": [{"name": "caturday", "url": "https://mastodon.social/tags/caturday"}],
    "poll": {
        "id": "34830",
        "expires_at": "2019-12-05T04:05:08.302Z",
        "expired": True,
        "multiple": False,
        "votes_count": 10,
        "voters_count": None,
        "voted": True,
        "own_votes": [1],
        "options": [{"title": "accept", "votes_count": 6}, {"title": "deny", "votes_count": 4}],
        "emojis": [],
    },
    "card": None,
    "pinned": False,
    "filtered": [],
}


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: path.name)
def test_each_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = load(path)

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: path.name)
def test_every_ref_resolves(path: Path) -> None:
    refs = schema_refs(load(path))
    resolver = registry().resolver(base_uri=path.name)

    for ref in refs:
        assert resolver.lookup(ref).contents is not None, ref


def test_every_entity_we_emit_has_a_schema() -> None:
    assert {path.name.removesuffix(".schema.json") for path in SCHEMA_FILES} >= set(ENTITIES)


def test_the_documented_account_matches() -> None:
    assert_matches("account", ACCOUNT)


def test_the_documented_status_matches() -> None:
    assert_matches("status", STATUS)


def test_a_status_with_media_mentions_tags_and_poll_matches() -> None:
    assert_matches("status", RICH_STATUS)


def test_a_boost_nests_the_boosted_status() -> None:
    boost = {**STATUS, "id": "103270115826048977", "content": "", "reblog": RICH_STATUS}

    assert_matches("status", boost)


def test_a_credential_account_needs_its_source() -> None:
    credential = {
        **ACCOUNT,
        "source": {
            "privacy": "public",
            "sensitive": False,
            "language": "",
            "note": "Developer of Mastodon",
            "fields": [{"name": "Homepage", "value": "https://zeonfederated.com", "verified_at": None}],
            "follow_requests_count": 5,
        },
        "role": {"id": "-99", "name": "", "permissions": "65536", "color": "", "highlighted": False},
    }

    assert_matches("credential_account", credential)
    with pytest.raises(AssertionError, match="source"):
        assert_matches("credential_account", ACCOUNT)


@pytest.mark.parametrize("field", ["id", "statuses_count"])
def test_numbers_where_strings_belong_fail(field: str) -> None:
    account = {**ACCOUNT, field: 1 if field == "id" else "61323"}

    with pytest.raises(AssertionError, match=rf"account\.{field}: "):
        assert_matches("account", account)


@pytest.mark.parametrize("field", ["avatar", "avatar_static", "header", "header_static"])
def test_a_null_or_empty_image_url_fails(field: str) -> None:
    for value in (None, ""):
        with pytest.raises(AssertionError, match=rf"account\.{field}: "):
            assert_matches("account", {**ACCOUNT, field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "12a"),
        ("id", "123\n"),
        ("created_at", "2016-03-16T14:34:26Z"),
        ("created_at", "2016-03-16T14:34:26.392+00:00"),
        ("last_status_at", "2019-12-10T08:14:44.811Z"),
        ("discoverable", "yes"),
        ("url", "mastodon.social/@Gargron"),
    ],
)
def test_malformed_account_fields_fail(field: str, value: object) -> None:
    with pytest.raises(AssertionError, match=rf"account\.{field}: "):
        assert_matches("account", {**ACCOUNT, field: value})


@pytest.mark.parametrize("field", ["group", "discoverable", "last_status_at", "emojis", "fields"])
def test_an_account_missing_a_field_clients_read_fails(field: str) -> None:
    account = {name: value for name, value in ACCOUNT.items() if name != field}

    with pytest.raises(AssertionError, match=rf"'{field}' is a required property"):
        assert_matches("account", account)


def test_errors_deep_in_a_status_name_their_path() -> None:
    status = copy.deepcopy(RICH_STATUS)
    status["reblog"] = copy.deepcopy(STATUS)
    status["reblog"]["account"]["avatar"] = None
    status["media_attachments"][0]["url"] = None
    status["in_reply_to_id"] = 103270115826048975

    with pytest.raises(AssertionError) as failure:
        assert_matches("status", status)

    message = str(failure.value)
    assert "status.reblog.account.avatar: None is not of type 'string'" in message
    assert "status.media_attachments[0].url: None is not of type 'string'" in message
    assert "status.in_reply_to_id: 103270115826048975 is not of type null or string" in message


def test_a_notification_about_a_status_must_carry_it() -> None:
    notification = {"id": "34975861", "type": "mention", "created_at": "2019-11-23T07:49:02.064Z", "account": ACCOUNT}

    assert_matches("notification", {**notification, "status": STATUS})
    assert_matches("notification", {**notification, "type": "follow"})
    with pytest.raises(AssertionError, match="status"):
        assert_matches("notification", notification)


def test_instance_v2_from_the_docs_matches_and_needs_a_semver_version() -> None:
    instance = {
        "domain": "mastodon.social",
        "title": "Mastodon",
        "version": "4.0.0rc1",
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "The original server operated by the Mastodon gGmbH non-profit",
        "usage": {"users": {"active_month": 123122}},
        "thumbnail": {
            "url": "https://files.mastodon.social/site_uploads/files/000/000/001/@1x/57c12f441d083cde.png",
            "blurhash": "UeKUpFxuo~R%0nW;WCnhF6RjaJt757oJodS$",
        },
        "languages": ["en"],
        "configuration": {
            "urls": {"streaming": "wss://mastodon.social"},
            "vapid": {
                "public_key": "BCkMmVdKDnKYwzVCDC99Iuc9GvId-x7-kKtuHnLgfF98ENiZp_aj-UNthbCdI70DqN1zUVis-x0Wrot2sBagkMc="
            },
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 4},
            "statuses": {"max_characters": 500, "max_media_attachments": 4, "characters_reserved_per_url": 23},
            "media_attachments": {
                "supported_mime_types": ["image/jpeg", "image/png", "video/mp4"],
                "image_size_limit": 10485760,
                "image_matrix_limit": 16777216,
                "video_size_limit": 41943040,
                "video_frame_rate_limit": 60,
                "video_matrix_limit": 2304000,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2629746,
            },
            "translation": {"enabled": True},
        },
        "registrations": {"enabled": False, "approval_required": False, "message": None},
        "contact": {"email": "staff@mastodon.social", "account": ACCOUNT},
        "rules": [{"id": "1", "text": "Sexually explicit or violent media must be marked as sensitive when posting"}],
        "api_versions": {"mastodon": 2},
    }

    assert_matches("instance_v2", instance)
    with pytest.raises(AssertionError, match=r"instance_v2\.version"):
        assert_matches("instance_v2", {**instance, "version": "takahe/0.11.0"})
    with pytest.raises(AssertionError, match="api_versions"):
        assert_matches("instance_v2", {name: value for name, value in instance.items() if name != "api_versions"})


def test_small_entities_from_the_docs_match() -> None:
    assert_matches(
        "token",
        {"access_token": "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0", "token_type": "Bearer",
         "scope": "read write follow push", "created_at": 1573979017},
    )  # fmt: skip
    assert_matches("error", {"error": "invalid_grant", "error_description": "The provided grant is invalid."})
    assert_matches(
        "marker",
        {"notifications": {"last_read_id": "35098814", "version": 361, "updated_at": "2019-11-24T19:39:39.337Z"}},
    )
    assert_matches(
        "preferences",
        {"posting:default:visibility": "public", "posting:default:sensitive": False,
         "posting:default:language": None, "reading:expand:media": "default", "reading:expand:spoilers": False},
    )  # fmt: skip
    assert_matches(
        "relationship",
        {"id": "1", "following": True, "showing_reblogs": True, "notifying": False, "languages": ["en"],
         "followed_by": True, "blocking": False, "blocked_by": False, "muting": False,
         "muting_notifications": False, "requested": False, "requested_by": False, "domain_blocking": False,
         "endorsed": False, "note": ""},
    )  # fmt: skip
    assert_matches("context", {"ancestors": [STATUS], "descendants": []})
    assert_matches("search", {"accounts": [ACCOUNT], "statuses": [STATUS], "hashtags": []})
    assert_matches(
        "credential_application",
        {"id": "563419", "name": "test app", "website": None, "scopes": ["read", "write"],
         "redirect_uri": "urn:ietf:wg:oauth:2.0:oob", "redirect_uris": ["urn:ietf:wg:oauth:2.0:oob"],
         "client_id": "TWhM-tNSuncnqN7DBJmoyeLnk6K3iJJ71KKXxgL1hPM",
         "client_secret": "ZEaFUFmF0umgBX1qKJDjaU99Q31lDkOU8NutzTOoliw", "client_secret_expires_at": 0},
    )  # fmt: skip
    assert_matches(
        "featured_tag",
        {"id": "627", "name": "nowplaying", "url": "https://mastodon.social/@trwnh/tagged/nowplaying",
         "statuses_count": 70, "last_status_at": "2022-08-29"},
    )  # fmt: skip
    assert_matches("list", {"id": "12249", "title": "Friends", "replies_policy": "list", "exclusive": False})


def test_a_marker_for_an_unknown_timeline_fails() -> None:
    with pytest.raises(AssertionError, match="marker"):
        assert_matches(
            "marker", {"public": {"last_read_id": "1", "version": 1, "updated_at": "2019-11-24T19:39:39.337Z"}}
        )


def test_asking_for_an_unknown_entity_is_an_error_not_a_pass() -> None:
    with pytest.raises(LookupError):
        assert_matches("no_such_entity", {})
