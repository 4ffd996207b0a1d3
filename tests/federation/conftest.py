"""Fixtures for the federation tests: FakePeer servers on 127.0.0.1 (tests/support/peers.py), the app's
pool, and alice, a local account as a row of `actors`.

Modules that simulate other kinds of peer define their own `peer` (test_remote_actors.py, fetch/), and the
endpoint tests their own `alice` (a NewUser): a module's fixture wins over these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from starlette.applications import Starlette

from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories, peers
from tests.support.peers import FakePeer

peer = peers.peer  # the fixture: a running FakePeer


@pytest.fixture
async def other_peer() -> AsyncIterator[FakePeer]:
    server = await FakePeer().start()
    yield server
    await server.stop()


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool


@pytest.fixture
async def alice(pool: asyncpg.Pool, urls: LocalUrls) -> asyncpg.Record:
    return await factories.local_actor(pool, urls, "alice")
