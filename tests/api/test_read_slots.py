"""api/read_slots: the heaviest reads run a few at a time, in arrival order; other requests never wait
behind them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import Response

from fediverse_biz.api.read_slots import queued
from fediverse_biz.app import build_services
from fediverse_biz.config import Settings
from fediverse_biz.db.database import Database
from fediverse_biz.db.read_slots import read_slots
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.social import member


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_queued_handlers_run_a_few_at_a_time_in_arrival_order(
    db: Database, settings: Settings, http: aiohttp.ClientSession
) -> None:
    app = Starlette()
    app.state.services = build_services(settings, db, http)
    services(app).read_slots = read_slots(db_pool_max=4)  # 2 slots
    request: Any = SimpleNamespace(app=app)
    running: list[int] = []
    started: list[int] = []
    most = 0
    gates = {i: asyncio.Event() for i in range(6)}

    def handler_for(i: int) -> Any:
        async def handler(_: Any) -> Response:
            nonlocal most
            started.append(i)
            running.append(i)
            most = max(most, len(running))
            await gates[i].wait()
            running.remove(i)
            return Response(str(i))

        return queued(handler)

    tasks = []
    for i in range(6):
        tasks.append(asyncio.create_task(handler_for(i)(request)))
        await asyncio.sleep(0)  # arrivals in order
    await asyncio.sleep(0.01)
    assert started == [0, 1]  # two slots: the others wait
    for i in range(6):
        gates[i].set()
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    assert most == 2
    assert started == [0, 1, 2, 3, 4, 5]  # first come, first served


@pytest.mark.parametrize("path", ["/api/v1/timelines/home", "/api/v1/timelines/public", "/api/v1/notifications",
                                  "/api/v1/favourites", "/api/v1/bookmarks", "/api/v1/accounts/{id}/statuses"])
async def test_heavy_reads_wait_for_a_slot_and_other_requests_do_not(
    app: Starlette, client: httpx.AsyncClient, db: Database, urls: LocalUrls, path: str
) -> None:
    alice = await member(db, urls, "alice")
    slots: asyncio.Semaphore = services(app).read_slots
    taken = 0
    while not slots.locked():  # every slot held, as by readers in progress
        await slots.acquire()
        taken += 1
    assert taken == max(1, services(app).settings.db_pool_max // 2)
    try:
        waiting = asyncio.create_task(client.get(path.format(id=alice.id), headers=alice.headers))
        # Meanwhile requests that take no slot are answered: the account, the instance, an account's profile.
        assert (await client.get("/api/v1/accounts/verify_credentials", headers=alice.headers)).status_code == 200
        assert (await client.get("/api/v2/instance")).status_code == 200
        await asyncio.sleep(0.2)
        assert not waiting.done()
    finally:
        for _ in range(taken):
            slots.release()
    response = await asyncio.wait_for(waiting, 10)
    assert response.status_code == 200, response.text
