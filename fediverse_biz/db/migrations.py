"""Numbered plain-SQL migrations (`db/migrations/NNNN_name.sql`), applied in order.

Each migration runs in its own transaction together with its `schema_migrations` row, so a
failure leaves nothing half-applied. An advisory lock serialises concurrent runners (a web and a
worker process starting together). A database that has a migration this code does not know is
newer than the code: we refuse to start rather than run old code against a newer schema.

A migration's checksum covers its statements, not its whole-line `--` comments: rewording a comment
changes nothing a database ran, while an edited statement is refused. Releases before this recorded the
checksum of the whole file; such a record is still accepted (the file's text as it is now, or as it was
before its comments were reworded, `_REWORDED`) and replaced by the statement checksum.
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
# Whole-file checksums of migrations as they were before only their whole-line comments were reworded.
# The statements are unchanged, so a database that recorded one of these ran what the files say now.
_REWORDED: dict[int, frozenset[str]] = {
    2: frozenset({"a48774b7eeba7e1d9ca6234e6a25ef046dafe1273cc7d8a75ed74bdd1836780d"}),
    4: frozenset({"778a7e375cbc914c6cc63677d7ce1c15e2966a462b086d5ac1b8b0ff2f1abb32"}),
    6: frozenset({"321572356c48489ce1db32b8539a75305cd0689b1a6c18f7b12a453396598323"}),
    7: frozenset({"a03b742006ecdf2a66315adfbd19766d98a3b011d91702ceac06845c68fe6b41"}),
    8: frozenset({"39c4a5407c196254e052be14762bd9fffedf4d1f8f65bfdba168c8f84fa090ad"}),
    9: frozenset({"706eb3356349385df6c51cc42c0dbde0645efe5096557971acf0a36e8204e482"}),
    10: frozenset({"bc1c95bcbb2a2f41b90dce6f5e8d225e9e802eb8885e835113fcf4d440c84afd"}),
    11: frozenset({"44a7c2bf074d180e454569dc2d5ccda4b3ca339c89e6f4f97ff4b2284957f8ea"}),
    14: frozenset({"48176d499df976140ae9197e43b7c1dd4e08f862d5e4d6a49176f09ce1faa780"}),
    15: frozenset({"4fd86e2c437bde7ab1a1ef51c9c394d392706d3d70b2794780a81641e8aa1af5"}),
}


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
        """Of the statements: whole-line comments are left out, so rewording them is no change."""
        statements = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        return hashlib.sha256(statements.encode()).hexdigest()

    def recorded_by_older_release(self, checksum: str) -> bool:
        """Whether `checksum` is what a release before statement checksums recorded for this migration."""
        return checksum == hashlib.sha256(self.sql.encode()).hexdigest() or checksum in _REWORDED.get(
            self.version, frozenset()
        )


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
            migration = known[version]
            if migration.checksum == checksum:
                continue
            if not migration.recorded_by_older_release(checksum):
                raise MigrationError(
                    f"migration {migration.name} changed after it was applied; restore the original file"
                )
            await conn.execute(
                "UPDATE schema_migrations SET checksum = $2 WHERE version = $1", version, migration.checksum
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
