"""Accounts (https://docs.joinmastodon.org/methods/accounts/): one's own credentials, sign-up, profiles
and their statuses, and the follow / block / mute actions, which answer with a Relationship.

Lists of accounts (followers, requests, blocks, mutes, search) are in account_lists.py. A token that
acts for an organization acts as the organization everywhere: its profile, its follows, its blocks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import account_lists, acting, entities
from fediverse_biz.api._accounts import account_or_404, acting_actor, local_domains, relationship
from fediverse_biz.api.auth import INVALID_TOKEN, Viewer, optional, require, require_permission
from fediverse_biz.api.errors import ApiError, domain_errors
from fediverse_biz.api.pagination import page_params, paginated
from fediverse_biz.api.params import Params, query_params, read_params
from fediverse_biz.api.read_slots import queued
from fediverse_biz.api.statuses import render
from fediverse_biz.business.roles import Permission
from fediverse_biz.core import follows, graph, media, oauth, profiles, registrations, timelines
from fediverse_biz.core.ids import parse_id
from fediverse_biz.core.registrations import RegistrationError, SignUp
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

MAX_ACCOUNTS_PER_REQUEST = 40  # GET /api/v1/accounts?id[]=…: a page's worth, like Mastodon
MAX_RELATIONSHIPS_PER_REQUEST = 400  # a guard, not a feature: clients ask for one page of accounts
MAX_MUTE_SECONDS = 2**31 - 1


# ---- one's own account -------------------------------------------------------------------------
async def _credential_account(request: Request, viewer: Viewer, actor: asyncpg.Record) -> dict[str, Any]:
    pool = services(request).pool
    user = await pool.fetchrow("SELECT * FROM users WHERE id = $1", viewer.user_id)
    return await entities.credential_account(pool, actor, services(request).urls, user)


async def verify_credentials(request: Request) -> Response:
    viewer = await require(request, "profile")
    return JSONResponse(await _credential_account(request, viewer, await acting_actor(request, viewer)))


def _optional_bool(params: Params, name: str) -> bool | None:
    text = params.get(name)
    return None if text is None or not text.strip() else params.get_bool(name)


def _text_of(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise ApiError(422, f"Validation failed: {name} must be text")


def _profile_fields(params: Params) -> list[tuple[str, str]] | None:
    """fields_attributes[0][name]=…&fields_attributes[0][value]=… (form), or JSON as a list or a hash."""
    if "fields_attributes" not in params:
        return None
    return [
        (_text_of(item.get("name"), "field name"), _text_of(item.get("value"), "field value"))
        for item in params.get_dict_list("fields_attributes")
    ]


async def _store_images(request: Request, actor_id: int, params: Params) -> tuple[str | None, str | None]:
    """Avatar and header from a multipart body, cropped and stored before the profile changes: a failed
    update can leave an unused file behind, never a profile pointing at a missing one."""
    settings, urls = services(request).settings, services(request).urls
    stored: list[str | None] = []
    for name, store in (("avatar", media.store_avatar), ("header", media.store_header)):
        upload = params.file(name)
        with domain_errors():
            stored.append(await store(settings, urls, actor_id, upload.file) if upload is not None else None)
    return stored[0], stored[1]


async def update_credentials(request: Request) -> Response:
    viewer = await require(request, "write:accounts")
    assert viewer.actor_id is not None and viewer.user_id is not None
    await require_permission(request, viewer, Permission.PROFILE)
    async with await read_params(request) as params:
        source_raw = params.raw.get("source")
        source = Params(source_raw if isinstance(source_raw, dict) else {}, {})
        changes = profiles.ProfileChanges(
            display_name=params.get("display_name"),
            note=params.get("note"),
            fields=_profile_fields(params),
            locked=_optional_bool(params, "locked"),
            bot=_optional_bool(params, "bot"),
            discoverable=_optional_bool(params, "discoverable"),
            indexable=_optional_bool(params, "indexable"),
            language=source.get("language"),
            privacy=source.get("privacy"),
            sensitive=_optional_bool(source, "sensitive"),
        )
        with domain_errors():
            profiles.check_changes(changes)  # before any image is processed and stored
        avatar_url, header_url = await _store_images(request, viewer.actor_id, params)
        changes = dataclasses.replace(changes, avatar_url=avatar_url, header_url=header_url)
    settings = services(request).settings
    with domain_errors():
        actor = await profiles.update_profile(
            services(request).pool, services(request).urls, settings.domain, viewer.actor_id, viewer.user_id, changes
        )
    changed = sorted(name for name, value in dataclasses.asdict(changes).items() if value is not None)
    await acting.record(request, viewer, "profile_update", actor["uri"], {"fields": changed})
    return JSONResponse(await _credential_account(request, viewer, actor))


async def register(request: Request) -> Response:
    viewer = await require(request, "write:accounts", user=False)
    pool = services(request).pool
    app = await oauth.app_by_id(pool, viewer.app_id) if viewer.app_id is not None else None
    if app is None:
        raise ApiError(401, INVALID_TOKEN)
    async with await read_params(request) as params:  # closes any file a hostile client attached
        try:
            agreement = params.get_bool("agreement")
        except ApiError:
            agreement = False  # anything but a clear yes is no agreement (reported as ERR_ACCEPTED)
        form = SignUp(
            username=(params.get("username") or "").strip(),
            email=params.get("email") or "",
            password=params.get("password") or "",
            agreement=agreement,
            locale=params.get("locale") or None,
            reason=params.get("reason") or None,
        )
    mode = services(request).settings.registration_mode
    try:
        with domain_errors():
            token = await registrations.register(
                pool, services(request).urls, mode, app_id=app.id, scopes=app.scopes, form=form
            )
    except RegistrationError as exc:
        details = {
            name: [{"error": code, "description": text} for code, text in problems]
            for name, problems in exc.details.items()
        }
        return JSONResponse({"error": exc.message, "details": details}, status_code=422)
    body = {
        "access_token": token.access_token,
        "token_type": "Bearer",
        "scope": " ".join(token.scopes),
        "created_at": int(token.created_at.timestamp()),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


# ---- reading accounts --------------------------------------------------------------------------
async def show_account(request: Request) -> Response:
    await optional(request, "read:accounts")
    actor = await account_or_404(request, request.path_params["id"])
    return JSONResponse(await entities.account(services(request).pool, actor, services(request).urls))


async def list_accounts(request: Request) -> Response:
    await optional(request, "read:accounts")
    params = await read_params(request)
    ids = [i for i in (parse_id(t) for t in params.get_list("id")) if i is not None]
    if len(ids) > MAX_ACCOUNTS_PER_REQUEST:
        raise ApiError(422, f"Too many accounts requested (at most {MAX_ACCOUNTS_PER_REQUEST})")
    pool = services(request).pool
    rows = await profiles.visible_accounts(pool, ids)
    return JSONResponse(await entities.accounts(pool, rows, services(request).urls))


async def lookup_account(request: Request) -> Response:
    await optional(request, "read:accounts")
    acct = query_params(request).get("acct") or ""  # refuses NUL (422), which PostgreSQL text cannot hold
    username, domain = profiles.split_acct(acct, local_domains(request))
    pool = services(request).pool
    actor = await profiles.lookup(pool, username, domain)
    if actor is None:
        raise ApiError(404, "Record not found")
    return JSONResponse(await entities.account(pool, actor, services(request).urls))


async def account_statuses(request: Request) -> Response:
    viewer = await optional(request, "read:statuses")
    actor = await account_or_404(request, request.path_params["id"])
    params = await read_params(request)
    page = page_params(params)
    filters = timelines.AccountFilter(
        pinned=params.get_bool("pinned"),
        exclude_replies=params.get_bool("exclude_replies"),
        exclude_reblogs=params.get_bool("exclude_reblogs"),
        only_media=params.get_bool("only_media"),
        tagged=(params.get("tagged") or "").strip().lstrip("#") or None,
    )
    pool = services(request).pool
    viewer_id = viewer.actor_id if viewer is not None else None
    ids = await timelines.account(pool, viewer_id, actor["id"], page, filters)
    return paginated(request, await render(request, ids, viewer_id, filter_context="account"), ids, page)


async def no_featured_tags(request: Request) -> Response:
    await optional(request, "read:accounts")
    await account_or_404(request, request.path_params["id"])
    return JSONResponse([])  # featured hashtags are not a feature yet


# ---- relationships -----------------------------------------------------------------------------
async def relationships(request: Request) -> Response:
    viewer = await require(request, "read:follows")
    assert viewer.actor_id is not None
    params = await read_params(request)
    ids = list(dict.fromkeys(i for i in (parse_id(t) for t in params.get_list("id")) if i))
    if len(ids) > MAX_RELATIONSHIPS_PER_REQUEST:
        raise ApiError(422, f"Too many accounts requested (at most {MAX_RELATIONSHIPS_PER_REQUEST})")
    pool = services(request).pool
    if not params.get_bool("with_suspended"):
        ids = [row["id"] for row in await profiles.visible_accounts(pool, ids)]
    return JSONResponse(await follows.relationships(pool, viewer.actor_id, ids))


async def follow(request: Request) -> Response:
    viewer = await require(request, "write:follows")
    await require_permission(request, viewer, Permission.FOLLOW)
    target = await account_or_404(request, request.path_params["id"])
    params = await read_params(request)
    reblogs, notify = params.get_bool("reblogs", True), params.get_bool("notify", False)
    me = await acting_actor(request, viewer)
    with domain_errors():
        await follows.follow(services(request).pool, me, target, reblogs=reblogs, notify=notify)
    await acting.record(request, viewer, "follow", entities.acct(target), {"account_id": str(target["id"])})
    return JSONResponse(await relationship(request, viewer, target["id"]))


async def mute(request: Request) -> Response:
    viewer = await require(request, "write:mutes")
    await require_permission(request, viewer, Permission.BLOCK)
    target = await account_or_404(request, request.path_params["id"])
    params = await read_params(request)
    hide_notifications = params.get_bool("notifications", True)
    duration = params.get_int("duration", 0, min=0, max=MAX_MUTE_SECONDS)
    me = await acting_actor(request, viewer)
    with domain_errors():
        await follows.mute(
            services(request).pool, me, target, notifications_too=hide_notifications, duration_seconds=duration
        )
    await acting.record(request, viewer, "mute", entities.acct(target), {"account_id": str(target["id"])})
    return JSONResponse(await relationship(request, viewer, target["id"]))


AccountAction = Callable[[asyncpg.Pool, asyncpg.Record, asyncpg.Record], Awaitable[None]]


def _simple_action(
    scope: str, action: AccountAction, permission: Permission, audited: str | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """unfollow, remove_from_followers, block, unblock, unmute: no parameters, a Relationship back.
    For an organization's token, `permission` is checked against the team role; `audited` names the
    audit log entry."""

    async def handler(request: Request) -> Response:
        viewer = await require(request, scope)
        await require_permission(request, viewer, permission)
        target = await account_or_404(request, request.path_params["id"])
        me = await acting_actor(request, viewer)
        with domain_errors():
            await action(services(request).pool, me, target)
        if audited is not None:
            await acting.record(request, viewer, audited, entities.acct(target), {"account_id": str(target["id"])})
        return JSONResponse(await relationship(request, viewer, target["id"]))

    return handler


_ACCOUNT = "/api/v1/accounts/{id}"
routes: list[BaseRoute] = [
    Route("/api/v1/accounts", list_accounts, methods=["GET"]),
    Route("/api/v1/accounts", register, methods=["POST"]),
    Route("/api/v1/accounts/verify_credentials", verify_credentials, methods=["GET"]),
    Route("/api/v1/accounts/update_credentials", update_credentials, methods=["PATCH"]),
    Route("/api/v1/accounts/lookup", lookup_account, methods=["GET"]),
    Route("/api/v1/accounts/relationships", relationships, methods=["GET"]),
    *account_lists.routes,  # before /accounts/{id}: /accounts/search is theirs
    Route(_ACCOUNT, show_account, methods=["GET"]),
    Route(f"{_ACCOUNT}/statuses", queued(account_statuses), methods=["GET"]),
    Route(f"{_ACCOUNT}/featured_tags", no_featured_tags, methods=["GET"]),
    Route(f"{_ACCOUNT}/follow", follow, methods=["POST"]),
    Route(
        f"{_ACCOUNT}/unfollow",
        _simple_action("write:follows", follows.unfollow, Permission.FOLLOW, "unfollow"),
        methods=["POST"],
    ),
    Route(
        f"{_ACCOUNT}/remove_from_followers",
        _simple_action("write:follows", graph.remove_follower, Permission.BLOCK),
        methods=["POST"],
    ),
    Route(
        f"{_ACCOUNT}/block", _simple_action("write:blocks", follows.block, Permission.BLOCK, "block"), methods=["POST"]
    ),
    Route(
        f"{_ACCOUNT}/unblock",
        _simple_action("write:blocks", follows.unblock, Permission.BLOCK, "unblock"),
        methods=["POST"],
    ),
    Route(f"{_ACCOUNT}/mute", mute, methods=["POST"]),
    Route(
        f"{_ACCOUNT}/unmute",
        _simple_action("write:mutes", follows.unmute, Permission.BLOCK, "unmute"),
        methods=["POST"],
    ),
]
