"""A user's own domain blocks (https://docs.joinmastodon.org/methods/domain_blocks/): the accounts and posts
of a domain hidden from that user alone — home and public timelines, notifications, search — and its
followers there removed, as Mastodon's BlockDomainFromAccountService does. The instance's blocks are
core/domain_blocks.py's; this module owns the `account_domain_blocks` table and its one SQL condition, and
core/domain_blocking.py is the blocking itself with its consequences.

A block names one domain exactly, not its subdomains, as Mastodon's AccountDomainBlock matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import asyncpg

from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.db.executor import Executor

MAX_DOMAIN: Final = 253
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_RE: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?")


def hidden_sql(viewer: str, domain: str) -> str:
    """SQL condition: the viewer (an SQL expression) blocks the domain named by `domain` (NULL: local, never)."""
    return f"EXISTS (SELECT 1 FROM account_domain_blocks udb WHERE udb.actor_id = {viewer} AND udb.domain = {domain})"


def normalize(text: str) -> str:
    """Mastodon's normalisation: trimmed, lower case, internationalised names in their ASCII form; a bare
    host with an optional port, nothing else."""
    domain = text.strip().lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise DomainError("Validation failed: domain is not a domain name") from None
    if not domain or len(domain) > MAX_DOMAIN or not _DOMAIN_RE.fullmatch(domain):
        raise DomainError("Validation failed: domain is not a domain name")
    return domain


async def blocking(conn: Executor, viewer_ids: Iterable[int], domains: Iterable[str | None]) -> set[int]:
    """Those of `viewer_ids` who block one of `domains` (None, a local account, is never blocked): for
    events sent as they happen, which no query of a timeline filters."""
    wanted = sorted({d for d in domains if d is not None})
    viewers = sorted(set(viewer_ids))
    if not wanted or not viewers:
        return set()
    rows = await conn.fetch(
        """SELECT DISTINCT actor_id FROM account_domain_blocks
            WHERE actor_id = ANY($1::bigint[]) AND domain = ANY($2::text[])""",
        viewers,
        wanted,
    )
    return {r["actor_id"] for r in rows}


async def add(conn: asyncpg.Connection, actor_id: int, domain: str) -> None:
    """Store the block (already normalised); blocking twice is one block. The action around it, with its
    consequences, is core/domain_blocking.py's."""
    await conn.execute(
        "INSERT INTO account_domain_blocks (actor_id, domain) VALUES ($1, $2) ON CONFLICT DO NOTHING", actor_id, domain
    )


async def unblock(pool: asyncpg.Pool, actor_id: int, text: str) -> None:
    await pool.execute(
        "DELETE FROM account_domain_blocks WHERE actor_id = $1 AND domain = $2", actor_id, normalize(text)
    )


async def page_of(conn: Executor, actor_id: int, page: Page) -> list[tuple[int, str]]:
    """(block id, domain), latest first, paged by the block's id as Mastodon pages them."""
    where, args, order = keyset(page, "id", 3)
    rows = await conn.fetch(
        f"SELECT id, domain FROM account_domain_blocks WHERE actor_id = $1 {where} ORDER BY {order} LIMIT $2",
        actor_id,
        page.limit,
        *args,
    )
    by_id = {r["id"]: r["domain"] for r in rows}
    return [(i, by_id[i]) for i in newest_first(list(by_id), page)]
