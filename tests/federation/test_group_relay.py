"""The FEP-1b12 relay (federation/group_relay.py) and its receiving side (federation/inbound/groups.py).

A local hall relays what members send it — wrapped unchanged in Announce, and plainly boosted for new
threads — and refuses non-members and banned members. A followed remote group (a Lemmy community, shaped
by tests/fixtures/federation/lemmy/) is posted to with the group in cc and `audience`, and its
Announce(Create(Page)) becomes a thread in the follower's home timeline — but only what the group's own
origin can vouch for is believed: other hosts' posts are re-fetched, forged inner activities dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.business import hall_moderation
from fediverse_biz.core import follows
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.halls import RecordingPeer, acting, lemmy_fixture, lemmy_group, lemmy_person, make_hall
from tests.support.inbound import receive, row_of, without_context
from tests.support.peers import AS2, FakePeer, PeerActor, deliver, run_inbox_jobs
from tests.support.social import checked


@pytest.fixture
async def lemmy() -> AsyncIterator[RecordingPeer]:
    server = await RecordingPeer().start()
    yield server
    await server.stop()


async def _announces(pool: asyncpg.Pool, inbox: str) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver' ORDER BY id")
    return [r["payload"]["activity"] for r in rows if r["payload"]["inbox"] == inbox and
            r["payload"]["activity"]["type"] == "Announce"]  # fmt: skip


async def _hall_with_member(
    app: Starlette, client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, peer: FakePeer
) -> tuple[Any, PeerActor, asyncpg.Record]:
    """hall7 (moderated by alice) with rita, on the peer, as a member."""
    alice = await factories.local_actor(pool, urls, "alice")
    hall = await make_hall(pool, urls, alice)
    rita = peer.actor("rita")
    await receive(app, client, peer.activity("Follow", rita, hall.actor["uri"]), rita)
    return hall, rita, alice


def _to_hall(peer: FakePeer, author: PeerActor, hall: Any, text: str = "<p>lathe for sale</p>", **kw: Any) -> Any:
    mention = {"type": "Mention", "href": hall.actor["uri"], "name": "@hall7@127.0.0.1"}
    return peer.note(author, text, cc=[author.followers, hall.actor["uri"]], tag=[mention], **kw)


# ---- a local hall relays ----------------------------------------------------------------------------------
async def test_a_members_create_is_wrapped_unchanged_and_boosted(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    hall, rita, _ = await _hall_with_member(app, client, pool, urls, peer)
    create = peer.activity("Create", rita, _to_hall(peer, rita, hall), to=[PUBLIC], cc=[hall.actor["uri"]])
    record = await receive(app, client, create, rita)
    assert record["error"] is None
    wrapped, plain = await _announces(pool, f"{peer.base}/inbox")
    assert wrapped["actor"] == hall.actor["uri"] and wrapped["to"] == [PUBLIC]
    assert wrapped["cc"] == [hall.actor["followers_url"]]
    assert wrapped["object"] == create  # FEP-1b12: "preserved exactly as it was received"
    assert plain["object"] == create["object"]["id"]
    status = await pool.fetchrow("SELECT * FROM statuses WHERE uri = $1", create["object"]["id"])
    assert status["community_id"] == hall.id
    # the hall's outbox lists the Announce
    outbox = (await client.get("/c/hall7/outbox?page=true", headers={"Accept": AS2})).json()
    assert [item["id"] for item in outbox["orderedItems"]] == [wrapped["id"]]
    # a re-run of the same activity relays nothing twice
    await pool.execute("UPDATE inbox_activities SET processed_at = NULL")
    await pool.execute(
        """INSERT INTO jobs (kind, payload)
           SELECT 'inbox', jsonb_build_object('inbox_activity_id', id) FROM inbox_activities
            WHERE activity_type = 'Create'"""
    )
    await run_inbox_jobs(app)
    assert len(await _announces(pool, f"{peer.base}/inbox")) == 2


async def test_replies_likes_edits_and_deletes_are_relayed_wrapped_only(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    hall, rita, _ = await _hall_with_member(app, client, pool, urls, peer)
    thread = _to_hall(peer, rita, hall)
    await receive(app, client, peer.activity("Create", rita, thread), rita)
    # a reply in the thread that does not name the hall (as Mastodon apps write them)
    reply = peer.note(rita, "<p>still available?</p>", in_reply_to=thread["id"])
    await receive(app, client, peer.activity("Create", rita, reply), rita)
    like = peer.activity("Like", rita, thread["id"])
    await receive(app, client, like, rita)
    await receive(app, client, peer.activity("Undo", rita, without_context(like)), rita)
    edited = {**thread, "content": "<p>lathe sold</p>", "updated": "2024-05-02T12:00:00Z"}
    await receive(app, client, peer.activity("Update", rita, edited), rita)
    peer.serve(thread["id"], {"error": "gone"}, status=410)
    await receive(app, client, peer.activity("Delete", rita, thread["id"]), rita)
    relayed = await _announces(pool, f"{peer.base}/inbox")
    kinds = [a["object"]["type"] if isinstance(a["object"], dict) else "boost" for a in relayed]
    assert kinds == ["Create", "boost", "Create", "Like", "Undo", "Update", "Delete"]
    assert relayed[2]["object"]["object"]["id"] == reply["id"]


async def test_non_members_banned_members_and_private_posts_are_not_relayed(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    hall, rita, alice = await _hall_with_member(app, client, pool, urls, peer)
    sam = peer.actor("sam", key=1)
    await receive(app, client, peer.activity("Create", sam, _to_hall(peer, sam, hall)), sam)
    jobs = await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver' ORDER BY id")
    last = jobs[-1]["payload"]["activity"]
    assert last["type"] == "Reject" and last["actor"] == hall.actor["uri"]  # FEP-1b12: the group MAY Reject
    private = _to_hall(peer, rita, hall, "<p>followers only</p>", to=[rita.followers])
    await receive(app, client, peer.activity("Create", rita, private), rita)
    await hall_moderation.ban(pool, hall.id, await acting(pool, alice), (await row_of(app, rita))["id"])
    await receive(app, client, peer.activity("Create", rita, _to_hall(peer, rita, hall, "<p>again</p>")), rita)
    assert await _announces(pool, f"{peer.base}/inbox") == []
    assert await pool.fetchval("SELECT count(*) FROM statuses WHERE community_id IS NOT NULL") == 0


# ---- a remote Lemmy-shaped group --------------------------------------------------------------------------
async def _follow_lemmy_group(
    app: Starlette, client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, lemmy: RecordingPeer
) -> tuple[PeerActor, asyncpg.Record, Any]:
    group = lemmy_group(lemmy)
    alice = await member_row(pool, urls)
    group_row = await row_of(app, group)
    assert group_row["actor_type"] == "Group"
    await follows.follow(pool, alice, group_row)
    follow = (await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver'"))[-1]["payload"]["activity"]
    accept = lemmy_fixture("accept.json", lemmy) | {"object": without_context(follow)}
    await receive(app, client, accept, group)
    assert await pool.fetchval("SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2",
                               alice["id"], group_row["id"])  # fmt: skip
    return group, alice, group_row


async def member_row(pool: asyncpg.Pool, urls: LocalUrls) -> asyncpg.Record:
    return await factories.local_actor(pool, urls, "alice")


async def test_a_lemmy_groups_announced_page_is_a_thread_in_the_followers_home(
    app: Starlette, client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, lemmy: RecordingPeer, db: Any
) -> None:
    group, alice, group_row = await _follow_lemmy_group(app, client, pool, urls, lemmy)
    lemmy_person(lemmy, "lemmy_beta")
    announce = lemmy_fixture("announce_create_page.json", lemmy)
    announce["object"]["actor"] = announce["object"]["object"]["attributedTo"] = f"{lemmy.base}/u/lemmy_beta"
    announce["object"]["object"]["to"][0] = announce["actor"] = group.uri
    announce["id"] = f"{lemmy.base}/activities/announce/1"
    announce["@context"] = "https://www.w3.org/ns/activitystreams"
    record = await receive(app, client, announce, group)
    assert record["error"] is None, record["error"]
    page = await pool.fetchrow("SELECT * FROM statuses WHERE uri = $1", f"{lemmy.base}/post/7")
    assert page["object_type"] == "Page" and page["title"] == "post 4" and page["community_id"] == group_row["id"]
    boost = await pool.fetchrow("SELECT * FROM statuses WHERE reblog_of_id = $1", page["id"])
    assert boost["actor_id"] == group_row["id"]
    headers = await _token(db, pool, alice)
    home = await checked(client.get("/api/v1/timelines/home", headers=headers), "status")
    assert [(s["account"]["acct"], s["reblog"]["account"]["acct"]) for s in home] == [
        (f"main@{lemmy.host}", f"lemmy_beta@{lemmy.host}")
    ]
    assert "post 4" in home[0]["reblog"]["content"]


async def _token(db: Any, pool: asyncpg.Pool, actor: asyncpg.Record) -> dict[str, str]:
    from fediverse_biz.core.accounts import NewUser
    from tests.support.accounts import api_headers

    user_id = await pool.fetchval("SELECT id FROM users WHERE actor_id = $1", actor["id"])
    return await api_headers(pool, NewUser(user_id, actor["id"], actor["username"]))


async def test_posting_to_a_lemmy_group_addresses_it_as_lemmy_expects(
    app: Starlette, client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, lemmy: RecordingPeer
) -> None:
    group, alice, group_row = await _follow_lemmy_group(app, client, pool, urls, lemmy)
    status_id = await factories.post(pool, urls, alice, f"@main@{lemmy.host} Our new catalogue is out")
    jobs = await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver' ORDER BY id")
    create = jobs[-1]["payload"]["activity"]
    assert jobs[-1]["payload"]["inbox"] == f"{lemmy.base}/inbox"  # the group's shared inbox
    assert create["type"] == "Create" and group.uri in create["object"]["to"] + create["object"]["cc"]
    assert create["object"]["audience"] == group.uri
    assert await pool.fetchval("SELECT community_id FROM statuses WHERE id = $1", status_id) == group_row["id"]
    # a reply in the group's thread names the group too, mentioned or not, and goes to the group
    reply = await factories.post(pool, urls, alice, "Details inside", in_reply_to_id=status_id)
    last = (await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver' ORDER BY id"))[-1]["payload"]
    assert last["inbox"] == f"{lemmy.base}/inbox" and last["activity"]["object"]["audience"] == group.uri
    assert group.uri in last["activity"]["object"]["cc"]
    assert await pool.fetchval("SELECT community_id FROM statuses WHERE id = $1", reply) == group_row["id"]


# ---- hostile groups ---------------------------------------------------------------------------------------
async def test_a_post_from_a_third_host_is_refetched_not_trusted(
    app: Starlette,
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    urls: LocalUrls,
    lemmy: RecordingPeer,
    other_peer: FakePeer,
) -> None:
    group, _, _ = await _follow_lemmy_group(app, client, pool, urls, lemmy)
    mallory = other_peer.actor("mallory", key=2)
    real = other_peer.note(mallory, "<p>the real words</p>")
    forged = {**real, "content": "<p>words the group put in her mouth</p>"}
    create = other_peer.activity("Create", mallory, forged)
    announce = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{lemmy.base}/activities/announce/2",
                "type": "Announce", "actor": group.uri, "to": [PUBLIC], "object": create}  # fmt: skip
    record = await receive(app, client, announce, group)
    assert record["error"] is None, record["error"]
    stored = await pool.fetchrow("SELECT * FROM statuses WHERE uri = $1", real["id"])
    assert "the real words" in stored["content"]
    assert real["id"].removeprefix(other_peer.base) in other_peer.hits


async def test_a_forged_inner_activity_is_dropped(
    app: Starlette, client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, lemmy: RecordingPeer
) -> None:
    group, _, _ = await _follow_lemmy_group(app, client, pool, urls, lemmy)
    victim, liar = lemmy_person(lemmy, "victim"), lemmy_person(lemmy, "liar", key=5)
    page = {"id": f"{lemmy.base}/post/9", "type": "Page", "attributedTo": victim.uri, "name": "I never wrote this",
            "to": [group.uri, PUBLIC]}  # fmt: skip
    lemmy.serve(page["id"], page)
    create = {"id": f"{lemmy.base}/activities/create/9", "type": "Create", "actor": liar.uri, "object": page}
    announce = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{lemmy.base}/activities/announce/3",
                "type": "Announce", "actor": group.uri, "to": [PUBLIC], "object": create}  # fmt: skip
    record = await receive(app, client, announce, group)
    assert record["error"] == "forged: the announced activity's actor is not the post's author"
    assert await pool.fetchval("SELECT count(*) FROM statuses WHERE uri = $1", page["id"]) == 0
    # an inner activity whose id is not on its actor's host is dropped too
    create = {**create, "id": f"{lemmy.base}/activities/create/10", "actor": "https://elsewhere.example/u/x"}
    announce = {**announce, "id": f"{lemmy.base}/activities/announce/4", "object": create}
    record = await receive(app, client, announce, group)
    assert record["error"] == "the announced activity's id is not on its actor's host"


async def test_relayed_deletes_need_the_origins_word_or_the_groups_authority(
    app: Starlette,
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    urls: LocalUrls,
    lemmy: RecordingPeer,
    other_peer: FakePeer,
) -> None:
    group, _, group_row = await _follow_lemmy_group(app, client, pool, urls, lemmy)
    author = other_peer.actor("bea", key=2)
    note = other_peer.note(author, "<p>in the group</p>", cc=[group.uri])

    def announce(n: int, inner: dict[str, Any]) -> dict[str, Any]:
        return {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{lemmy.base}/activities/announce/{n}",
                "type": "Announce", "actor": group.uri, "to": [PUBLIC], "object": inner}  # fmt: skip

    await receive(app, client, announce(10, other_peer.activity("Create", author, note)), group)
    assert await pool.fetchval("SELECT community_id FROM statuses WHERE uri = $1", note["id"]) == group_row["id"]
    # the group claims bea deleted it, but bea's server still serves it: not believed
    record = await receive(app, client, announce(11, other_peer.activity("Delete", author, note["id"])), group)
    assert "still exists at its origin" in record["error"]
    # a moderator on the group's own host removes it: the group's authority over its posts
    mod = lemmy_person(lemmy, "mod", key=5)
    removal = {"id": f"{lemmy.base}/activities/delete/12", "type": "Delete", "actor": mod.uri, "object": note["id"]}
    record = await receive(app, client, announce(12, removal), group)
    assert record["error"] is None and await pool.fetchval("SELECT 1 FROM statuses WHERE uri = $1", note["id"]) is None


async def test_only_groups_somebody_follows_and_only_groups_are_unwrapped(
    app: Starlette, client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, lemmy: RecordingPeer
) -> None:
    group = lemmy_group(lemmy)
    person = lemmy_person(lemmy, "someone")
    page = {"id": f"{lemmy.base}/post/1", "type": "Page", "attributedTo": person.uri, "name": "x", "to": [PUBLIC]}
    inner = {"id": f"{lemmy.base}/activities/create/1", "type": "Create", "actor": person.uri, "object": page}
    for n, sender in enumerate((group, person)):
        doc = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{sender.uri}/announce/{n}",
               "type": "Announce", "actor": sender.uri, "object": inner}  # fmt: skip
        response = await deliver(client, doc, sender)
        assert response.status_code == 202
    await run_inbox_jobs(app)
    errors = [r["error"] for r in await pool.fetch("SELECT error FROM inbox_activities ORDER BY id")]
    assert errors == [
        "Announce by a group nobody here follows",
        "Announce of an activity by an actor that is not a group",
    ]


async def test_the_plain_boost_and_the_wrapped_create_make_one_thread_whatever_their_order(
    app: Starlette, client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, lemmy: RecordingPeer
) -> None:
    group, alice, group_row = await _follow_lemmy_group(app, client, pool, urls, lemmy)
    author = lemmy_person(lemmy, "beta")
    page = {"id": f"{lemmy.base}/post/5", "type": "Page", "attributedTo": author.uri, "name": "Spare parts",
            "to": [group.uri, PUBLIC], "published": "2024-05-01T12:00:00Z"}  # fmt: skip
    lemmy.serve(page["id"], page)
    create = {"id": f"{lemmy.base}/activities/create/5", "type": "Create", "actor": author.uri, "object": page}
    for n, obj in enumerate((page["id"], create)):  # Mastodon's form first, then FEP-1b12's
        doc = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{lemmy.base}/activities/announce/5{n}",
               "type": "Announce", "actor": group.uri, "to": [PUBLIC], "object": obj}  # fmt: skip
        record = await receive(app, client, doc, group)
        assert record["error"] is None, record["error"]
    status = await pool.fetchrow("SELECT * FROM statuses WHERE uri = $1", page["id"])
    assert status["community_id"] == group_row["id"] and status["reblogs_count"] == 1
    assert await pool.fetchval("SELECT count(*) FROM statuses WHERE reblog_of_id = $1", status["id"]) == 1
    assert await pool.fetchval("SELECT count(*) FROM home_feed WHERE actor_id = $1", alice["id"]) == 1


def test_only_a_create_that_names_nobody_here_and_replies_to_nothing_skips_the_hall_lookup() -> None:
    from fediverse_biz.federation.group_relay import _surely_no_hall

    ours = "fair.example"
    note = {"id": "https://peer.example/n/1", "type": "Note", "to": [PUBLIC], "cc": ["https://peer.example/u/followers"]}
    create = {"type": "Create", "actor": "https://peer.example/u", "object": note, "to": [PUBLIC]}
    assert _surely_no_hall("Create", create, ours)
    # any name on this server, wherever it hides, sends it to the lookup — case and default port included
    for named in (
        {"object": note | {"audience": "https://FAIR.example:443/c/shipping"}},
        {"object": note | {"tag": [{"type": "Mention", "href": "https://fair.example/c/shipping"}]}},
        {"cc": ["https://fair.example/c/shipping"]},
        {"object": note | {"bcc": [{"id": "https://fair.example/c/shipping"}]}},
    ):
        assert not _surely_no_hall("Create", create | named, ours), named
    assert not _surely_no_hall("Create", create | {"object": note | {"inReplyTo": "https://x.example/n/9"}}, ours)
    assert not _surely_no_hall("Create", create | {"object": note["id"]}, ours)  # fetched, unknown yet
    assert not _surely_no_hall("Like", create | {"type": "Like"}, ours)
    assert not _surely_no_hall("Create", create, None)  # our own outbox: always looked up
