"""Discovery endpoints: WebFinger, host-meta, NodeInfo. Thin handlers over activitypub/webfinger.py
and activitypub/nodeinfo.py.

Every answer carries `Access-Control-Allow-Origin: *`: web clients (Elk, Phanpy) look up handles from
the browser, and FediTest checks the header (https://github.com/fediverse-devnet/feditest-tests-fediverse).
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz import __version__
from fediverse_biz.activitypub import nodeinfo
from fediverse_biz.activitypub.actors import authority
from fediverse_biz.activitypub.webfinger import (
    JRD_CONTENT_TYPE,
    XRD_CONTENT_TYPE,
    AcctResource,
    InvalidResource,
    UrlResource,
    build_jrd,
    host_meta_xml,
    parse_resource,
)
from fediverse_biz.config import Settings
from fediverse_biz.core import instance_facts
from fediverse_biz.core.accounts import find_published_actor
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

__all__ = ["routes"]

CORS: Final = {"Access-Control-Allow-Origin": "*"}
# Mastodon caches WebFinger answers for 3 days and misses for 3 minutes (WellKnown::WebfingerController).
FOUND_CACHE: Final = {"Cache-Control": "max-age=259200, public"}
MISS_CACHE: Final = {"Cache-Control": "max-age=180, public"}

# Local actor URLs a WebFinger `resource` may name: the actor id, the profile page, the group, ourselves.
_ACTOR_PATHS: Final = (
    (re.compile(r"/users/([^/]+)/?"), ("Person", "Organization", "Application", "Service")),
    (re.compile(r"/@([^/]+)/?"), None),
    (re.compile(r"/c/([^/]+)/?"), ("Group",)),
)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={**CORS, **MISS_CACHE})


async def webfinger(request: Request) -> Response:
    settings: Settings = services(request).settings
    try:
        resource = parse_resource(request.query_params.get("resource", ""))
    except InvalidResource as exc:
        return _error(400, str(exc))
    actor = await _local_actor(request, settings, resource)
    if actor is None:
        return _error(404, "no such account here")
    if actor["suspended_at"] is not None:
        return _error(410, "account suspended")  # Mastodon: `gone if @account.suspended_permanently?`
    jrd = build_jrd(
        # The canonical spelling of the handle, whatever case was asked for: peers store this subject.
        subject=f"acct:{actor['username']}@{settings.domain}",
        actor_uri=actor["uri"],
        profile_url=actor["url"],
        base_url=settings.base_url,
    )
    return JSONResponse(jrd, media_type=JRD_CONTENT_TYPE, headers={**CORS, **FOUND_CACHE})


async def _local_actor(
    request: Request, settings: Settings, resource: AcctResource | UrlResource
) -> asyncpg.Record | None:
    pool: asyncpg.Pool = services(request).pool
    if isinstance(resource, AcctResource):
        # Mastodon also answers for its web domain; ours are the configured domain with or without port.
        if resource.domain not in (settings.domain, settings.hostname):
            return None
        if resource.username.lower() in (settings.hostname, settings.domain):
            # The instance actor's handle is <host>@<host>, as on Mastodon (instance_actor_page?).
            return await pool.fetchrow("SELECT * FROM actors WHERE is_instance_actor")
        return await find_published_actor(pool, resource.username)
    parts = urlsplit(resource.url)
    # Stricter than Mastodon, whose recognize_path ignores the host: a URL on another host is not ours.
    if authority(resource.url) != settings.domain:
        return None
    if parts.path in ("/actor", "/actor/"):
        return await pool.fetchrow("SELECT * FROM actors WHERE is_instance_actor")
    for pattern, types in _ACTOR_PATHS:
        match = pattern.fullmatch(parts.path)
        if match:
            return await find_published_actor(pool, unquote(match.group(1)), types=types)
    return None


async def host_meta(request: Request) -> Response:
    settings: Settings = services(request).settings
    return Response(host_meta_xml(settings.base_url), media_type=XRD_CONTENT_TYPE, headers=CORS)


async def nodeinfo_links(request: Request) -> Response:
    settings: Settings = services(request).settings
    return JSONResponse(nodeinfo.nodeinfo_links(settings.base_url), headers=CORS)


async def nodeinfo_document(request: Request) -> Response:
    version = request.path_params["version"]
    if version not in nodeinfo.VERSIONS:
        return _error(404, f"NodeInfo {version} is not served here; use 2.0 or 2.1")
    settings: Settings = services(request).settings
    usage = await _usage(services(request).pool)
    document = nodeinfo.nodeinfo_document(
        version,
        software_version=__version__,
        usage=usage,
        open_registrations=settings.registration_mode == "open",
        node_name=settings.hostname,
        metadata=_metadata(settings),
    )
    return JSONResponse(document, media_type=nodeinfo.content_type(version), headers={**CORS, **MISS_CACHE})


async def _usage(pool: asyncpg.Pool) -> nodeinfo.NodeUsage:
    # Plain counts: fine at our scale. Mastodon caches these (Redis, ~30 min); when the statuses table
    # grows, cache here too rather than make crawlers pay a scan.
    row = await pool.fetchrow(
        """SELECT count(*) AS total,
                  count(*) FILTER (WHERE u.last_login_at > now() - interval '30 days') AS month,
                  count(*) FILTER (WHERE u.last_login_at > now() - interval '180 days') AS halfyear,
                  (SELECT count(*) FROM statuses
                    WHERE local AND reblog_of_id IS NULL AND approval_state = 'published') AS posts
             FROM users u JOIN actors a ON a.id = u.actor_id
            WHERE u.approved AND NOT u.disabled AND a.suspended_at IS NULL"""
    )
    return nodeinfo.NodeUsage(
        users_total=row["total"],
        users_active_month=row["month"],
        users_active_halfyear=row["halfyear"],
        local_posts=row["posts"],
    )


def _metadata(settings: Settings) -> dict[str, Any]:
    # `upstream` is the convention of Mastodon forks (Hometown, Glitch) that megalodon's `detector` reads:
    # any software name it does not know counts as Mastodon when metadata.upstream.name is "mastodon"
    # (https://github.com/h3poteto/megalodon/blob/v9.2.2/megalodon/src/detector.ts); without it Whalebird
    # refuses the server with "Unknown SNS".
    return {
        "registrationMode": settings.registration_mode,
        "upstream": {"name": "mastodon", "version": instance_facts.COMPATIBLE_MASTODON_VERSION},
    }


routes: list[BaseRoute] = [
    Route("/.well-known/webfinger", webfinger, methods=["GET", "HEAD"]),
    Route("/.well-known/host-meta", host_meta, methods=["GET", "HEAD"]),
    Route("/.well-known/nodeinfo", nodeinfo_links, methods=["GET", "HEAD"]),
    Route("/nodeinfo/{version}", nodeinfo_document, methods=["GET", "HEAD"]),
]
