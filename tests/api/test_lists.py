"""Lists: CRUD, members (followed accounts only), the list timeline with its replies policy and what the
owner may see, exclusive lists leaving the home timeline, scopes and hostile input."""

from __future__ import annotations

from typing import Any

import httpx

from fediverse_biz.core import follows, lists
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.social import Member, checked, error, member, token


async def new_list(client: httpx.AsyncClient, owner: Member, **form: str) -> dict[str, Any]:
    made: dict[str, Any] = await checked(client.post("/api/v1/lists", data=form, headers=owner.headers), "list")
    return made


async def say(client: httpx.AsyncClient, who: Member, text: str, **extra: str) -> str:
    status = await checked(
        client.post("/api/v1/statuses", data={"status": text, **extra}, headers=who.headers), "status"
    )
    return str(status["id"])


async def timeline(client: httpx.AsyncClient, owner: Member, list_id: str, query: str = "") -> list[str]:
    body = await checked(client.get(f"/api/v1/timelines/list/{list_id}{query}", headers=owner.headers), "status")
    return [s["id"] for s in body]


async def home(client: httpx.AsyncClient, owner: Member) -> list[str]:
    return [s["id"] for s in await checked(client.get("/api/v1/timelines/home", headers=owner.headers), "status")]


async def test_create_show_update_delete(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = [await member(db, urls, n) for n in ("alice", "bob")]
    made = await new_list(client, alice, title="Suppliers")
    assert made == {"id": made["id"], "title": "Suppliers", "replies_policy": "list", "exclusive": False}
    other = await new_list(client, alice, title="Press", replies_policy="none", exclusive="true")
    assert other["replies_policy"] == "none" and other["exclusive"] is True
    listed = await checked(client.get("/api/v1/lists", headers=alice.headers), "list")
    assert [item["title"] for item in listed] == ["Suppliers", "Press"]
    assert await checked(client.get(f"/api/v1/lists/{made['id']}", headers=alice.headers), "list") == made

    changed = await checked(
        client.put(f"/api/v1/lists/{made['id']}", json={"title": "Key suppliers", "exclusive": True},
                   headers=alice.headers), "list")  # fmt: skip
    assert changed == {**made, "title": "Key suppliers", "exclusive": True}
    changed = await checked(
        client.put(f"/api/v1/lists/{made['id']}", data={"replies_policy": "followed"}, headers=alice.headers), "list"
    )
    assert changed["title"] == "Key suppliers" and changed["replies_policy"] == "followed"

    # another account's list is unknown to bob, whatever he tries
    assert await checked(client.get("/api/v1/lists", headers=bob.headers), "list") == []
    await error(client.get(f"/api/v1/lists/{made['id']}", headers=bob.headers), 404)
    await error(client.put(f"/api/v1/lists/{made['id']}", data={"title": "mine"}, headers=bob.headers), 404)
    await error(client.delete(f"/api/v1/lists/{made['id']}", headers=bob.headers), 404)
    await error(client.get(f"/api/v1/timelines/list/{made['id']}", headers=bob.headers), 404)

    assert (await client.delete(f"/api/v1/lists/{made['id']}", headers=alice.headers)).json() == {}
    await error(client.get(f"/api/v1/lists/{made['id']}", headers=alice.headers), 404)


async def test_invalid_input(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    assert "Title can't be blank" in await error(client.post("/api/v1/lists", headers=alice.headers), 422)
    await error(client.post("/api/v1/lists", data={"title": "   "}, headers=alice.headers), 422)
    await error(client.post("/api/v1/lists", data={"title": "x" * 257}, headers=alice.headers), 422)
    await error(client.post("/api/v1/lists", json={"title": "a\u0000b"}, headers=alice.headers), 422)
    await error(client.post("/api/v1/lists", data={"title": "ok", "replies_policy": "all"}, headers=alice.headers), 422)
    await error(client.post("/api/v1/lists", data={"title": "ok", "exclusive": "maybe"}, headers=alice.headers), 422)
    for bad in ("abc", "0", "99999999999999999999"):
        await error(client.get(f"/api/v1/lists/{bad}", headers=alice.headers), 404)
    for n in range(lists.PER_ACCOUNT_LIMIT):
        await new_list(client, alice, title=f"list {n}")
    assert "50 lists" in await error(client.post("/api/v1/lists", data={"title": "one more"}, headers=alice.headers),
                                     422)  # fmt: skip


async def test_members_must_be_followed(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob, carol, dave = [await member(db, urls, n) for n in ("alice", "bob", "carol", "dave")]
    await follows.follow(db.pool, alice.actor, bob.actor)
    await follows.follow(db.pool, alice.actor, dave.actor)
    made = await new_list(client, alice, title="Partners")
    path = f"/api/v1/lists/{made['id']}/accounts"
    assert (await client.post(path, data={"account_ids[]": [bob.account_id]}, headers=alice.headers)).json() == {}
    await error(client.post(path, data={"account_ids[]": [carol.account_id]}, headers=alice.headers), 422)
    # all or none: dave is not added either
    await error(client.post(path, data={"account_ids[]": [dave.account_id, carol.account_id]}, headers=alice.headers),
                422)  # fmt: skip
    await error(client.post(path, data={"account_ids[]": ["123456789"]}, headers=alice.headers), 404)
    await error(client.post(path, data={"account_ids[]": ["abc"]}, headers=alice.headers), 422)
    await error(client.post(path, data={"account_ids[]": [bob.account_id]}, headers=bob.headers), 404)  # not his list
    listed = await checked(client.get(path, headers=alice.headers), "account")
    assert [a["id"] for a in listed] == [bob.account_id]
    assert (await client.post(path, json={"account_ids": [dave.account_id]}, headers=alice.headers)).json() == {}

    # paging by account id, and limit=0 for everyone
    response = await client.get(f"{path}?limit=1", headers=alice.headers)
    first = [a["id"] for a in response.json()]
    assert first == [max(bob.account_id, dave.account_id, key=int)] and 'rel="next"' in response.headers["link"]
    everyone = await client.get(f"{path}?limit=0", headers=alice.headers)
    assert len(everyone.json()) == 2 and "link" not in everyone.headers

    of_bob = await checked(client.get(f"/api/v1/accounts/{bob.account_id}/lists", headers=alice.headers), "list")
    assert [item["id"] for item in of_bob] == [made["id"]]
    assert await checked(client.get(f"/api/v1/accounts/{bob.account_id}/lists", headers=bob.headers), "list") == []
    await error(client.get("/api/v1/accounts/123456789/lists", headers=alice.headers), 404)

    # unfollowing takes bob off the list; removing dave explicitly
    await checked(client.post(f"/api/v1/accounts/{bob.account_id}/unfollow", headers=alice.headers), "relationship")
    assert [a["id"] for a in await checked(client.get(path, headers=alice.headers), "account")] == [dave.account_id]
    response = await client.request("DELETE", path, data={"account_ids[]": [dave.account_id]}, headers=alice.headers)
    assert response.json() == {}
    assert await checked(client.get(path, headers=alice.headers), "account") == []


async def test_list_timeline_shows_what_the_owner_may_see(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, carol, _dave = [await member(db, urls, n) for n in ("alice", "bob", "carol", "dave")]
    await follows.follow(db.pool, alice.actor, bob.actor)
    made = await new_list(client, alice, title="Bob")
    await client.post(f"/api/v1/lists/{made['id']}/accounts", data={"account_ids[]": bob.account_id},
                      headers=alice.headers)  # fmt: skip
    public = await say(client, bob, "our catalogue")
    private = await say(client, bob, "for followers", visibility="private")
    await say(client, bob, "@dave secret", visibility="direct")  # alice is not addressed
    await say(client, carol, "not on the list")
    to_alice = await say(client, bob, "@alice thanks", in_reply_to_id=public)
    boosted = await say(client, carol, "carol's news")
    boost = await checked(client.post(f"/api/v1/statuses/{boosted}/reblog", headers=bob.headers), "status")
    assert await timeline(client, alice, made["id"]) == [boost["id"], to_alice, private, public]
    # paging with Link
    response = await client.get(f"/api/v1/timelines/list/{made['id']}?limit=2", headers=alice.headers)
    assert f"max_id={to_alice}" in response.headers["link"]
    assert await timeline(client, alice, made["id"], f"?max_id={to_alice}") == [private, public]
    # alice mutes carol: the boost of carol's post leaves the list too
    await checked(client.post(f"/api/v1/accounts/{carol.account_id}/mute", headers=alice.headers), "relationship")
    assert await timeline(client, alice, made["id"]) == [to_alice, private, public]
    # bob blocks alice: nothing of his remains visible to her
    await checked(client.post(f"/api/v1/accounts/{alice.account_id}/block", headers=bob.headers), "relationship")
    assert await timeline(client, alice, made["id"]) == []


async def test_replies_policy(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob, carol, erin = [await member(db, urls, n) for n in ("alice", "bob", "carol", "erin")]
    for target in (bob, carol):
        await follows.follow(db.pool, alice.actor, target.actor)
    by_policy = {p: await new_list(client, alice, title=p, replies_policy=p) for p in lists.REPLIES_POLICIES}
    for made in by_policy.values():
        await client.post(f"/api/v1/lists/{made['id']}/accounts", data={"account_ids[]": bob.account_id},
                          headers=alice.headers)  # fmt: skip
    await client.post(f"/api/v1/lists/{by_policy['list']['id']}/accounts", data={"account_ids[]": carol.account_id},
                      headers=alice.headers)  # fmt: skip
    carols = await say(client, carol, "carol asks")
    erins = await say(client, erin, "erin asks")
    own = await say(client, bob, "a thread")
    to_carol = await say(client, bob, "@carol answer", in_reply_to_id=carols)  # followed, and on the 'list' list
    to_erin = await say(client, bob, "@erin answer", in_reply_to_id=erins)  # neither followed nor listed
    thread = await say(client, bob, "more", in_reply_to_id=own)  # to himself: always shown
    bobs = [thread, to_carol, own]
    assert await timeline(client, alice, by_policy["followed"]["id"]) == bobs
    assert await timeline(client, alice, by_policy["list"]["id"]) == [thread, to_carol, own, carols]
    assert await timeline(client, alice, by_policy["none"]["id"]) == [thread, own]
    assert to_erin not in await timeline(client, alice, by_policy["followed"]["id"])


async def test_exclusive_lists_keep_members_out_of_home(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, carol = [await member(db, urls, n) for n in ("alice", "bob", "carol")]
    for target in (bob, carol):
        await follows.follow(db.pool, alice.actor, target.actor)
    exclusive = await new_list(client, alice, title="Bob only", exclusive="true")
    shared = await new_list(client, alice, title="Carol too")
    await client.post(f"/api/v1/lists/{exclusive['id']}/accounts", data={"account_ids[]": bob.account_id},
                      headers=alice.headers)  # fmt: skip
    await client.post(f"/api/v1/lists/{shared['id']}/accounts", data={"account_ids[]": carol.account_id},
                      headers=alice.headers)  # fmt: skip
    from_bob = await say(client, bob, "bob's post")
    from_carol = await say(client, carol, "carol's post")
    assert await home(client, alice) == [from_carol]
    assert await timeline(client, alice, exclusive["id"]) == [from_bob]
    assert await timeline(client, alice, shared["id"]) == [from_carol]
    # bob's own home is untouched, and a direct message to alice still reaches her home
    assert await home(client, bob) == [from_bob]
    dm = await say(client, bob, "@alice just you", visibility="direct")
    assert (await home(client, alice))[0] == dm


async def test_scopes(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    made = await new_list(client, alice, title="Scoped")
    statuses_only = await token(db, alice, "read:statuses write:statuses")
    await error(client.get("/api/v1/lists", headers=statuses_only), 403)
    await error(client.get(f"/api/v1/timelines/list/{made['id']}", headers=statuses_only), 403)
    await error(client.post("/api/v1/lists", data={"title": "x"}, headers=statuses_only), 403)
    reader = await token(db, alice, "read:lists")
    await checked(client.get("/api/v1/lists", headers=reader), "list")
    await checked(client.get(f"/api/v1/timelines/list/{made['id']}", headers=reader), "status")
    await error(client.post("/api/v1/lists", data={"title": "x"}, headers=reader), 403)
    await error(client.delete(f"/api/v1/lists/{made['id']}", headers=reader), 403)
    writer = await token(db, alice, "write:lists")
    await checked(client.post("/api/v1/lists", data={"title": "x"}, headers=writer), "list")
    await error(client.get("/api/v1/lists"), 401)
