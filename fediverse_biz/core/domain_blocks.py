"""Domain blocks: the one rule for whether the instance refuses a remote server, in Python and in SQL.

An admin blocks a domain with a `domain_blocks` row; a block covers the domain and every subdomain of it,
ports included (Mastodon's `DomainBlock.rule_for`: blocking example.com blocks social.example.com:8443).
Two severities, with Mastodon's meaning:
- 'suspend': nothing is exchanged. No delivery goes there, nothing it sends is stored, nothing is fetched
  from it, and its accounts and posts appear nowhere (pages, search, timelines, directory).
- 'silence': its accounts and posts stay out of everything shared — public timelines, public pages,
  streams, the directory — and their notifications do not reach people here; federation goes on.

Every check goes through this module: `suspended`/`blocked` ask the database for one domain,
`suspended_among` for many (fan-out), and `suspended_sql`/`blocked_sql` give the same test as an SQL
condition on a column, for queries that filter rows. `SuspendedDomains` is the inbox door's copy of the
(small) suspended list, read again at most once per `ttl` seconds; the copy only decides how early a
delivery is dropped, while the statement that stores it checks the table itself (federation/inbox.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Final

import asyncpg

from fediverse_biz.db.executor import Executor

__all__ = [
    "SuspendedDomains",
    "blocked",
    "blocked_among",
    "blocked_sql",
    "candidates",
    "listed",
    "suspended",
    "suspended_among",
    "suspended_sql",
]

DOOR_TTL: Final = 1.0  # seconds


def candidates(domain: str) -> list[str]:
    """`domain` (host[:port]) and each parent domain of its host: any of them suspended suspends it."""
    host = domain.rsplit(":", 1)[0] if not domain.endswith("]") else domain
    labels = host.split(".")
    return [domain, *(".".join(labels[i:]) for i in range(len(labels)))]


def _covers_sql(domain: str, severity: str | None) -> str:
    """EXISTS(a block of `severity`, or of any severity, covers the domain in SQL expression `domain`):
    the SQL twin of `candidates`. `right(...)` compares the end of the host, so no LIKE pattern is built
    from data."""
    host = f"regexp_replace({domain}, ':[0-9]+$', '')"
    where = f"b.severity = '{severity}' AND " if severity else ""
    return f"""EXISTS (SELECT 1 FROM domain_blocks b
                 WHERE {where}(b.domain = {domain} OR b.domain = {host}
                               OR right({host}, length(b.domain) + 1) = '.' || b.domain))"""


def suspended_sql(domain: str) -> str:
    """SQL condition: the domain named by the expression `domain` (a column or parameter) is suspended.
    True for no row when the expression is NULL (a local account)."""
    return _covers_sql(domain, "suspend")


def blocked_sql(domain: str) -> str:
    """SQL condition: the domain named by `domain` is silenced or suspended."""
    return _covers_sql(domain, None)


async def suspended(conn: Executor, domain: str) -> bool:
    """Whether `domain` (host[:port]) or a parent domain is suspended."""
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM domain_blocks WHERE domain = ANY($1::text[]) AND severity = 'suspend'", candidates(domain)
        )
    )


async def blocked(conn: Executor, domain: str) -> bool:
    """Whether `domain` or a parent domain has any block, silence included: what discovery skips, since the
    directory never lists a blocked domain's accounts anyway."""
    return bool(await conn.fetchval("SELECT 1 FROM domain_blocks WHERE domain = ANY($1::text[])", candidates(domain)))


async def _covered_among(conn: Executor, domains: Iterable[str], severity: str | None) -> set[str]:
    wanted = {d: candidates(d) for d in set(domains)}
    if not wanted:
        return set()
    rows = await conn.fetch(
        "SELECT domain FROM domain_blocks WHERE ($2::text IS NULL OR severity = $2) AND domain = ANY($1::text[])",
        sorted({c for cs in wanted.values() for c in cs}),
        severity,
    )
    hit = {r["domain"] for r in rows}
    return {d for d, cs in wanted.items() if not hit.isdisjoint(cs)}


async def suspended_among(conn: Executor, domains: Iterable[str]) -> set[str]:
    """Those of `domains` (host[:port]) that are suspended, in one query."""
    return await _covered_among(conn, domains, "suspend")


async def blocked_among(conn: Executor, domains: Iterable[str]) -> set[str]:
    """Those of `domains` that are silenced or suspended, in one query."""
    return await _covered_among(conn, domains, None)


async def listed(conn: Executor) -> list[asyncpg.Record]:
    """Every block (domain, severity), alphabetically: what the instance shows of its moderation."""
    return await conn.fetch("SELECT domain, severity FROM domain_blocks ORDER BY domain")


class SuspendedDomains:
    """The suspended domains, as of at most `ttl` seconds ago."""

    def __init__(self, pool: asyncpg.Pool, *, ttl: float = DOOR_TTL) -> None:
        self._pool = pool
        self._ttl = ttl
        self._domains: frozenset[str] = frozenset()
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()  # one reader refreshes; the others wait for its answer

    async def covers(self, domain: str) -> bool:
        if time.monotonic() - self._read_at >= self._ttl:
            async with self._lock:
                if time.monotonic() - self._read_at >= self._ttl:
                    rows = await self._pool.fetch("SELECT domain FROM domain_blocks WHERE severity = 'suspend'")
                    self._domains = frozenset(r["domain"] for r in rows)
                    self._read_at = time.monotonic()
        return not self._domains.isdisjoint(candidates(domain))
