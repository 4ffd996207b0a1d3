"""Filters (https://docs.joinmastodon.org/methods/filters/, Mastodon's v2 model): what each account
chose not to see, or to see behind a warning, in which contexts.

A filter matches a status by keyword (case-insensitive; `whole_word` puts word boundaries at the ends
of the keyword that are word characters, as Mastodon's CustomFilter#compile_keywords) or because the
status itself was added to it. The text searched is the status's content as plain text, its content
warning and its media descriptions; a boost is judged by what it boosts. Expired filters apply nowhere.
Changes are announced with the event "filters_changed" (core/events.py), sent to the user stream.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import asyncpg

from fediverse_biz.core import events
from fediverse_biz.core.errors import DomainError, not_found
from fediverse_biz.db.executor import Executor

CONTEXTS: Final = ("home", "notifications", "public", "thread", "account")
ACTIONS: Final = ("warn", "hide")
EVENT: Final = "filters_changed"  # {"kind": "filters_changed", "actor_id": …}
TEXT_LIMIT: Final = 256
PER_ACCOUNT_LIMIT: Final = 1000


@dataclass(frozen=True)
class Keyword:
    id: int
    keyword: str
    whole_word: bool

    def pattern(self) -> str:
        body = re.escape(self.keyword)
        if not self.whole_word:
            return body
        start = r"\b" if re.match(r"\w", self.keyword) else ""
        end = r"\b" if re.search(r"\w$", self.keyword) else ""
        return f"{start}{body}{end}"


@dataclass(frozen=True)
class Filter:
    id: int
    actor_id: int
    title: str
    context: list[str]
    action: str
    expires_at: datetime | None
    keywords: list[Keyword] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)  # filter_statuses id -> status id

    def keyword_matches(self, text: str) -> list[str]:
        return [k.keyword for k in self.keywords if re.search(k.pattern(), text, re.IGNORECASE)]


@dataclass(frozen=True)
class Match:
    filter: Filter
    keyword_matches: list[str] | None
    status_matches: list[str] | None


def checked_text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise DomainError(f"Validation failed: {what} can't be blank")
    if len(value) > TEXT_LIMIT:
        raise DomainError(f"Validation failed: {what} is too long (maximum is {TEXT_LIMIT} characters)")
    return value


def checked_context(context: Sequence[str]) -> list[str]:
    chosen = sorted(set(context), key=CONTEXTS.index) if all(c in CONTEXTS for c in context) else None
    if not chosen:
        raise DomainError("Validation failed: Context can't be blank" if not context else
                          "Validation failed: Context contains an invalid value")  # fmt: skip
    return chosen


def checked_action(action: str) -> str:
    if action not in ACTIONS:
        raise DomainError("Validation failed: Filter action is not included in the list")
    return action


# ---- reading --------------------------------------------------------------------------------------
async def _assemble(conn: Executor, rows: Sequence[asyncpg.Record]) -> list[Filter]:
    ids = [r["id"] for r in rows]
    keywords: dict[int, list[Keyword]] = {i: [] for i in ids}
    statuses: dict[int, dict[int, int]] = {i: {} for i in ids}
    if ids:
        for k in await conn.fetch("SELECT * FROM filter_keywords WHERE filter_id = ANY($1) ORDER BY id", ids):
            keywords[k["filter_id"]].append(Keyword(k["id"], k["keyword"], k["whole_word"]))
        for s in await conn.fetch("SELECT * FROM filter_statuses WHERE filter_id = ANY($1) ORDER BY id", ids):
            statuses[s["filter_id"]][s["id"]] = s["status_id"]
    return [
        Filter(r["id"], r["actor_id"], r["title"], list(r["context"]), r["filter_action"], r["expires_at"],
               keywords[r["id"]], statuses[r["id"]])
        for r in rows
    ]  # fmt: skip


async def owned(conn: Executor, owner_id: int) -> list[Filter]:
    rows = await conn.fetch("SELECT * FROM filters WHERE actor_id = $1 ORDER BY id", owner_id)
    return await _assemble(conn, rows)


async def active_anywhere(conn: Executor, owner_id: int) -> list[Filter]:
    """The owner's unexpired filters, whatever their contexts: one indexed query when there are none."""
    rows = await conn.fetch(
        "SELECT * FROM filters WHERE actor_id = $1 AND (expires_at IS NULL OR expires_at > now()) ORDER BY id",
        owner_id,
    )
    return await _assemble(conn, rows)


