"""One embedded PostgreSQL cluster per test run; one fresh database per test, cloned from a template.

Cloning a migrated template is what makes a fresh database per test cheap (tens of milliseconds),
so tests never share state and never mock our own storage.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from fediverse_biz.db import migrations
from fediverse_biz.db.embedded import EmbeddedPostgres

TEMPLATE = "fb_template"


@dataclass
class PgCluster:
    server: EmbeddedPostgres
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # Databases emptied after use, ready for the next test: emptying a small database with DELETE
    # takes a few milliseconds, while CREATE DATABASE costs hundreds (seconds on a loaded machine).
    _clean: list[str] = field(default_factory=list)

    @classmethod
    async def start(cls, directory: Path) -> PgCluster:
        import asyncio

        server = EmbeddedPostgres(directory / "postgres", durable=False)
        await asyncio.to_thread(server.start)
        cluster = cls(server)
        conn = await asyncpg.connect(server.dsn("postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
            await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
        finally:
            await conn.close()
        tconn = await asyncpg.connect(server.dsn(TEMPLATE))
        try:
            await migrations.migrate(tconn)
        finally:
            await tconn.close()
        return cluster

    def dsn(self, database: str) -> str:
        return self.server.dsn(database)

    async def create_database(self, *, template: str = TEMPLATE) -> str:
        """A fresh database (migrated, unless template='template0'); returns its name."""
        if template == TEMPLATE and self._clean:
            return self._clean.pop()
        name = f"test_{next(self._counter)}"
        conn = await asyncpg.connect(self.server.dsn("postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            await conn.close()
        return name

    async def release_database(self, name: str) -> None:
        """Empty a migrated test database and keep it for reuse (or drop it if that fails)."""
        try:
            conn = await asyncpg.connect(self.server.dsn(name))
        except (OSError, asyncpg.PostgresError):
            await self.drop_database(name)
            return
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            tables = await conn.fetch(
                """SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"""
            )
            versions = await conn.fetchval("SELECT count(*) FROM schema_migrations")
            expected = len(migrations.discover())
            async with conn.transaction():
                # Without triggers, foreign keys do not care about the order of the DELETEs.
                await conn.execute("SET LOCAL session_replication_role = replica")
                for table in tables:
                    await conn.execute(f'DELETE FROM "{table["tablename"]}"')
        except (OSError, asyncpg.PostgresError):
            await conn.close()
            await self.drop_database(name)
            return
        await conn.close()
        if versions == expected:
            self._clean.append(name)
        else:  # a test changed the schema: do not hand that database to another test
            await self.drop_database(name)

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.server.dsn("postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
