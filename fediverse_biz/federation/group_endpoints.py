"""Door 3, read side, for halls: `/c/{name}/moderators` and `/c/{name}/outbox`.

- moderators: the collection the Group's `attributedTo` names (FEP-1b12 "Moderation"; Lemmy's shape: an
  OrderedCollection whose orderedItems are actor URIs). Lemmy fetches it to know who may moderate.
- outbox: the hall's Announces, newest first (FEP-1b12: the group SHOULD add the Announce to its outbox),
  paged like a person's outbox. Only public and unlisted posts are ever relayed (group_relay.relay), so
  nothing here is less public than the posts it announces.
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.activitypub.context import CONTEXT
from fediverse_biz.federation.actor_endpoints import activity_json, find_published_actor

__all__ = ["routes"]

PAGE_SIZE: Final = 20


async def _hall(request: Request) -> asyncpg.Record | Response:
    row = await find_published_actor(request.app.state.pool, request.path_params["username"], types=("Group",))
    if row is None:
        return JSONResponse({"error": "Record not found"}, status_code=404)
    if row["suspended_at"] is not None:
        return JSONResponse({"error": "actor suspended"}, status_code=410)
    return row


async def moderators(request: Request) -> Response:
    hall = await _hall(request)
    if isinstance(hall, Response):
        return hall
    rows = await request.app.state.pool.fetch(
        """SELECT a.uri FROM community_moderators m JOIN actors a ON a.id = m.actor_id
            WHERE m.community_id = $1 AND a.suspended_at IS NULL ORDER BY m.created_at, a.id""",
        hall["id"],
    )
    uris = [r["uri"] for r in rows]
    return activity_json(
        {
            "@context": CONTEXT,
            "id": f"{hall['uri']}/moderators",
            "type": "OrderedCollection",
            "totalItems": len(uris),
            "orderedItems": uris,
        }
    )


async def outbox(request: Request) -> Response:
    hall = await _hall(request)
    if isinstance(hall, Response):
        return hall
    pool: asyncpg.Pool = request.app.state.pool
    outbox_uri = hall["outbox_url"] or f"{hall['uri']}/outbox"
    if "page" not in request.query_params and "max_id" not in request.query_params:
        total = await pool.fetchval("SELECT count(*) FROM community_announces WHERE community_id = $1", hall["id"])
        return activity_json(
            {
                "@context": CONTEXT,
                "id": outbox_uri,
                "type": "OrderedCollection",
                "totalItems": int(total),
                "first": f"{outbox_uri}?page=true",
            }
        )
    max_id = request.query_params.get("max_id", "")
    cursor = int(max_id) if max_id.isdigit() and len(max_id) <= 19 else None
    rows = await pool.fetch(
        """SELECT id, announce FROM community_announces
            WHERE community_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3""",
        hall["id"],
        cursor,
        PAGE_SIZE,
    )
    items = [{k: v for k, v in dict(r["announce"]).items() if k != "@context"} for r in rows]
    page: dict[str, Any] = {
        "@context": CONTEXT,
        "id": f"{outbox_uri}?page=true" + (f"&max_id={cursor}" if cursor else ""),
        "type": "OrderedCollectionPage",
        "partOf": outbox_uri,
        "orderedItems": items,
    }
    if len(rows) == PAGE_SIZE:
        page["next"] = f"{outbox_uri}?max_id={rows[-1]['id']}&page=true"
    return activity_json(page)


routes: list[BaseRoute] = [
    Route("/c/{username}/moderators", moderators, methods=["GET", "HEAD"]),
    Route("/c/{username}/outbox", outbox, methods=["GET", "HEAD"]),
]
