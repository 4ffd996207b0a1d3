"""Follow, block and mute through the client API, relationships, and the lists of accounts they make."""

from __future__ import annotations

import httpx

from fediverse_biz.core import accounts, follows
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import api_headers
from tests.support.factories import deliveries, remote_actor
from tests.support.mastodon_schemas import assert_matches
from tests.support.social import Member, checked, error, member, token


def path(who: Member | int, action: str) -> str:
    account_id = who.id if isinstance(who, Member) else who
    return f"/api/v1/accounts/{account_id}/{action}"


# ---- follow / unfollow -------------------------------------------------------------------------
async def test_follow_and_unfollow_a_local_account(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    rel = await checked(
        client.post(path(bob, "follow"), data={"reblogs": "0", "notify": "1"}, headers=alice.headers), "relationship"
    )
    assert rel["id"] == bob.account_id and rel["following"] is True and rel["requested"] is False
    assert rel["showing_reblogs"] is False and rel["notifying"] is True
    back = await checked(
        client.get(f"/api/v1/accounts/relationships?id={alice.id}", headers=bob.headers), "relationship"
    )
    assert back[0]["followed_by"] is True
    rel = await checked(client.post(path(bob, "follow"), headers=alice.headers), "relationship")  # toot: empty POST
    assert rel["showing_reblogs"] is True and rel["notifying"] is False  # options updated, still following
    rel = await checked(client.post(path(bob, "unfollow"), headers=alice.headers), "relationship")
    assert rel["following"] is False
    assert await deliveries(db.pool) == []


async def test_follow_a_remote_account_sends_follow_and_is_requested(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    far = await remote_actor(db.pool, "far", "far.example")
    rel = await checked(client.post(path(far["id"], "follow"), headers=alice.headers), "relationship")
    assert rel["requested"] is True and rel["following"] is False
    assert await deliveries(db.pool) == [("https://far.example/users/far/inbox", "Follow")]
    job = await db.pool.fetchval("SELECT payload FROM jobs")
    assert job["activity"]["actor"] == alice.actor["uri"] and job["activity"]["object"] == far["uri"]
    rel = await checked(client.post(path(far["id"], "unfollow"), headers=alice.headers), "relationship")
    assert rel["requested"] is False
    assert [kind for _, kind in await deliveries(db.pool)] == ["Follow", "Undo"]


async def test_follow_refusals(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    assert "yourself" in await error(client.post(path(alice, "follow"), headers=alice.headers), 403)
    await checked(client.post(path(alice, "block"), headers=bob.headers), "relationship")
    await error(client.post(path(bob, "follow"), headers=alice.headers), 403)  # bob blocks alice
    await error(client.post(path(999, "follow"), headers=alice.headers), 404)
    await error(client.post(path("nope", "follow"), headers=alice.headers), 404)  # type: ignore[arg-type]
    await error(client.post(path(bob, "follow")), 401)
    await error(client.post(path(bob, "follow"), headers=await token(db, alice, "read")), 403)
    await error(client.post(path(bob, "follow"), data={"reblogs": "sometimes"}, headers=alice.headers), 422)
    assert await db.pool.fetchval("SELECT count(*) FROM follows") == 0


async def test_follow_and_write_scopes_are_granular(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    await checked(client.post(path(bob, "follow"), headers=await token(db, alice, "follow")), "relationship")
    await checked(client.post(path(bob, "mute"), headers=await token(db, alice, "write:mutes")), "relationship")
    await error(client.post(path(bob, "block"), headers=await token(db, alice, "write:mutes")), 403)
    await error(client.get("/api/v1/blocks", headers=await token(db, alice, "read:mutes")), 403)


# ---- follow requests ---------------------------------------------------------------------------
async def test_locked_account_authorizes_and_rejects_requests(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    boss = await member(db, urls, "boss")
    await db.pool.execute("UPDATE actors SET locked = true WHERE id = $1", boss.id)
    fans = [await member(db, urls, f"fan{n}") for n in range(3)]
    for fan in fans:
        rel = await checked(client.post(path(boss, "follow"), headers=fan.headers), "relationship")
        assert rel["requested"] is True and rel["following"] is False
    response = await client.get("/api/v1/follow_requests?limit=2", headers=boss.headers)
    page = validated(response, "account")
    assert [a["id"] for a in page] == [fans[2].account_id, fans[1].account_id]
    assert response.headers["link"].startswith(f"<{urls.base}/api/v1/follow_requests?limit=2&max_id=")
    rest = await checked(client.get(_next(response), headers=boss.headers), "account")
    assert [a["id"] for a in rest] == [fans[0].account_id]
    me = await checked(client.get("/api/v1/accounts/verify_credentials", headers=boss.headers), "credential_account")
    assert me["source"]["follow_requests_count"] == 3
    rel = await checked(
        client.post(f"/api/v1/follow_requests/{fans[0].id}/authorize", headers=boss.headers), "relationship"
    )
    assert rel["followed_by"] is True and rel["requested_by"] is False
    rel = await checked(
        client.post(f"/api/v1/follow_requests/{fans[1].id}/reject", headers=boss.headers), "relationship"
    )
    assert rel["followed_by"] is False and rel["requested_by"] is False
    await error(client.post(f"/api/v1/follow_requests/{fans[1].id}/authorize", headers=boss.headers), 404)
    await error(client.post("/api/v1/follow_requests/junk/authorize", headers=boss.headers), 404)
    [fan0] = await checked(
        client.get(f"/api/v1/accounts/relationships?id[]={boss.id}", headers=fans[0].headers), "relationship"
    )
    assert fan0["following"] is True
    left = await checked(client.get("/api/v1/follow_requests", headers=boss.headers), "account")
    assert [a["id"] for a in left] == [fans[2].account_id]


async def test_authorizing_a_remote_request_sends_accept(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    boss = await member(db, urls, "boss")
    far = await remote_actor(db.pool, "far", "far.example")
    await db.pool.execute(
        "INSERT INTO follow_requests (actor_id, target_actor_id, uri) VALUES ($1, $2, 'https://far.example/f/1')",
        far["id"],
        boss.id,
    )
    rel = await checked(
        client.post(f"/api/v1/follow_requests/{far['id']}/authorize", headers=boss.headers), "relationship"
    )
    assert rel["followed_by"] is True
    assert await deliveries(db.pool) == [("https://far.example/users/far/inbox", "Accept")]


# ---- relationships -----------------------------------------------------------------------------
async def test_relationships_accepts_id_and_id_brackets_and_skips_junk(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    far = await remote_actor(db.pool, "far", "far.example")
    query = f"id[]={bob.id}&id[]=junk&id[]={far['id']}&id[]=12345&id[]={bob.id}"
    rels = await checked(client.get(f"/api/v1/accounts/relationships?{query}", headers=alice.headers), "relationship")
    assert [r["id"] for r in rels] == [bob.account_id, str(far["id"])]
    assert all(r["following"] is False and r["note"] == "" for r in rels)
    one = await checked(
        client.get(f"/api/v1/accounts/relationships?id={bob.id}", headers=alice.headers), "relationship"
    )
    assert [r["id"] for r in one] == [bob.account_id]
    await db.pool.execute("UPDATE actors SET suspended_at = now() WHERE id = $1", far["id"])
    rels = await checked(
        client.get(f"/api/v1/accounts/relationships?id[]={far['id']}", headers=alice.headers), "relationship"
    )
    assert rels == []
    rels = await checked(
        client.get(f"/api/v1/accounts/relationships?id[]={far['id']}&with_suspended=true", headers=alice.headers),
        "relationship",
    )
    assert [r["id"] for r in rels] == [str(far["id"])]
    await error(client.get(f"/api/v1/accounts/relationships?id={bob.id}"), 401)
    await error(client.get(f"/api/v1/accounts/relationships?id={bob.id}", headers=await token(db, alice, "write")), 403)
    assert await checked(client.get("/api/v1/accounts/relationships", headers=alice.headers), "relationship") == []


# ---- blocks and mutes --------------------------------------------------------------------------
async def test_block_breaks_follows_both_ways_and_lists(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    await follows.follow(db.pool, alice.actor, bob.actor)
    await follows.follow(db.pool, bob.actor, alice.actor)
    rel = await checked(client.post(path(bob, "block"), headers=alice.headers), "relationship")
    assert rel["blocking"] is True and rel["following"] is False and rel["followed_by"] is False
    seen_by_bob = await checked(
        client.get(f"/api/v1/accounts/relationships?id={alice.id}", headers=bob.headers), "relationship"
    )
    assert seen_by_bob[0]["blocked_by"] is True
    blocks = await checked(client.get("/api/v1/blocks", headers=alice.headers), "account")
    assert [a["id"] for a in blocks] == [bob.account_id]
    rel = await checked(client.post(path(bob, "unblock"), headers=alice.headers), "relationship")
    assert rel["blocking"] is False
    assert await checked(client.get("/api/v1/blocks", headers=alice.headers), "account") == []
    assert "yourself" in await error(client.post(path(alice, "block"), headers=alice.headers), 403)


async def test_blocking_a_remote_account_sends_block(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    far = await remote_actor(db.pool, "far", "far.example")
    await checked(client.post(path(far["id"], "block"), headers=alice.headers), "relationship")
    await checked(client.post(path(far["id"], "unblock"), headers=alice.headers), "relationship")
    assert [kind for _, kind in await deliveries(db.pool)] == ["Block", "Undo"]


async def test_mute_with_duration_and_without_notifications(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, carol = await member(db, urls, "alice"), await member(db, urls, "bob"), await member(db, urls, "carol")
    rel = await checked(
        client.post(path(bob, "mute"), data={"notifications": "0", "duration": "3600"}, headers=alice.headers),
        "relationship",
    )
    assert rel["muting"] is True and rel["muting_notifications"] is False
    rel = await checked(
        client.post(path(carol, "mute"), json={"notifications": True}, headers=alice.headers), "relationship"
    )
    assert rel["muting_notifications"] is True
    mutes = await checked(client.get("/api/v1/mutes", headers=alice.headers), "account")
    assert [(a["id"], a["mute_expires_at"] is None) for a in mutes] == [
        (carol.account_id, True),
        (bob.account_id, False),
    ]
    await error(client.post(path(bob, "mute"), data={"duration": "-5"}, headers=alice.headers), 422)
    await error(client.post(path(bob, "mute"), data={"duration": "9" * 30}, headers=alice.headers), 422)
    rel = await checked(client.post(path(bob, "unmute"), headers=alice.headers), "relationship")
    assert rel["muting"] is False
    await db.pool.execute("UPDATE mutes SET expires_at = now() - interval '1 second'")
    assert await checked(client.get("/api/v1/mutes", headers=alice.headers), "account") == []


async def test_remove_from_followers(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    far = await remote_actor(db.pool, "far", "far.example")
    await follows.follow(db.pool, bob.actor, alice.actor)
    async with db.pool.acquire() as conn:
        await follows.accept_follow(conn, far, alice.actor, "https://far.example/follows/9")
    rel = await checked(client.post(path(bob, "remove_from_followers"), headers=alice.headers), "relationship")
    assert rel["followed_by"] is False
    rel = await checked(client.post(path(far["id"], "remove_from_followers"), headers=alice.headers), "relationship")
    assert rel["followed_by"] is False
    assert [kind for _, kind in await deliveries(db.pool)] == ["Accept", "Reject"]
    job = await db.pool.fetchval("SELECT payload FROM jobs ORDER BY id DESC LIMIT 1")
    assert job["activity"]["object"]["id"] == "https://far.example/follows/9"


# ---- followers, following, search, familiar followers ------------------------------------------
async def test_followers_and_following_page_by_follow_with_link_headers(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    star = await member(db, urls, "star")
    fans = [await member(db, urls, f"fan{n}") for n in range(3)]
    for fan in reversed(fans):  # fan2 follows first: ordering is by the follow, not the account
        await follows.follow(db.pool, fan.actor, star.actor)
    response = await client.get(f"/api/v1/accounts/{star.id}/followers?limit=2")
    page = validated(response, "account")
    assert [a["id"] for a in page] == [fans[0].account_id, fans[1].account_id]
    rest = await checked(client.get(_next(response)), "account")
    assert [a["id"] for a in rest] == [fans[2].account_id]
    following = await checked(client.get(f"/api/v1/accounts/{fans[0].id}/following"), "account")
    assert [a["id"] for a in following] == [star.account_id]
    await db.pool.execute("UPDATE actors SET suspended_at = now() WHERE id = $1", fans[0].id)
    page = await checked(client.get(f"/api/v1/accounts/{star.id}/followers"), "account")
    assert fans[0].account_id not in [a["id"] for a in page]
    await error(client.get("/api/v1/accounts/0/followers"), 404)


async def test_account_search(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    await member(db, urls, "alfred")
    await remote_actor(db.pool, "alice", "far.example")
    found = await checked(client.get("/api/v1/accounts/search?q=al", headers=alice.headers), "account")
    assert {a["acct"] for a in found} == {"alice", "alfred", "alice@far.example"}
    found = await checked(client.get("/api/v1/accounts/search?q=@alice@far.example", headers=alice.headers), "account")
    assert found[0]["acct"] == "alice@far.example"
    found = await checked(client.get("/api/v1/accounts/search?q=alice&limit=1", headers=alice.headers), "account")
    assert [a["acct"] for a in found] == ["alice"]
    assert await checked(client.get("/api/v1/accounts/search?q=%25", headers=alice.headers), "account") == []
    assert await checked(client.get("/api/v1/accounts/search?q=", headers=alice.headers), "account") == []
    followed = await checked(
        client.get("/api/v1/accounts/search?q=al&following=true", headers=alice.headers), "account"
    )
    assert followed == []
    await error(client.get("/api/v1/accounts/search?q=al"), 401)


async def test_familiar_followers(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob, carol = await member(db, urls, "alice"), await member(db, urls, "bob"), await member(db, urls, "carol")
    await follows.follow(db.pool, alice.actor, bob.actor)
    await follows.follow(db.pool, bob.actor, carol.actor)
    response = await client.get(f"/api/v1/accounts/familiar_followers?id[]={carol.id}&id[]=x", headers=alice.headers)
    [entry] = response.json()
    assert entry["id"] == carol.account_id and [a["id"] for a in entry["accounts"]] == [bob.account_id]
    for account in entry["accounts"]:
        assert_matches("account", account)


# ---- acting for an organization ----------------------------------------------------------------
async def test_an_organization_token_follows_as_the_organization(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    acme = await accounts.create_organization(db.pool, urls, "acme", "alice")
    as_acme = await api_headers(db.pool, alice.user, actor_id=acme["id"])
    rel = await checked(client.post(path(bob, "follow"), headers=as_acme), "relationship")
    assert rel["following"] is True
    assert await db.pool.fetchval("SELECT actor_id FROM follows") == acme["id"]
    mine = await checked(
        client.get(f"/api/v1/accounts/relationships?id={bob.id}", headers=alice.headers), "relationship"
    )
    assert mine[0]["following"] is False


def validated(response: httpx.Response, entity: str) -> list[dict[str, object]]:
    assert response.status_code == 200, response.text
    body: list[dict[str, object]] = response.json()
    for item in body:
        assert_matches(entity, item)
    return body


def _next(response: httpx.Response) -> str:
    link = response.headers["link"]
    return link[1 : link.index(">")]
