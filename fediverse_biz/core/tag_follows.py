"""Followed hashtags (https://docs.joinmastodon.org/methods/tags/, /methods/followed_tags/).

Following a hashtag puts the public, published posts that carry it — local or remote, from then on —
in the follower's home feed (core/distribution.py), unless the follower blocks or mutes the author, as
with any home-feed row. Boosts are not followed: Mastodon fans a status out to hashtag followers only
when it is public and not a boost.
"""

from __future__ import annotations

import asyncpg

from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.db.executor import Executor


async def follow(pool: asyncpg.Pool, actor_id: int, name: str) -> asyncpg.Record:
    """Follow a hashtag, creating it when nobody used it yet; following it twice is one follow.
    Returns the tags row."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO tags (name) VALUES ($1) ON CONFLICT (lower(name)) DO NOTHING", name)
        tag: asyncpg.Record = await conn.fetchrow("SELECT id, name FROM tags WHERE lower(name) = lower($1)", name)
        await conn.execute(
            "INSERT INTO tag_follows (actor_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", actor_id, tag["id"]
        )
    return tag


async def unfollow(pool: asyncpg.Pool, actor_id: int, name: str) -> asyncpg.Record | None:
    """Stop following; returns the tags row (None for a hashtag nobody used)."""
    tag: asyncpg.Record | None = await pool.fetchrow("SELECT id, name FROM tags WHERE lower(name) = lower($1)", name)
    if tag is not None:
        await pool.execute("DELETE FROM tag_follows WHERE actor_id = $1 AND tag_id = $2", actor_id, tag["id"])
    return tag


async def following(conn: Executor, actor_id: int | None, tag_id: int | None) -> bool:
    if actor_id is None or tag_id is None:
        return False
    return bool(await conn.fetchval("SELECT 1 FROM tag_follows WHERE actor_id = $1 AND tag_id = $2", actor_id, tag_id))


async def followed(conn: Executor, actor_id: int, page: Page) -> list[asyncpg.Record]:
    """One page of the account's followed hashtags (tag_follows id, tag id, name), the latest followed
    first, paged by the follow's id as Mastodon's FollowedTagsController."""
    where, args, order = keyset(page, "tf.id", 3)
    rows = await conn.fetch(
        f"""SELECT tf.id, t.id AS tag_id, t.name FROM tag_follows tf JOIN tags t ON t.id = tf.tag_id
             WHERE tf.actor_id = $1 {where} ORDER BY {order} LIMIT $2""",
        actor_id,
        page.limit,
        *args,
    )
    return newest_first(list(rows), page)
