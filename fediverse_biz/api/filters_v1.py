"""The v1 filters API (https://docs.joinmastodon.org/methods/filters/#v1) read and written through v2, as
Mastodon 4 does: each keyword is a v1 filter whose id is the keyword's, `irreversible` is the hide action.
Creating one makes a v2 filter titled by its phrase with that one keyword.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api.auth import require
from fediverse_biz.api.entities import iso
from fediverse_biz.api.filters import expires_in_param, optional_bool
from fediverse_biz.api.params import path_id, read_params
from fediverse_biz.api.statuses import own_id
from fediverse_biz.core import filters
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.filters import UNCHANGED, KeywordChange
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services


def v1_entity(found: filters.Filter, keyword: filters.Keyword) -> dict[str, Any]:
    return {
        "id": str(keyword.id),
        "phrase": keyword.keyword,
        "context": found.context,
        "whole_word": keyword.whole_word,
        "expires_at": iso(found.expires_at),
        "irreversible": found.action == "hide",
    }


async def _own(request: Request, owner: int) -> tuple[filters.Filter, filters.Keyword]:
    pool = services(request).pool
    keyword_id = path_id(request)
    found = await filters.get(pool, owner, await filters.keyword_owner(pool, owner, keyword_id))
    [keyword] = [k for k in found.keywords if k.id == keyword_id]
    return found, keyword


async def index(request: Request) -> Response:
    owner = own_id(await require(request, "read:filters"))
    owned = await filters.owned(services(request).pool, owner)
    return JSONResponse([v1_entity(f, k) for f in owned for k in f.keywords])


async def show(request: Request) -> Response:
    found, keyword = await _own(request, own_id(await require(request, "read:filters")))
    return JSONResponse(v1_entity(found, keyword))


async def create(request: Request) -> Response:
    owner = own_id(await require(request, "write:filters"))
    async with await read_params(request) as params:
        phrase = params.get("phrase") or ""
        made = await filters.create(
            services(request).pool,
            owner,
            title=phrase,
            context=params.get_list("context"),
            action="hide" if params.get_bool("irreversible") else "warn",
            expires_in=expires_in_param(params),
            keywords=[KeywordChange(None, phrase, params.get_bool("whole_word", True))],
        )
    return JSONResponse(v1_entity(made, made.keywords[0]))


async def update(request: Request) -> Response:
    owner = own_id(await require(request, "write:filters"))
    found, keyword = await _own(request, owner)
    async with await read_params(request) as params:
        irreversible = optional_bool(params, "irreversible")
        context = params.get_list("context") if "context" in params else None
        expires_in = expires_in_param(params) if "expires_in" in params else UNCHANGED
        touches_filter = irreversible is not None or context is not None or expires_in != UNCHANGED
        if touches_filter and len(found.keywords) > 1:
            # Mastodon's words: a v1 client may not change a filter that other keywords share.
            raise DomainError("Validation failed: this filter has several keywords; use the v2 API")
        changed = await filters.update(
            services(request).pool,
            owner,
            found.id,
            context=context,
            action=None if irreversible is None else ("hide" if irreversible else "warn"),
            expires_in=expires_in,
            keywords=[KeywordChange(keyword.id, params.get("phrase"), optional_bool(params, "whole_word"))],
        )
    [kept] = [k for k in changed.keywords if k.id == keyword.id]
    return JSONResponse(v1_entity(changed, kept))


async def delete(request: Request) -> Response:
    """The keyword goes, and its filter with it when nothing else is left in it."""
    owner = own_id(await require(request, "write:filters"))
    found, keyword = await _own(request, owner)
    pool = services(request).pool
    if len(found.keywords) == 1 and not found.statuses:
        await filters.delete(pool, owner, found.id)
    else:
        await filters.change_keywords(pool, owner, found.id, [KeywordChange(keyword.id, None, None, True)])
    return JSONResponse({})


routes: list[BaseRoute] = [
    Route("/api/v1/filters", index, methods=["GET"]),
    Route("/api/v1/filters", create, methods=["POST"]),
    Route("/api/v1/filters/{id}", show, methods=["GET"]),
    Route("/api/v1/filters/{id}", update, methods=["PUT"]),
    Route("/api/v1/filters/{id}", delete, methods=["DELETE"]),
]
