"""Numbered plain-SQL migrations (`db/migrations/NNNN_name.sql`), applied in order.

Each migration runs in its own transaction together with its `schema_migrations` row, so a
failure leaves nothing half-applied. An advisory lock serialises concurrent runners (a web and a
worker process starting together). A database that has a migration this code does not know is
newer than the code: we refuse to start rather than run old code against a newer schema.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x66656469  # arbitrary constant for pg_advisory_lock, "fedi"


class MigrationError(Exception):
    """Migrations cannot be applied; the message says why."""


class DatabaseTooNew(MigrationError):
    """The database was migrated by a newer version of fediverse_biz."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path | None = None) -> list[Migration]:
    """All migrations in `directory` (default: the package's own), sorted; refuses duplicates."""
    if directory is None:
        root = resources.files("fediverse_biz.db") / "migrations"
        entries = [(e.name, e.read_text(encoding="utf-8")) for e in root.iterdir() if e.name.endswith(".sql")]
    else:
        entries = [(p.name, p.read_text(encoding="utf-8")) for p in directory.glob("*.sql")]
    found: dict[int, Migration] = {}
    for name, sql in entries:
        match = _FILE_RE.match(name)
        if match is None:
            raise MigrationError(f"migration file name {name!r} is not NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations share number {version:04d}: {found[version].name}, {name}")
        found[version] = Migration(version, name, sql)
    return [found[v] for v in sorted(found)]


async def applied_versions(conn: asyncpg.Connection) -> dict[int, str]:
    exists = await conn.fetchval("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {r["version"]: r["checksum"] for r in rows}


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration; return those applied. Safe to run twice or concurrently."""
    migrations = discover() if migrations is None else migrations
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = await applied_versions(conn)
        known = {m.version: m for m in migrations}
        unknown = sorted(set(done) - set(known))
        if unknown:
            raise DatabaseTooNew(
                f"the database has migration {unknown[-1]:04d}, which this version of fediverse_biz does "
                "not know: it was upgraded by a newer release; install that release (or newer)"
            )
        for version, checksum in done.items():
            if known[version].checksum != checksum:
                raise MigrationError(
                    f"migration {known[version].name} changed after it was applied; restore the original file"
                )
        applied: list[Migration] = []
        # A lower number that arrives after higher ones (merged branches) is still applied, in order.
        for migration in migrations:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version, migration.name, migration.checksum,
                )
            applied.append(migration)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def pending(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    migrations = discover() if migrations is None else migrations
    done = await applied_versions(conn)
    return [m for m in migrations if m.version not in done]
