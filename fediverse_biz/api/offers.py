"""Job offers and business opportunities in the client API (docs/offers.md):

    POST /api/v1/offers              post a structured offer (JSON or form fields), as the token's actor
    GET  /api/v1/offers              the boards: ?kind=job|opportunity&sector=&region=&q=&hall=&local=
                                     &direction=&employment_type=&remote=, newest first, Mastodon paging
    GET  /api/v1/offers/{id}         one offer (the id of its status), expired ones included; a held or
                                     rejected one for its author and the organization's reviewers only

Thin handlers: scope check -> business.offers -> api/_offer_entity. A filter that is not a valid code
is a 422 here (a program sent it); the HTML boards ignore it instead (a person typed it).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import _offer_entity, acting, entities
from fediverse_biz.api.auth import optional, require
from fediverse_biz.api.errors import NOT_FOUND, ApiError, domain_errors
from fediverse_biz.api.pagination import page_params, paginated
from fediverse_biz.api.params import Params, query_params, read_params
from fediverse_biz.api.statuses import acting_actor, mention_resolver, path_id
from fediverse_biz.business import approvals, offers
from fediverse_biz.business._offer_values import DIRECTIONS, check_employment_type, check_region
from fediverse_biz.business.sectors import check_sector
from fediverse_biz.core.hydrate import load_actors
from fediverse_biz.core.ids import parse_id
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

MAX_QUERY = 100
# Sent by clients with any request, never offer fields (the token may ride in the query string).
_TRANSPORT = frozenset({"access_token"})


async def render(request: Request, rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """Board entities for offer rows (business.offers.board/get), each with its author's account."""
    pool = services(request).pool
    authors = await load_actors(pool, {row["actor_id"] for row in rows})
    accounts = await entities.accounts(pool, list(authors.values()), services(request).urls)
    by_id = {int(account["id"]): account for account in accounts}
    return [_offer_entity.board_entity(row, offers.offer_of(row), by_id[row["actor_id"]]) for row in rows]


def _code(params: Params, name: str, check: Any) -> Any:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return check(text)
    except ValueError as exc:
        raise ApiError(422, f"Validation failed: {name} {exc}") from None


def _flag(params: Params, name: str) -> bool | None:
    text = (params.get(name) or "").strip().lower()
    if not text:
        return None
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ApiError(422, f"Validation failed: {name} must be true or false")


def board_filter(request: Request) -> offers.BoardFilter:
    params = query_params(request)  # every value storable text (422 otherwise): q reaches the database
    kind = (params.get("kind") or "").strip() or None
    if kind is not None and kind not in offers.KINDS:
        raise ApiError(422, f"Validation failed: kind must be one of {', '.join(offers.KINDS)}")
    direction = (params.get("direction") or "").strip().lower() or None
    if direction is not None and direction not in DIRECTIONS:
        raise ApiError(422, f"Validation failed: direction must be one of {', '.join(DIRECTIONS)}")
    hall_text = (params.get("hall") or "").strip()
    hall = parse_id(hall_text)
    if hall_text and hall is None:
        raise ApiError(422, "Validation failed: hall must be the id of a community account")
    return offers.BoardFilter(
        kind=kind,
        sector=_code(params, "sector", check_sector),
        region=_code(params, "region", check_region),
        q=" ".join((params.get("q") or "").split())[:MAX_QUERY] or None,
        hall=hall,
        local=bool(_flag(params, "local")),
        direction=direction,
        employment_type=_code(params, "employment_type", check_employment_type),
        remote=_flag(params, "remote"),
    )


# ---- handlers -----------------------------------------------------------------------------------------
async def list_offers(request: Request) -> Response:
    await optional(request, "read:statuses")
    filters = board_filter(request)
    page = page_params(request)
    rows = await offers.board(services(request).pool, filters, page)
    return paginated(request, await render(request, rows), [row["status_id"] for row in rows], page)


async def show_offer(request: Request) -> Response:
    viewer = await optional(request, "read:statuses")
    pool = services(request).pool
    status_id = path_id(request)
    row = await offers.get(pool, status_id)
    if row is None and viewer is not None:
        # A held or rejected offer, like a held post: for the member who wrote it and the organization's
        # reviewers, whichever account their token acts as; "not found" for everyone else.
        held = await offers.get(pool, status_id, published_only=False)
        if held is not None and await approvals.may_view_held(pool, held, viewer.user_id):
            row = held
    if row is None:
        raise ApiError(404, NOT_FOUND)
    return JSONResponse((await render(request, [row]))[0])


async def _hall(request: Request, text: str | None) -> asyncpg.Record | None:
    if text is None or not str(text).strip():
        return None
    hall_id = parse_id(str(text).strip())
    row = None
    if hall_id is not None:
        row = await services(request).pool.fetchrow(
            "SELECT * FROM actors WHERE id = $1 AND actor_type = 'Group' AND suspended_at IS NULL", hall_id
        )
    if row is None:
        raise ApiError(422, "Validation failed: hall_id is not a community known here")
    return row


async def create_offer(request: Request) -> Response:
    viewer = await require(request, "write:statuses")
    author = await acting_actor(request, viewer)
    async with await read_params(request) as params:
        values = {k: v for k, v in params.raw.items() if k not in _TRANSPORT and k != "hall_id"}
        hall_text = params.get("hall_id")
    hall = await _hall(request, hall_text)
    state = services(request)
    with domain_errors():
        status_id = await offers.create(
            state.pool,
            state.urls,
            state.settings.domain,
            author,
            values,
            hall=hall,
            resolver=mention_resolver(request),
            application_id=viewer.app_id,
            created_by_user_id=viewer.user_id,
            # A contributor's offer waits for review like any post of theirs (docs/teams.md).
            hold_for_approval=await acting.hold_for_review(request, viewer),
        )
    row = await offers.get(state.pool, status_id, published_only=False)
    assert row is not None
    entity = (await render(request, [row]))[0]
    details = {"status_id": entity["id"], "approval_state": entity["approval_state"], "offer": row["kind"]}
    await acting.record(request, viewer, "post", entity["uri"], details)
    return JSONResponse(entity)


routes: list[BaseRoute] = [
    Route("/api/v1/offers", create_offer, methods=["POST"]),
    Route("/api/v1/offers", list_offers, methods=["GET"]),
    Route("/api/v1/offers/{id}", show_offer, methods=["GET"]),
]
