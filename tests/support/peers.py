"""A remote ActivityPub server on 127.0.0.1 for inbox tests — the only fake in them: everything else is
the real code, database and HTTP.

It serves actor documents with real RSA keys and post objects, as Mastodon shapes them, records every
request it gets (and the body of every POST: what we deliver to it), and signs what its actors deliver to
us. Its host is 127.0.0.1:<port>, so its actors are on another host than the app under test (settings
domain 127.0.0.1, port 80).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import httpx
import pytest
from aiohttp import web

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.activitypub.keys import generate_key_pair
from fediverse_biz.activitypub.signatures import sign_request
from fediverse_biz.federation.inbound import dispatch
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.services import services
from tests.support.loopback import listen

AS2 = "application/activity+json"
_counter = itertools.count(1)


@cache
def key_pair(index: int) -> tuple[str, str]:
    """(private PEM, public PEM); generated once per test run, RSA generation being slow."""
    return generate_key_pair()


@dataclass
class PeerActor:
    uri: str
    username: str
    doc: dict[str, Any]
    private_pem: str

    @property
    def key_id(self) -> str:
        return f"{self.uri}#main-key"

    @property
    def followers(self) -> str:
        return f"{self.uri}/followers"

    @property
    def inbox(self) -> str:
        return f"{self.uri}/inbox"


@dataclass
class FakePeer:
    docs: dict[str, tuple[int, Any]] = field(default_factory=dict)  # path -> (status, JSON)
    hits: list[str] = field(default_factory=list)
    posted: list[tuple[str, Any]] = field(default_factory=list)  # (path, JSON body) of every POST
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> FakePeer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, handle_signals=False)
        self.port = await listen(self._runner)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        if request.method == "POST":
            self.posted.append((request.path, json.loads(await request.read())))
            return web.Response(status=202)
        status, doc = self.docs.get(request.path, (404, {"error": "not found"}))
        return web.Response(status=status, body=json.dumps(doc).encode(), content_type=AS2)

    def serve(self, uri: str, doc: Any, status: int = 200) -> None:
        assert uri.startswith(self.base), uri
        self.docs[uri.removeprefix(self.base)] = (status, doc)

    # ---- documents ----------------------------------------------------------------------------------
    def actor(
        self,
        username: str,
        *,
        key: int = 0,
        actor_type: str = "Person",
        also_known_as: list[str] | None = None,
        name: str = "",
    ) -> PeerActor:
        private_pem, public_pem = key_pair(key)
        uri = f"{self.base}/users/{username}"
        doc: dict[str, Any] = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": uri,
            "type": actor_type,
            "preferredUsername": username,
            "name": name or username.title(),
            "inbox": f"{uri}/inbox",
            "outbox": f"{uri}/outbox",
            "followers": f"{uri}/followers",
            "following": f"{uri}/following",
            "featured": f"{uri}/collections/featured",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "manuallyApprovesFollowers": False,
            "publicKey": {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": public_pem},
        }
        if also_known_as:
            doc["alsoKnownAs"] = also_known_as
        self.serve(uri, doc)
        return PeerActor(uri, username, doc, private_pem)

    def note(
        self,
        author: PeerActor,
        content: str = "<p>hello</p>",
        *,
        to: list[str] | None = None,
        cc: list[str] | None = None,
        in_reply_to: str | None = None,
        tag: list[dict[str, Any]] | None = None,
        published: str = "2024-05-01T12:00:00Z",
        serve: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        uri = f"{author.uri}/statuses/{next(_counter)}"
        note: dict[str, Any] = {
            "id": uri,
            "type": "Note",
            "attributedTo": author.uri,
            "content": content,
            "published": published,
            "url": uri.replace("/users/", "/@"),
            "to": to if to is not None else [PUBLIC],
            "cc": cc if cc is not None else [author.followers],
            "inReplyTo": in_reply_to,
            "tag": tag or [],
            **extra,
        }
        if serve:
            self.serve(uri, {"@context": "https://www.w3.org/ns/activitystreams", **note})
        return note

    def activity(self, kind: str, actor: PeerActor, obj: Any, **extra: Any) -> dict[str, Any]:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{actor.uri}#{kind.lower()}s/{next(_counter)}",
            "type": kind,
            "actor": actor.uri,
            "object": obj,
            **extra,
        }


@pytest.fixture
async def peer() -> AsyncIterator[FakePeer]:
    """A running FakePeer, stopped after the test. Modules take it as `peer = peers.peer`."""
    server = await FakePeer().start()
    yield server
    await server.stop()


async def deliver(
    client: httpx.AsyncClient,
    activity: Any,
    signer: PeerActor | None,
    *,
    path: str = "/inbox",
    content_type: str = AS2,
    body: bytes | None = None,
    now: datetime | None = None,
) -> httpx.Response:
    """POST to our inbox as a peer does: draft-cavage, (request-target) host date digest content-type."""
    data = body if body is not None else json.dumps(activity).encode()
    headers = {"Content-Type": content_type}
    if signer is not None:
        headers = sign_request(
            "POST",
            f"{client.base_url}{path}",
            key_id=signer.key_id,
            private_key_pem=signer.private_pem,
            body=data,
            headers=headers,
            now=now,
        )
    return await client.post(path, content=data, headers=headers)


async def run_inbox_jobs(app: Any) -> None:
    """Process every queued inbox job with the real worker (other kinds are left queued for inspection)."""
    state = services(app)
    handlers = dispatch.handlers()
    worker = Worker(state.pool, state.http, state.settings, handlers)
    await worker.run_until_idle(timeout=30)


__all__ = ["AS2", "FakePeer", "PeerActor", "deliver", "key_pair", "run_inbox_jobs"]
