"""Notifications (https://docs.joinmastodon.org/methods/notifications/) and read markers
(https://docs.joinmastodon.org/methods/markers/).

A notification's `group_key` follows Mastodon 4.3: favourites and boosts of one status, and follows,
share a key per 12-hour slot (NotificationGroup's window); everything else is `ungrouped-<id>`.
Markers are kept per acting account (an organization's token has its own), with Mastodon's version
counter bumped on every write.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import entities
from fediverse_biz.api.auth import require
from fediverse_biz.api.errors import NOT_FOUND, ApiError
from fediverse_biz.api.pagination import keyset, newest_first, page_params, paginated
from fediverse_biz.api.params import Params, query_params, read_params
from fediverse_biz.api.read_slots import queued
from fediverse_biz.api.status_page import render_page
from fediverse_biz.api.statuses import ids_of, own_id, path_id, visible_ids
from fediverse_biz.core import notifications
from fediverse_biz.core.hydrate import load_actors
from fediverse_biz.core.ids import parse_cursor
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import AccountEntityCache, services
from fediverse_biz.urls import LocalUrls

WITH_STATUS = frozenset({"mention", "status", "reblog", "favourite", "poll", "update"})
GROUPED = frozenset({"favourite", "reblog", "follow"})
GROUP_WINDOW_SECONDS = 12 * 3600
TIMELINES = ("home", "notifications")
UNREAD_LIMIT = 100  # Mastodon's default cap for unread_count (up to 1000 with ?limit=)


def group_key(row: asyncpg.Record) -> str:
    if row["type"] not in GROUPED:
        return f"ungrouped-{row['id']}"
    slot = int(row["created_at"].timestamp()) // GROUP_WINDOW_SECONDS
    target = f"-{row['status_id']}" if row["status_id"] is not None else ""
    return f"{row['type']}{target}-{slot}"


async def render_notifications(request: Request, rows: list[asyncpg.Record], viewer_id: int) -> list[dict[str, Any]]:
    """Notification entities in the rows' order; one whose status the viewer can no longer see is left out."""
    state = services(request)
    return await notification_entities(state.pool, state.urls, state.account_entities, rows, viewer_id)


async def notification_entities(
    pool: asyncpg.Pool, urls: LocalUrls, cache: AccountEntityCache | None, rows: list[asyncpg.Record], viewer_id: int
) -> list[dict[str, Any]]:
    """render_notifications without a request: the streaming hub renders one notification at a time (no
    cache of account entities pays for one status)."""
    actors = await load_actors(pool, {r["from_actor_id"] for r in rows})
    accounts = {a["id"]: a for a in await entities.accounts(pool, list(actors.values()), urls)}
    status_ids = [r["status_id"] for r in rows if r["status_id"] is not None]
    visible = await visible_ids(pool, status_ids, viewer_id)
    async with pool.acquire() as conn:
        shown = await render_page(conn, [i for i in status_ids if i in visible], urls, viewer_id, cache,
                                  filter_context="notifications")
    statuses = {int(s["id"]): s for s in shown}
    # moderation_warning carries Mastodon's AccountWarning, aimed at the reader (a post the team
    # rejected: business/approvals.py).
    warned = any(r["type"] == "moderation_warning" for r in rows)
    reader = next(iter(await entities.accounts_by_id(pool, [viewer_id], urls)), None) if warned else None
    result = []
    for row in rows:
        entity: dict[str, Any] = {
            "id": str(row["id"]),
            "type": row["type"],
            "created_at": entities.iso(row["created_at"]),
            "group_key": group_key(row),
            "account": accounts.get(str(row["from_actor_id"])),
        }
        if row["status_id"] is not None:
            entity["status"] = statuses.get(row["status_id"])
        if row["type"] == "moderation_warning":
            entity["moderation_warning"] = {**row["extra"].get("moderation_warning", {}), "target_account": reader}
        if entity["account"] is None or (row["type"] in WITH_STATUS and entity.get("status") is None):
            continue
        if entity.get("status") is None:
            entity.pop("status", None)
        result.append(entity)
    return result


async def list_notifications(request: Request) -> Response:
    actor_id = own_id(await require(request, "read:notifications"))
    params = query_params(request)
    page = page_params(request, default=40, maximum=80)
    where, args, order = keyset(page, "n.id", 6)
    account = params.get("account_id")
    rows = await notifications.list_for(
        services(request).pool,
        actor_id,
        where=where,
        args=args,
        order=order,
        limit=page.limit,
        types=params.get_list("types"),
        exclude_types=params.get_list("exclude_types"),
        account_id=ids_of([account], "account_id")[0] if account else None,
    )
    rows = newest_first(list(rows), page)
    items = await render_notifications(request, rows, actor_id)
    return paginated(request, items, [r["id"] for r in rows], page)


