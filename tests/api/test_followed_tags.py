"""Followed hashtags: follow, unfollow, the Tag entity's `following`, the paged list, and tagged public
posts, local and remote, entering the follower's home timeline (and only those)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.activitypub.notes import note_from_ap
from fediverse_biz.core import follows, remote_statuses
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD, create_user_sync
from tests.support.factories import remote_actor
from tests.support.js_clients import JsClients
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer
from tests.support.social import Member, checked, error, member, token


async def say(client: httpx.AsyncClient, who: Member, text: str, **extra: str) -> str:
    status = await checked(
        client.post("/api/v1/statuses", data={"status": text, **extra}, headers=who.headers), "status"
    )
    return str(status["id"])


async def home(client: httpx.AsyncClient, who: Member) -> list[str]:
    return [s["id"] for s in await checked(client.get("/api/v1/timelines/home", headers=who.headers), "status")]


async def test_follow_unfollow_and_list(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = [await member(db, urls, n) for n in ("alice", "bob")]
    followed = await checked(client.post("/api/v1/tags/Export/follow", headers=alice.headers), "tag")
    assert followed["name"] == "Export" and followed["following"] is True and "id" in followed
    again = await checked(client.post("/api/v1/tags/export/follow", headers=alice.headers), "tag")
    assert again["id"] == followed["id"] and again["name"] == "Export"  # one hashtag, whatever the case
    assert (await checked(client.get("/api/v1/tags/export", headers=alice.headers), "tag"))["following"] is True
    assert (await checked(client.get("/api/v1/tags/export", headers=bob.headers), "tag"))["following"] is False
    assert (await checked(client.get("/api/v1/tags/export"), "tag"))["following"] is False

    for name in ("trade", "logistics"):
        await checked(client.post(f"/api/v1/tags/{name}/follow", headers=alice.headers), "tag")
    listed = await checked(client.get("/api/v1/followed_tags", headers=alice.headers), "tag")
    assert [t["name"] for t in listed] == ["logistics", "trade", "Export"] and all(t["following"] for t in listed)
    response = await client.get("/api/v1/followed_tags?limit=2", headers=alice.headers)
    assert [t["name"] for t in response.json()] == ["logistics", "trade"]
    next_url = response.headers["link"].split(">")[0][1:]
    assert [t["name"] for t in await checked(client.get(next_url, headers=alice.headers), "tag")] == ["Export"]
    assert await checked(client.get("/api/v1/followed_tags", headers=bob.headers), "tag") == []

    unfollowed = await checked(client.post("/api/v1/tags/trade/unfollow", headers=alice.headers), "tag")
    assert unfollowed["following"] is False
    never = await checked(client.post("/api/v1/tags/neverused/unfollow", headers=alice.headers), "tag")
    assert never["following"] is False
    listed = await checked(client.get("/api/v1/followed_tags", headers=alice.headers), "tag")
    assert [t["name"] for t in listed] == ["logistics", "Export"]

    # scopes and hostile names
    await error(client.post("/api/v1/tags/trade/follow", headers=await token(db, alice, "read")), 403)
    await error(client.get("/api/v1/followed_tags", headers=await token(db, alice, "read:statuses")), 403)
    await checked(client.get("/api/v1/followed_tags", headers=await token(db, alice, "read:follows")), "tag")
    await error(client.post("/api/v1/tags/trade/follow"), 401)
    for bad in ("a%20b", "%00", "%ED%A0%80", "-", "%23"):
        assert (await client.post(f"/api/v1/tags/{bad}/follow", headers=alice.headers)).status_code in (404, 422)
    assert len(await checked(client.get("/api/v1/followed_tags", headers=alice.headers), "tag")) == 2


async def test_tagged_public_posts_enter_the_home_timeline(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, carol = [await member(db, urls, n) for n in ("alice", "bob", "carol")]
    await checked(client.post("/api/v1/tags/export/follow", headers=alice.headers), "tag")
    tagged = await say(client, bob, "Fair next week #Export")
    await say(client, bob, "Unrelated news")
    await say(client, bob, "Team only #export", visibility="private")  # alice does not follow bob
    unlisted = await say(client, bob, "Quiet #export", visibility="unlisted")
    await say(client, bob, "@carol #export for you", visibility="direct")
    boost = (await checked(client.post(f"/api/v1/statuses/{tagged}/reblog", headers=carol.headers), "status"))["id"]
    assert await home(client, alice) == [tagged]
    assert unlisted not in await home(client, alice) and boost not in await home(client, alice)

    # a remote public post with the hashtag arrives through the same fan-out
    peer = await remote_actor(db.pool, "trader", "peer.example")
    note: dict[str, Any] = {
        "id": f"{peer['uri']}/statuses/1", "type": "Note", "attributedTo": peer["uri"],
        "content": '<p>Shipping <a href="https://peer.example/tags/export" rel="tag">#<span>export</span></a></p>',
        "tag": [{"type": "Hashtag", "name": "#export", "href": "https://peer.example/tags/export"}],
        "published": "2026-01-01T12:00:00Z", "to": [PUBLIC], "cc": [peer["followers_url"]],
    }  # fmt: skip
    async with db.pool.acquire() as conn, conn.transaction():
        remote_id = await remote_statuses.store_remote_note(
            conn, note_from_ap(note, actor_followers_url=peer["followers_url"]), peer, urls
        )
    assert str(remote_id) in await home(client, alice)

    # a muted author stays out; after unfollowing the hashtag, new posts stay out
    await checked(client.post(f"/api/v1/accounts/{carol.account_id}/mute", headers=alice.headers), "relationship")
    muted = await say(client, carol, "Carol on #export")
    assert muted not in await home(client, alice)
    await checked(client.post("/api/v1/tags/export/unfollow", headers=alice.headers), "tag")
    later = await say(client, bob, "More #export")
    assert later not in await home(client, alice)
    # following the author too is still one row in the feed
    await follows.follow(db.pool, alice.actor, bob.actor)
    await checked(client.post("/api/v1/tags/export/follow", headers=alice.headers), "tag")
    both = await say(client, bob, "Both ways #export")
    assert (await home(client, alice)).count(both) == 1


async def test_clients_follow_hashtags(live_server: LiveServer, js_clients: JsClients) -> None:
    for name in ("alice", "bob"):
        await asyncio.to_thread(create_user_sync, live_server, name)
    alice = await asyncio.to_thread(password_login, live_server.base_url, "alice", PASSWORD)
    bob = await asyncio.to_thread(password_login, live_server.base_url, "bob", PASSWORD)
    followed = await asyncio.to_thread(alice.tag_follow, "suppliers")
    assert followed["following"] is True
    assert [t["name"] for t in await asyncio.to_thread(alice.followed_tags)] == ["suppliers"]
    posted = await asyncio.to_thread(bob.status_post, "Looking for #suppliers")
    assert [str(s["id"]) for s in await asyncio.to_thread(alice.timeline_home)] == [str(posted["id"])]
    out = await asyncio.to_thread(js_clients.run, "megalodon_tags.mjs", BASE_URL=live_server.base_url,
                                  TOKEN=str(alice.access_token))  # fmt: skip
    assert out["followed"]["following"] is True and out["followed"]["name"] == "logistics"
    assert sorted(t["name"] for t in out["listed"]) == ["logistics", "suppliers"]
    assert out["unfollowed"]["following"] is False
    unfollowed = await asyncio.to_thread(alice.tag_unfollow, "suppliers")
    assert unfollowed["following"] is False and await asyncio.to_thread(alice.followed_tags) == []
