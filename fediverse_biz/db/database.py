"""Opening the database: the embedded cluster or DATABASE_URL, the application database, migrations, pool."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg

from fediverse_biz.config import Settings
from fediverse_biz.db import migrations
from fediverse_biz.db.embedded import EmbeddedPostgres
from fediverse_biz.db.pool import create_pool

log = logging.getLogger(__name__)

APP_DATABASE = "fediverse_biz"


@dataclass
class Database:
    pool: asyncpg.Pool
    dsn: str
    embedded: EmbeddedPostgres | None = None
    stop_embedded_on_close: bool = False

    async def close(self) -> None:
        await self.pool.close()
        if self.embedded is not None and self.stop_embedded_on_close:
            await asyncio.to_thread(self.embedded.stop)


async def ensure_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # another process created it between our check and our CREATE
    finally:
        await conn.close()


async def start_embedded(settings: Settings, *, durable: bool = True) -> EmbeddedPostgres:
    server = EmbeddedPostgres(settings.data_dir / "postgres", durable=durable)
    await asyncio.to_thread(server.start)
    return server


async def open_database(
    settings: Settings, *, migrate: bool = True, own_embedded: bool = False
) -> Database:
    """Connect to DATABASE_URL, or start the embedded cluster; create the app database; migrate.

    `own_embedded`: stop the embedded cluster on close even if it was already running when we
    came (the `serve` process owns it; short CLI commands only stop what they started).
    """
    embedded: EmbeddedPostgres | None = None
    if settings.database_url:
        dsn = settings.database_url
    else:
        embedded = await start_embedded(settings)
        await ensure_database(embedded.dsn("postgres"), APP_DATABASE)
        dsn = embedded.dsn(APP_DATABASE)
    try:
        if migrate:
            conn = await asyncpg.connect(dsn)
            try:
                applied = await migrations.migrate(conn)
            finally:
                await conn.close()
            for migration in applied:
                log.info("applied migration %s", migration.name)
        pool = await create_pool(
            dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
            statement_timeout=settings.db_statement_timeout, acquire_timeout=settings.db_acquire_timeout,
        )
    except BaseException:
        if embedded is not None and (embedded.started_here or own_embedded):
            await asyncio.to_thread(embedded.stop)
        raise
    stop = embedded is not None and (embedded.started_here or own_embedded)
    return Database(pool=pool, dsn=dsn, embedded=embedded, stop_embedded_on_close=stop)
