"""Notifications (list, filters, paging, show, dismiss, clear, unread count) and read markers."""

from __future__ import annotations

import httpx

from fediverse_biz.core import follows
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.factories import post
from tests.support.mastodon_schemas import assert_matches
from tests.support.social import Member, checked, error, member, token


async def busy_day(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> tuple[Member, Member, Member, int]:
    """alice posts; bob follows her, mentions her, favourites and boosts her post; carol mentions her."""
    alice, bob, carol = [await member(db, urls, n) for n in ("alice", "bob", "carol")]
    news = await post(db.pool, urls, alice.actor, "our news")
    await follows.follow(db.pool, bob.actor, alice.actor)
    await checked(client.post("/api/v1/statuses", data={"status": "@alice hi"}, headers=bob.headers), "status")
    await checked(client.post(f"/api/v1/statuses/{news}/favourite", headers=bob.headers), "status")
    await checked(client.post(f"/api/v1/statuses/{news}/reblog", headers=bob.headers), "status")
    await checked(client.post("/api/v1/statuses", data={"status": "@alice hello"}, headers=carol.headers), "status")
    return alice, bob, carol, news


async def test_list_filter_and_page(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob, carol, news = await busy_day(client, db, urls)
    listed = await checked(client.get("/api/v1/notifications", headers=alice.headers), "notification")
    assert [n["type"] for n in listed] == ["mention", "reblog", "favourite", "mention", "follow"]
    assert [n["account"]["id"] for n in listed] == [carol.account_id] + [bob.account_id] * 4
    assert listed[1]["status"]["id"] == listed[2]["status"]["id"] == str(news)
    assert "status" not in listed[4]
    assert listed[0]["group_key"] == f"ungrouped-{listed[0]['id']}"
    assert listed[2]["group_key"].startswith(f"favourite-{news}-")

    def types_of(body: list[dict[str, str]]) -> list[str]:
        return [n["type"] for n in body]

    query = {"types[]": ["mention", "follow"]}
    body = await checked(client.get("/api/v1/notifications", params=query, headers=alice.headers), "notification")
    assert types_of(body) == ["mention", "mention", "follow"]
    query = {"exclude_types[]": ["mention", "reblog"]}
    body = await checked(client.get("/api/v1/notifications", params=query, headers=alice.headers), "notification")
    assert types_of(body) == ["favourite", "follow"]
    body = await checked(
        client.get(f"/api/v1/notifications?account_id={carol.account_id}", headers=alice.headers), "notification"
    )
    assert types_of(body) == ["mention"]

    # paging keeps the filters in the Link URLs, next first
    response = await client.get("/api/v1/notifications?types[]=mention&limit=1", headers=alice.headers)
    assert [n["id"] for n in response.json()] == [listed[0]["id"]]
    next_url = response.headers["link"].split(">")[0][1:]
    assert "types%5B%5D=mention" in next_url and f"max_id={listed[0]['id']}" in next_url
    older = await checked(client.get(next_url, headers=alice.headers), "notification")
    assert [n["id"] for n in older] == [listed[3]["id"]]

    # bob sees only his own (none: alice did nothing to him)
    assert await checked(client.get("/api/v1/notifications", headers=bob.headers), "notification") == []


async def test_show_dismiss_and_clear(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob, _, _ = await busy_day(client, db, urls)
    listed = await checked(client.get("/api/v1/notifications", headers=alice.headers), "notification")
    first = listed[0]["id"]
    assert (await checked(client.get(f"/api/v1/notifications/{first}", headers=alice.headers), "notification")) == (
        listed[0]
    )
    await error(client.get(f"/api/v1/notifications/{first}", headers=bob.headers), 404)
    await error(client.post(f"/api/v1/notifications/{first}/dismiss", headers=bob.headers), 404)
    assert (await client.post(f"/api/v1/notifications/{first}/dismiss", headers=alice.headers)).json() == {}
    await error(client.get(f"/api/v1/notifications/{first}", headers=alice.headers), 404)
    # the pre-2.9.2 form, with the id in the body
    second = listed[1]["id"]
    response = await client.post("/api/v1/notifications/dismiss", data={"id": second}, headers=alice.headers)
    assert response.status_code == 200 and response.json() == {}
    remaining = await checked(client.get("/api/v1/notifications", headers=alice.headers), "notification")
    assert [n["id"] for n in remaining] == [n["id"] for n in listed[2:]]
    read_only = await token(db, alice, "read")
    await error(client.post("/api/v1/notifications/clear", headers=read_only), 403)
    assert (await client.post("/api/v1/notifications/clear", headers=alice.headers)).json() == {}
    assert await checked(client.get("/api/v1/notifications", headers=alice.headers), "notification") == []


async def test_scopes(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    await error(client.get("/api/v1/notifications"), 401)
    await error(client.get("/api/v1/notifications", headers=await token(db, alice, "read:statuses")), 403)
    granted = await token(db, alice, "read:notifications")
    assert await checked(client.get("/api/v1/notifications", headers=granted), "notification") == []


async def test_markers_and_unread_count(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, _, _, _ = await busy_day(client, db, urls)
    listed = await checked(client.get("/api/v1/notifications", headers=alice.headers), "notification")
    assert (await client.get("/api/v1/notifications/unread_count", headers=alice.headers)).json() == {"count": 5}
    assert await checked(client.get("/api/v1/markers", headers=alice.headers), "marker") == {}

    # form, as Mastodon.py sends it
    saved = await checked(
        client.post("/api/v1/markers", data={"notifications[last_read_id]": listed[2]["id"]}, headers=alice.headers),
        "marker",
    )
    assert saved["notifications"]["last_read_id"] == listed[2]["id"] and saved["notifications"]["version"] == 1
    assert (await client.get("/api/v1/notifications/unread_count", headers=alice.headers)).json() == {"count": 2}

    # JSON, as Elk sends it; the version goes up with each write
    body = {"home": {"last_read_id": "12345"}, "notifications": {"last_read_id": listed[0]["id"]}}
    saved = await checked(client.post("/api/v1/markers", json=body, headers=alice.headers), "marker")
    assert saved["notifications"]["version"] == 2 and saved["home"]["version"] == 1
    query = {"timeline[]": ["home", "notifications"]}
    both = await checked(client.get("/api/v1/markers", params=query, headers=alice.headers), "marker")
    assert both["home"]["last_read_id"] == "12345" and both["notifications"]["last_read_id"] == listed[0]["id"]
    only_home = await checked(client.get("/api/v1/markers?timeline[]=home", headers=alice.headers), "marker")
    assert list(only_home) == ["home"]
    assert (await client.get("/api/v1/notifications/unread_count", headers=alice.headers)).json() == {"count": 0}

    await error(client.post("/api/v1/markers", json={"home": {"last_read_id": "abc"}}, headers=alice.headers), 422)
    await error(client.post("/api/v1/markers", json=body, headers=await token(db, alice, "read")), 403)
    await error(client.get("/api/v1/markers", headers=await token(db, alice, "write")), 403)


async def test_a_notification_about_a_status_now_hidden_is_left_out(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    # given bob mentioned alice in a followers-only post, then blocked her
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    await checked(
        client.post("/api/v1/statuses", data={"status": "@alice psst", "visibility": "private"}, headers=bob.headers),
        "status",
    )
    listed = await checked(client.get("/api/v1/notifications", headers=alice.headers), "notification")
    assert [n["type"] for n in listed] == ["mention"]
    await db.pool.execute("INSERT INTO blocks (actor_id, target_actor_id) VALUES ($1, $2)", bob.id, alice.id)
    # then the notification no longer carries (or reveals) the status
    assert await checked(client.get("/api/v1/notifications", headers=alice.headers), "notification") == []
    await error(client.get(f"/api/v1/notifications/{listed[0]['id']}", headers=alice.headers), 404)
    for item in listed:
        assert_matches("notification", item)
