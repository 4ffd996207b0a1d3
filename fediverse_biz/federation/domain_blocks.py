"""Suspended domains: a peer whose domain, or a parent domain, is suspended is neither heard nor fetched
(Mastodon's `domain_not_allowed?`). Admins suspend with a `domain_blocks` row of severity 'suspend'.

`suspended` asks the database. `SuspendedDomains` is the inbox door's copy of the whole (small) list,
read again at most once per `ttl` seconds: the door asked the database on every delivery, one of its
three queries (docs/benchmarks.md). The copy only decides how early a delivery is dropped (before its
key is fetched); whether it is stored is decided by the store statement, which checks the table itself
(federation/inbox.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

import asyncpg

__all__ = ["SuspendedDomains", "blocked", "candidates", "suspended"]

DOOR_TTL: Final = 1.0  # seconds


def candidates(domain: str) -> list[str]:
    """`domain` (host[:port]) and each parent domain of its host: any of them suspended suspends it."""
    host = domain.rsplit(":", 1)[0] if not domain.endswith("]") else domain
    labels = host.split(".")
    return [domain, *(".".join(labels[i:]) for i in range(len(labels)))]


async def suspended(conn: asyncpg.Pool | asyncpg.Connection, domain: str) -> bool:
    """Whether `domain` (host[:port]) or a parent domain is suspended."""
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM domain_blocks WHERE domain = ANY($1::text[]) AND severity = 'suspend'", candidates(domain)
        )
    )


async def blocked(conn: asyncpg.Pool | asyncpg.Connection, domain: str) -> bool:
    """Whether `domain` or a parent domain has any block, silence included: what discovery skips, since the
    directory never lists a blocked domain's accounts anyway."""
    return bool(await conn.fetchval("SELECT 1 FROM domain_blocks WHERE domain = ANY($1::text[])", candidates(domain)))


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
