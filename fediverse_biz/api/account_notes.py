"""`POST /api/v1/accounts/:id/note` (https://docs.joinmastodon.org/methods/accounts/#note): the private note
about an account, answered with the Relationship that shows it (core/account_notes.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api._accounts import account_or_404, relationship
from fediverse_biz.api.auth import require
from fediverse_biz.api.errors import ApiError, domain_errors
from fediverse_biz.api.params import read_params
from fediverse_biz.api.statuses import own_id
from fediverse_biz.core import account_notes
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services


async def set_note(request: Request) -> Response:
    viewer = await require(request, "write:accounts")
    author_id = own_id(viewer)  # the acting account: an organization's token keeps the organization's notes
    target = await account_or_404(request, request.path_params["id"])
    async with await read_params(request) as params:
        comment = params.get("comment")
        if comment is None and params.raw.get("comment") is not None:  # a list or an object
            raise ApiError(422, "Validation failed: comment must be text")
    with domain_errors():
        await account_notes.set_note(services(request).pool, author_id, target["id"], comment or "")
    return JSONResponse(await relationship(request, viewer, target["id"]))


routes: list[BaseRoute] = [Route("/api/v1/accounts/{id}/note", set_note, methods=["POST"])]
