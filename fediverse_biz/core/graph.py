"""Pages of the follow graph for clients: followers, following, follow requests, blocks and mutes.

Each list is ordered by its join row (when the follow, request, block or mute happened), newest first,
and pages by that row's id, as Mastodon does (https://docs.joinmastodon.org/api/guidelines/: "Some API
methods operate on entity IDs that are not publicly exposed"); callers put the row ids in the Link header. Suspended
accounts are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from fediverse_biz.activitypub import activities
from fediverse_biz.core import outbound
from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.db.executor import Executor

FAMILIAR_FOLLOWERS_SHOWN = 5  # Mastodon's web UI shows a handful of avatars, never the whole overlap


@dataclass(frozen=True)
class Edge:
    row_id: int  # the follows / follow_requests / blocks / mutes id, for paging
    account_id: int  # the account to show
    expires_at: datetime | None = None  # mutes only


# (table, the column naming the list's owner, the column naming the accounts listed)
_LISTS: dict[str, tuple[str, str, str]] = {
    "followers": ("follows", "target_actor_id", "actor_id"),
    "following": ("follows", "actor_id", "target_actor_id"),
    "follow_requests": ("follow_requests", "target_actor_id", "actor_id"),
    "blocks": ("blocks", "actor_id", "target_actor_id"),
    "mutes": ("mutes", "actor_id", "target_actor_id"),
}


async def edges(conn: Executor, kind: str, owner_id: int, page: Page) -> list[Edge]:
    """One page of `kind` ("followers", "following", "follow_requests", "blocks", "mutes") of `owner_id`."""
    table, owner, listed = _LISTS[kind]
    where, args, order = keyset(page, "x.id", 3)
    expires = "x.expires_at" if table == "mutes" else "NULL::timestamptz"
    live = "AND (x.expires_at IS NULL OR x.expires_at > now())" if table == "mutes" else ""
    rows = await conn.fetch(
        f"""SELECT x.id, x.{listed} AS account_id, {expires} AS expires_at
              FROM {table} x JOIN actors a ON a.id = x.{listed}
             WHERE x.{owner} = $1 AND a.suspended_at IS NULL {live} {where}
             ORDER BY {order} LIMIT $2""",
        owner_id,
        page.limit,
        *args,
    )
    return newest_first([Edge(r["id"], r["account_id"], r["expires_at"]) for r in rows], page)


async def familiar_followers(conn: Executor, viewer_id: int, account_ids: Sequence[int]) -> dict[int, list[int]]:
    """For each account, a few of its followers that the viewer follows too (Mastodon's "followed by")."""
    rows = await conn.fetch(
        """SELECT account_id, follower_id FROM (
              SELECT f.target_actor_id AS account_id, f.actor_id AS follower_id,
                     row_number() OVER (PARTITION BY f.target_actor_id ORDER BY mine.id DESC) AS n
                FROM follows f
                JOIN follows mine ON mine.target_actor_id = f.actor_id AND mine.actor_id = $1
                JOIN actors a ON a.id = f.actor_id AND a.suspended_at IS NULL
               WHERE f.target_actor_id = ANY($2::bigint[]) AND f.actor_id <> $1) shown
           WHERE n <= $3 ORDER BY account_id, n""",
        viewer_id,
        list(account_ids),
        FAMILIAR_FOLLOWERS_SHOWN,
    )
    found: dict[int, list[int]] = {i: [] for i in account_ids}
    for r in rows:
        found[r["account_id"]].append(r["follower_id"])
    return found


async def remove_follower(pool: asyncpg.Pool, actor: Mapping[str, Any], follower: Mapping[str, Any]) -> None:
    """`actor` (local) stops being followed by `follower`; a remote follower's server gets Reject(Follow),
    which is how Mastodon tells a peer that a follow it considers accepted no longer holds."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "DELETE FROM follows WHERE actor_id = $1 AND target_actor_id = $2 RETURNING id, uri",
            follower["id"],
            actor["id"],
        )
        if row is None:
            return
        await conn.execute(
            """DELETE FROM home_feed h USING statuses s
                WHERE h.actor_id = $1 AND h.status_id = s.id AND s.actor_id = $2""",
            follower["id"],
            actor["id"],
        )
        if follower["domain"] is not None and row["uri"]:
            inner = activities.follow(row["uri"], follower["uri"], actor["uri"])
            reject = activities.reject(f"{actor['uri']}#rejects/follows/{row['id']}", actor["uri"], inner)
            await outbound.send_to_actor(conn, actor, follower, reject)
