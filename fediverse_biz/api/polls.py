"""Polls (https://docs.joinmastodon.org/methods/polls/): view one, vote on one.

A poll's id is its status's id (a poll is part of exactly one status). Whoever may not see the status
gets 404, as for the status itself (core.visibility): a poll on a followers-only post is neither shown
nor votable by anyone else. Voting needs `write:statuses`, as on Mastodon; an organization's token votes
as the organization with the INTERACT permission (business/roles.py), like a favourite.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api._accounts import acting_actor
from fediverse_biz.api.auth import optional, require, require_permission
from fediverse_biz.api.errors import NOT_FOUND, ApiError, domain_errors
from fediverse_biz.api.params import path_id, read_params
from fediverse_biz.api.statuses import render_one, viewer_actor_id, visible_row
from fediverse_biz.business.roles import Permission
from fediverse_biz.core import polls
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services


async def _poll(request: Request, status_id: int, viewer_id: int | None) -> dict[str, Any]:
    poll: dict[str, Any] | None = (await render_one(request, status_id, viewer_id))["poll"]
    if poll is None:
        raise ApiError(404, NOT_FOUND)
    return poll


async def show_poll(request: Request) -> Response:
    viewer = await optional(request, "read:statuses")
    status_id = path_id(request)
    await visible_row(request, status_id, viewer_actor_id(viewer), viewer)
    return JSONResponse(await _poll(request, status_id, viewer_actor_id(viewer)))


def _choices(values: list[str]) -> list[int]:
    choices = []
    for value in values[: polls.MAX_OPTIONS * 4]:
        text = value.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 4:
            raise ApiError(422, "Validation failed: choices must be option indexes")
        choices.append(int(text))
    if len(values) > polls.MAX_OPTIONS * 4:
        raise ApiError(422, "Validation failed: too many choices")
    return choices


async def vote(request: Request) -> Response:
    viewer = await require(request, "write:statuses")
    await require_permission(request, viewer, Permission.INTERACT)
    voter = await acting_actor(request, viewer)
    status_id = path_id(request)
    async with await read_params(request) as params:
        choices = _choices(params.get_list("choices"))
    with domain_errors():
        await polls.vote(services(request).pool, voter, status_id, choices)
    return JSONResponse(await _poll(request, status_id, voter["id"]))


routes: list[BaseRoute] = [
    Route("/api/v1/polls/{id}", show_poll, methods=["GET"]),
    Route("/api/v1/polls/{id}/votes", vote, methods=["POST"]),
]
