"""Live instances for the interop tests: a real server, a pool on its database, and the few actions
tests take on it through the domain functions (nothing faked)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from fediverse_biz.core import accounts, statuses
from fediverse_biz.db.pool import create_pool
from fediverse_biz.federation.remote_actors import instance_signer, resolve_handle
from fediverse_biz.net.fetch import create_session
from fediverse_biz.urls import LocalUrls
from tests.support.servers import LiveServer

PASSWORD = "correct horse battery"
InstanceT = TypeVar("InstanceT", bound="Instance")


@dataclass
class Instance:
    server: LiveServer
    pool: asyncpg.Pool

    @property
    def urls(self) -> LocalUrls:
        return LocalUrls(self.server.base_url)

    @property
    def domain(self) -> str:
        return self.server.settings.domain

    async def user(self, username: str, *, locked: bool = False) -> asyncpg.Record:
        made = await accounts.create_user(self.pool, self.urls, username, f"{username}@example.com", PASSWORD)
        if locked:
            await self.pool.execute("UPDATE actors SET locked = true WHERE id = $1", made.actor_id)
        return await self.pool.fetchrow("SELECT * FROM actors WHERE id = $1", made.actor_id)

    async def resolve(self, handle: str) -> asyncpg.Record:
        """Look up a remote account the way a member's search does (WebFinger, then the actor)."""
        instance_actor = await self.pool.fetchrow("SELECT * FROM actors WHERE is_instance_actor")
        async with create_session(["127.0.0.0/8"], user_agent="test") as http:
            return await resolve_handle(self.pool, http, handle, signer=instance_signer(instance_actor), scheme="http")

    async def post(self, author: asyncpg.Record, text: str, **draft: Any) -> int:
        return await statuses.create(self.pool, self.urls, self.domain, author, statuses.Draft(text=text, **draft))

    async def status_by_uri(self, uri: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow("SELECT * FROM statuses WHERE uri = $1", uri)


@asynccontextmanager
async def started(
    factory: Callable[..., LiveServer], count: int, kind: type[InstanceT]
) -> AsyncIterator[list[InstanceT]]:
    """`count` live servers, each with a pool on its own database, closed afterwards."""
    servers = [await asyncio.to_thread(factory) for _ in range(count)]
    pools = [await create_pool(s.dsn, min_size=1, max_size=4) for s in servers]
    try:
        yield [kind(s, p) for s, p in zip(servers, pools, strict=True)]
    finally:
        for p in pools:
            await p.close()
