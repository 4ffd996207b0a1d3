"""Shared fixtures: the test-run cluster, a fresh database per test, an in-process app, live servers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette

from fediverse_biz import assembly
from fediverse_biz.app import create_app
from fediverse_biz.config import Settings
from fediverse_biz.core import passwords
from fediverse_biz.db.database import Database
from fediverse_biz.db.pool import create_pool
from fediverse_biz.urls import LocalUrls
from tests.support.cli_processes import served  # noqa: F401  (a fixture for the CLI tests)
from tests.support.cluster import PgCluster
from tests.support.js_clients import js_clients  # noqa: F401  (a fixture for the JavaScript client tests)
from tests.support.servers import LiveServer, make_settings

# argon2 at production cost (64 MiB, 3 passes) is most of the time of a test that creates users;
# the algorithm stays argon2id, only the cost drops. CLI tests run real processes at full cost.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

# The extension points as every process installs them: tests that call core's domain operations without
# starting an application (create_app installs them too) get the same fan-out.
assembly.install_hooks()

# The suite must never depend on the developer's own environment.
for _name in list(os.environ):
    if _name.startswith("FEDIVERSE_BIZ_") or _name == "DATABASE_URL":
        del os.environ[_name]


@pytest.fixture(scope="session")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PgCluster]:
    import asyncio

    c = await PgCluster.start(tmp_path_factory.mktemp("cluster"))
    yield c
    await asyncio.to_thread(c.server.stop)


@pytest.fixture
async def database_name(cluster: PgCluster) -> AsyncIterator[str]:
    name = await cluster.create_database()
    yield name
    await cluster.release_database(name)


@pytest.fixture
def dsn(cluster: PgCluster, database_name: str) -> str:
    return cluster.dsn(database_name)


@pytest.fixture
async def db(dsn: str) -> AsyncIterator[Database]:
    pool = await create_pool(dsn, min_size=1, max_size=5)
    yield Database(pool=pool, dsn=dsn)
    await pool.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # In-process tests have no socket; port 80 keeps URLs plain (http://127.0.0.1).
    # No background workers in-process: tests look at the queued jobs themselves.
    return make_settings(tmp_path / "data", 80, domain="127.0.0.1", workers=0)


@pytest.fixture
def urls(settings: Settings) -> LocalUrls:
    return LocalUrls(settings.base_url)


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[Starlette]:
    application = create_app(settings, db)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as c:
        yield c


@pytest.fixture
def live_server_factory(
    cluster: PgCluster, tmp_path: Path
) -> Iterator[Callable[..., LiveServer]]:
    """Start real servers, each on its own database and port; all stopped after the test."""
    import asyncio

    started: list[LiveServer] = []
    databases: list[str] = []

    def start(**overrides: object) -> LiveServer:
        loop = asyncio.new_event_loop()
        try:
            name = loop.run_until_complete(cluster.create_database())
        finally:
            loop.close()
        databases.append(name)
        server = LiveServer(cluster.dsn(name), tmp_path / f"server{len(started)}", **overrides)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()
    loop = asyncio.new_event_loop()
    try:
        for name in databases:
            loop.run_until_complete(cluster.release_database(name))
    finally:
        loop.close()


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_server_factory()
