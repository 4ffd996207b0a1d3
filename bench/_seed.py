"""Seeding the server's database directly with COPY (asyncpg's copy_records_to_table), for sizes the
API would take hours to build. Rows look like what the server itself writes; ids are time-sortable like
next_id() — milliseconds << 16 | sequence — but placed in the past, so they never meet the ids the
server generates during the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

DAY_MS = 86_400_000


def id_at_ms(ms: int, sequence: int) -> int:
    """The id db/migrations/0001 `id_at` would give at `ms` with this sequence number."""
    return (ms << 16) | (sequence % 65536)


def past_ids(count: int, *, days_ago: int, step_ms: int = 1) -> list[int]:
    """`count` increasing ids starting `days_ago` days back, one every `step_ms` milliseconds."""
    start = int(time.time() * 1000) - days_ago * DAY_MS
    return [id_at_ms(start + i * step_ms, i) for i in range(count)]


def moment_of(snowflake: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=snowflake >> 16)


@dataclass(frozen=True)
class RemoteActorRow:
    id: int
    username: str
    domain: str  # host[:port], as the server stores it
    base: str  # scheme://domain
    shared_inbox: str | None = None

    @property
    def uri(self) -> str:
        return f"{self.base}/users/{self.username}"


async def copy_remote_actors(conn: asyncpg.Pool | asyncpg.Connection, rows: Iterable[RemoteActorRow]) -> int:
    """Remote actors as if their documents had just been fetched (fetched_at now: no refetch)."""
    now = datetime.now(UTC)
    records = [
        (r.id, r.username, r.domain, "Person", r.uri, r.uri, f"{r.uri}/inbox", r.shared_inbox, f"{r.uri}/outbox",
         f"{r.uri}/followers", f"{r.uri}#main-key", now)
        for r in rows
    ]
    await conn.copy_records_to_table(
        "actors",
        records=records,
        columns=["id", "username", "domain", "actor_type", "uri", "url", "inbox_url", "shared_inbox_url",
                 "outbox_url", "followers_url", "key_id", "fetched_at"],
    )
    return len(records)


async def copy_local_actors(
    conn: asyncpg.Pool | asyncpg.Connection, base_url: str, ids: list[int], prefix: str, key_pair: tuple[str, str]
) -> int:
    """Local Person actors `{prefix}{n}` (sharing one key pair: keys are never used by the benchmarks that
    read these rows, and RSA generation would dominate the seed time)."""
    private_pem, public_pem = key_pair
    records = []
    for n, actor_id in enumerate(ids):
        username = f"{prefix}{n}"
        uri = f"{base_url}/users/{username}"
        records.append(
            (actor_id, username, "Person", uri, f"{base_url}/@{username}", f"{uri}/inbox", f"{base_url}/inbox",
             f"{uri}/outbox", f"{uri}/followers", f"{uri}/following", f"{uri}/collections/featured",
             f"{uri}#main-key", public_pem, private_pem)
        )
    await conn.copy_records_to_table(
        "actors",
        records=records,
        columns=["id", "username", "actor_type", "uri", "url", "inbox_url", "shared_inbox_url", "outbox_url",
                 "followers_url", "following_url", "featured_url", "key_id", "public_key_pem", "private_key_pem"],
    )
    return len(records)
