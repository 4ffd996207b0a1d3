"""What an account does to a status, and what others did to it (https://docs.joinmastodon.org/methods/statuses/):
favourite, boost, bookmark, pin, conversation mute — each with its undo — plus favourited_by,
reblogged_by, the edit history and the source for editing.

Conversation mutes (`/mute`, `/unmute`) are accepted and answered with the status and its `muted`
flag set as asked, but not stored yet: nothing reads them (we have no per-conversation notification
filter), and every later rendering shows `muted: false` (docs/client-api-statuses.md "Not yet").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import acting, entities
from fediverse_biz.api.auth import optional, require, require_permission
from fediverse_biz.api.errors import ApiError
from fediverse_biz.api.pagination import page_params, paginated
from fediverse_biz.api.params import read_params
from fediverse_biz.api.statuses import (
    NOT_FOUND,
    acting_actor,
    domain_errors,
    path_id,
    render_one,
    viewer_actor_id,
    visible_row,
)
from fediverse_biz.business.roles import Permission
from fediverse_biz.core import interactions, timelines
from fediverse_biz.core.hydrate import load_status
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import LocalUrls

# (pool, request, acting actor, status id) -> the id of the status to answer with
Action = Callable[[asyncpg.Pool, Request, asyncpg.Record, int], Awaitable[int]]


def _action(
    verb: str, scope: str, act: Action, permission: Permission | None
) -> Callable[[Request], Awaitable[Response]]:
    """A POST /api/v1/statuses/:id/<verb> handler: do it as the token's actor, answer the status
    (the id `act` returns: the boost for reblog, the original for everything else). For an
    organization's token, `permission` is checked against the team role (business/roles.py)."""

    async def handler(request: Request) -> Response:
        viewer = await require(request, scope)
        if permission is not None:
            await require_permission(request, viewer, permission)
        actor = await acting_actor(request, viewer)
        status_id = path_id(request)
        with domain_errors():
            shown = await act(services(request).pool, request, actor, status_id)
        entity = await render_one(request, shown, actor["id"])
        if verb in _AUDITED:
            original = entity["reblog"] or entity
            await acting.record(request, viewer, _AUDITED[verb], original["uri"], {"status_id": original["id"]})
        return JSONResponse(entity)

    return handler


async def _favourite(pool: asyncpg.Pool, request: Request, actor: asyncpg.Record, status_id: int) -> int:
    return await interactions.favourite(pool, actor, status_id)


async def _unfavourite(pool: asyncpg.Pool, request: Request, actor: asyncpg.Record, status_id: int) -> int:
    return await interactions.unfavourite(pool, actor, status_id)


async def _reblog(pool: asyncpg.Pool, request: Request, actor: asyncpg.Record, status_id: int) -> int:
    async with await read_params(request) as params:
        visibility = (params.get("visibility") or "public").strip()
    return await interactions.reblog(pool, services(request).urls, actor, status_id, visibility)


async def _unreblog(pool: asyncpg.Pool, request: Request, actor: asyncpg.Record, status_id: int) -> int:
    return await interactions.unreblog(pool, services(request).urls, actor, status_id)


async def _bookmark(pool: asyncpg.Pool, request: Request, actor: asyncpg.Record, status_id: int) -> int:
    return await interactions.bookmark(pool, actor, status_id, on=True)


async def _unbookmark(pool: asyncpg.Pool, request: Request, actor: asyncpg.Record, status_id: int) -> int:
    return await interactions.bookmark(pool, actor, status_id, on=False)


async def _pin(pool: asyncpg.Pool, request: Request, actor: asyncpg.Record, status_id: int) -> int:
    return await interactions.pin(pool, actor, status_id, on=True)


async def _unpin(pool: asyncpg.Pool, request: Request, actor: asyncpg.Record, status_id: int) -> int:
    return await interactions.pin(pool, actor, status_id, on=False)


def _conversation_mute(muted: bool) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        viewer = await require(request, "write:mutes")
        await visible_row(request, path_id(request), viewer.actor_id)
        entity = await render_one(request, path_id(request), viewer.actor_id)
        entity["muted"] = muted
        return JSONResponse(entity)

    return handler


