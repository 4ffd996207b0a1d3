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
        name = f"test_{next(self._counter)}"
        conn = await asyncpg.connect(self.server.dsn("postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            await conn.close()
        return name

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.server.dsn("postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
