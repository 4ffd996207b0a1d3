"""Filters: v2 (https://docs.joinmastodon.org/methods/filters/) with its keywords and statuses, and v1
read and written through v2 (each keyword shown as a v1 filter, `irreversible` for the hide action), as
Mastodon 4 does. The rules are core/filters.py's; how filters act on statuses is api/status_filters.py's.
Scopes read:filters and write:filters, as Mastodon's controllers.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api.auth import require
from fediverse_biz.api.errors import NOT_FOUND, ApiError
from fediverse_biz.api.params import Params, path_id, read_params
from fediverse_biz.api.status_filters import filter_entity, keyword_entity
from fediverse_biz.api.statuses import ids_of, own_id, visible_ids
from fediverse_biz.core import filters
from fediverse_biz.core.filters import UNCHANGED, KeywordChange
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

MAX_EXPIRES_IN = 10 * 365 * 24 * 3600


def expires_in_param(params: Params) -> int | None:
    """Seconds from now; empty for never. Absent is told apart by the caller (`"expires_in" in params`)."""
    return params.get_int("expires_in", None, 1, MAX_EXPIRES_IN)


def optional_bool(params: Params, name: str) -> bool | None:
    return params.get_bool(name) if params.get(name) not in (None, "") else None


def _keyword_changes(params: Params) -> list[KeywordChange]:
    changes = []
    for item in params.get_dict_list("keywords_attributes"):
        entry = Params(item, {})
        raw_id = entry.get("id")
        changes.append(
            KeywordChange(
                id=ids_of([raw_id], "keywords_attributes id")[0] if raw_id else None,
                keyword=entry.get("keyword"),
                whole_word=optional_bool(entry, "whole_word"),
                destroy=entry.get_bool("_destroy"),
            )
        )
    return changes


async def _owner(request: Request, scope: str) -> int:
    return own_id(await require(request, scope))


# ---- v2 -------------------------------------------------------------------------------------------
async def index(request: Request) -> Response:
    owner = await _owner(request, "read:filters")
    return JSONResponse([filter_entity(f) for f in await filters.owned(services(request).pool, owner)])


async def show(request: Request) -> Response:
    owner = await _owner(request, "read:filters")
    return JSONResponse(filter_entity(await filters.get(services(request).pool, owner, path_id(request))))


async def create(request: Request) -> Response:
    owner = await _owner(request, "write:filters")
    async with await read_params(request) as params:
        made = await filters.create(
            services(request).pool,
            owner,
            title=params.get("title") or "",
            context=params.get_list("context"),
            action=params.get("filter_action") or "warn",
            expires_in=expires_in_param(params),
            keywords=_keyword_changes(params),
        )
    return JSONResponse(filter_entity(made))


async def update(request: Request) -> Response:
    owner = await _owner(request, "write:filters")
    async with await read_params(request) as params:
        changed = await filters.update(
            services(request).pool,
            owner,
            path_id(request),
            title=params.get("title"),
            context=params.get_list("context") if "context" in params else None,
            action=params.get("filter_action") or None,
            expires_in=expires_in_param(params) if "expires_in" in params else UNCHANGED,
            keywords=_keyword_changes(params),
        )
    return JSONResponse(filter_entity(changed))


async def delete(request: Request) -> Response:
    owner = await _owner(request, "write:filters")
    await filters.delete(services(request).pool, owner, path_id(request))
    return JSONResponse({})


async def keywords(request: Request) -> Response:
    owner = await _owner(request, "read:filters")
    found = await filters.get(services(request).pool, owner, path_id(request, "filter_id"))
    return JSONResponse([keyword_entity(k) for k in found.keywords])


async def add_keyword(request: Request) -> Response:
    owner = await _owner(request, "write:filters")
    filter_id = path_id(request, "filter_id")
    async with await read_params(request) as params:
        change = KeywordChange(None, params.get("keyword") or "", optional_bool(params, "whole_word"))
    pool = services(request).pool
    before = {k.id for k in (await filters.get(pool, owner, filter_id)).keywords}
    await filters.change_keywords(pool, owner, filter_id, [change])
    [made] = [k for k in (await filters.get(pool, owner, filter_id)).keywords if k.id not in before]
    return JSONResponse(keyword_entity(made))


async def _own_keyword(request: Request, owner: int) -> tuple[int, filters.Keyword]:
    pool = services(request).pool
    keyword_id = path_id(request)
    filter_id = await filters.keyword_owner(pool, owner, keyword_id)
    [found] = [k for k in (await filters.get(pool, owner, filter_id)).keywords if k.id == keyword_id]
    return filter_id, found


async def show_keyword(request: Request) -> Response:
    _, found = await _own_keyword(request, await _owner(request, "read:filters"))
    return JSONResponse(keyword_entity(found))


async def update_keyword(request: Request) -> Response:
    owner = await _owner(request, "write:filters")
    filter_id, found = await _own_keyword(request, owner)
    async with await read_params(request) as params:
        change = KeywordChange(found.id, params.get("keyword"), optional_bool(params, "whole_word"))
    await filters.change_keywords(services(request).pool, owner, filter_id, [change])
    _, changed = await _own_keyword(request, owner)
    return JSONResponse(keyword_entity(changed))


async def delete_keyword(request: Request) -> Response:
    owner = await _owner(request, "write:filters")
    filter_id, found = await _own_keyword(request, owner)
    await filters.change_keywords(services(request).pool, owner, filter_id, [KeywordChange(found.id, None, None, True)])
    return JSONResponse({})


def _status_entity(filter_status_id: int, status_id: int) -> dict[str, Any]:
    return {"id": str(filter_status_id), "status_id": str(status_id)}


async def statuses(request: Request) -> Response:
    owner = await _owner(request, "read:filters")
    found = await filters.get(services(request).pool, owner, path_id(request, "filter_id"))
    return JSONResponse([_status_entity(i, s) for i, s in found.statuses.items()])


async def add_status(request: Request) -> Response:
    owner = await _owner(request, "write:filters")
    filter_id = path_id(request, "filter_id")  # an id that cannot be one is a 404 before the body is read
    async with await read_params(request) as params:
        [status_id] = ids_of([params.get("status_id") or ""], "status_id")
    pool = services(request).pool
    if status_id not in await visible_ids(pool, [status_id], owner):
        raise ApiError(404, NOT_FOUND)  # nobody learns of a status they may not see
    added = await filters.add_status(pool, owner, filter_id, status_id)
    return JSONResponse(_status_entity(added, status_id))


async def show_status(request: Request) -> Response:
    owner = await _owner(request, "read:filters")
    _, status_id = await filters.status_owner(services(request).pool, owner, path_id(request))
    return JSONResponse(_status_entity(path_id(request), status_id))


async def delete_status(request: Request) -> Response:
    owner = await _owner(request, "write:filters")
    await filters.remove_status(services(request).pool, owner, path_id(request))
    return JSONResponse({})


routes: list[BaseRoute] = [
    Route("/api/v2/filters", index, methods=["GET"]),
    Route("/api/v2/filters", create, methods=["POST"]),
    Route("/api/v2/filters/keywords/{id}", show_keyword, methods=["GET"]),
    Route("/api/v2/filters/keywords/{id}", update_keyword, methods=["PUT"]),
    Route("/api/v2/filters/keywords/{id}", delete_keyword, methods=["DELETE"]),
    Route("/api/v2/filters/statuses/{id}", show_status, methods=["GET"]),
    Route("/api/v2/filters/statuses/{id}", delete_status, methods=["DELETE"]),
    Route("/api/v2/filters/{id}", show, methods=["GET"]),
    Route("/api/v2/filters/{id}", update, methods=["PUT"]),
    Route("/api/v2/filters/{id}", delete, methods=["DELETE"]),
    Route("/api/v2/filters/{filter_id}/keywords", keywords, methods=["GET"]),
    Route("/api/v2/filters/{filter_id}/keywords", add_keyword, methods=["POST"]),
    Route("/api/v2/filters/{filter_id}/statuses", statuses, methods=["GET"]),
    Route("/api/v2/filters/{filter_id}/statuses", add_status, methods=["POST"]),
]
