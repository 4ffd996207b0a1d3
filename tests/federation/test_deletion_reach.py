"""Account deletion reaches every server that has something of the account (core/reach.py,
core/account_deletion.py), halls relay a member's deletion (group_relay.relay_account_deletion), and a
relayed Delete of an account is believed only on the word of the account's own origin
(federation/inbound/groups.py, `_delete_account`).

The three-instance version is tests/interop/test_account_deletion.py; here the other servers are
FakePeers, so what we send is read from the delivery jobs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.activitypub.signatures import sign_request
from fediverse_biz.business import directory
from fediverse_biz.core import account_deletion, follows
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.halls import RecordingPeer, lemmy_fixture, lemmy_group, lemmy_person, make_hall
from tests.support.inbound import receive, row_of, without_context
from tests.support.peers import AS2, FakePeer, PeerActor


@pytest.fixture
async def third_peer() -> AsyncIterator[FakePeer]:
    server = await FakePeer().start()
    yield server
    await server.stop()


@pytest.fixture
async def lemmy() -> AsyncIterator[RecordingPeer]:
    server = await RecordingPeer().start()
    yield server
    await server.stop()


async def _signed_get(client: httpx.AsyncClient, path: str, signer: PeerActor) -> httpx.Response:
    headers = sign_request(
        "GET", f"{client.base_url}{path}", key_id=signer.key_id, private_key_pem=signer.private_pem,
        headers={"Accept": AS2},
    )  # fmt: skip
    return await client.get(path, headers=headers)


async def _reach(pool: asyncpg.Pool, actor_id: int) -> list[str]:
    rows = await pool.fetch("SELECT inbox FROM actor_reach WHERE actor_id = $1 ORDER BY inbox", actor_id)
    return [r["inbox"] for r in rows]


async def _sent(pool: asyncpg.Pool) -> list[tuple[str, str, Any]]:
    """(inbox, type, object) of every queued delivery."""
    rows = await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver' ORDER BY id")
    return [(r["payload"]["inbox"], r["payload"]["activity"]["type"], r["payload"]["activity"].get("object"))
            for r in rows]  # fmt: skip


async def _user_of(pool: asyncpg.Pool, actor: asyncpg.Record) -> int:
    return int(await pool.fetchval("SELECT id FROM users WHERE actor_id = $1", actor["id"]))


# ---- who has something of a local account ---------------------------------------------------------------
async def test_only_a_verified_signed_fetch_records_the_fetcher(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    urls: LocalUrls,
    alice: asyncpg.Record,
    peer: FakePeer,
    other_peer: FakePeer,
) -> None:
    status_id = await factories.post(pool, urls, alice, "public words")
    assert (await client.get("/users/alice", headers={"Accept": AS2})).status_code == 200
    assert await _reach(pool, alice["id"]) == []  # an anonymous fetch leaves nothing to go on
    fetcher, impostor = peer.actor("fetcher"), other_peer.actor("impostor", key=1)
    forged = PeerActor(fetcher.uri, fetcher.username, fetcher.doc, impostor.private_pem)
    assert (await _signed_get(client, "/users/alice", forged)).status_code == 200
    assert await _reach(pool, alice["id"]) == []  # the keyId names the fetcher, the key is not theirs
    assert (await _signed_get(client, "/users/alice", fetcher)).status_code == 200
    assert await _reach(pool, alice["id"]) == [f"{peer.base}/inbox"]  # the fetcher's shared inbox
    # a signed fetch of a post counts for its author
    reader = other_peer.actor("reader", key=2)
    assert (await _signed_get(client, f"/users/alice/statuses/{status_id}", reader)).status_code == 200
    assert await _reach(pool, alice["id"]) == sorted([f"{peer.base}/inbox", f"{other_peer.base}/inbox"])


async def test_deletion_reaches_mentioned_fetchers_and_the_halls_audience(
    app: Starlette,
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    urls: LocalUrls,
    alice: asyncpg.Record,
    peer: FakePeer,
    other_peer: FakePeer,
    third_peer: FakePeer,
    tmp_path: Path,
) -> None:
    # alice mentions bob (peer), who does not follow her
    bob = peer.actor("bob")
    await row_of(app, bob)
    await factories.post(pool, urls, alice, f"@bob@{peer.host} quote for 200 sheets?")
    # alice posts in a local hall followed by zed (other_peer): the hall relays it to zed's server
    carol = await factories.local_actor(pool, urls, "carol")
    hall = await make_hall(pool, urls, carol)
    zed = other_peer.actor("zed", key=1)
    await receive(app, client, other_peer.activity("Follow", zed, hall.actor["uri"]), zed)
    await follows.follow(pool, alice, hall.actor)
    await factories.post(pool, urls, alice, "@hall7 stainless steel, 6 mm")
    # a third server only looked her up
    looker = third_peer.actor("instance", key=2)
    assert (await _signed_get(client, "/users/alice", looker)).status_code == 200
    assert await _reach(pool, alice["id"]) == sorted(
        [f"{peer.base}/inbox", f"{other_peer.base}/inbox", f"{third_peer.base}/inbox"]
    )
    await pool.execute("DELETE FROM jobs")
    # a mention made before the record was kept still counts: the post names bob
    await pool.execute("DELETE FROM actor_reach WHERE inbox = $1", f"{peer.base}/inbox")

    deleted = await account_deletion.delete_account(
        pool, urls, alice["id"], await _user_of(pool, alice), media_root=tmp_path
    )

    sent = await _sent(pool)
    direct = sorted(inbox for inbox, kind, _ in sent if kind == "Delete")
    assert direct == sorted([f"{peer.base}/inbox", f"{other_peer.base}/inbox", f"{third_peer.base}/inbox"])
    assert deleted.deliveries == 3
    # the hall announces the member's Delete to its audience, as it relayed her posts
    relayed = [(inbox, obj) for inbox, kind, obj in sent if kind == "Announce"]
    assert [inbox for inbox, _ in relayed] == [f"{other_peer.base}/inbox"]
    inner = relayed[0][1]
    assert (inner["type"], inner["actor"], inner["object"]) == ("Delete", alice["uri"], alice["uri"])
    # which servers saw the account is itself gone with it
    assert await _reach(pool, alice["id"]) == []


# ---- a hall relays a member's deletion ------------------------------------------------------------------
async def test_a_hall_relays_a_remote_members_deletion_before_forgetting_it(
    app: Starlette,
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    urls: LocalUrls,
    peer: FakePeer,
    other_peer: FakePeer,
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    hall = await make_hall(pool, urls, alice)
    rita, zed = peer.actor("rita"), other_peer.actor("zed", key=1)
    for member, server in ((rita, peer), (zed, other_peer)):
        await receive(app, client, server.activity("Follow", member, hall.actor["uri"]), member)
    mention = {"type": "Mention", "href": hall.actor["uri"], "name": "@hall7@127.0.0.1"}
    thread = peer.note(rita, "<p>lathe for sale</p>", cc=[rita.followers, hall.actor["uri"]], tag=[mention])
    await receive(app, client, peer.activity("Create", rita, thread), rita)
    assert await pool.fetchval("SELECT community_id FROM statuses WHERE uri = $1", thread["id"]) == hall.id
    await pool.execute("DELETE FROM jobs")

    deletion = peer.activity("Delete", rita, rita.uri, to=[PUBLIC])
    record = await receive(app, client, deletion, rita)

    assert record["error"] is None
    announces = [(inbox, obj) for inbox, kind, obj in await _sent(pool) if kind == "Announce"]
    assert (f"{other_peer.base}/inbox", deletion) in announces  # wrapped exactly as received
    rita_row = await pool.fetchrow("SELECT * FROM actors WHERE uri = $1", rita.uri)
    assert rita_row["suspended_at"] is not None and rita_row["display_name"] == ""
    assert await pool.fetchval("SELECT count(*) FROM statuses WHERE actor_id = $1", rita_row["id"]) == 0


# ---- a relayed Delete of an account ---------------------------------------------------------------------
async def _followed_group(
    app: Starlette, client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, lemmy: RecordingPeer
) -> PeerActor:
    group = lemmy_group(lemmy)
    alice = await factories.local_actor(pool, urls, "alice")
    await follows.follow(pool, alice, await row_of(app, group))
    follow = (await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver'"))[-1]["payload"]["activity"]
    await receive(app, client, lemmy_fixture("accept.json", lemmy) | {"object": without_context(follow)}, group)
    return group


def _announce(group: PeerActor, n: int, inner: dict[str, Any]) -> dict[str, Any]:
    return {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{group.uri}/activities/announce/{n}",
            "type": "Announce", "actor": group.uri, "to": [PUBLIC], "object": inner}  # fmt: skip


async def test_a_group_cannot_delete_another_servers_account_only_relay_its_own_deletion(
    app: Starlette,
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    urls: LocalUrls,
    lemmy: RecordingPeer,
    other_peer: FakePeer,
) -> None:
    group = await _followed_group(app, client, pool, urls, lemmy)
    # bea, a company on a third server, posts in the group; we learn her and her profile from her server
    bea = other_peer.actor("bea", key=2, actor_type="Organization", name="Bea Bolts")
    bea.doc.update({"legalName": "Bea Bolts GmbH", "isicV4": "C", "discoverable": True})
    note = other_peer.note(bea, "<p>M8 bolts, 10,000 a month</p>", cc=[group.uri])
    reply = other_peer.note(bea, "<p>still available</p>", in_reply_to=note["id"], cc=[group.uri])
    for n, post in enumerate((note, reply)):
        record = await receive(app, client, _announce(group, n, other_peer.activity("Create", bea, post)), group)
        assert record["error"] is None, record["error"]
    bea_row = await pool.fetchrow("SELECT * FROM actors WHERE uri = $1", bea.uri)
    assert [r["id"] for r in await directory.search(pool, q="Bea")] == [bea_row["id"]]

    async def untouched() -> None:
        row = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", bea_row["id"])
        assert row["suspended_at"] is None and row["display_name"] == "Bea Bolts"
        assert await pool.fetchval("SELECT count(*) FROM statuses WHERE actor_id = $1", bea_row["id"]) == 2

    # the group claims bea deleted her account, but her server still serves it: not believed
    forged = other_peer.activity("Delete", bea, bea.uri, to=[PUBLIC])
    record = await receive(app, client, _announce(group, 10, forged), group)
    assert record["error"] == f"{bea.uri} still exists at its origin: the relayed Delete is not believed"
    await untouched()
    # a moderator on the group's host "deletes" her account: no one but an account deletes itself
    mod = lemmy_person(lemmy, "mod", key=5)
    removal = {"id": f"{lemmy.base}/activities/delete/11", "type": "Delete", "actor": mod.uri, "object": bea.uri}
    record = await receive(app, client, _announce(group, 11, removal), group)
    assert record["error"] == "Delete of a post we do not have"
    await untouched()

    # once her server answers 410 Gone, the relayed deletion is believed: account, posts, profile go
    other_peer.serve(bea.uri, {"error": "gone"}, status=410)
    record = await receive(app, client, _announce(group, 12, forged), group)
    assert record["error"] is None, record["error"]
    row = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", bea_row["id"])
    assert row["suspended_at"] is not None and row["display_name"] == "" and row["note"] == ""
    assert await pool.fetchval("SELECT count(*) FROM statuses WHERE actor_id = $1", bea_row["id"]) == 0
    assert await pool.fetchval("SELECT 1 FROM organization_profiles WHERE actor_id = $1", bea_row["id"]) is None
    assert await directory.search(pool, q="Bea") == []