async def with_active_filters(conn: Executor, owner_ids: Iterable[int]) -> list[int]:
    """Which of these accounts have an unexpired filter (the others need no filtering at all)."""
    rows = await conn.fetch(
        """SELECT DISTINCT actor_id FROM filters
            WHERE actor_id = ANY($1::bigint[]) AND (expires_at IS NULL OR expires_at > now())""",
        sorted(set(owner_ids)),
    )
    return [r["actor_id"] for r in rows]


async def get(conn: Executor, owner_id: int, filter_id: int) -> Filter:
    rows = await conn.fetch("SELECT * FROM filters WHERE id = $1 AND actor_id = $2", filter_id, owner_id)
    if not rows:
        raise not_found()
    return (await _assemble(conn, rows))[0]


def matches(filters: Sequence[Filter], texts: Mapping[int, str]) -> dict[int, list[Match]]:
    """For each status id of `texts` (the status judged: a boost's original), the filters it matches."""
    found: dict[int, list[Match]] = {}
    for status_id, text in texts.items():
        for f in filters:
            words = f.keyword_matches(text) if f.keywords else []
            by_status = status_id in f.statuses.values()
            if words or by_status:
                found.setdefault(status_id, []).append(
                    Match(f, words or None, [str(status_id)] if by_status else None)
                )
    return found


# ---- writing --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeywordChange:
    """One entry of keywords_attributes: a new keyword (id None), a change, or a removal (destroy)."""

    id: int | None
    keyword: str | None
    whole_word: bool | None
    destroy: bool = False


async def _announce(conn: asyncpg.Connection, owner_id: int) -> None:
    await events.emit(conn, EVENT, actor_id=owner_id)


async def _apply_keywords(conn: asyncpg.Connection, filter_id: int, changes: Iterable[KeywordChange]) -> None:
    for change in changes:
        if change.id is None:
            if change.destroy:
                continue
            await conn.execute(
                "INSERT INTO filter_keywords (filter_id, keyword, whole_word) VALUES ($1, $2, $3)",
                filter_id,
                checked_text(change.keyword or "", "Keyword"),
                True if change.whole_word is None else change.whole_word,
            )
        elif change.destroy:
            await conn.execute("DELETE FROM filter_keywords WHERE id = $1 AND filter_id = $2", change.id, filter_id)
        else:
            done = await conn.fetchval(
                """UPDATE filter_keywords SET keyword = coalesce($3, keyword), whole_word = coalesce($4, whole_word)
                    WHERE id = $1 AND filter_id = $2 RETURNING id""",
                change.id,
                filter_id,
                checked_text(change.keyword, "Keyword") if change.keyword is not None else None,
                change.whole_word,
            )
            if done is None:
                raise not_found()


async def create(
    pool: asyncpg.Pool,
    owner_id: int,
    *,
    title: str,
    context: Sequence[str],
    action: str,
    expires_in: int | None,
    keywords: Sequence[KeywordChange] = (),
) -> Filter:
    title, chosen, action = checked_text(title, "Title"), checked_context(context), checked_action(action)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM actors WHERE id = $1 FOR UPDATE", owner_id)
        if await conn.fetchval("SELECT count(*) FROM filters WHERE actor_id = $1", owner_id) >= PER_ACCOUNT_LIMIT:
            raise DomainError(f"Validation failed: You cannot have more than {PER_ACCOUNT_LIMIT} filters")
        filter_id = await conn.fetchval(
            """INSERT INTO filters (actor_id, title, context, filter_action, expires_at)
               VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING id""",
            owner_id,
            title,
            chosen,
            action,
            expires_in,
        )
        await _apply_keywords(conn, filter_id, keywords)
        await _announce(conn, owner_id)
        return await get(conn, owner_id, filter_id)


