"""What the fuzzers of the doors (tests/reliability/test_id_fuzz.py, test_text_fuzz.py) share: the app's
routes as a flat table, an app with the rate limits off, alice's things for the path parameters to hold,
and a client that gets a handler's exception back as the 500 a real server sends."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.halls import make_hall
from tests.support.servers import make_settings

SCOPES = "read write follow push profile"  # every user scope, so the reader is reached past the doors
PATH_PARAMETER = re.compile(r"{([a-z_]+)(?::[a-z]+)?}")


def route_table(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, set[str]]]:
    """Every route under `routes`, mounts flattened: (its full path template, its methods)."""
    found = []
    for route in routes:
        if isinstance(route, Mount):
            found += route_table(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            found.append((prefix + route.path, route.methods or set()))
    return found


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The rate limits are off: hundreds of requests would otherwise end in 429s that test nothing.
    return make_settings(tmp_path / "data", 80, domain="127.0.0.1", workers=0, rate_limits=False)


async def alices_things(pool: asyncpg.Pool, urls: LocalUrls) -> tuple[accounts.NewUser, dict[str, str]]:
    """alice, her organization acme, her hall hall7 and a post of hers; and what the path parameters
    naming them hold."""
    alice = await accounts.create_user(pool, urls, "alice", "alice@example.com", factories.PASSWORD)
    alice_actor = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", alice.actor_id)
    acme = await accounts.create_organization(pool, urls, "acme", "alice")
    hall = await make_hall(pool, urls, alice_actor)
    status_id = await factories.post(pool, urls, alice_actor, "Our booth at the #fair")
    return alice, {
        "organizations": str(acme["id"]),
        "communities": str(hall.id),
        "statuses": str(status_id),
        "username": "alice",
        "hall_name": "hall7",
        "org": "acme",
        "hashtag": "fair",
        "token": "no-such-invitation",
        "version": "2.0",
        "path": "no/such.png",
    }


@asynccontextmanager
async def unraising_client(app: Starlette, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # An exception in a handler comes back as the 500 a real server sends, so every failure is listed.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
        yield client
