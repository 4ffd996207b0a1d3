"""Who may see a status: one SQL predicate used by every read path, so no endpoint can leak.

Followers-only and direct posts are visible to their author, to the accounts they mention, and
(followers-only) to accepted followers — never to anyone else. An author who blocks the viewer
hides everything from them.

A post held for approval (or rejected) is visible through no read path here — not even to the
organization it was written for, whose token every team member may hold — so it is in no timeline,
thread, search, outbox, stream or page. Its author and the organization's owners and managers reach
it by user, not by actor: business.approvals.may_view_held (docs/teams.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg


def visible_sql(alias: str, viewer_param: str) -> str:
    """A boolean SQL expression: may the actor whose id is `viewer_param` (NULL = anonymous) see `alias`?"""
    s, v = alias, viewer_param
    return f"""(
        {s}.approval_state = 'published'
        AND ({s}.visibility IN ('public', 'unlisted')
             OR {s}.actor_id = {v}
             OR ({s}.visibility = 'private' AND EXISTS (
                    SELECT 1 FROM follows vf WHERE vf.actor_id = {v} AND vf.target_actor_id = {s}.actor_id))
             OR EXISTS (SELECT 1 FROM status_mentions vm WHERE vm.status_id = {s}.id AND vm.actor_id = {v}))
        AND NOT EXISTS (SELECT 1 FROM blocks vb WHERE vb.actor_id = {s}.actor_id AND vb.target_actor_id = {v})
    )"""


def status_and_original_visible(viewer_param: str) -> str:
    """For rows `s` that may be boosts of `r` (LEFT JOIN statuses r ON r.id = s.reblog_of_id)."""
    return f"({visible_sql('s', viewer_param)} AND (r.id IS NULL OR {visible_sql('r', viewer_param)}))"


async def can_see(conn: asyncpg.Connection | asyncpg.Pool, status: Mapping[str, Any], viewer_id: int | None) -> bool:
    return bool(
        await conn.fetchval(
            f"""SELECT 1 FROM statuses s LEFT JOIN statuses r ON r.id = s.reblog_of_id
                 WHERE s.id = $1 AND {status_and_original_visible("$2::bigint")}""",
            status["id"],
            viewer_id,
        )
    )


def is_public(status: Mapping[str, Any]) -> bool:
    return status["visibility"] in ("public", "unlisted") and status["approval_state"] == "published"
