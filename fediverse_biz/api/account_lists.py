"""Lists of accounts: followers and following, follow requests (and answering them), blocks, mutes,
account search, familiar followers, endorsements (https://docs.joinmastodon.org/methods/accounts/ and the
follow_requests, blocks, mutes and endorsements pages beside it).

Lists ordered by when something happened (a follow, a request, a block) page by that row's id, which
appears only in the Link header, as on Mastodon (https://docs.joinmastodon.org/api/guidelines/).
Accounts: 40 per page by default, 80 at most.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import entities
from fediverse_biz.api._accounts import account_or_404, acting_actor, local_domains, relationship
from fediverse_biz.api.auth import Viewer, optional, require, require_permission
from fediverse_biz.api.errors import domain_errors
from fediverse_biz.api.pagination import page_params, paginated
from fediverse_biz.api.params import read_params
from fediverse_biz.business.roles import Permission
from fediverse_biz.core import follows, graph, hydrate, profiles
from fediverse_biz.core import search as account_search
from fediverse_biz.core.ids import parse_id
from fediverse_biz.core.paging import Page
from fediverse_biz.federation.remote_actors import RemoteActorError, instance_signer, resolve_handle
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

DEFAULT_LIMIT, MAX_LIMIT = 40, 80
MAX_SEARCH_OFFSET = 10_000


async def _account_page(
    request: Request, edges: Sequence[graph.Edge], page: Page, *, mutes: bool = False
) -> Response:
    """Account entities for a page of edges, with the Link header on the edges' row ids."""
    pool = services(request).pool
    actors = await hydrate.load_actors(pool, [e.account_id for e in edges])
    shown = [e for e in edges if e.account_id in actors]
    items = await entities.accounts(pool, [actors[e.account_id] for e in shown], services(request).urls)
    if mutes:  # Mastodon adds when each mute ends to the accounts of /api/v1/mutes
        for item, edge in zip(items, shown, strict=True):
            item["mute_expires_at"] = entities.iso(edge.expires_at)
    row_ids = [e.row_id for e in edges]
    return paginated(
        request,
        items,
        row_ids,
        page,
        id_of_next=row_ids[-1] if row_ids else None,
        id_of_prev=row_ids[0] if row_ids else None,
    )


async def followers(request: Request) -> Response:
    await optional(request, "read:accounts")
    actor = await account_or_404(request, request.path_params["id"])
    page = page_params(request, DEFAULT_LIMIT, MAX_LIMIT)
    return await _account_page(request, await graph.edges(services(request).pool, "followers", actor["id"], page), page)


async def following(request: Request) -> Response:
    await optional(request, "read:accounts")
    actor = await account_or_404(request, request.path_params["id"])
    page = page_params(request, DEFAULT_LIMIT, MAX_LIMIT)
    return await _account_page(request, await graph.edges(services(request).pool, "following", actor["id"], page), page)


def _own_list(kind: str, scope: str) -> Route:
    """GET /api/v1/{follow_requests,blocks,mutes}: the acting account's own list."""

    async def handler(request: Request) -> Response:
        viewer = await require(request, scope)
        assert viewer.actor_id is not None
        page = page_params(request, DEFAULT_LIMIT, MAX_LIMIT)
        edges = await graph.edges(services(request).pool, kind, viewer.actor_id, page)
        return await _account_page(request, edges, page, mutes=kind == "mutes")

    return Route(f"/api/v1/{kind}", handler, methods=["GET"])


async def _answer_request(request: Request, accept: bool) -> Response:
    viewer = await require(request, "write:follows")
    await require_permission(request, viewer, Permission.FOLLOW)  # who follows the company is its call
    requester = await account_or_404(request, request.path_params["id"])
    me = await acting_actor(request, viewer)
    answer = follows.authorize_request if accept else follows.reject_request
    with domain_errors():
        await answer(services(request).pool, me, requester)
    return JSONResponse(await relationship(request, viewer, requester["id"]))


async def authorize_request(request: Request) -> Response:
    return await _answer_request(request, True)


async def reject_request(request: Request) -> Response:
    return await _answer_request(request, False)


async def _resolve(request: Request, viewer: Viewer, query: str) -> None:
    """`resolve=true`: WebFinger a remote user@domain we do not know yet, so the search can find it."""
    username, domain = profiles.split_acct(query, local_domains(request))
    if domain is None or not username or len(query) > profiles.MAX_HANDLE or viewer.user_id is None:
        return
    state = services(request)
    scheme = state.settings.scheme if state.settings.is_local_development else "https"
    try:
        await resolve_handle(
            state.pool, state.http, f"{username}@{domain}", signer=instance_signer(state.instance_actor), scheme=scheme
        )
    except RemoteActorError:
        pass  # an unknown or unreachable account simply is not in the results, as on Mastodon


async def search(request: Request) -> Response:
    viewer = await require(request, "read:accounts", user=False)
    params = await read_params(request)
    query = (params.get("q") or "").strip()
    limit = page_params(params, DEFAULT_LIMIT, MAX_LIMIT).limit
    offset = params.get_int("offset", 0, min=0, max=MAX_SEARCH_OFFSET)
    if query and params.get_bool("resolve") and offset == 0:
        await _resolve(request, viewer, query)
    pool = services(request).pool
    rows = await account_search.accounts(
        pool,
        query,
        viewer_id=viewer.actor_id,
        local_domains=local_domains(request),
        limit=limit,
        offset=offset,
        following=params.get_bool("following") and viewer.actor_id is not None,
    )
    return JSONResponse(await entities.accounts(pool, rows, services(request).urls))


async def familiar_followers(request: Request) -> Response:
    viewer = await require(request, "read:follows")
    assert viewer.actor_id is not None
    params = await read_params(request)  # Mastodon.py sends the ids as a JSON body, even on GET
    ids = list(dict.fromkeys(i for i in (parse_id(t) for t in params.get_list("id")) if i))[:40]
    pool = services(request).pool
    found = await graph.familiar_followers(pool, viewer.actor_id, ids)
    actors = await hydrate.load_actors(pool, [a for accounts in found.values() for a in accounts])
    result = []
    for account_id, follower_ids in found.items():
        rows = [actors[i] for i in follower_ids if i in actors]
        result.append({"id": str(account_id), "accounts": await entities.accounts(pool, rows, services(request).urls)})
    return JSONResponse(result)


async def endorsements(request: Request) -> Response:
    await require(request, "read:accounts")
    return JSONResponse([])  # featuring accounts on one's profile is not a feature yet


routes: list[BaseRoute] = [
    Route("/api/v1/accounts/search", search, methods=["GET"]),
    Route("/api/v1/accounts/familiar_followers", familiar_followers, methods=["GET"]),
    Route("/api/v1/accounts/{id}/followers", followers, methods=["GET"]),
    Route("/api/v1/accounts/{id}/following", following, methods=["GET"]),
    _own_list("follow_requests", "read:follows"),
    _own_list("blocks", "read:blocks"),
    _own_list("mutes", "read:mutes"),
    Route("/api/v1/follow_requests/{id}/authorize", authorize_request, methods=["POST"]),
    Route("/api/v1/follow_requests/{id}/reject", reject_request, methods=["POST"]),
    Route("/api/v1/endorsements", endorsements, methods=["GET"]),
]
