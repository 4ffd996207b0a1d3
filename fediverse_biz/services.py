"""The application's services, typed: what every request handler may use, built once by the lifespan.

`create_app` (app.py) builds one `Services` when the application starts and keeps it on the Starlette
application; handlers reach it with `services(request)`. Nothing else is kept on `app.state`.

This module sits below the doors (web/, api/, federation/'s endpoints), which all use it, so it cannot
name the types of the API's streaming hub and account-entity cache: it names what it needs of them as
protocols, which those classes satisfy (api/streaming_hub.py, api/entities.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import asyncpg
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from fediverse_biz.config import Settings
from fediverse_biz.core.domain_blocks import SuspendedDomains
from fediverse_biz.core.hooks import Hooks
from fediverse_biz.core.instance_facts import InstanceFactsCache
from fediverse_biz.db.database import Database
from fediverse_biz.db.read_slots import ReadSlots
from fediverse_biz.jobs import queue
from fediverse_biz.ttl_cache import TtlCache
from fediverse_biz.urls import LocalUrls


class StreamingHub(Protocol):
    """What the lifespan does with the streaming hub; the API's handlers use the concrete class."""

    async def start(self, dsn: str) -> None: ...

    async def stop(self) -> None: ...


class AccountEntityCache(Protocol):
    """Account entities already built by this process (api/entities.py's AccountEntities)."""

    def cached(self, actor: Mapping[str, Any], stats: Mapping[str, Any] | None) -> dict[str, Any] | None: ...

    def get(self, actor: Mapping[str, Any], stats: Mapping[str, Any] | None, urls: LocalUrls) -> dict[str, Any]: ...


@dataclass
class Services:
    settings: Settings
    db: Database
    urls: LocalUrls
    http: aiohttp.ClientSession  # the one outgoing HTTP client (net/fetch.py)
    hooks: Hooks  # the extension points (core/hooks.py), as installed
    job_wakeups: queue.Wakeups  # the inbox's door wakes the workers, here or in other processes
    suspended_domains: SuspendedDomains  # the inbox door's copy of the suspended list
    streaming: StreamingHub  # one LISTEN connection per process for all streaming clients
    account_entities: AccountEntityCache  # rendered authors of statuses
    read_slots: ReadSlots  # the heaviest reads queue here (api/read_slots.py)
    instance_facts: InstanceFactsCache  # counts and texts of /api/v1/instance and /about, briefly cached
    # Peers' verified keys: keyId -> (public key PEM, owner's row) (federation/signed_requests.py).
    signing_keys: TtlCache[str, tuple[str, asyncpg.Record]]
    # (actor, keyId) pairs whose signed fetch was recorded lately (federation/fetch_reach.py).
    fetchers_seen: TtlCache[tuple[str, str], bool]
    _instance_actor: asyncpg.Record | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        return self.db.pool

    @property
    def instance_actor(self) -> asyncpg.Record:
        """The instance's own actor, which signs our fetches; set when the application has started."""
        if self._instance_actor is None:
            raise RuntimeError("the instance actor is not loaded yet")
        return self._instance_actor

    @instance_actor.setter
    def instance_actor(self, row: asyncpg.Record) -> None:
        self._instance_actor = row


def services(connection: HTTPConnection | Starlette) -> Services:
    """The services of the application serving `connection` (a request or a WebSocket), or of `app`."""
    app = connection if isinstance(connection, Starlette) else connection.app
    found = app.state.services
    assert isinstance(found, Services), "the application's lifespan has not run"
    return found
