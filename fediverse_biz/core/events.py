"""Events for streaming clients, sent through PostgreSQL NOTIFY so every web process hears them.

NOTIFY inside a transaction is delivered at commit, so a client is never told about a status that
was rolled back. Payloads carry ids only (NOTIFY payloads are capped at 8000 bytes); listeners load
and filter by visibility themselves.

One kind is not sent from here: "authority", from the triggers of migration 0013 whenever a token may
have stopped being valid (revoked or deleted, a team member removed or given another role, a login
disabled or deleted, an account suspended). The streaming hub re-checks the streams it names.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

CHANNEL = "fb_events"
AUTHORITY = "authority"  # {"kind": "authority", "tokens" | "users" | "actors": [ids]} (migration 0013)


async def emit(conn: asyncpg.Connection | asyncpg.Pool, kind: str, **fields: Any) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, json.dumps({"kind": kind, **fields}))


# NOTIFY payloads are capped at 8000 bytes and a too-long one fails the whole transaction: an author
# with 400 local followers could not post (found by bench/posting.py). Up to this many readers travel
# in the event; beyond, listeners look the readers up in home_feed themselves.
MAX_HOME_IDS_IN_EVENT = 200


def status_created_sql(status_id: str, home_ids: str) -> str:
    """status_created as an SQL expression, for a statement that already has the status id (`status_id`,
    e.g. "$1::bigint") and a relation of the readers' ids (`home_ids`, a query of one bigint column):
    fan-out (distribution.py) sends the event "status" from its feed insert instead of in a statement of its
    own: {"kind": "status", "status_id": …, "home": [reader ids]}, without "home" past the cap."""
    return f"""pg_notify('{CHANNEL}', CASE
               WHEN (SELECT count(*) FROM ({home_ids}) h) > {MAX_HOME_IDS_IN_EVENT}
               THEN json_build_object('kind', 'status', 'status_id', {status_id})
               ELSE json_build_object('kind', 'status', 'status_id', {status_id},
                                      'home', (SELECT coalesce(json_agg(h.id), '[]') FROM ({home_ids}) h (id)))
               END::text)"""


async def status_updated(conn: asyncpg.Connection, status_id: int) -> None:
    await emit(conn, "status.update", status_id=status_id)


async def status_deleted(conn: asyncpg.Connection, status_id: int) -> None:
    await emit(conn, "delete", status_id=status_id)


async def notification_created(conn: asyncpg.Connection, notification_id: int, actor_id: int) -> None:
    await emit(conn, "notification", notification_id=notification_id, actor_id=actor_id)
