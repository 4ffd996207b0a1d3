"""Lists (https://docs.joinmastodon.org/methods/lists/), their members, the list timeline
(https://docs.joinmastodon.org/methods/timelines/#list) and the lists an account is in. The rules are
core/lists.py's; scopes are read:lists and write:lists as in Mastodon's ListsController.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import entities
from fediverse_biz.api._accounts import account_or_404
from fediverse_biz.api.auth import require
from fediverse_biz.api.pagination import page_params, paginated
from fediverse_biz.api.params import Params, path_id, query_params, read_params
from fediverse_biz.api.read_slots import queued
from fediverse_biz.api.statuses import ids_of, own_id, render
from fediverse_biz.core import lists
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services


def list_entity(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "replies_policy": row["replies_policy"],
        "exclusive": row["exclusive"],
    }


def _optional_bool(params: Params, name: str) -> bool | None:
    return params.get_bool(name) if params.get(name) not in (None, "") else None


async def index(request: Request) -> Response:
    owner = own_id(await require(request, "read:lists"))
    return JSONResponse([list_entity(r) for r in await lists.owned(services(request).pool, owner)])


async def show(request: Request) -> Response:
    owner = own_id(await require(request, "read:lists"))
    return JSONResponse(list_entity(await lists.get(services(request).pool, owner, path_id(request))))


async def create(request: Request) -> Response:
    owner = own_id(await require(request, "write:lists"))
    async with await read_params(request) as params:
        row = await lists.create(
            services(request).pool,
            owner,
            params.get("title") or "",
            params.get("replies_policy") or "list",
            params.get_bool("exclusive"),
        )
    return JSONResponse(list_entity(row))


async def update(request: Request) -> Response:
    owner = own_id(await require(request, "write:lists"))
    async with await read_params(request) as params:
        row = await lists.update(
            services(request).pool,
            owner,
            path_id(request),
            title=params.get("title"),
            replies_policy=params.get("replies_policy") or None,
            exclusive=_optional_bool(params, "exclusive"),
        )
    return JSONResponse(list_entity(row))


async def delete(request: Request) -> Response:
    owner = own_id(await require(request, "write:lists"))
    await lists.delete(services(request).pool, owner, path_id(request))
    return JSONResponse({})


async def members(request: Request) -> Response:
    """Paged by account id, as Mastodon's; `limit=0` asks for every member, without a Link header."""
    owner = own_id(await require(request, "read:lists"))
    state = services(request)
    list_id = path_id(request)
    # The paging parameters are read before the list: a malformed cursor is the client's 400 either way.
    everyone = query_params(request).get("limit") == "0"
    page = None if everyone else page_params(request, default=40, maximum=80)
    found = await lists.get(state.pool, owner, list_id)
    ids = await lists.members(state.pool, found["id"], page)
    accounts = await entities.accounts_by_id(state.pool, ids, state.urls)
    if page is None:
        return JSONResponse(accounts)
    return paginated(request, accounts, ids, page)


async def _account_ids(request: Request) -> list[int]:
    async with await read_params(request) as params:
        return ids_of(params.get_list("account_ids"), "account_ids")


async def add_members(request: Request) -> Response:
    owner = own_id(await require(request, "write:lists"))
    await lists.add_members(services(request).pool, owner, path_id(request), await _account_ids(request))
    return JSONResponse({})


async def remove_members(request: Request) -> Response:
    owner = own_id(await require(request, "write:lists"))
    await lists.remove_members(services(request).pool, owner, path_id(request), await _account_ids(request))
    return JSONResponse({})


async def account_lists(request: Request) -> Response:
    """The viewer's lists that include the account; 404 for an unknown account, as Mastodon's."""
    owner = own_id(await require(request, "read:lists"))
    account = await account_or_404(request, request.path_params["id"])
    rows = await lists.containing(services(request).pool, owner, account["id"])
    return JSONResponse([list_entity(r) for r in rows])


async def list_timeline(request: Request) -> Response:
    owner = own_id(await require(request, "read:lists"))
    page = page_params(request)
    ids = await lists.timeline(services(request).pool, owner, path_id(request), page)
    return paginated(request, await render(request, ids, owner, filter_context="home"), ids, page)


routes: list[BaseRoute] = [
    Route("/api/v1/lists", index, methods=["GET"]),
    Route("/api/v1/lists", create, methods=["POST"]),
    Route("/api/v1/lists/{id}", show, methods=["GET"]),
    Route("/api/v1/lists/{id}", update, methods=["PUT", "PATCH"]),
    Route("/api/v1/lists/{id}", delete, methods=["DELETE"]),
    Route("/api/v1/lists/{id}/accounts", queued(members), methods=["GET"]),
    Route("/api/v1/lists/{id}/accounts", add_members, methods=["POST"]),
    Route("/api/v1/lists/{id}/accounts", remove_members, methods=["DELETE"]),
    Route("/api/v1/accounts/{id}/lists", account_lists, methods=["GET"]),
    Route("/api/v1/timelines/list/{id}", queued(list_timeline), methods=["GET"]),
]
