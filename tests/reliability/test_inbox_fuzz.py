"""A hypothesis-driven fuzzer for the inbox (federation/inbox.py, then the "inbox" jobs).

Inputs: random JSON, and real activities (tests/fixtures/federation/*/*.json, rewritten to come from a
fake peer's actor) mutated — keys dropped, values swapped for other types, ids moved to other hosts or
replaced by garbage, huge strings, deep nesting, odd unicode, NUL — then POSTed signed by that actor,
signed but tampered with, or unsigned, to the shared and personal inboxes of the in-process app.

Per example: never a 5xx; nothing stored unless the answer is 202, and then only an activity that passes
the schema, comes from the signer and has its id on the signer's host; the accepted activity's job runs
and ends processed, ignored, or waiting on a peer (RetryableError) — never with any other exception.

No example reaches the network: the fixtures' hosts are rewritten to the peer, or to `.invalid` (RFC 6761).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from fediverse_biz.activitypub.actors import authority
from fediverse_biz.activitypub.signatures import sign_request
from fediverse_biz.activitypub.validation import validate_activity
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.inbound import make_follow, row_of
from tests.support.peers import AS2, FakePeer, PeerActor, run_inbox_jobs

FIXTURES = Path(__file__).parents[1] / "fixtures" / "federation"
MAX_EXAMPLES = 400
_URL_RE = re.compile(r"https?://([A-Za-z0-9.\-]+(?::[0-9]+)?)")
# Vocabulary and context hosts: identifiers, never fetched, kept as they are.
_VOCABULARY_HOSTS = ("www.w3.org", "w3id.org", "ostatus.org", "joinmastodon.org", "schema.org", "purl.org",
                     "litepub.social", "misskey-hub.net", "join-lemmy.org", "joinpeertube.org", "docs.gotosocial.org",
                     "pleroma.social", "funkwhale.audio", "fedibird.com", "schema.org")  # fmt: skip
_DEEP = "\u0001deep:"  # a string value the serializer swaps for that many nested arrays


def _load_fixtures() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(FIXTURES.glob("*/*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and "actor" in doc:  # activities; the actor and object documents are not
            found.append((f"{path.parent.name}/{path.name}", doc))
    return found


REAL = _load_fixtures()


def _origin_actor(doc: dict[str, Any]) -> str | None:
    for key in ("actor", "attributedTo", "id"):
        value = doc.get(key)
        if isinstance(value, dict):
            value = value.get("id")
        if isinstance(value, list) and value:
            value = value[0] if isinstance(value[0], str) else None
        if isinstance(value, str) and value.startswith("http"):
            return value
    return None


def as_from(doc: dict[str, Any], actor: PeerActor, peer: FakePeer, serial: int) -> dict[str, Any]:
    """The fixture as the peer's actor would send it: its origin is the peer, other hosts `.invalid`."""
    text = json.dumps(doc)
    origin_actor = _origin_actor(doc)
    if origin_actor is not None:
        text = text.replace(json.dumps(origin_actor)[1:-1], actor.uri)
        origin = authority(origin_actor)
    else:
        origin = ""

    def host(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == origin:
            return peer.base
        if name.endswith(_VOCABULARY_HOSTS) or name.startswith("127.0.0.1"):
            return match.group(0)
        return f"http://{name.split(':')[0]}.invalid"

    rewritten: dict[str, Any] = json.loads(_URL_RE.sub(host, text))
    rewritten.pop("signature", None)  # LD signatures are not ours to verify
    if isinstance(rewritten.get("id"), str) and rewritten["id"].startswith(peer.base):
        rewritten["id"] = f"{actor.uri}/fuzz/{serial}"  # fresh, so dedupe does not hide the path after it
    return rewritten


# ---- mutations ----------------------------------------------------------------------------------------
json_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
)  # fmt: skip
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=16,
)
hostile_strings = st.sampled_from(
    [
        "", " ", "\x00", "a\x00b", "\ud800", "\udfff\ud800", "\u202e\u0644\u0627", "\U0001f600" * 50,
        "javascript:alert(1)", "<script>alert(1)</script>", "../../../etc/passwd", "%00",
        "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522",  # "Unicode" in Fraktur
        "http://127.0.0.1:1/refused", "https://other.invalid/users/mallory", "http://[::1]/x", "http://",
        "https://evil.invalid/" + "a" * 3000, "x" * 200_000, "y" * 1_100_000, "9" * 400, "-1", "1e309",
        "acct:mallory@evil.invalid", "urn:uuid:00000000-0000-0000-0000-000000000000",
    ]
) | st.text(max_size=50)  # fmt: skip
deep_values = st.sampled_from([f"{_DEEP}40", f"{_DEEP}1000", f"{_DEEP}60000"])


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node[:8]):
            found.append((*prefix, index))
            found.extend(_paths(value, (*prefix, index)))
    return found


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` after zero to four mutations, each at a random place."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 2, 3, 4]))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        operation = draw(st.sampled_from(["drop", "retype", "hostile", "deep", "nest_self", "list_of"]))
        if operation == "drop":
            del parent[path[-1]]
        elif operation == "retype":
            parent[path[-1]] = draw(json_values)
        elif operation == "hostile":
            parent[path[-1]] = draw(hostile_strings)
        elif operation == "deep":
            parent[path[-1]] = draw(deep_values)
        elif operation == "nest_self":
            parent[path[-1]] = {"id": parent[path[-1]], "type": draw(st.sampled_from(["Note", "Create", "Person"]))}
        else:
            parent[path[-1]] = [parent[path[-1]], draw(json_values)]
    return doc


def serialize(doc: Any) -> bytes:
    text = json.dumps(doc)  # lone surrogates travel as \ud800 escapes, as a hostile peer would send them
    for depth in (40, 1000, 60000):
        text = text.replace(json.dumps(f"{_DEEP}{depth}"), "[" * depth + "]" * depth)
    return text.encode()


@dataclass(frozen=True)
class Delivery:
    body: bytes
    path: str
    signing: str  # "signed", "tampered", "unsigned"
    content_type: str


def deliveries(bodies: st.SearchStrategy[bytes]) -> st.SearchStrategy[Delivery]:
    return st.builds(
        Delivery,
        body=bodies,
        path=st.sampled_from(["/inbox", "/users/alice/inbox", "/users/nobody/inbox", "/actor/inbox"]),
        signing=st.sampled_from(["signed", "signed", "signed", "tampered", "unsigned"]),
        content_type=st.sampled_from([AS2, AS2, 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
                                      "application/json", "text/plain"]),
    )  # fmt: skip


# ---- the harness --------------------------------------------------------------------------------------
@dataclass
class Inbox:
    app: Starlette
    client: httpx.AsyncClient
    peer: FakePeer
    bob: PeerActor
    serial: itertools.count[int]

    @property
    def pool(self) -> asyncpg.Pool:
        pool: asyncpg.Pool = services(self.app).pool
        return pool

    async def post(self, delivery: Delivery) -> httpx.Response:
        headers = {"Content-Type": delivery.content_type}
        if delivery.signing != "unsigned":
            headers = sign_request(
                "POST", f"{self.client.base_url}{delivery.path}", key_id=self.bob.key_id,
                private_key_pem=self.bob.private_pem, body=delivery.body, headers=headers,
            )  # fmt: skip
        body = delivery.body + b" " if delivery.signing == "tampered" else delivery.body
        return await self.client.post(delivery.path, content=body, headers=headers)

    async def check(self, delivery: Delivery) -> None:
        """POST one delivery and hold the inbox to its promises."""
        before = await self.pool.fetchval("SELECT coalesce(max(id), 0) FROM inbox_activities")
        jobs_before = await self.pool.fetchval("SELECT count(*) FROM jobs")
        response = await self.post(delivery)
        assert response.status_code < 500, response.text
        new = await self.pool.fetch("SELECT * FROM inbox_activities WHERE id > $1", before)
        if response.status_code != 202 or delivery.signing != "signed":
            assert new == [], f"stored from a {response.status_code} / {delivery.signing} delivery"
            assert await self.pool.fetchval("SELECT count(*) FROM jobs") == jobs_before
            return
        for row in new:
            payload = row["payload"]
            validate_activity(payload)
            assert row["actor_uri"] == self.bob.uri
            assert authority(row["activity_id"]) == authority(self.bob.uri)
        await run_inbox_jobs(self.app)
        for row in await self.pool.fetch("SELECT * FROM inbox_activities WHERE id > $1", before):
            error = row["error"] or ""
            settled = row["processed_at"] is not None or error.startswith("RetryableError")
            assert settled, f"inbox job for {row['activity_type']} ended with: {error}"


@pytest.fixture
async def inbox(app: Starlette, client: httpx.AsyncClient, urls: LocalUrls) -> AsyncIterator[Inbox]:
    peer = await FakePeer().start()
    try:
        alice = await factories.local_actor(services(app).pool, urls, "alice")
        bob = peer.actor("bob")
        await make_follow(services(app).pool, alice, await row_of(app, bob))  # so bob's posts are stored
        yield Inbox(app, client, peer, bob, itertools.count(1))
    finally:
        await peer.stop()


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ_SETTINGS
@given(data=st.data())
async def test_mutated_real_activities(inbox: Inbox, data: st.DataObject) -> None:
    _name, fixture = data.draw(st.sampled_from(REAL), label="fixture")
    doc = as_from(fixture, inbox.bob, inbox.peer, next(inbox.serial))
    delivery = data.draw(deliveries(mutated(doc).map(serialize)), label="delivery")
    await inbox.check(delivery)


raw_bodies: Callable[[], st.SearchStrategy[bytes]] = lambda: (  # noqa: E731
    json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=200)
    | st.sampled_from([b"", b"{", b"null", b"[]", b'{"id": NaN}', b'{"a": 1e99999}', b"\xff\xfe{}", b"1" * 5000])
)


@settings(
    max_examples=MAX_EXAMPLES // 3,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(delivery=deliveries(raw_bodies()))
async def test_random_bodies(inbox: Inbox, delivery: Delivery) -> None:
    await inbox.check(delivery)


BROKEN_PEM = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n"  # passes the schema's pattern


async def test_an_update_with_a_broken_key_does_not_lock_the_peer_out(inbox: Inbox, urls: LocalUrls) -> None:
    # given bob sent (properly signed) an Update of himself whose publicKeyPem is garbage — found by the fuzzer
    broken = {**inbox.bob.doc, "publicKey": {**inbox.bob.doc["publicKey"], "publicKeyPem": BROKEN_PEM}}
    update = inbox.peer.activity("Update", inbox.bob, broken)
    await inbox.check(Delivery(serialize(update), "/inbox", "signed", AS2))
    assert await inbox.pool.fetchval("SELECT public_key_pem FROM actors WHERE uri = $1", inbox.bob.uri) == BROKEN_PEM
    # when he delivers again, signed with his real key (which his server still serves)
    follow = inbox.peer.activity("Follow", inbox.bob, f"{urls.base}/users/alice")
    response = await inbox.post(Delivery(serialize(follow), "/inbox", "signed", AS2))
    # then the unusable stored key is refetched, as a stale one would be, and the delivery is accepted
    assert response.status_code == 202, response.text
