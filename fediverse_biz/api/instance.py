"""The instance documents (v1, v2) and the small per-server endpoints clients call at login.

`/api/v1/instance` must always answer 200 with a Mastodon semver first in `version`: Mastodon.py picks
endpoints by it and recurses forever when the call fails (Mastodon.py `mastodon/utility.py`,
`retrieve_mastodon_version`; https://github.com/halcy/Mastodon.py/issues/450). The v2
document is asked for first by Tusky, Elk and Phanpy; Ivory crashes without it.

Instance texts (title, description, contact email, rules, privacy policy, languages, source URL) are
optional rows of `instance_settings` (core/instance_settings.py, written by `fediverse-biz set-instance`);
defaults keep every field filled. Texts and counts are cached for a minute per process, because count(*)
over statuses is not free and clients fetch the document on every start; the privacy policy and the
extended description are read fresh, they are asked for rarely.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz import __version__
from fediverse_biz.api.auth import require
from fediverse_biz.api.entities import iso
from fediverse_biz.config import Settings
from fediverse_biz.core import _images, domain_blocks, instance_settings, markdown, media, polls, statuses
from fediverse_biz.core.instance_facts import COMPATIBLE_MASTODON_VERSION, InstanceFacts, describe, has_privacy_policy
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services
from fediverse_biz.urls import PRIVACY_POLICY_PATH, LocalUrls

# Mastodon.py splits on the first space and parses the semver before it; do not use GoToSocial's
# "3.5.3+x" form, which Mastodon.py mis-parses (https://github.com/halcy/Mastodon.py/issues/390).
VERSION = f"{COMPATIBLE_MASTODON_VERSION} (compatible; fediverse_biz {__version__})"
MASTODON_API_VERSION = 2  # what Mastodon 4.3 reports; without it Mastodon.py warns for >= 4.3.0
INSTANCE_THUMBNAIL = "thumbnail.png"  # served from web/static by web/static_files.py

# Limits we advertise. The code that enforces them (statuses, media, polls) must use the same values.
# The limits we advertise are the ones the domain code enforces: imported, never copied.
MAX_STATUS_CHARACTERS = statuses.MAX_CHARACTERS
MAX_MEDIA_ATTACHMENTS = statuses.MAX_MEDIA
CHARACTERS_RESERVED_PER_URL = statuses.URL_WEIGHT  # Mastodon counts every URL as 23 characters
SUPPORTED_MIME_TYPES = list(_images.SUPPORTED_MIME_TYPES)
IMAGE_SIZE_LIMIT = _images.IMAGE_SIZE_LIMIT
IMAGE_MATRIX_LIMIT = _images.IMAGE_MATRIX_LIMIT  # 7680 x 4320 pixels, Mastodon's value
MEDIA_DESCRIPTION_LIMIT = media.DESCRIPTION_LIMIT
ACCOUNT_LIMITS = {
    "max_display_name_length": 30,
    "max_note_length": 500,
    "max_featured_tags": 10,  # Tusky requires an integer here whenever `accounts` is present
    "max_pinned_statuses": 5,
    "max_profile_fields": 4,
}
POLL_LIMITS = polls.POLL_LIMITS
# No video or audio processing yet: zero limits tell clients (Tusky checks them) not to try.
MEDIA_LIMITS = {
    "supported_mime_types": SUPPORTED_MIME_TYPES,
    "description_limit": MEDIA_DESCRIPTION_LIMIT,
    "image_size_limit": IMAGE_SIZE_LIMIT,
    "image_matrix_limit": IMAGE_MATRIX_LIMIT,
    "video_size_limit": 0,
    "video_frame_rate_limit": 0,
    "video_matrix_limit": 0,
}
STATUS_LIMITS = {
    "max_characters": MAX_STATUS_CHARACTERS,
    "max_media_attachments": MAX_MEDIA_ATTACHMENTS,
    "characters_reserved_per_url": CHARACTERS_RESERVED_PER_URL,
}
# What the privacy policy endpoint says while none is published: clients show `content` as the policy.
NO_PRIVACY_POLICY_HTML = "<p>This server has not published a privacy policy.</p>"


def _streaming_url(settings: Settings) -> str:
    # Mastodon.py accepts only ws(s)://host (or exactly the API base URL) here; streaming lives on the
    # same host at /api/v1/streaming.
    return f"{'wss' if settings.scheme == 'https' else 'ws'}://{settings.domain}"


def instance_v1(settings: Settings, facts: InstanceFacts) -> dict[str, Any]:
    common = describe(settings, facts)
    mode = settings.registration_mode
    return {
        "uri": settings.domain,  # a bare domain: toot uses it as the config key
        "title": common["title"],
        "short_description": common["short_description"],
        "description": common["description"],
        "email": common["email"],
        "version": VERSION,
        "urls": {"streaming_api": _streaming_url(settings)},
        "stats": {
            "user_count": facts.user_count,
            "status_count": facts.status_count,
            "domain_count": facts.domain_count,
        },
        "thumbnail": LocalUrls(settings.base_url).static(INSTANCE_THUMBNAIL),  # Toot! needs a URL here
        "languages": common["languages"],
        "registrations": mode != "closed",
        "approval_required": mode == "approval",
        "invites_enabled": False,
        "configuration": {
            "accounts": {"max_featured_tags": ACCOUNT_LIMITS["max_featured_tags"]},
            "statuses": STATUS_LIMITS,
            "media_attachments": MEDIA_LIMITS,
            "polls": POLL_LIMITS,
        },
        "contact_account": None,
        "rules": common["rules"],
    }


def instance_v2(settings: Settings, facts: InstanceFacts) -> dict[str, Any]:
    common = describe(settings, facts)
    thumbnail = LocalUrls(settings.base_url).static(INSTANCE_THUMBNAIL)
    mode = settings.registration_mode
    return {
        "domain": settings.domain,
        "title": common["title"],
        "version": VERSION,
        "source_url": common["source_url"],
        "description": common["short_description"],
        "usage": {"users": {"active_month": facts.active_month}},
        "thumbnail": {"url": thumbnail, "versions": {"@1x": thumbnail, "@2x": thumbnail}},
        "languages": common["languages"],
        "configuration": {
            "urls": {
                "streaming": _streaming_url(settings),
                "status": None,
                "about": f"{settings.base_url}/about",
                "privacy_policy": settings.base_url + PRIVACY_POLICY_PATH if has_privacy_policy(facts) else None,
                "terms_of_service": None,
            },
            "accounts": ACCOUNT_LIMITS,
            "statuses": STATUS_LIMITS,
            "media_attachments": MEDIA_LIMITS,
            "polls": POLL_LIMITS,
            "translation": {"enabled": False},
            "limited_federation": False,
        },
        "registrations": {
            "enabled": mode != "closed",
            "approval_required": mode == "approval",
            "reason_required": False,
            "message": None,
            "min_age": None,
            "url": None,
        },
        "api_versions": {"mastodon": MASTODON_API_VERSION},
        "contact": {"email": common["email"], "account": None},
        "rules": common["rules"],
    }


async def get_instance_v1(request: Request) -> Response:
    return JSONResponse(instance_v1(services(request).settings, await services(request).instance_facts.get()))


async def get_instance_v2(request: Request) -> Response:
    return JSONResponse(instance_v2(services(request).settings, await services(request).instance_facts.get()))


async def get_rules(request: Request) -> Response:
    facts = await services(request).instance_facts.get()
    return JSONResponse(instance_settings.rules_of(facts.texts.get("rules")))


async def get_privacy_policy(request: Request) -> Response:
    pool = services(request).pool
    policy = await instance_settings.document(pool, instance_settings.PRIVACY_POLICY)
    if policy is None:
        # Mastodon always has a policy (its template); ours says plainly that there is none, dated from
        # when the server was set up, since that is how long it has been so.
        created = await instance_settings.instance_created_at(pool)
        return JSONResponse({"updated_at": iso(created) if created else None, "content": NO_PRIVACY_POLICY_HTML})
    return JSONResponse({"updated_at": iso(policy.updated_at), "content": markdown.render(policy.text)})


async def get_extended_description(request: Request) -> Response:
    description = await instance_settings.document(services(request).pool, instance_settings.DESCRIPTION)
    if description is None:
        return JSONResponse({"updated_at": None, "content": ""})  # Mastodon's answer when none is set
    return JSONResponse({"updated_at": iso(description.updated_at), "content": markdown.render_plain(description.text)})


async def get_peers(request: Request) -> Response:
    rows = await services(request).pool.fetch(
        f"""SELECT DISTINCT a.domain FROM actors a
            WHERE a.domain IS NOT NULL AND NOT {domain_blocks.suspended_sql("a.domain")}
            ORDER BY a.domain"""
    )
    return JSONResponse([r["domain"] for r in rows])


async def get_activity(request: Request) -> Response:
    # Mastodon's weekly logins/registrations/statuses. We keep no per-week login history, so nothing
    # honest can be said yet; an empty list is a valid answer.
    return JSONResponse([])


async def get_preferences(request: Request) -> Response:
    await require(request, "read:accounts")
    # Per-user posting defaults do not exist yet; these are Mastodon's defaults.
    return JSONResponse(
        {
            "posting:default:visibility": "public",
            "posting:default:sensitive": False,
            "posting:default:language": None,
            "reading:expand:media": "default",
            "reading:expand:spoilers": False,
        }
    )


async def get_custom_emojis(request: Request) -> Response:
    return JSONResponse([])  # no custom emoji on this server yet


def _both(path: str, endpoint: Any) -> list[BaseRoute]:
    # Mastodon.py requests /api/v1/instance/ and /api/v2/instance/ with a trailing slash.
    return [Route(path, endpoint, methods=["GET"]), Route(path + "/", endpoint, methods=["GET"])]


routes: list[BaseRoute] = [
    *_both("/api/v1/instance", get_instance_v1),
    *_both("/api/v2/instance", get_instance_v2),
    Route("/api/v1/instance/rules", get_rules, methods=["GET"]),
    Route("/api/v1/instance/privacy_policy", get_privacy_policy, methods=["GET"]),
    Route("/api/v1/instance/extended_description", get_extended_description, methods=["GET"]),
    Route("/api/v1/instance/peers", get_peers, methods=["GET"]),
    Route("/api/v1/instance/activity", get_activity, methods=["GET"]),
    Route("/api/v1/preferences", get_preferences, methods=["GET"]),
    Route("/api/v1/custom_emojis", get_custom_emojis, methods=["GET"]),
]
