"""The follow graph seen from local accounts: follow, unfollow, requests, blocks, mutes.

Following a remote account is a request until its server sends Accept; following a locked local
account is a request until its owner authorizes it. Every operation is one transaction, and the
activity that tells the other server is queued in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from fediverse_biz.activitypub import activities
from fediverse_biz.core import account_domain_blocks, account_notes, hooks, notifications, outbound
from fediverse_biz.core.errors import DomainError, forbidden

Row = Mapping[str, Any]
BACKFILL = 20  # recent statuses merged into the home feed on follow, as Mastodon does


async def _blocked_either_way(conn: asyncpg.Connection, a: int, b: int) -> bool:
    return bool(
        await conn.fetchval(
            """SELECT 1 FROM blocks WHERE (actor_id = $1 AND target_actor_id = $2)
                                   OR (actor_id = $2 AND target_actor_id = $1)""",
            a,
            b,
        )
    )


async def _backfill(conn: asyncpg.Connection, follower_id: int, target_id: int) -> None:
    await conn.execute(
        """INSERT INTO home_feed (actor_id, status_id)
           SELECT $1, s.id FROM statuses s
            WHERE s.actor_id = $2 AND s.visibility IN ('public', 'unlisted', 'private')
              AND s.approval_state = 'published' AND s.in_reply_to_id IS NULL
            ORDER BY s.id DESC LIMIT $3
           ON CONFLICT DO NOTHING""",
        follower_id,
        target_id,
        BACKFILL,
    )


async def follow(pool: asyncpg.Pool, follower: Row, target: Row, *, reblogs: bool = True, notify: bool = False) -> None:
    if follower["id"] == target["id"]:
        raise forbidden("You cannot follow yourself")
    async with pool.acquire() as conn, conn.transaction():
        if await _blocked_either_way(conn, follower["id"], target["id"]):
            raise forbidden()
        updated = await conn.execute(
            "UPDATE follows SET show_reblogs = $3, notify = $4 WHERE actor_id = $1 AND target_actor_id = $2",
            follower["id"],
            target["id"],
            reblogs,
            notify,
        )
        if updated != "UPDATE 0":
            return
        if target["domain"] is None and not target["locked"]:
            await conn.execute(
                "INSERT INTO follows (actor_id, target_actor_id, show_reblogs, notify) VALUES ($1, $2, $3, $4)",
                follower["id"],
                target["id"],
                reblogs,
                notify,
            )
            await notifications.notify(conn, target["id"], follower["id"], "follow")
            await _backfill(conn, follower["id"], target["id"])
            return
        request_id = await conn.fetchval(
            """INSERT INTO follow_requests (actor_id, target_actor_id, show_reblogs, notify)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (actor_id, target_actor_id) DO UPDATE SET show_reblogs = $3, notify = $4
               RETURNING id""",
            follower["id"],
            target["id"],
            reblogs,
            notify,
        )
        if target["domain"] is None:
            await notifications.notify(conn, target["id"], follower["id"], "follow_request")
            return
        uri = f"{follower['uri']}#follows/{request_id}"
        await conn.execute("UPDATE follow_requests SET uri = $2 WHERE id = $1", request_id, uri)
        await outbound.send_to_actor(conn, follower, target, activities.follow(uri, follower["uri"], target["uri"]))
        await hooks.remote_follow_requested(conn, follower, target)


async def unfollow(pool: asyncpg.Pool, follower: Row, target: Row) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await _drop_follow(conn, follower, target, federate=True)


async def _drop_follow(conn: asyncpg.Connection, follower: Row, target: Row, *, federate: bool) -> None:
    gone = await conn.fetch(
        """WITH f AS (DELETE FROM follows WHERE actor_id = $1 AND target_actor_id = $2 RETURNING id, uri),
                r AS (DELETE FROM follow_requests WHERE actor_id = $1 AND target_actor_id = $2 RETURNING id, uri)
           SELECT * FROM f UNION ALL SELECT * FROM r""",
        follower["id"],
        target["id"],
    )
    await conn.execute(
        """DELETE FROM home_feed h USING statuses s
            WHERE h.actor_id = $1 AND h.status_id = s.id AND s.actor_id = $2""",
        follower["id"],
        target["id"],
    )
    if federate and target["domain"] is not None and follower["domain"] is None:
        for row in gone:
            follow_uri = row["uri"] or f"{follower['uri']}#follows/{row['id']}"
            inner = activities.follow(follow_uri, follower["uri"], target["uri"])
            await outbound.send_to_actor(
                conn, follower, target, activities.undo(f"{follow_uri}/undo", follower["uri"], inner)
            )


async def authorize_request(pool: asyncpg.Pool, target: Row, requester: Row) -> None:
    """The local `target` accepts `requester`'s follow request."""
    async with pool.acquire() as conn, conn.transaction():
        request = await conn.fetchrow(
            "DELETE FROM follow_requests WHERE actor_id = $1 AND target_actor_id = $2 RETURNING *",
            requester["id"],
            target["id"],
        )
        if request is None:
            raise DomainError("Record not found", 404)
        await accept_follow(conn, requester, target, request["uri"], request["show_reblogs"], request["notify"])


