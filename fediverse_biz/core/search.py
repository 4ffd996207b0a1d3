"""Search queries: accounts by handle or display name, hashtags by prefix, statuses by full text.

Statuses are matched with PostgreSQL full text search in the 'simple' configuration (no stemming,
so names and product codes match as typed), over public posts of accounts that allow it (`indexable`)
and the searcher's own posts only —
and always through core.visibility, so a search can never reveal a post its viewer may not see.
Which kinds a query searches follows Mastodon's SearchService (`#tag` finds no accounts, a handle
finds no hashtags, anonymous searches find no statuses).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from fediverse_biz.core import account_domain_blocks, domain_blocks
from fediverse_biz.core.visibility import visible_sql
from fediverse_biz.db.executor import Executor

# Must match the indexed expression in db/migrations/0003_search.sql, or the index is not used.
STATUS_DOCUMENT = "to_tsvector('simple', s.spoiler_text || ' ' || s.content)"
MAX_QUERY = 500  # characters; longer queries are cut, as nobody types more


@dataclass(frozen=True)
class Handle:
    username: str
    domain: str | None  # None: any domain (a bare name), or local when it names our own domain


def like_prefix(text: str) -> str:
    """A LIKE pattern matching values that start with `text` literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def parse_handle(query: str, local_domains: tuple[str, ...]) -> Handle | None:
    """`name`, `@name`, `name@domain` or `@name@domain` -> Handle; None if it is no handle at all."""
    text = query.strip().removeprefix("@")
    username, at, domain = text.partition("@")
    if not username or " " in text or (at and not domain):
        return None
    if not all(c.isalnum() or c in "_.-" for c in username):
        return None
    domain = domain.lower() if domain else ""
    return Handle(username, "" if domain in local_domains else (domain or None))


async def accounts(
    conn: Executor,
    query: str,
    *,
    viewer_id: int | None,
    local_domains: tuple[str, ...],
    limit: int,
    offset: int = 0,
    following: bool = False,
) -> list[asyncpg.Record]:
    """Actors whose username starts with the query (on the named domain, if any) or whose display
    name contains it: exact handles first, then local accounts, then the most followed."""
    text = query.strip()[:MAX_QUERY]
    handle = parse_handle(text, local_domains)
    name = text.removeprefix("@")
    if not name:
        return []
    username = handle.username if handle else name
    # domain: NULL = any, '' = local only, else a remote domain prefix
    domain = handle.domain if handle else None
    return await conn.fetch(
        f"""SELECT a.* FROM actors a
            WHERE a.suspended_at IS NULL AND NOT a.is_instance_actor AND NOT {domain_blocks.suspended_sql("a.domain")}
              AND (
                   (lower(a.username) LIKE lower($1) ESCAPE '\\'
                    AND ($2::text IS NULL OR ($2 = '' AND a.domain IS NULL)
                         OR ($2 <> '' AND lower(a.domain) LIKE $3 ESCAPE '\\')))
                OR ($2::text IS NULL AND a.display_name ILIKE '%' || $4 || '%' ESCAPE '\\'))
              AND (NOT $5::boolean OR EXISTS (SELECT 1 FROM follows f
                                               WHERE f.actor_id = $6 AND f.target_actor_id = a.id))
              AND NOT {account_domain_blocks.hidden_sql("$6", "a.domain")}
              AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.actor_id = $6 AND b.target_actor_id = a.id)
                                                      OR (b.actor_id = a.id AND b.target_actor_id = $6))
            ORDER BY lower(a.username) = lower($7) AND ($2::text IS NULL OR $2 = coalesce(a.domain, '')) DESC,
                     lower(a.username) = lower($7) DESC,
                     a.domain IS NULL DESC,
                     (SELECT count(*) FROM follows f WHERE f.target_actor_id = a.id) DESC,
                     a.id
            LIMIT $8 OFFSET $9""",
        like_prefix(username),
        domain,
        like_prefix(domain or ""),
        like_prefix(name)[:-1],
        following,
        viewer_id,
        username,
        limit,
        offset,
    )


async def hashtags(conn: Executor, query: str, *, limit: int, offset: int = 0) -> list[asyncpg.Record]:
    """Tags starting with the query (without its '#'): the exact name first, then the shortest."""
    name = query.strip()[:MAX_QUERY].lstrip("#")
    if not name or " " in name:
        return []
    return await conn.fetch(
        """SELECT t.id, t.name FROM tags t
            WHERE lower(t.name) LIKE lower($1) ESCAPE '\\'
            ORDER BY lower(t.name) = lower($2) DESC, length(t.name), lower(t.name)
            LIMIT $3 OFFSET $4""",
        like_prefix(name),
        name,
        limit,
        offset,
    )


async def statuses(
    conn: Executor,
    query: str,
    *,
    viewer_id: int,
    limit: int,
    offset: int = 0,
    account_id: int | None = None,
) -> list[int]:
    """Ids of public posts and of the viewer's own posts matching every word, newest first. Public posts
    of an account that opted out of search (`indexable` false, Mastodon 4.2) are left out.

    websearch_to_tsquery accepts what people type into a search box ("quoted phrases", -excluded,
    or) and never raises on odd input.
    """
    text = query.strip()[:MAX_QUERY]
    if not text:
        return []
    rows = await conn.fetch(
        f"""SELECT s.id FROM statuses s JOIN actors a ON a.id = s.actor_id
             WHERE {STATUS_DOCUMENT} @@ websearch_to_tsquery('simple', $1)
               AND s.reblog_of_id IS NULL
               AND ((s.visibility = 'public' AND a.indexable) OR s.actor_id = $2)
               AND {visible_sql("s", "$2::bigint")}
               AND a.suspended_at IS NULL AND NOT {domain_blocks.suspended_sql("a.domain")}
               AND NOT {account_domain_blocks.hidden_sql("$2", "a.domain")}
               AND ($3::bigint IS NULL OR s.actor_id = $3)
             ORDER BY s.id DESC
             LIMIT $4 OFFSET $5""",
        text,
        viewer_id,
        account_id,
        limit,
        offset,
    )
    return [r["id"] for r in rows]


async def status_by_url(conn: Executor, url: str, viewer_id: int | None) -> int | None:
    """A known status whose ActivityPub id or permalink is `url`, if the viewer may see it."""
    return await conn.fetchval(
        f"""SELECT s.id FROM statuses s
             WHERE (s.uri = $1 OR s.url = $1) AND s.reblog_of_id IS NULL AND {visible_sql("s", "$2::bigint")}
               AND NOT EXISTS (SELECT 1 FROM actors a
                                WHERE a.id = s.actor_id AND {domain_blocks.suspended_sql("a.domain")})
             ORDER BY s.uri = $1 DESC LIMIT 1""",
        url,
        viewer_id,
    )


async def actor_by_url(conn: Executor, url: str) -> asyncpg.Record | None:
    """A known actor whose ActivityPub id or profile page is `url`."""
    return await conn.fetchrow(
        f"""SELECT * FROM actors a
             WHERE (uri = $1 OR url = $1) AND suspended_at IS NULL AND NOT is_instance_actor
               AND NOT {domain_blocks.suspended_sql("a.domain")}
             ORDER BY uri = $1 DESC LIMIT 1""",
        url,
    )
