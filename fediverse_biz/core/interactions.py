"""What a local account does to a status: favourite, boost, bookmark, pin — and their undoing.

Favourites go to the author's server only (Mastodon's rule); boosts go to the booster's followers
and the author. Counters on the status change in the same transaction as the row they count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from fediverse_biz.activitypub import activities
from fediverse_biz.core import distribution, events, hooks, notifications, outbound
from fediverse_biz.core.errors import DomainError, forbidden, not_found
from fediverse_biz.core.hydrate import load_status
from fediverse_biz.core.visibility import can_see
from fediverse_biz.urls import LocalUrls

Row = Mapping[str, Any]
MAX_PINNED = 5


async def visible_status(conn: asyncpg.Connection, status_id: int, viewer_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    if row is None or not await can_see(conn, row, viewer_id):
        raise not_found()
    if row["reblog_of_id"] is not None:  # acting on a boost acts on what it boosts, as on Mastodon
        original = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", row["reblog_of_id"])
        if original is None:
            raise not_found()
        return original
    return row


async def favourite(pool: asyncpg.Pool, actor: Row, status_id: int) -> int:
    async with pool.acquire() as conn, conn.transaction():
        status = await visible_status(conn, status_id, actor["id"])
        fav_id = await conn.fetchval(
            """INSERT INTO favourites (actor_id, status_id) VALUES ($1, $2)
               ON CONFLICT (actor_id, status_id) DO NOTHING RETURNING id""",
            actor["id"],
            status["id"],
        )
        if fav_id is None:
            return int(status["id"])
        uri = f"{actor['uri']}#likes/{fav_id}"
        await conn.execute("UPDATE favourites SET uri = $2 WHERE id = $1", fav_id, uri)
        await conn.execute("UPDATE statuses SET favourites_count = favourites_count + 1 WHERE id = $1", status["id"])
        await notifications.notify(conn, status["actor_id"], actor["id"], "favourite", status["id"])
        author = await conn.fetchrow("SELECT * FROM actors WHERE id = $1", status["actor_id"])
        await outbound.send_to_actor(conn, actor, author, activities.like(uri, actor["uri"], status["uri"]))
        return int(status["id"])


async def unfavourite(pool: asyncpg.Pool, actor: Row, status_id: int) -> int:
    async with pool.acquire() as conn, conn.transaction():
        status = await visible_status(conn, status_id, actor["id"])
        fav = await conn.fetchrow(
            "DELETE FROM favourites WHERE actor_id = $1 AND status_id = $2 RETURNING *", actor["id"], status["id"]
        )
        if fav is None:
            return int(status["id"])
        await conn.execute(
            "UPDATE statuses SET favourites_count = greatest(favourites_count - 1, 0) WHERE id = $1", status["id"]
        )
        author = await conn.fetchrow("SELECT * FROM actors WHERE id = $1", status["actor_id"])
        like = activities.like(fav["uri"], actor["uri"], status["uri"])
        await outbound.send_to_actor(conn, actor, author, activities.undo(f"{fav['uri']}/undo", actor["uri"], like))
        return int(status["id"])


async def reblog(pool: asyncpg.Pool, urls: LocalUrls, actor: Row, status_id: int, visibility: str = "public") -> int:
    """Boost a status; returns the id of the boost (an existing one if already boosted)."""
    if visibility not in ("public", "unlisted", "private"):
        raise DomainError("visibility must be public, unlisted or private")
    async with pool.acquire() as conn, conn.transaction():
        original = await visible_status(conn, status_id, actor["id"])
        if original["visibility"] not in ("public", "unlisted") and original["actor_id"] != actor["id"]:
            raise forbidden("This status cannot be boosted")
        existing = await conn.fetchval(
            "SELECT id FROM statuses WHERE reblog_of_id = $1 AND actor_id = $2", original["id"], actor["id"]
        )
        if existing is not None:
            return int(existing)
        boost_id = int(await conn.fetchval("SELECT next_id()"))
        uri = f"{actor['uri']}/statuses/{boost_id}/activity"
        await conn.execute(
            """INSERT INTO statuses (id, uri, url, actor_id, local, object_type, visibility, reblog_of_id)
               VALUES ($1, $2, $3, $4, true, 'Announce', $5, $6)""",
            boost_id,
            uri,
            original["url"],
            actor["id"],
            "private" if original["visibility"] == "private" else visibility,
            original["id"],
        )
        await conn.execute("UPDATE statuses SET reblogs_count = reblogs_count + 1 WHERE id = $1", original["id"])
        bundle = await load_status(conn, boost_id)
        assert bundle is not None
        await distribution.distribute(conn, bundle)
        await hooks.status_boosted(conn, urls, bundle)
        return boost_id


async def unreblog(pool: asyncpg.Pool, urls: LocalUrls, actor: Row, status_id: int) -> int:
    """Undo a boost; returns the original status id."""
    async with pool.acquire() as conn, conn.transaction():
        original = await visible_status(conn, status_id, actor["id"])
        boost_id = await conn.fetchval(
            "SELECT id FROM statuses WHERE reblog_of_id = $1 AND actor_id = $2", original["id"], actor["id"]
        )
        if boost_id is None:
            return int(original["id"])
        bundle = await load_status(conn, boost_id)
        assert bundle is not None
        await hooks.boost_withdrawn(conn, urls, bundle)
        await conn.execute("DELETE FROM statuses WHERE id = $1", boost_id)
        await conn.execute(
            "UPDATE statuses SET reblogs_count = greatest(reblogs_count - 1, 0) WHERE id = $1", original["id"]
        )
        await events.status_deleted(conn, boost_id)
        return int(original["id"])


async def bookmark(pool: asyncpg.Pool, actor: Row, status_id: int, *, on: bool) -> int:
    async with pool.acquire() as conn, conn.transaction():
        status = await visible_status(conn, status_id, actor["id"])
        if on:
            await conn.execute(
                "INSERT INTO bookmarks (actor_id, status_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                actor["id"],
                status["id"],
            )
        else:
            await conn.execute(
                "DELETE FROM bookmarks WHERE actor_id = $1 AND status_id = $2", actor["id"], status["id"]
            )
        return int(status["id"])


async def pin(pool: asyncpg.Pool, actor: Row, status_id: int, *, on: bool) -> int:
    async with pool.acquire() as conn, conn.transaction():
        status = await visible_status(conn, status_id, actor["id"])
        if status["actor_id"] != actor["id"]:
            raise DomainError("Validation failed: Someone else's post cannot be pinned")
        if on:
            if status["visibility"] not in ("public", "unlisted", "private"):
                raise DomainError("Validation failed: Direct posts cannot be pinned")
            count = await conn.fetchval("SELECT count(*) FROM pinned_statuses WHERE actor_id = $1", actor["id"])
            if count >= MAX_PINNED and not await conn.fetchval(
                "SELECT 1 FROM pinned_statuses WHERE actor_id = $1 AND status_id = $2", actor["id"], status["id"]
            ):
                raise DomainError(
                    f"Validation failed: You have already pinned the maximum number of posts ({MAX_PINNED})"
                )
            await conn.execute(
                "INSERT INTO pinned_statuses (actor_id, status_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                actor["id"],
                status["id"],
            )
        else:
            await conn.execute(
                "DELETE FROM pinned_statuses WHERE actor_id = $1 AND status_id = $2", actor["id"], status["id"]
            )
        return int(status["id"])
