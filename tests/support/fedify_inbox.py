"""A Fedify-based server's inbox on 127.0.0.1: a foreign peer, simulated for what it does differently.

Fedify processes each activity id once. Its `handleInbox` (dahlia/fedify, src/federation/handler.ts)
remembers every processed id for a day (the `activityIdempotence` key) and answers any later delivery
of that id `202 Activity <id> has already been processed.` without reading the rest: a second, different
activity sent under an id already used is lost there. This receiver does exactly that, on top of
FakeInbox (which verifies our signatures), and keeps what its listeners would have seen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.inbox import FakeInbox


@dataclass
class FedifyInbox:
    public_keys: Mapping[str, str] | None = None  # keyId -> PEM: signatures are checked, as Fedify does
    processed: list[dict[str, Any]] = field(default_factory=list)  # what reached its inbox listeners
    skipped: list[str] = field(default_factory=list)  # ids answered "already processed"
    _seen: set[str] = field(default_factory=set)
    _inbox: FakeInbox | None = None

    async def start(self) -> FedifyInbox:
        self._inbox = await FakeInbox(respond=self._respond, public_keys=self.public_keys).start()
        return self

    async def stop(self) -> None:
        if self._inbox is not None:
            await self._inbox.stop()

    def url(self, path: str = "/inbox") -> str:
        assert self._inbox is not None
        return self._inbox.url(path)

    @property
    def rejected(self) -> list[str]:
        """Why each refused signature failed (FakeInbox): a test should find none."""
        return self._inbox.rejected if self._inbox is not None else []

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        activity = json.loads(await request.read())
        activity_id = str(activity.get("id"))
        if activity_id in self._seen:
            self.skipped.append(activity_id)
            return web.Response(status=202, text=f"Activity <{activity_id}> has already been processed.")
        self._seen.add(activity_id)
        self.processed.append(activity)
        return web.Response(status=202)