UNCHANGED: Final = -1  # expires_in not sent: the expiry stays


async def update(
    pool: asyncpg.Pool,
    owner_id: int,
    filter_id: int,
    *,
    title: str | None = None,
    context: Sequence[str] | None = None,
    action: str | None = None,
    expires_in: int | None = UNCHANGED,
    keywords: Sequence[KeywordChange] = (),
) -> Filter:
    async with pool.acquire() as conn, conn.transaction():
        await get(conn, owner_id, filter_id)
        await conn.execute(
            """UPDATE filters SET title = coalesce($2, title), context = coalesce($3, context),
                                  filter_action = coalesce($4, filter_action),
                                  expires_at = CASE WHEN $5::boolean THEN expires_at
                                                    ELSE now() + make_interval(secs => $6) END
                WHERE id = $1""",
            filter_id,
            checked_text(title, "Title") if title is not None else None,
            checked_context(context) if context is not None else None,
            checked_action(action) if action is not None else None,
            expires_in == UNCHANGED,
            None if expires_in == UNCHANGED else expires_in,
        )
        await _apply_keywords(conn, filter_id, keywords)
        await _announce(conn, owner_id)
        return await get(conn, owner_id, filter_id)


async def delete(pool: asyncpg.Pool, owner_id: int, filter_id: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("DELETE FROM filters WHERE id = $1 AND actor_id = $2 RETURNING id",
                               filter_id, owner_id) is None:  # fmt: skip
            raise not_found()
        await _announce(conn, owner_id)


async def keyword_owner(conn: Executor, owner_id: int, keyword_id: int) -> int:
    """The filter id of one of the owner's keywords, or 404."""
    filter_id = await conn.fetchval(
        """SELECT k.filter_id FROM filter_keywords k JOIN filters f ON f.id = k.filter_id
            WHERE k.id = $1 AND f.actor_id = $2""",
        keyword_id,
        owner_id,
    )
    if filter_id is None:
        raise not_found()
    return int(filter_id)


async def change_keywords(pool: asyncpg.Pool, owner_id: int, filter_id: int, changes: Sequence[KeywordChange]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await get(conn, owner_id, filter_id)
        await _apply_keywords(conn, filter_id, changes)
        await _announce(conn, owner_id)


async def status_owner(conn: Executor, owner_id: int, filter_status_id: int) -> tuple[int, int]:
    """(filter id, status id) of one of the owner's filtered statuses, or 404."""
    row = await conn.fetchrow(
        """SELECT s.filter_id, s.status_id FROM filter_statuses s JOIN filters f ON f.id = s.filter_id
            WHERE s.id = $1 AND f.actor_id = $2""",
        filter_status_id,
        owner_id,
    )
    if row is None:
        raise not_found()
    return int(row["filter_id"]), int(row["status_id"])


async def add_status(pool: asyncpg.Pool, owner_id: int, filter_id: int, status_id: int) -> int:
    """Add a status (one the caller checked the owner may see) to a filter; 422 when it is there already."""
    async with pool.acquire() as conn, conn.transaction():
        await get(conn, owner_id, filter_id)
        added = await conn.fetchval(
            """INSERT INTO filter_statuses (filter_id, status_id) VALUES ($1, $2)
               ON CONFLICT DO NOTHING RETURNING id""",
            filter_id,
            status_id,
        )
        if added is None:
            raise DomainError("Validation failed: Status has already been taken")
        await _announce(conn, owner_id)
        return int(added)


async def remove_status(pool: asyncpg.Pool, owner_id: int, filter_status_id: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await status_owner(conn, owner_id, filter_status_id)
        await conn.execute("DELETE FROM filter_statuses WHERE id = $1", filter_status_id)
        await _announce(conn, owner_id)
