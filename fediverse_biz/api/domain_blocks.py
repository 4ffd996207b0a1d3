"""Domain blocks: a user's own (https://docs.joinmastodon.org/methods/domain_blocks/), and the instance's
list as the public may read it (https://docs.joinmastodon.org/methods/instance/#domain_blocks).

A token acting for an organization blocks domains for the organization, with the role's block permission.
"""

from __future__ import annotations

import hashlib
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api._accounts import acting_actor, local_domains
from fediverse_biz.api.auth import optional, require, require_permission
from fediverse_biz.api.errors import ApiError, domain_errors
from fediverse_biz.api.pagination import page_params, paginated
from fediverse_biz.api.params import read_params
from fediverse_biz.business.roles import Permission
from fediverse_biz.core import account_domain_blocks, domain_blocking, domain_blocks
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

DEFAULT_LIMIT: Final = 100  # Mastodon's DomainBlocksController: 100 a page, at most 200
MAX_LIMIT: Final = 200


async def index(request: Request) -> Response:
    viewer = await require(request, "read:blocks")
    assert viewer.actor_id is not None
    page = page_params(request, DEFAULT_LIMIT, MAX_LIMIT)
    rows = await account_domain_blocks.page_of(services(request).pool, viewer.actor_id, page)
    return paginated(request, [domain for _, domain in rows], [block_id for block_id, _ in rows], page)


async def _domain(request: Request) -> str:
    async with await read_params(request) as params:
        domain = params.get("domain")
    if domain is None or not domain.strip():
        raise ApiError(422, "Validation failed: domain can't be blank")
    return domain


async def create(request: Request) -> Response:
    viewer = await require(request, "write:blocks")
    await require_permission(request, viewer, Permission.BLOCK)
    me = await acting_actor(request, viewer)
    domain = await _domain(request)
    with domain_errors():
        await domain_blocking.block_domain(services(request).pool, me, domain, local_domains(request))
    return JSONResponse({})


async def delete(request: Request) -> Response:
    viewer = await require(request, "write:blocks")
    await require_permission(request, viewer, Permission.BLOCK)
    me = await acting_actor(request, viewer)
    domain = await _domain(request)
    with domain_errors():
        await account_domain_blocks.unblock(services(request).pool, me["id"], domain)
    return JSONResponse({})


async def instance_list(request: Request) -> Response:
    """The instance's blocks, each with the SHA-256 of its domain (so a client can match a domain without
    the list being needed in full). No public comments are kept, so none is shown, as Mastodon shows none
    when the rationale is not published."""
    await optional(request)
    rows = await domain_blocks.listed(services(request).pool)
    digest = {r["domain"]: hashlib.sha256(r["domain"].encode()).hexdigest() for r in rows}
    return JSONResponse(
        [{"domain": r["domain"], "digest": digest[r["domain"]], "severity": r["severity"]} for r in rows]
    )


routes: list[BaseRoute] = [
    Route("/api/v1/domain_blocks", index, methods=["GET"]),
    Route("/api/v1/domain_blocks", create, methods=["POST"]),
    Route("/api/v1/domain_blocks", delete, methods=["DELETE"]),
    Route("/api/v1/instance/domain_blocks", instance_list, methods=["GET"]),
]
