"""Favourites, boosts, bookmarks, pins: rows, counters, notifications and deliveries together."""

from __future__ import annotations

import pytest

from fediverse_biz.core import follows, interactions, timelines
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.paging import Page
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.factories import deliveries, local_actor, post, remote_actor


async def count(db: Database, column: str, status_id: int) -> int:
    return int(await db.pool.fetchval(f"SELECT {column} FROM statuses WHERE id = $1", status_id))


async def test_favourite_twice_counts_once_and_notifies_once(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    fan = await local_actor(db.pool, urls, "fan")
    status_id = await post(db.pool, urls, author, "like me")
    await interactions.favourite(db.pool, fan, status_id)
    await interactions.favourite(db.pool, fan, status_id)
    assert await count(db, "favourites_count", status_id) == 1
    assert await db.pool.fetchval("SELECT count(*) FROM notifications WHERE type = 'favourite'") == 1
    await interactions.unfavourite(db.pool, fan, status_id)
    await interactions.unfavourite(db.pool, fan, status_id)
    assert await count(db, "favourites_count", status_id) == 0


async def test_favouriting_a_remote_status_sends_like_to_its_author_only(db: Database, urls: LocalUrls) -> None:
    fan = await local_actor(db.pool, urls, "fan")
    far = await remote_actor(db.pool, "far", "far.example")
    status_id = await db.pool.fetchval(
        """INSERT INTO statuses (uri, actor_id, local, visibility, content)
           VALUES ('https://far.example/users/far/statuses/1', $1, false, 'public', '<p>hi</p>') RETURNING id""",
        far["id"],
    )
    await interactions.favourite(db.pool, fan, status_id)
    await interactions.unfavourite(db.pool, fan, status_id)
    assert await deliveries(db.pool) == [
        ("https://far.example/users/far/inbox", "Like"),
        ("https://far.example/users/far/inbox", "Undo"),
    ]


async def test_boost_reaches_followers_and_notifies_the_author(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    booster = await local_actor(db.pool, urls, "booster")
    reader = await local_actor(db.pool, urls, "reader")
    await follows.follow(db.pool, reader, booster)
    far_fan = await remote_actor(db.pool, "farfan", "fans.example")
    await db.pool.execute(
        "INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", far_fan["id"], booster["id"]
    )
    status_id = await post(db.pool, urls, author, "worth sharing")
    boost_id = await interactions.reblog(db.pool, urls, booster, status_id)
    assert await interactions.reblog(db.pool, urls, booster, status_id) == boost_id  # idempotent
    assert await count(db, "reblogs_count", status_id) == 1
    assert await timelines.home(db.pool, reader["id"], Page()) == [boost_id]
    assert await db.pool.fetchval("SELECT type FROM notifications WHERE actor_id = $1", author["id"]) == "reblog"
    assert await deliveries(db.pool) == [("https://fans.example/inbox", "Announce")]
    await interactions.unreblog(db.pool, urls, booster, status_id)
    assert await count(db, "reblogs_count", status_id) == 0
    assert await timelines.home(db.pool, reader["id"], Page()) == []
    assert [t for _, t in await deliveries(db.pool)] == ["Announce", "Undo"]


async def test_followers_only_and_invisible_statuses_cannot_be_boosted(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    follower = await local_actor(db.pool, urls, "follower")
    stranger = await local_actor(db.pool, urls, "stranger")
    await follows.follow(db.pool, follower, author)
    private = await post(db.pool, urls, author, "for followers", visibility="private")
    with pytest.raises(DomainError) as info:
        await interactions.reblog(db.pool, urls, follower, private)
    assert info.value.status == 403
    with pytest.raises(DomainError) as info:
        await interactions.favourite(db.pool, stranger, private)
    assert info.value.status == 404


async def test_bookmarks_are_private_and_listed(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    reader = await local_actor(db.pool, urls, "reader")
    first = await post(db.pool, urls, author, "one")
    second = await post(db.pool, urls, author, "two")
    await interactions.bookmark(db.pool, reader, first, on=True)
    await interactions.bookmark(db.pool, reader, second, on=True)
    listed = await timelines.marked(db.pool, "bookmarks", reader["id"], Page())
    assert [status for _, status in listed] == [second, first]
    await interactions.bookmark(db.pool, reader, first, on=False)
    assert [s for _, s in await timelines.marked(db.pool, "bookmarks", reader["id"], Page())] == [second]
    assert await timelines.marked(db.pool, "bookmarks", author["id"], Page()) == []


async def test_pins_are_own_and_limited(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    other = await local_actor(db.pool, urls, "other")
    ids = [await post(db.pool, urls, author, f"post {i}") for i in range(6)]
    for status_id in ids[:5]:
        await interactions.pin(db.pool, author, status_id, on=True)
    with pytest.raises(DomainError, match="maximum"):
        await interactions.pin(db.pool, author, ids[5], on=True)
    with pytest.raises(DomainError, match="Someone else"):
        await interactions.pin(db.pool, other, ids[0], on=True)
    pinned = await timelines.account(db.pool, None, author["id"], Page(), timelines.AccountFilter(pinned=True))
    assert sorted(pinned) == sorted(ids[:5])