async def accept_follow(
    conn: asyncpg.Connection,
    follower: Row,
    target: Row,
    follow_uri: str | None,
    reblogs: bool = True,
    notify: bool = False,
) -> None:
    """Record an accepted follow of a local `target`; tell a remote follower with Accept."""
    follow_id = await conn.fetchval(
        """INSERT INTO follows (actor_id, target_actor_id, uri, show_reblogs, notify) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (actor_id, target_actor_id) DO UPDATE SET uri = coalesce(EXCLUDED.uri, follows.uri)
           RETURNING id""",
        follower["id"],
        target["id"],
        follow_uri,
        reblogs,
        notify,
    )
    await notifications.notify(conn, target["id"], follower["id"], "follow")
    if follower["domain"] is not None and follow_uri:
        inner = activities.follow(follow_uri, follower["uri"], target["uri"])
        accept = activities.accept(f"{target['uri']}#accepts/follows/{follow_id}", target["uri"], inner)
        await outbound.send_to_actor(conn, target, follower, accept)
    elif follower["domain"] is None:
        await _backfill(conn, follower["id"], target["id"])


async def reject_request(pool: asyncpg.Pool, target: Row, requester: Row) -> None:
    async with pool.acquire() as conn, conn.transaction():
        request = await conn.fetchrow(
            "DELETE FROM follow_requests WHERE actor_id = $1 AND target_actor_id = $2 RETURNING *",
            requester["id"],
            target["id"],
        )
        if request is None:
            raise DomainError("Record not found", 404)
        await conn.execute(
            "DELETE FROM notifications WHERE actor_id = $1 AND from_actor_id = $2 AND type = 'follow_request'",
            target["id"],
            requester["id"],
        )
        if requester["domain"] is not None and request["uri"]:
            inner = activities.follow(request["uri"], requester["uri"], target["uri"])
            reject = activities.reject(f"{target['uri']}#rejects/follows/{request['id']}", target["uri"], inner)
            await outbound.send_to_actor(conn, target, requester, reject)


async def block(pool: asyncpg.Pool, actor: Row, target: Row) -> None:
    if actor["id"] == target["id"]:
        raise forbidden("You cannot block yourself")
    async with pool.acquire() as conn, conn.transaction():
        await _drop_follow(conn, actor, target, federate=True)
        await _drop_follow(conn, target, actor, federate=False)
        block_id = await conn.fetchval(
            """INSERT INTO blocks (actor_id, target_actor_id) VALUES ($1, $2)
               ON CONFLICT (actor_id, target_actor_id) DO NOTHING RETURNING id""",
            actor["id"],
            target["id"],
        )
        if block_id is None:
            return
        uri = f"{actor['uri']}#blocks/{block_id}"
        await conn.execute("UPDATE blocks SET uri = $2 WHERE id = $1", block_id, uri)
        await outbound.send_to_actor(conn, actor, target, activities.block(uri, actor["uri"], target["uri"]))


