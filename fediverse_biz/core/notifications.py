"""Notifications for local accounts: written in the same transaction as what caused them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import asyncpg

from fediverse_biz.core import account_domain_blocks, domain_blocks, events

TYPES = ("mention", "status", "reblog", "follow", "follow_request", "favourite", "poll", "update")


# Notifications the server itself sends: no block, mute or domain block of the sender holds them back.
UNFILTERED: Final = frozenset({"moderation_warning", "admin.report", "admin.sign_up"})
_FILTERS: Final = f"""
              AND NOT EXISTS (SELECT 1 FROM blocks WHERE actor_id = $1 AND target_actor_id = $2)
              AND NOT EXISTS (SELECT 1 FROM mutes WHERE actor_id = $1 AND target_actor_id = $2
                                 AND hide_notifications AND (expires_at IS NULL OR expires_at > now()))
              AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.id = $2 AND ({domain_blocks.blocked_sql("a.domain")}
                                 OR {account_domain_blocks.hidden_sql("$1", "a.domain")}))"""


async def notify(
    conn: asyncpg.Connection,
    recipient_id: int,
    from_actor_id: int,
    kind: str,
    status_id: int | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
    to_self: bool = False,
) -> int | None:
    """Create a notification, the only writer of the notifications table, and announce it to streams.

    Nothing when the recipient is remote or is the sender. What people do (follows, mentions, likes…) is
    dropped when the recipient blocks or mutes the sender, or the sender's server is silenced or suspended;
    what the server itself tells someone (a rejected post, a report for the staff: `UNFILTERED`) always
    arrives, as on Mastodon. Duplicates (the same favourite twice, a re-delivered activity) are absorbed
    by a unique index.
    """
    if recipient_id == from_actor_id and not to_self:  # to_self: a poll's end, told to its author
        return None
    filters = "" if kind in UNFILTERED else _FILTERS
    notification_id: int | None = await conn.fetchval(
        f"""INSERT INTO notifications (actor_id, from_actor_id, type, status_id, extra)
           SELECT $1, $2, $3, $4, $5::text::jsonb
            WHERE EXISTS (SELECT 1 FROM actors WHERE id = $1 AND domain IS NULL) {filters}
           ON CONFLICT DO NOTHING
           RETURNING id""",
        recipient_id,
        from_actor_id,
        kind,
        status_id,
        json.dumps(dict(extra or {})),
    )
    if notification_id is not None:
        await events.notification_created(conn, notification_id, recipient_id)
    return notification_id


async def list_for(
    conn: asyncpg.Connection | asyncpg.Pool,
    actor_id: int,
    *,
    where: str,
    args: Sequence[object],
    order: str,
    limit: int,
    types: Sequence[str] = (),
    exclude_types: Sequence[str] = (),
    account_id: int | None = None,
) -> list[asyncpg.Record]:
    """A page of notifications. `where`/`args`/`order` come from api.pagination.keyset over `n.id`,
    with its parameters numbered from $6."""
    return await conn.fetch(
        f"""SELECT n.* FROM notifications n
             WHERE n.actor_id = $1
               AND (cardinality($2::text[]) = 0 OR n.type = ANY($2::text[]))
               AND NOT (n.type = ANY($3::text[]))
               AND ($4::bigint IS NULL OR n.from_actor_id = $4)
               AND $5::int > 0 {where}
             ORDER BY {order} LIMIT $5""",
        actor_id,
        list(types),
        list(exclude_types),
        account_id,
        limit,
        *args,
    )


async def dismiss(conn: asyncpg.Connection | asyncpg.Pool, actor_id: int, notification_id: int) -> bool:
    result = await conn.execute("DELETE FROM notifications WHERE id = $1 AND actor_id = $2", notification_id, actor_id)
    return result != "DELETE 0"


async def clear(conn: asyncpg.Connection | asyncpg.Pool, actor_id: int) -> None:
    await conn.execute("DELETE FROM notifications WHERE actor_id = $1", actor_id)


async def clear_from_domain(conn: asyncpg.Connection, actor_id: int, domain: str) -> None:
    """What accounts of `domain` told the actor, gone when the actor blocks the domain (as Mastodon clears them)."""
    await conn.execute(
        """DELETE FROM notifications n USING actors a
            WHERE n.actor_id = $1 AND a.id = n.from_actor_id AND a.domain = $2""",
        actor_id,
        domain,
    )
