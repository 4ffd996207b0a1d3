"""Direct conversations (https://docs.joinmastodon.org/methods/conversations/): the list, marking one
read, removing one. The grouping and unread rules are core/conversations.py's.

Scopes as Mastodon's ConversationsController: read:statuses to list, write:conversations to change.
The list pages by each conversation's latest status id, and so does its Link header, as Mastodon's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import entities
from fediverse_biz.api.auth import require
from fediverse_biz.api.errors import NOT_FOUND, ApiError
from fediverse_biz.api.pagination import page_params, paginated
from fediverse_biz.api.params import path_id
from fediverse_biz.api.read_slots import queued
from fediverse_biz.api.status_page import render_page
from fediverse_biz.api.statuses import own_id, visible_ids
from fediverse_biz.core import conversations
from fediverse_biz.core.conversations import Conversation
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import AccountEntityCache, services
from fediverse_biz.urls import LocalUrls


async def conversation_entities(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    cache: AccountEntityCache | None,
    found: Sequence[Conversation],
    viewer_id: int,
) -> list[dict[str, Any]]:
    """Conversation entities in order. `accounts` are the other participants, or the viewer alone for a
    note to oneself (Mastodon's participant_accounts); `last_status` is checked against what the viewer
    may see now (a block since then hides it) and is null when it may not."""
    account_ids = sorted({viewer_id} | {p for c in found for p in c.participant_ids})
    accounts = {a["id"]: a for a in await entities.accounts_by_id(pool, account_ids, urls)}
    visible = await visible_ids(pool, [c.last_status_id for c in found], viewer_id)
    async with pool.acquire() as conn:
        shown = await render_page(conn, [c.last_status_id for c in found if c.last_status_id in visible], urls,
                                  viewer_id, cache)
    statuses = {int(s["id"]): s for s in shown}
    result = []
    for c in found:
        people = [accounts[str(p)] for p in c.participant_ids if str(p) in accounts] or [accounts[str(viewer_id)]]
        result.append(
            {"id": str(c.id), "unread": c.unread, "accounts": people, "last_status": statuses.get(c.last_status_id)}
        )
    return result


async def _render(request: Request, found: Sequence[Conversation], viewer_id: int) -> list[dict[str, Any]]:
    state = services(request)
    return await conversation_entities(state.pool, state.urls, state.account_entities, found, viewer_id)


async def list_conversations(request: Request) -> Response:
    actor_id = own_id(await require(request, "read:statuses"))
    page = page_params(request, default=20, maximum=40)
    found = await conversations.page_for(services(request).pool, actor_id, page)
    items = await _render(request, found, actor_id)
    return paginated(request, items, [c.last_status_id for c in found], page)


async def read_conversation(request: Request) -> Response:
    actor_id = own_id(await require(request, "write:conversations"))
    found = await conversations.mark_read(services(request).pool, actor_id, path_id(request))
    if found is None:
        raise ApiError(404, NOT_FOUND)
    [entity] = await _render(request, [found], actor_id)
    return JSONResponse(entity)


async def delete_conversation(request: Request) -> Response:
    actor_id = own_id(await require(request, "write:conversations"))
    if not await conversations.remove(services(request).pool, actor_id, path_id(request)):
        raise ApiError(404, NOT_FOUND)
    return JSONResponse({})


routes: list[BaseRoute] = [
    Route("/api/v1/conversations", queued(list_conversations), methods=["GET"]),
    Route("/api/v1/conversations/{id}/read", read_conversation, methods=["POST"]),
    Route("/api/v1/conversations/{id}", delete_conversation, methods=["DELETE"]),
]
