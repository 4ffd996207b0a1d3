"""Statuses: post, show, edit, delete, thread (https://docs.joinmastodon.org/methods/statuses/), and the helpers every
status-returning resource shares (rendering ids in order, the acting actor, domain errors -> Error).

Thin handlers: scope check -> core.statuses / core.timelines -> api.entities. Visibility is decided
by core.visibility (one SQL predicate); whatever a viewer may not see answers 404, as on Mastodon,
so that the existence of a followers-only or direct post is not revealed either.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import acting, entities
from fediverse_biz.api._accounts import acting_actor
from fediverse_biz.api._poll_params import poll_draft
from fediverse_biz.api.auth import Viewer, optional, require
from fediverse_biz.api.errors import NOT_FOUND, ApiError, domain_errors
from fediverse_biz.api.params import Params, path_id, query_params, read_params
from fediverse_biz.api.status_page import render_page
from fediverse_biz.business import approvals, offers
from fediverse_biz.core import statuses as core_statuses
from fediverse_biz.core import timelines
from fediverse_biz.core.ids import parse_id
from fediverse_biz.core.visibility import can_see, status_and_original_visible
from fediverse_biz.federation import remote_actors
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

log = logging.getLogger(__name__)

MAX_MULTIPLE = 20  # GET /api/v1/statuses?id[]=: Mastodon's DEFAULT_STATUSES_LIMIT


# ---- shared helpers -----------------------------------------------------------------------------
def ids_of(values: Sequence[str], name: str) -> list[int]:
    """Ids a client sends to act on (media_ids, account_id): all of them ids, or a 422."""
    ids = [parse_id(v) for v in values]
    if None in ids:
        raise ApiError(422, f"Validation failed: {name} must be ids")
    return [i for i in ids if i is not None]


def viewer_actor_id(viewer: Viewer | None) -> int | None:
    return viewer.actor_id if viewer is not None else None


def own_id(viewer: Viewer) -> int:
    """The acting actor's id of a user token (require() has already refused app tokens)."""
    if viewer.actor_id is None:
        raise ApiError(422, "This method requires an authenticated user")
    return viewer.actor_id


async def render(
    request: Request,
    ids: Sequence[int],
    viewer_id: int | None,
    *,
    with_source: bool = False,
    filter_context: str | None = None,
) -> list[dict[str, Any]]:
    """Status entities for `ids`, in that order; ids that no longer exist are left out."""
    state = services(request)
    # One pooled connection for all of the page's queries: through the pool, each paid its own acquire and
    # release, 15 to 25 µs of CPU apiece (pool.fetch against conn.fetch); ~0.2 ms of a 2 ms page of 40.
    async with state.pool.acquire() as conn:
        return await render_page(conn, ids, state.urls, viewer_id, state.account_entities, with_source=with_source,
                                 filter_context=filter_context)


async def render_one(request: Request, status_id: int, viewer_id: int | None) -> dict[str, Any]:
    rendered = await render(request, [status_id], viewer_id)
    if not rendered:
        raise ApiError(404, NOT_FOUND)
    return rendered[0]


async def visible_row(
    request: Request, status_id: int, viewer_id: int | None, viewer: Viewer | None = None
) -> asyncpg.Record:
    """The statuses row if the viewer may see it, else 404. With `viewer`, a post held for review is
    shown to its author and the organization's reviewers too (business.approvals.may_view_held)."""
    pool = services(request).pool
    row = await pool.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    if row is None:
        raise ApiError(404, NOT_FOUND)
    if not await can_see(pool, row, viewer_id) and not (
        viewer is not None and await approvals.may_view_held(pool, row, viewer.user_id)
    ):
        raise ApiError(404, NOT_FOUND)
    return row


async def visible_ids(pool: asyncpg.Pool, ids: Sequence[int], viewer_id: int | None) -> set[int]:
    """Which of `ids` the viewer may see, in one query (boosts need their original visible too)."""
    rows = await pool.fetch(
        f"""SELECT s.id FROM statuses s LEFT JOIN statuses r ON r.id = s.reblog_of_id
             WHERE s.id = ANY($1::bigint[]) AND {status_and_original_visible("$2::bigint")}""",
        list(ids),
        viewer_id,
    )
    return {r["id"] for r in rows}


def mention_resolver(request: Request) -> core_statuses.MentionResolver:
    """Looks up `@user@domain` handles we have never seen, through WebFinger; failures stay plain text."""
    state = services(request)
    return remote_actors.mention_resolver(state.pool, state.http, state.instance_actor, state.settings)


def draft_from(params: Params) -> core_statuses.Draft:
    """The fields POST and PUT share. Unsupported features are refused before anything is written."""
    if params.get("scheduled_at"):
        raise ApiError(422, "Validation failed: scheduled posts are not supported yet")
    language = (params.get("language") or "").strip() or None
    return core_statuses.Draft(
        text=params.get("status") or "",
        visibility=(params.get("visibility") or "public").strip(),
        spoiler_text=params.get("spoiler_text") or "",
        sensitive=params.get_bool("sensitive", False),
        language=language,
        media_ids=ids_of(params.get_list("media_ids"), "media_ids"),
        poll=poll_draft(params),
    )


