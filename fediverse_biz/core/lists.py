"""Lists (https://docs.joinmastodon.org/methods/lists/): an account's named sets of accounts it follows.

- Members must be followed by the owner (a follow ending takes the membership with it: migration 0023).
- `replies_policy` decides which replies of members the list shows: `followed` (replies to anyone the
  owner follows), `list` (replies to other members) or `none`; replies to the owner and a member's
  replies to themselves are always shown (Mastodon's FeedManager#filter_from_list?).
- `exclusive`: posts of its members stay out of the owner's home feed from then on (core/distribution.py).
- The list timeline is read from statuses at request time: the members' posts and boosts that the owner
  may see now, without direct messages (Mastodon fans those out to lists neither), without accounts the
  owner blocks or mutes, and without the boosts of members whose boosts the owner turned off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import asyncpg

from fediverse_biz.core.errors import DomainError, not_found
from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.core.visibility import status_and_original_visible
from fediverse_biz.db.executor import Executor

REPLIES_POLICIES: Final = ("followed", "list", "none")
PER_ACCOUNT_LIMIT: Final = 50  # Mastodon's List::PER_ACCOUNT_LIMIT
TITLE_LIMIT: Final = 256


def _checked_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise DomainError("Validation failed: Title can't be blank")
    if len(title) > TITLE_LIMIT:
        raise DomainError(f"Validation failed: Title is too long (maximum is {TITLE_LIMIT} characters)")
    return title


def _checked_policy(policy: str) -> str:
    if policy not in REPLIES_POLICIES:
        raise DomainError("Validation failed: Replies policy is not included in the list")
    return policy


async def create(pool: asyncpg.Pool, owner_id: int, title: str, replies_policy: str, exclusive: bool) -> asyncpg.Record:
    title, replies_policy = _checked_title(title), _checked_policy(replies_policy)
    async with pool.acquire() as conn, conn.transaction():
        # Serialised per owner so two concurrent creations cannot both pass the limit.
        await conn.execute("SELECT 1 FROM actors WHERE id = $1 FOR UPDATE", owner_id)
        if await conn.fetchval("SELECT count(*) FROM lists WHERE actor_id = $1", owner_id) >= PER_ACCOUNT_LIMIT:
            raise DomainError(f"Validation failed: You cannot have more than {PER_ACCOUNT_LIMIT} lists")
        row: asyncpg.Record = await conn.fetchrow(
            "INSERT INTO lists (actor_id, title, replies_policy, exclusive) VALUES ($1, $2, $3, $4) RETURNING *",
            owner_id,
            title,
            replies_policy,
            exclusive,
        )
    return row


async def owned(conn: Executor, owner_id: int) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM lists WHERE actor_id = $1 ORDER BY id", owner_id))


async def get(conn: Executor, owner_id: int, list_id: int) -> asyncpg.Record:
    """The owner's list, or 404: another account's list is as unknown as a missing one."""
    row = await conn.fetchrow("SELECT * FROM lists WHERE id = $1 AND actor_id = $2", list_id, owner_id)
    if row is None:
        raise not_found()
    return row


async def update(
    pool: asyncpg.Pool,
    owner_id: int,
    list_id: int,
    *,
    title: str | None,
    replies_policy: str | None,
    exclusive: bool | None,
) -> asyncpg.Record:
    row = await pool.fetchrow(
        """UPDATE lists SET title = coalesce($3, title), replies_policy = coalesce($4, replies_policy),
                            exclusive = coalesce($5, exclusive)
            WHERE id = $1 AND actor_id = $2 RETURNING *""",
        list_id,
        owner_id,
        _checked_title(title) if title is not None else None,
        _checked_policy(replies_policy) if replies_policy is not None else None,
        exclusive,
    )
    if row is None:
        raise not_found()
    return row


async def delete(pool: asyncpg.Pool, owner_id: int, list_id: int) -> None:
    if await pool.fetchval("DELETE FROM lists WHERE id = $1 AND actor_id = $2 RETURNING id", list_id, owner_id) is None:
        raise not_found()


async def members(conn: Executor, list_id: int, page: Page | None) -> list[int]:
    """Member account ids, newest account first, suspended accounts left out; all of them for page None."""
    if page is None:
        where, order, limit = "", "a.id DESC", "ALL"
        args: list[object] = []
    else:
        where, args, order = keyset(page, "a.id", 2)
        limit = str(int(page.limit))
    rows = await conn.fetch(
        f"""SELECT a.id FROM list_accounts la JOIN actors a ON a.id = la.actor_id
             WHERE la.list_id = $1 AND a.suspended_at IS NULL {where}
             ORDER BY {order} LIMIT {limit}""",
        list_id,
        *args,
    )
    ids = [r["id"] for r in rows]
    return newest_first(ids, page) if page is not None else ids


async def add_members(pool: asyncpg.Pool, owner_id: int, list_id: int, account_ids: Sequence[int]) -> None:
    """Add accounts the owner follows, all or none: an unknown account is 404, one not followed 422."""
    async with pool.acquire() as conn, conn.transaction():
        await get(conn, owner_id, list_id)
        wanted = sorted(set(account_ids))
        rows = await conn.fetch(
            """SELECT a.id, EXISTS (SELECT 1 FROM follows f WHERE f.actor_id = $2 AND f.target_actor_id = a.id)
                          AS followed
                 FROM actors a WHERE a.id = ANY($1::bigint[])""",
            wanted,
            owner_id,
        )
        if len(rows) != len(wanted):
            raise not_found()
        if not all(r["followed"] for r in rows):
            raise DomainError("Validation failed: You must follow an account before adding it to a list")
        await conn.execute(
            """INSERT INTO list_accounts (list_id, actor_id) SELECT $1, unnest($2::bigint[])
               ON CONFLICT DO NOTHING""",
            list_id,
            wanted,
        )


async def remove_members(pool: asyncpg.Pool, owner_id: int, list_id: int, account_ids: Sequence[int]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await get(conn, owner_id, list_id)
        await conn.execute(
            "DELETE FROM list_accounts WHERE list_id = $1 AND actor_id = ANY($2::bigint[])", list_id, list(account_ids)
        )


async def containing(conn: Executor, owner_id: int, account_id: int) -> list[asyncpg.Record]:
    """The owner's lists that have the account (GET /api/v1/accounts/:id/lists)."""
    return list(
        await conn.fetch(
            """SELECT l.* FROM lists l JOIN list_accounts la ON la.list_id = l.id
                WHERE l.actor_id = $1 AND la.actor_id = $2 ORDER BY l.id""",
            owner_id,
            account_id,
        )
    )


