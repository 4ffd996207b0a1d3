"""Direct conversations (https://docs.joinmastodon.org/methods/conversations/): for each local account,
its direct statuses grouped by the set of other people in them, newest activity first.

Mastodon's AccountConversation keys a conversation by thread and participants; we key it by the
participants alone, so that a new direct message to the same people continues the same conversation
rather than opening a second one with the same faces. A status joins the conversation of its local
author and of each local account it mentioned that received it (fan-out decides that: a recipient who
mutes or blocks the author gets neither the status nor the conversation). A conversation is unread for
a recipient when someone else wrote its latest status, read for its author, as in Mastodon.

Each change is announced with the event "conversation" (core/events.py), which the streaming hub sends
on the account's `direct` stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from fediverse_biz.core import events
from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.db.executor import Executor

EVENT = "conversation"  # {"kind": "conversation", "conversation_id": …, "actor_id": …}


@dataclass(frozen=True)
class Conversation:
    id: int
    actor_id: int
    participant_ids: list[int]  # the others; empty for a note to oneself
    unread: bool
    last_status_id: int


async def add_status(
    conn: asyncpg.Connection, status_id: int, author_id: int, mentioned_ids: Sequence[int], recipients: Sequence[int]
) -> None:
    """File a direct status into the conversations of `recipients` (local accounts), in the caller's
    transaction; each conversation touched is announced."""
    if not recipients:
        return
    everyone = sorted({author_id, *mentioned_ids})
    rows = await conn.fetch(
        """WITH touched AS (
               INSERT INTO account_conversations AS c (actor_id, participant_ids, unread)
               SELECT r, ARRAY(SELECT p FROM unnest($3::bigint[]) p WHERE p <> r ORDER BY p), r <> $2
                 FROM unnest($4::bigint[]) r
               ON CONFLICT (actor_id, participant_ids) DO UPDATE SET unread = excluded.unread
               RETURNING c.id, c.actor_id),
           filed AS (INSERT INTO conversation_statuses (conversation_id, status_id)
                     SELECT id, $1 FROM touched ON CONFLICT DO NOTHING)
           SELECT id, actor_id FROM touched""",
        status_id,
        author_id,
        everyone,
        sorted(set(recipients)),
    )
    for row in rows:
        await events.emit(conn, EVENT, conversation_id=row["id"], actor_id=row["actor_id"])


_SELECT = """SELECT c.id, c.actor_id, c.participant_ids, c.unread, last.status_id AS last_status_id
               FROM account_conversations c
               CROSS JOIN LATERAL (SELECT max(cs.status_id) AS status_id FROM conversation_statuses cs
                                    WHERE cs.conversation_id = c.id) last"""


def _conversation(row: asyncpg.Record) -> Conversation:
    return Conversation(row["id"], row["actor_id"], list(row["participant_ids"]), row["unread"], row["last_status_id"])


async def page_for(conn: Executor, actor_id: int, page: Page) -> list[Conversation]:
    """One page of the account's conversations, ordered (and paged, as Mastodon) by their latest status."""
    where, args, order = keyset(page, "last.status_id", 2)
    rows = await conn.fetch(
        f"""{_SELECT}
             WHERE c.actor_id = $1 AND last.status_id IS NOT NULL{where}
             ORDER BY {order} LIMIT {int(page.limit)}""",
        actor_id,
        *args,
    )
    return newest_first([_conversation(r) for r in rows], page)


async def get(conn: Executor, actor_id: int, conversation_id: int) -> Conversation | None:
    row = await conn.fetchrow(
        f"{_SELECT} WHERE c.id = $1 AND c.actor_id = $2 AND last.status_id IS NOT NULL", conversation_id, actor_id
    )
    return _conversation(row) if row is not None else None


async def mark_read(pool: asyncpg.Pool, actor_id: int, conversation_id: int) -> Conversation | None:
    """Mark one of the account's conversations read; None when it has no such conversation. Announced,
    as Mastodon pushes every saved change of a conversation to the direct stream."""
    async with pool.acquire() as conn, conn.transaction():
        found = await get(conn, actor_id, conversation_id)
        if found is None:
            return None
        await conn.execute("UPDATE account_conversations SET unread = false WHERE id = $1", conversation_id)
        await events.emit(conn, EVENT, conversation_id=conversation_id, actor_id=actor_id)
    return Conversation(found.id, found.actor_id, found.participant_ids, False, found.last_status_id)


async def remove(pool: asyncpg.Pool, actor_id: int, conversation_id: int) -> bool:
    """Drop one of the account's conversations from its list (the statuses stay). A later direct status
    among the same people starts it afresh."""
    deleted = await pool.fetchval(
        "DELETE FROM account_conversations WHERE id = $1 AND actor_id = $2 RETURNING id", conversation_id, actor_id
    )
    return deleted is not None