# ---- handlers -----------------------------------------------------------------------------------
async def create_status(request: Request) -> Response:
    viewer = await require(request, "write:statuses")
    author = await acting_actor(request, viewer)
    async with await read_params(request) as params:
        draft = draft_from(params)
        reply_to = params.get("in_reply_to_id")
    if reply_to:
        draft.in_reply_to_id = parse_id(reply_to)
        if draft.in_reply_to_id is None:  # names no status, like an unknown one
            raise ApiError(404, NOT_FOUND)
    state = services(request)
    key = (request.headers.get("idempotency-key") or "").strip()[:200] or None
    with domain_errors():
        # A job offer or opportunity typed in any app by the text convention is filed as one
        # (business/offer_text.py); one that breaks a rule is refused with the line named, like any 422.
        as_offer = offers.from_text(draft.text)
        status_id = await core_statuses.create(
            state.pool,
            state.urls,
            state.settings.domain,
            author,
            draft,
            resolver=mention_resolver(request),
            idempotency_key=key,
            application_id=viewer.app_id,
            created_by_user_id=viewer.user_id,
            after_write=as_offer,
            # A contributor's post waits for review; the client gets it back as usual (200), marked
            # fediverse_biz.approval_state = "pending" (docs/teams.md).
            hold_for_approval=await acting.hold_for_review(request, viewer),
        )
    entity = await render_one(request, status_id, author["id"])
    state = entity.get("fediverse_biz", {}).get("approval_state", "published")
    await acting.record(request, viewer, "post", entity["uri"], {"status_id": entity["id"], "approval_state": state})
    return JSONResponse(entity)


async def show_status(request: Request) -> Response:
    viewer = await optional(request, "read:statuses")
    status_id = path_id(request)
    await visible_row(request, status_id, viewer_actor_id(viewer), viewer)
    return JSONResponse(await render_one(request, status_id, viewer_actor_id(viewer)))


async def show_card(request: Request) -> Response:
    """GET /api/v1/statuses/:id/card: the status's PreviewCard, or `{}` without one (Mastodon's answer
    before 3.0 removed the method; some clients still ask). Seen by whoever may see the status."""
    viewer = await optional(request, "read:statuses")
    status_id = path_id(request)
    await visible_row(request, status_id, viewer_actor_id(viewer), viewer)
    entity = await render_one(request, status_id, viewer_actor_id(viewer))
    shown = entity["reblog"] or entity  # a boost shows its original's card
    return JSONResponse(shown["card"] or {})


async def show_statuses(request: Request) -> Response:
    """GET /api/v1/statuses?id[]=1&id[]=2: the visible ones, in the order asked; unknown ids are skipped."""
    viewer = await optional(request, "read:statuses")
    viewer_id = viewer_actor_id(viewer)
    wanted: list[int] = []
    for text in query_params(request).get_list("id")[:MAX_MULTIPLE]:
        status_id = parse_id(text)
        if status_id is not None and status_id not in wanted:
            wanted.append(status_id)
    visible = await visible_ids(services(request).pool, wanted, viewer_id)
    return JSONResponse(await render(request, [i for i in wanted if i in visible], viewer_id))


async def edit_status(request: Request) -> Response:
    viewer = await require(request, "write:statuses")
    author = await acting_actor(request, viewer)
    status_id = path_id(request)
    async with await read_params(request) as params:
        draft = draft_from(params)
    await acting.check_status_change(request, viewer, status_id, deleting=False)
    state = services(request)
    with domain_errors():
        await core_statuses.edit(
            state.pool,
            state.urls,
            state.settings.domain,
            author,
            status_id,
            draft,
            resolver=mention_resolver(request),
            after_write=offers.from_text(draft.text, editing=True),  # as in create_status
        )
    entity = await render_one(request, status_id, author["id"])
    await acting.record(request, viewer, "edit", entity["uri"], {"status_id": entity["id"]})
    return JSONResponse(entity)


async def delete_status(request: Request) -> Response:
    """Deletes and answers the status as it was, with its source `text`, for "delete and redraft"."""
    viewer = await require(request, "write:statuses")
    author = await acting_actor(request, viewer)
    state = services(request)
    await acting.check_status_change(request, viewer, path_id(request), deleting=True)
    with domain_errors():
        bundle = await core_statuses.delete(state.pool, state.urls, author, path_id(request))
    rendered = await entities.statuses(state.pool, [bundle], state.urls, author["id"], with_source=True)
    await acting.record(request, viewer, "delete", bundle.status["uri"], {"status_id": str(bundle.id)})
    return JSONResponse(rendered[0])


async def status_context(request: Request) -> Response:
    viewer = await optional(request, "read:statuses")
    viewer_id = viewer_actor_id(viewer)
    status_id = path_id(request)
    await visible_row(request, status_id, viewer_id, viewer)
    ancestors, descendants = await timelines.context(services(request).pool, viewer_id, status_id)
    rendered = await render(request, [*ancestors, *descendants], viewer_id, filter_context="thread")
    by_id = {int(s["id"]): s for s in rendered}
    return JSONResponse(
        {
            "ancestors": [by_id[i] for i in ancestors if i in by_id],
            "descendants": [by_id[i] for i in descendants if i in by_id],
        }
    )


routes: list[BaseRoute] = [
    Route("/api/v1/statuses", create_status, methods=["POST"]),
    Route("/api/v1/statuses", show_statuses, methods=["GET"]),
    Route("/api/v1/statuses/{id}", show_status, methods=["GET"]),
    Route("/api/v1/statuses/{id}", edit_status, methods=["PUT"]),
    Route("/api/v1/statuses/{id}", delete_status, methods=["DELETE"]),
    Route("/api/v1/statuses/{id}/context", status_context, methods=["GET"]),
    Route("/api/v1/statuses/{id}/card", show_card, methods=["GET"]),
]
