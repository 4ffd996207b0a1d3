"""Reading statuses: home, public, hashtag and account timelines, threads, favourites, bookmarks.

Each returns ids in display order; callers hydrate them with core.hydrate.load_statuses. The home
timeline is one index scan over the materialised feed (docs/architecture.md, "A client reads a
timeline") — never a join over
follows at read time, which is what made GoToSocial's home timeline take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from fediverse_biz.core import account_domain_blocks, domain_blocks
from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.core.visibility import status_and_original_visible, visible_sql
from fediverse_biz.db.executor import Executor

# Statuses from suspended accounts or suspended/silenced domains stay out of shared timelines.
_AUTHOR_OK = f"""a.suspended_at IS NULL AND NOT {domain_blocks.blocked_sql("a.domain")}"""


# A home-feed row whose status, or the status it boosts, is by an account of a domain the reader blocks:
# checked at read time, since the feed was written before the block and is kept as it was written.
_FROM_BLOCKED_DOMAIN = f"""EXISTS (
    SELECT 1 FROM statuses s JOIN actors a ON a.id = s.actor_id
      LEFT JOIN statuses o ON o.id = s.reblog_of_id LEFT JOIN actors oa ON oa.id = o.actor_id
     WHERE s.id = h.status_id
       AND ({account_domain_blocks.hidden_sql("h.actor_id", "a.domain")}
            OR {account_domain_blocks.hidden_sql("h.actor_id", "oa.domain")}))"""


def _viewer_filters(viewer: str) -> str:
    """What the viewer chose not to see: accounts they block or mute, and domains they block (`a` is the
    author's row)."""
    return f"""NOT {account_domain_blocks.hidden_sql(viewer, "a.domain")}
        AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.actor_id = {viewer} AND b.target_actor_id = s.actor_id)
        AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.actor_id = {viewer} AND m.target_actor_id = s.actor_id
                          AND (m.expires_at IS NULL OR m.expires_at > now()))"""


async def home(conn: Executor, viewer_id: int, page: Page) -> list[int]:
    where, args, order = keyset(page, "h.status_id", 3)
    rows = await conn.fetch(
        f"""SELECT h.status_id FROM home_feed h
             WHERE h.actor_id = $1 AND NOT {_FROM_BLOCKED_DOMAIN} {where}
             ORDER BY {order} LIMIT $2""",
        viewer_id,
        page.limit,
        *args,
    )
    return newest_first([r["status_id"] for r in rows], page)


async def public(
    conn: Executor,
    viewer_id: int | None,
    page: Page,
    *,
    local: bool = False,
    remote: bool = False,
    only_media: bool = False,
) -> list[int]:
    where, args, order = keyset(page, "s.id", 3)
    rows = await conn.fetch(
        f"""SELECT s.id FROM statuses s JOIN actors a ON a.id = s.actor_id
             WHERE s.visibility = 'public' AND s.reblog_of_id IS NULL AND s.approval_state = 'published'
               AND {_AUTHOR_OK} AND {_viewer_filters("$1::bigint")}
               {"AND s.local" if local else ""} {"AND NOT s.local" if remote else ""}
               {"AND EXISTS (SELECT 1 FROM media_attachments ma WHERE ma.status_id = s.id)" if only_media else ""}
               {where}
             ORDER BY {order} LIMIT $2""",
        viewer_id,
        page.limit,
        *args,
    )
    return newest_first([r["id"] for r in rows], page)


async def tag(
    conn: Executor, viewer_id: int | None, name: str, page: Page, *, local: bool = False, only_media: bool = False
) -> list[int]:
    where, args, order = keyset(page, "s.id", 4)
    rows = await conn.fetch(
        f"""SELECT s.id FROM tags t JOIN status_tags st ON st.tag_id = t.id
                JOIN statuses s ON s.id = st.status_id JOIN actors a ON a.id = s.actor_id
             WHERE lower(t.name) = lower($3) AND s.visibility = 'public' AND s.approval_state = 'published'
               AND {_AUTHOR_OK} AND {_viewer_filters("$1::bigint")}
               {"AND s.local" if local else ""}
               {"AND EXISTS (SELECT 1 FROM media_attachments ma WHERE ma.status_id = s.id)" if only_media else ""}
               {where}
             ORDER BY {order} LIMIT $2""",
        viewer_id,
        page.limit,
        name,
        *args,
    )
    return newest_first([r["id"] for r in rows], page)


@dataclass(frozen=True)
class AccountFilter:
    pinned: bool = False
    exclude_replies: bool = False
    exclude_reblogs: bool = False
    only_media: bool = False
    tagged: str | None = None


async def account(
    conn: Executor, viewer_id: int | None, account_id: int, page: Page, filters: AccountFilter = AccountFilter()
) -> list[int]:
    where, args, order = keyset(page, "s.id", 5)
    conditions = []
    if filters.pinned:
        conditions.append("EXISTS (SELECT 1 FROM pinned_statuses p WHERE p.status_id = s.id AND p.actor_id = $3)")
    if filters.exclude_replies:  # self-replies (threads) stay, as on Mastodon
        conditions.append("(s.in_reply_to_id IS NULL OR s.in_reply_to_actor_id = s.actor_id)")
    if filters.exclude_reblogs:
        conditions.append("s.reblog_of_id IS NULL")
    if filters.only_media:
        conditions.append("EXISTS (SELECT 1 FROM media_attachments ma WHERE ma.status_id = s.id)")
    if filters.tagged:
        conditions.append(
            """EXISTS (SELECT 1 FROM status_tags st JOIN tags t ON t.id = st.tag_id
                        WHERE st.status_id = s.id AND lower(t.name) = lower($4))"""
        )
    extra = "".join(f" AND {c}" for c in conditions)
    rows = await conn.fetch(
        f"""SELECT s.id FROM statuses s LEFT JOIN statuses r ON r.id = s.reblog_of_id
             WHERE s.actor_id = $3 AND {status_and_original_visible("$1::bigint")}
               AND ($4::text IS NULL OR true) {extra} {where}  -- keeps $4 typed when no tag filter uses it
             ORDER BY {order} LIMIT $2""",
        viewer_id,
        page.limit,
        account_id,
        filters.tagged,
        *args,
    )
    return newest_first([r["id"] for r in rows], page)


async def context(conn: Executor, viewer_id: int | None, status_id: int) -> tuple[list[int], list[int]]:
    """(ancestors oldest first, descendants in thread order) visible to the viewer."""
    ancestors = await conn.fetch(
        f"""WITH RECURSIVE up(id, parent, depth) AS (
                SELECT id, in_reply_to_id, 0 FROM statuses WHERE id = $1
                UNION ALL
                SELECT s.id, s.in_reply_to_id, up.depth + 1 FROM statuses s JOIN up ON s.id = up.parent
                 WHERE up.depth < 100)
            SELECT s.id FROM up JOIN statuses s ON s.id = up.id
             WHERE up.depth > 0 AND {visible_sql("s", "$2::bigint")}
             ORDER BY up.depth DESC""",
        status_id,
        viewer_id,
    )
    descendants = await conn.fetch(
        f"""WITH RECURSIVE down(id, path) AS (
                SELECT id, ARRAY[id] FROM statuses WHERE in_reply_to_id = $1
                UNION ALL
                SELECT s.id, down.path || s.id FROM statuses s JOIN down ON s.in_reply_to_id = down.id
                 WHERE cardinality(down.path) < 100)
            SELECT s.id FROM down JOIN statuses s ON s.id = down.id
             WHERE {visible_sql("s", "$2::bigint")}
             ORDER BY down.path LIMIT 4096""",
        status_id,
        viewer_id,
    )
    return [r["id"] for r in ancestors], [r["id"] for r in descendants]


async def marked(conn: Executor, table: str, viewer_id: int, page: Page) -> list[tuple[int, int]]:
    """The viewer's favourites or bookmarks: (row id for paging, status id), newest first."""
    assert table in ("favourites", "bookmarks")
    where, args, order = keyset(page, "x.id", 3)
    rows = await conn.fetch(
        f"""SELECT x.id, x.status_id FROM {table} x JOIN statuses s ON s.id = x.status_id
             WHERE x.actor_id = $1 AND {visible_sql("s", "$1::bigint")} {where}
             ORDER BY {order} LIMIT $2""",
        viewer_id,
        page.limit,
        *args,
    )
    return newest_first([(r["id"], r["status_id"]) for r in rows], page)


async def interacting_accounts(conn: Executor, kind: str, status_id: int, page: Page) -> list[tuple[int, int]]:
    """Who favourited or boosted a status: (row id for paging, actor id)."""
    where, args, order = keyset(page, "x.id", 3)
    if kind == "favourited_by":
        sql = f"""SELECT x.id, x.actor_id FROM favourites x WHERE x.status_id = $1 {where} ORDER BY {order} LIMIT $2"""
    else:
        sql = f"""SELECT x.id, x.actor_id FROM statuses x WHERE x.reblog_of_id = $1 {where} ORDER BY {order} LIMIT $2"""
    rows = await conn.fetch(sql, status_id, page.limit, *args)
    return newest_first([(r["id"], r["actor_id"]) for r in rows], page)