def _interacting(kind: str) -> Callable[[Request], Awaitable[Response]]:
    """GET favourited_by / reblogged_by: accounts, newest first, paged by the favourite (or boost) id."""

    async def handler(request: Request) -> Response:
        viewer = await optional(request, "read:accounts")
        status_id = path_id(request)
        await visible_row(request, status_id, viewer_actor_id(viewer))
        page = page_params(request, default=40, maximum=80)
        pool, urls = services(request).pool, services(request).urls
        rows = await timelines.interacting_accounts(pool, kind, status_id, page)
        accounts = await entities.accounts_by_id(pool, [actor_id for _, actor_id in rows], urls)
        return paginated(request, accounts, [row_id for row_id, _ in rows], page)

    return handler


async def status_history(request: Request) -> Response:
    """Every version, oldest first; a never-edited status has one (its current version), as on Mastodon."""
    viewer = await optional(request, "read:statuses")
    status_id = path_id(request)
    await visible_row(request, status_id, viewer_actor_id(viewer), viewer)
    pool, urls = services(request).pool, services(request).urls
    bundle = await load_status(pool, status_id)
    if bundle is None:
        raise ApiError(404, NOT_FOUND)
    account = await entities.account(pool, bundle.author, urls)
    edits = await pool.fetch("SELECT * FROM status_edits WHERE status_id = $1 ORDER BY id", status_id)
    if not edits:
        status = bundle.status
        return JSONResponse([_edit_entity(status, status["published_at"], account, bundle.media, urls)])
    media_ids = sorted({m for e in edits for m in e["media_ids"]})
    media = {m["id"]: m for m in await pool.fetch("SELECT * FROM media_attachments WHERE id = ANY($1)", media_ids)}
    return JSONResponse(
        [
            _edit_entity(e, e["created_at"], account, [media[m] for m in e["media_ids"] if m in media], urls)
            for e in edits
        ]
    )


def _edit_entity(
    version: Mapping[str, Any],
    created_at: datetime,
    account: dict[str, Any],
    media: Sequence[Mapping[str, Any]],
    urls: LocalUrls,
) -> dict[str, Any]:
    """A StatusEdit: one version (a status_edits row, or the status itself when never edited)."""
    return {
        "content": version["content"],
        "spoiler_text": version["spoiler_text"],
        "sensitive": version["sensitive"],
        "created_at": entities.iso(created_at),
        "account": account,
        "media_attachments": [entities.media_entity(m, urls) for m in media],
        "emojis": [],
    }


async def status_source(request: Request) -> Response:
    viewer = await require(request, "read:statuses")
    status = await visible_row(request, path_id(request), viewer.actor_id, viewer)
    text = status["source_text"] if status["source_text"] is not None else html_to_text(status["content"])
    return JSONResponse({"id": str(status["id"]), "text": text, "spoiler_text": status["spoiler_text"]})


# Favourites, boosts and pins speak for the company: a contributor may not (docs/teams.md).
# Bookmarks are private to the account, so every team member may keep them.
_ACTIONS: list[tuple[str, str, Action, Permission | None]] = [
    ("favourite", "write:favourites", _favourite, Permission.INTERACT),
    ("unfavourite", "write:favourites", _unfavourite, Permission.INTERACT),
    ("reblog", "write:statuses", _reblog, Permission.INTERACT),
    ("unreblog", "write:statuses", _unreblog, Permission.INTERACT),
    ("bookmark", "write:bookmarks", _bookmark, None),
    ("unbookmark", "write:bookmarks", _unbookmark, None),
    ("pin", "write:accounts", _pin, Permission.INTERACT),
    ("unpin", "write:accounts", _unpin, Permission.INTERACT),
]
_AUDITED = {"reblog": "boost", "unreblog": "unboost"}

routes: list[BaseRoute] = [
    *(
        Route(f"/api/v1/statuses/{{id}}/{verb}", _action(verb, scope, act, permission), methods=["POST"])
        for verb, scope, act, permission in _ACTIONS
    ),
    Route("/api/v1/statuses/{id}/mute", _conversation_mute(True), methods=["POST"]),
    Route("/api/v1/statuses/{id}/unmute", _conversation_mute(False), methods=["POST"]),
    Route("/api/v1/statuses/{id}/favourited_by", _interacting("favourited_by"), methods=["GET"]),
    Route("/api/v1/statuses/{id}/reblogged_by", _interacting("reblogged_by"), methods=["GET"]),
    Route("/api/v1/statuses/{id}/history", status_history, methods=["GET"]),
    Route("/api/v1/statuses/{id}/source", status_source, methods=["GET"]),
]