async def unblock(pool: asyncpg.Pool, actor: Row, target: Row) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "DELETE FROM blocks WHERE actor_id = $1 AND target_actor_id = $2 RETURNING *", actor["id"], target["id"]
        )
        if row is not None and row["uri"]:
            inner = activities.block(row["uri"], actor["uri"], target["uri"])
            undo = activities.undo(f"{row['uri']}/undo", actor["uri"], inner)
            await outbound.send_to_actor(conn, actor, target, undo)


async def mute(
    pool: asyncpg.Pool, actor: Row, target: Row, *, notifications_too: bool = True, duration_seconds: int | None = None
) -> None:
    if actor["id"] == target["id"]:
        raise forbidden("You cannot mute yourself")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO mutes (actor_id, target_actor_id, hide_notifications, expires_at)
               VALUES ($1, $2, $3, CASE WHEN $4::int > 0 THEN now() + make_interval(secs => $4) END)
               ON CONFLICT (actor_id, target_actor_id) DO UPDATE
                 SET hide_notifications = EXCLUDED.hide_notifications, expires_at = EXCLUDED.expires_at""",
            actor["id"],
            target["id"],
            notifications_too,
            duration_seconds or 0,
        )
        await conn.execute(
            """DELETE FROM home_feed h USING statuses s
                WHERE h.actor_id = $1 AND h.status_id = s.id AND s.actor_id = $2""",
            actor["id"],
            target["id"],
        )


async def unmute(pool: asyncpg.Pool, actor: Row, target: Row) -> None:
    await pool.execute("DELETE FROM mutes WHERE actor_id = $1 AND target_actor_id = $2", actor["id"], target["id"])


async def relationships(
    conn: asyncpg.Connection | asyncpg.Pool, viewer_id: int, target_ids: Sequence[int]
) -> list[dict[str, Any]]:
    """Mastodon's Relationship for each target, in the order asked."""
    rows = await conn.fetch(
        f"""SELECT t.id,
                  f.id IS NOT NULL AS following, coalesce(f.show_reblogs, false) AS showing_reblogs,
                  coalesce(f.notify, false) AS notifying,
                  EXISTS (SELECT 1 FROM follows WHERE actor_id = t.id AND target_actor_id = $1) AS followed_by,
                  EXISTS (SELECT 1 FROM blocks WHERE actor_id = $1 AND target_actor_id = t.id) AS blocking,
                  EXISTS (SELECT 1 FROM blocks WHERE actor_id = t.id AND target_actor_id = $1) AS blocked_by,
                  m.id IS NOT NULL AS muting, coalesce(m.hide_notifications, false) AS muting_notifications,
                  EXISTS (SELECT 1 FROM follow_requests WHERE actor_id = $1 AND target_actor_id = t.id) AS requested,
                  EXISTS (SELECT 1 FROM follow_requests WHERE actor_id = t.id AND target_actor_id = $1) AS requested_by,
                  {account_domain_blocks.hidden_sql("$1", "a.domain")} AS domain_blocking,
                  {account_notes.note_sql("$1", "t.id")} AS note
             FROM unnest($2::bigint[]) AS t(id)
             JOIN actors a ON a.id = t.id
             LEFT JOIN follows f ON f.actor_id = $1 AND f.target_actor_id = t.id
             LEFT JOIN mutes m ON m.actor_id = $1 AND m.target_actor_id = t.id
                               AND (m.expires_at IS NULL OR m.expires_at > now())""",
        viewer_id,
        list(target_ids),
    )
    by_id = {r["id"]: r for r in rows}
    result = []
    for target_id in target_ids:
        r = by_id.get(target_id)
        if r is None:
            continue
        entry = {k: r[k] for k in r.keys() if k != "id"}
        result.append({"id": str(target_id), **entry, "endorsed": False, "languages": None})
    return result
