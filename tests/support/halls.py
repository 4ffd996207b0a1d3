"""Halls and groups for the communities tests, built through the real code paths.

    hall = await make_hall(db.pool, urls, alice)              # /c/hall7, alice its moderator
    peer = await RecordingPeer().start()                       # a FakePeer that keeps what we POST to it
    group = lemmy_group(peer, "main")                          # a Lemmy community on the peer (fixture shape)
    doc = lemmy_fixture("announce_create_page.json", peer)     # Lemmy's payload, hosts rewritten to the peer
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from aiohttp import web

from fediverse_biz.business import communities
from fediverse_biz.business.communities import Acting, Hall
from fediverse_biz.urls import LocalUrls
from tests.support.inbound import FIXTURES
from tests.support.peers import FakePeer, PeerActor, key_pair

LEMMY_HOSTS = ("http://enterprise.lemmy.ml", "https://enterprise.lemmy.ml", "http://ds9.lemmy.ml")
DOMAIN = "127.0.0.1"


async def make_hall(
    pool: asyncpg.Pool, urls: LocalUrls, moderator: asyncpg.Record, name: str = "hall7", **values: Any
) -> Hall:
    """A hall whose first moderator is `moderator` (acting as itself, with the user behind it)."""
    user_id = await pool.fetchval(
        """SELECT coalesce((SELECT id FROM users WHERE actor_id = $1),
                           (SELECT user_id FROM organization_members WHERE organization_id = $1 LIMIT 1))""",
        moderator["id"],
    )
    by = Acting(moderator["id"], int(user_id))
    return await communities.create_hall(
        pool, urls, DOMAIN, by, name, {"title": values.pop("title", "Hall 7: machinery"), **values}
    )


async def acting(pool: asyncpg.Pool, actor: asyncpg.Record) -> Acting:
    user_id = await pool.fetchval("SELECT id FROM users WHERE actor_id = $1", actor["id"])
    return Acting(actor["id"], int(user_id))


class RecordingPeer(FakePeer):
    """A FakePeer that also keeps every JSON body POSTed to it (our deliveries), in order."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            self.received.append(json.loads(await request.read()))
        return await super()._serve(request)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.received if doc.get("type") == kind]


def rewrite(doc: Any, peer: FakePeer) -> Any:
    """A fixture with Lemmy's hosts replaced by the peer's, so its ids live on the peer."""
    text = json.dumps(doc)
    for host in LEMMY_HOSTS:
        text = text.replace(host, peer.base)
    return json.loads(text)


def lemmy_fixture(name: str, peer: FakePeer) -> dict[str, Any]:
    doc: dict[str, Any] = rewrite(json.loads((FIXTURES / "lemmy" / name).read_text()), peer)
    return doc


def lemmy_group(peer: FakePeer, name: str = "main", *, key: int = 3) -> PeerActor:
    """A Lemmy community on the peer, in the shape of Lemmy's group.json, with a real key."""
    private_pem, public_pem = key_pair(key)
    doc = lemmy_fixture("group.json", peer)
    uri = f"{peer.base}/c/{name}"
    doc = json.loads(json.dumps(doc).replace(f"{peer.base}/c/tenforward", uri))
    doc["preferredUsername"] = name
    doc["publicKey"] = {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": public_pem}
    doc["@context"] = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
    peer.serve(uri, doc)
    return PeerActor(uri, name, doc, private_pem)


def lemmy_person(peer: FakePeer, name: str, *, key: int = 4) -> PeerActor:
    """A Lemmy user (`/u/{name}`), shaped like Lemmy's person.json."""
    private_pem, public_pem = key_pair(key)
    doc = lemmy_fixture("person.json", peer)
    uri = f"{peer.base}/u/{name}"
    doc = json.loads(json.dumps(doc).replace(f"{peer.base}/u/picard", uri))
    doc["preferredUsername"] = name
    doc["publicKey"] = {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": public_pem}
    doc["@context"] = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
    peer.serve(uri, doc)
    return PeerActor(uri, name, doc, private_pem)