def shows_reply_sql(list_alias: str, status_alias: str, owner: str) -> str:
    """Whether a list shows a status by its replies policy (true for a status that is no reply)."""
    s, lst = status_alias, list_alias
    return f"""(({s}.in_reply_to_id IS NULL AND {s}.in_reply_to_uri IS NULL)
        OR {s}.in_reply_to_actor_id = {s}.actor_id OR {s}.in_reply_to_actor_id = {owner}
        OR ({lst}.replies_policy = 'followed' AND EXISTS (SELECT 1 FROM follows rf
                WHERE rf.actor_id = {owner} AND rf.target_actor_id = {s}.in_reply_to_actor_id))
        OR ({lst}.replies_policy = 'list' AND EXISTS (SELECT 1 FROM list_accounts rl
                WHERE rl.list_id = {lst}.id AND rl.actor_id = {s}.in_reply_to_actor_id)))"""


def _not_blocked_or_muted(owner: str, author: str) -> str:
    return f"""NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.actor_id = {owner} AND b.target_actor_id = {author})
                                                 OR (b.actor_id = {author} AND b.target_actor_id = {owner}))
        AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.actor_id = {owner} AND m.target_actor_id = {author}
                          AND (m.expires_at IS NULL OR m.expires_at > now()))"""


def _shows_sql(owner: str) -> str:
    """Whether list `l` shows status `s` (`r`: its boosted original, LEFT JOINed) to its owner `owner`."""
    return f"""s.visibility <> 'direct'
        AND {status_and_original_visible(owner)}
        AND {_not_blocked_or_muted(owner, "s.actor_id")}
        AND (r.id IS NULL OR ({_not_blocked_or_muted(owner, "r.actor_id")}
             AND EXISTS (SELECT 1 FROM follows f WHERE f.actor_id = {owner} AND f.target_actor_id = s.actor_id
                           AND f.show_reblogs)))
        AND {shows_reply_sql("l", "s", owner)}"""


async def timeline(conn: Executor, owner_id: int, list_id: int, page: Page) -> list[int]:
    """One page of the list's timeline (status ids, newest first); 404 for a list the owner has not."""
    await get(conn, owner_id, list_id)
    where, args, order = keyset(page, "s.id", 4)
    rows = await conn.fetch(
        f"""SELECT s.id FROM lists l
              JOIN list_accounts la ON la.list_id = l.id
              JOIN statuses s ON s.actor_id = la.actor_id
              LEFT JOIN statuses r ON r.id = s.reblog_of_id
             WHERE l.id = $3 AND l.actor_id = $1 AND {_shows_sql("$1::bigint")} {where}
             ORDER BY {order} LIMIT $2""",
        owner_id,
        page.limit,
        list_id,
        *args,
    )
    return newest_first([r["id"] for r in rows], page)


async def showing(conn: Executor, status_id: int, list_ids: Sequence[int]) -> list[tuple[int, int]]:
    """Which of `list_ids` show the status now, by the timeline's rules: (list id, owner id) pairs.
    The streaming hub asks this for the lists that have a stream open."""
    rows = await conn.fetch(
        f"""SELECT l.id, l.actor_id FROM statuses s
              LEFT JOIN statuses r ON r.id = s.reblog_of_id
              JOIN list_accounts la ON la.actor_id = s.actor_id
              JOIN lists l ON l.id = la.list_id
             WHERE s.id = $1 AND l.id = ANY($2::bigint[]) AND {_shows_sql("l.actor_id")}""",
        status_id,
        list(list_ids),
    )
    return [(r["id"], r["actor_id"]) for r in rows]


async def is_owner(conn: Executor, owner_id: int, list_id: int) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM lists WHERE id = $1 AND actor_id = $2", list_id, owner_id))
