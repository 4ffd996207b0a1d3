"""The `replies` of our statuses, read for the Note's inline first page and for the collection's pages
(object_endpoints.replies). Mastodon's rules, from app/serializers/activitypub/note_serializer.rb#replies
and app/controllers/activitypub/replies_controller.rb:

- the Note's first page holds the author's own first replies (`self_replies(5)`: the thread's
  continuation, which Mastodon fetches together with the post);
- pages list URIs oldest first, DESCENDANTS_LIMIT at a time, paged by `min_id`: first the author's own
  replies, then (`only_other_accounts`) everyone else's, remote replies included.

Only public and unlisted replies are ever listed, and only ones that went out (not held for approval)
by accounts that are not suspended: a followers-only or direct reply stays out whoever asks, since the
collection is as readable as the post it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import asyncpg

from fediverse_biz.activitypub.notes import SELF_REPLIES_IN_NOTE
from fediverse_biz.db.executor import Executor

__all__ = ["PAGE_SIZE", "page_of_replies", "self_replies"]

PAGE_SIZE: Final = 60  # ActivityPub::RepliesController::DESCENDANTS_LIMIT
_LISTED: Final = """s.reblog_of_id IS NULL AND s.visibility IN ('public', 'unlisted')
                    AND s.approval_state = 'published'"""


async def self_replies(conn: Executor, status_ids: Sequence[int]) -> dict[int, list[tuple[int, str]]]:
    """For each status, (id, uri) of its author's first listed replies, oldest first: the inline first
    page of its `replies` (notes.replies_collection). One query for a whole outbox page."""
    found: dict[int, list[tuple[int, str]]] = {int(i): [] for i in status_ids}
    if not found:
        return found
    rows = await conn.fetch(
        f"""SELECT p.id AS parent_id, r.id, r.uri
              FROM statuses p
              CROSS JOIN LATERAL (SELECT s.id, s.uri FROM statuses s
                                   WHERE s.in_reply_to_id = p.id AND s.actor_id = p.actor_id AND {_LISTED}
                                   ORDER BY s.id LIMIT {SELF_REPLIES_IN_NOTE}) r
             WHERE p.id = ANY($1::bigint[])
             ORDER BY p.id, r.id""",
        list(found),
    )
    for row in rows:
        found[row["parent_id"]].append((row["id"], row["uri"]))
    return found


async def page_of_replies(
    conn: Executor, parent: asyncpg.Record, *, only_other_accounts: bool, min_id: int | None
) -> list[tuple[int, str]]:
    """(id, uri) of one page of replies to `parent`: its author's own, or (`only_other_accounts`) everyone
    else's, after `min_id`, oldest first."""
    rows = await conn.fetch(
        f"""SELECT s.id, s.uri FROM statuses s JOIN actors a ON a.id = s.actor_id
             WHERE s.in_reply_to_id = $1 AND {_LISTED} AND a.suspended_at IS NULL
               AND (s.actor_id <> $2) = $3 AND ($4::bigint IS NULL OR s.id > $4)
             ORDER BY s.id LIMIT {PAGE_SIZE}""",
        parent["id"],
        parent["actor_id"],
        only_other_accounts,
        min_id,
    )
    return [(r["id"], r["uri"]) for r in rows]