async def _own_notification(request: Request, actor_id: int) -> asyncpg.Record:
    row = await services(request).pool.fetchrow(
        "SELECT * FROM notifications WHERE id = $1 AND actor_id = $2", path_id(request), actor_id
    )
    if row is None:
        raise ApiError(404, NOT_FOUND)
    return row


async def show_notification(request: Request) -> Response:
    actor_id = own_id(await require(request, "read:notifications"))
    rendered = await render_notifications(request, [await _own_notification(request, actor_id)], actor_id)
    if not rendered:
        raise ApiError(404, NOT_FOUND)
    return JSONResponse(rendered[0])


async def dismiss_notification(request: Request) -> Response:
    viewer = await require(request, "write:notifications")
    if "id" in request.path_params:
        notification_id = path_id(request)
    else:  # the pre-2.9.2 form: POST /api/v1/notifications/dismiss with id=
        async with await read_params(request) as params:
            notification_id = ids_of([params.get("id") or "0"], "id")[0]
    if not await notifications.dismiss(services(request).pool, own_id(viewer), notification_id):
        raise ApiError(404, NOT_FOUND)
    return JSONResponse({})


async def clear_notifications(request: Request) -> Response:
    viewer = await require(request, "write:notifications")
    await notifications.clear(services(request).pool, own_id(viewer))
    return JSONResponse({})


async def unread_count(request: Request) -> Response:
    """Notifications newer than the notifications marker, capped like Mastodon's."""
    viewer = await require(request, "read:notifications")
    limit = query_params(request).get_int("limit", UNREAD_LIMIT, 1, 1000)
    count = await services(request).pool.fetchval(
        """SELECT count(*) FROM (
               SELECT 1 FROM notifications n
                WHERE n.actor_id = $1
                  AND n.id > coalesce((SELECT last_read_id FROM markers
                                        WHERE actor_id = $1 AND timeline = 'notifications'), 0)
                LIMIT $2) x""",
        own_id(viewer),
        limit,
    )
    return JSONResponse({"count": int(count)})


# ---- markers ------------------------------------------------------------------------------------
def marker_entities(rows: list[asyncpg.Record]) -> dict[str, Any]:
    return {
        r["timeline"]: {
            "last_read_id": str(r["last_read_id"]),
            "version": r["version"],
            "updated_at": entities.iso(r["updated_at"]),
        }
        for r in rows
    }


async def get_markers(request: Request) -> Response:
    """The markers asked for with timeline[]; all of them when none is named."""
    viewer = await require(request, "read:statuses")
    wanted = [t for t in query_params(request).get_list("timeline") if t in TIMELINES] or list(TIMELINES)
    rows = await services(request).pool.fetch(
        "SELECT * FROM markers WHERE actor_id = $1 AND timeline = ANY($2::text[]) ORDER BY timeline",
        own_id(viewer),
        wanted,
    )
    return JSONResponse(marker_entities(rows))


def _last_read_ids(params: Params) -> dict[str, int]:
    """`home[last_read_id]=..` (form) or `{"home": {"last_read_id": ..}}` (JSON), per timeline."""
    found: dict[str, int] = {}
    for timeline in TIMELINES:
        value = params.raw.get(timeline)
        if not isinstance(value, dict) or "last_read_id" not in value:
            continue
        # A position in the timeline, so 0 ("nothing read yet") is one too.
        last_read_id = parse_cursor(str(value["last_read_id"]).strip())
        if last_read_id is None:
            raise ApiError(422, f"Validation failed: {timeline}[last_read_id] must be an id")
        found[timeline] = last_read_id
    return found


async def save_markers(request: Request) -> Response:
    viewer = await require(request, "write:statuses")
    async with await read_params(request) as params:
        positions = _last_read_ids(params)
    rows = []
    async with services(request).pool.acquire() as conn, conn.transaction():
        for timeline, last_read_id in positions.items():
            rows.append(
                await conn.fetchrow(
                    """INSERT INTO markers (actor_id, timeline, last_read_id) VALUES ($1, $2, $3)
                       ON CONFLICT (actor_id, timeline) DO UPDATE
                          SET last_read_id = excluded.last_read_id, version = markers.version + 1,
                              updated_at = now()
                       RETURNING *""",
                    own_id(viewer),
                    timeline,
                    last_read_id,
                )
            )
    return JSONResponse(marker_entities(rows))


routes: list[BaseRoute] = [
    Route("/api/v1/notifications", queued(list_notifications), methods=["GET"]),
    Route("/api/v1/notifications/unread_count", unread_count, methods=["GET"]),
    Route("/api/v1/notifications/clear", clear_notifications, methods=["POST"]),
    Route("/api/v1/notifications/dismiss", dismiss_notification, methods=["POST"]),
    Route("/api/v1/notifications/{id}", show_notification, methods=["GET"]),
    Route("/api/v1/notifications/{id}/dismiss", dismiss_notification, methods=["POST"]),
    Route("/api/v1/markers", get_markers, methods=["GET"]),
    Route("/api/v1/markers", save_markers, methods=["POST"]),
]
