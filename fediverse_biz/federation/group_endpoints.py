"""Door 3, read side, for halls: `/c/{name}/moderators` and `/c/{name}/outbox`.

- moderators: the collection the Group's `attributedTo` names (FEP-1b12 "Moderation"; Lemmy's shape: an
  OrderedCollection whose orderedItems are actor URIs). Lemmy fetches it to know who may moderate.
- outbox: the hall's Announces, newest first (FEP-1b12: the group SHOULD add the Announce to its outbox),
  paged like a person's outbox. The collection itself also carries the newest page as `orderedItems`:
  Lemmy reads a community's outbox from the collection alone and requires `totalItems` and
  `orderedItems` of Announces there (GroupOutbox, LemmyNet/lemmy crates/apub/apub/src/protocol/collections/
  group_outbox.rs; assets/lemmy/collections/group_outbox.json), following no `first`. Only public and
  unlisted posts are ever relayed (group_relay.relay), so nothing here is less public than the posts it
  announces.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.activitypub.context import CONTEXT
from fediverse_biz.core.accounts import find_published_actor
from fediverse_biz.federation.actor_endpoints import activity_json
from fediverse_biz.federation.object_endpoints import (
    PAGE_SIZE,
    outbox_cursor,
    outbox_head,
    outbox_page,
    wants_outbox_head,
)
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

__all__ = ["routes"]



async def _hall(request: Request) -> asyncpg.Record | Response:
    row = await find_published_actor(services(request).pool, request.path_params["username"], types=("Group",))
    if row is None:
        return JSONResponse({"error": "Record not found"}, status_code=404)
    if row["suspended_at"] is not None:
        return JSONResponse({"error": "actor suspended"}, status_code=410)
    return row


async def moderators(request: Request) -> Response:
    hall = await _hall(request)
    if isinstance(hall, Response):
        return hall
    rows = await services(request).pool.fetch(
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
    pool: asyncpg.Pool = services(request).pool
    outbox_uri = hall["outbox_url"] or f"{hall['uri']}/outbox"
    if wants_outbox_head(request):
        total = await pool.fetchval("SELECT count(*) FROM community_announces WHERE community_id = $1", hall["id"])
        head = outbox_head(outbox_uri, total, last=False)
        head["orderedItems"] = [item for _, item in await _announces(pool, hall["id"], None)]
        return activity_json(head)
    cursor = outbox_cursor(request)
    rows = await _announces(pool, hall["id"], cursor)
    return activity_json(outbox_page(outbox_uri, cursor, [item for _, item in rows], [i for i, _ in rows]))


async def _announces(pool: asyncpg.Pool, hall_id: int, cursor: int | None) -> list[tuple[int, dict[str, Any]]]:
    """(row id, Announce without its @context) of one outbox page, newest first."""
    rows = await pool.fetch(
        """SELECT id, announce FROM community_announces
            WHERE community_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3""",
        hall_id,
        cursor,
        PAGE_SIZE,
    )
    return [(r["id"], {k: v for k, v in dict(r["announce"]).items() if k != "@context"}) for r in rows]


routes: list[BaseRoute] = [
    Route("/c/{username}/moderators", moderators, methods=["GET", "HEAD"]),
    Route("/c/{username}/outbox", outbox, methods=["GET", "HEAD"]),
]
