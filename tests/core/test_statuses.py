"""Posting, editing and deleting local statuses: rows, feeds, notifications and deliveries together."""

from __future__ import annotations

import pytest

from fediverse_biz.core import follows, statuses, timelines
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.hydrate import load_status
from fediverse_biz.core.paging import Page
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.factories import LOCAL_DOMAIN, deliveries, local_actor, post, remote_actor


async def test_post_reaches_author_and_local_followers_and_each_remote_server_once(
    db: Database, urls: LocalUrls
) -> None:
    # given an author with two local followers and three remote followers on two servers
    author = await local_actor(db.pool, urls, "author")
    reader = await local_actor(db.pool, urls, "reader")
    await follows.follow(db.pool, reader, author)
    r1 = await remote_actor(db.pool, "r1", "one.example")
    r2 = await remote_actor(db.pool, "r2", "one.example")
    r3 = await remote_actor(db.pool, "r3", "two.example", shared_inbox=False)
    for r in (r1, r2, r3):
        await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", r["id"], author["id"])
    # when the author posts #News
    status_id = await post(db.pool, urls, author, "Our #News today")
    # then the status is in both home feeds, tagged, and queued once per distinct inbox
    assert await timelines.home(db.pool, author["id"], Page()) == [status_id]
    assert await timelines.home(db.pool, reader["id"], Page()) == [status_id]
    bundle = await load_status(db.pool, status_id)
    assert bundle is not None and bundle.tags == ["News"]
    assert bundle.status["uri"] == f"{urls.base}/users/author/statuses/{status_id}"
    assert sorted(await deliveries(db.pool)) == [
        ("https://one.example/inbox", "Create"),
        ("https://two.example/users/r3/inbox", "Create"),
    ]


async def test_direct_post_goes_only_to_mentioned_actors(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    follower = await local_actor(db.pool, urls, "follower")
    friend = await local_actor(db.pool, urls, "friend")
    await follows.follow(db.pool, follower, author)
    await remote_actor(db.pool, "far", "far.example")
    other = await remote_actor(db.pool, "other", "other.example")
    await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", other["id"], author["id"])
    status_id = await post(db.pool, urls, author, "psst @friend and @far@far.example", visibility="direct")
    assert await timelines.home(db.pool, friend["id"], Page()) == [status_id]
    assert await timelines.home(db.pool, follower["id"], Page()) == []
    assert await deliveries(db.pool) == [("https://far.example/inbox", "Create")]
    notes = await db.pool.fetch("SELECT actor_id, type FROM notifications WHERE type <> 'follow'")
    assert [(n["actor_id"], n["type"]) for n in notes] == [(friend["id"], "mention")]


async def test_followers_only_post_is_not_delivered_to_non_followers(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    stranger = await local_actor(db.pool, urls, "stranger")
    follower = await remote_actor(db.pool, "fan", "fans.example")
    await db.pool.execute(
        "INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", follower["id"], author["id"]
    )
    await remote_actor(db.pool, "nobody", "nobody.example")
    status_id = await post(db.pool, urls, author, "followers only", visibility="private")
    assert await deliveries(db.pool) == [("https://fans.example/inbox", "Create")]
    assert await timelines.account(db.pool, stranger["id"], author["id"], Page()) == []
    assert await timelines.account(db.pool, None, author["id"], Page()) == []
    assert await timelines.account(db.pool, author["id"], author["id"], Page()) == [status_id]


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        ({"text": "x", "visibility": "everyone"}, "visibility"),
        ({"text": "x" * 5001}, "character limit"),
        ({"text": "   "}, "blank"),
        ({"text": "x", "media_ids": [1, 2, 3, 4, 5]}, "at most 4"),
        ({"text": "nul\x00byte"}, "NUL"),
        ({"text": "x", "language": "not a language"}, "language"),
    ],
)
async def test_invalid_drafts_are_refused_and_nothing_is_saved(
    db: Database,
    urls: LocalUrls,
    draft: dict,  # type: ignore[type-arg]
    message: str,
) -> None:
    author = await local_actor(db.pool, urls, "author")
    with pytest.raises(DomainError, match=message) as info:
        await post(db.pool, urls, author, **draft)
    assert info.value.status == 422
    assert await db.pool.fetchval("SELECT count(*) FROM statuses") == 0


async def test_links_count_as_23_characters(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    long_url = "https://example.com/" + "a" * 6000
    assert await post(db.pool, urls, author, "see " + long_url)


async def test_reply_to_invisible_status_is_404(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    outsider = await local_actor(db.pool, urls, "outsider")
    secret = await post(db.pool, urls, author, "secret", visibility="private")
    with pytest.raises(DomainError) as info:
        await post(db.pool, urls, outsider, "reply", in_reply_to_id=secret)
    assert info.value.status == 404


async def test_reply_counts_and_threads(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    replier = await local_actor(db.pool, urls, "replier")
    root = await post(db.pool, urls, author, "root")
    reply = await post(db.pool, urls, replier, "@author reply", in_reply_to_id=root)
    nested = await post(db.pool, urls, author, "nested", in_reply_to_id=reply)
    assert await db.pool.fetchval("SELECT replies_count FROM statuses WHERE id = $1", root) == 1
    assert await timelines.context(db.pool, None, nested) == ([root, reply], [])
    assert await timelines.context(db.pool, None, root) == ([], [reply, nested])
    row = await db.pool.fetchrow("SELECT conversation_uri, in_reply_to_actor_id FROM statuses WHERE id = $1", nested)
    assert row["in_reply_to_actor_id"] == replier["id"]
    root_row = await db.pool.fetchrow("SELECT conversation_uri FROM statuses WHERE id = $1", root)
    assert row["conversation_uri"] == root_row["conversation_uri"]


async def test_idempotency_key_returns_the_same_status(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    draft = statuses.Draft(text="once")
    first = await statuses.create(db.pool, urls, LOCAL_DOMAIN, author, draft, idempotency_key="k1")
    second = await statuses.create(db.pool, urls, LOCAL_DOMAIN, author, draft, idempotency_key="k1")
    assert first == second
    assert await db.pool.fetchval("SELECT count(*) FROM statuses") == 1


async def test_edit_keeps_history_and_federates_update(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    fan = await remote_actor(db.pool, "fan", "fans.example")
    await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", fan["id"], author["id"])
    status_id = await post(db.pool, urls, author, "first version")
    await statuses.edit(db.pool, urls, LOCAL_DOMAIN, author, status_id, statuses.Draft(text="second #version"))
    row = await db.pool.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    assert row["source_text"] == "second #version" and row["edited_at"] is not None
    history = await db.pool.fetch("SELECT content FROM status_edits WHERE status_id = $1 ORDER BY id", status_id)
    assert ["first version" in h["content"] for h in history] == [True, False]
    assert [t for _, t in await deliveries(db.pool)] == ["Create", "Update"]


async def test_only_the_author_can_edit_or_delete(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    other = await local_actor(db.pool, urls, "other")
    status_id = await post(db.pool, urls, author, "mine")
    with pytest.raises(DomainError) as info:
        await statuses.edit(db.pool, urls, LOCAL_DOMAIN, other, status_id, statuses.Draft(text="hijack"))
    assert info.value.status == 403
    with pytest.raises(DomainError) as info:
        await statuses.delete(db.pool, urls, other, status_id)
    assert info.value.status == 403
    assert await db.pool.fetchval("SELECT source_text FROM statuses WHERE id = $1", status_id) == "mine"


async def test_delete_leaves_tombstone_and_federates_to_the_same_audience(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    reader = await local_actor(db.pool, urls, "reader")
    await follows.follow(db.pool, reader, author)
    fan = await remote_actor(db.pool, "fan", "fans.example")
    await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", fan["id"], author["id"])
    status_id = await post(db.pool, urls, author, "short-lived")
    uri = await db.pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id)
    gone = await statuses.delete(db.pool, urls, author, status_id)
    assert gone.status["source_text"] == "short-lived"
    assert await db.pool.fetchval("SELECT count(*) FROM statuses") == 0
    assert await timelines.home(db.pool, reader["id"], Page()) == []
    assert await db.pool.fetchval("SELECT 1 FROM tombstones WHERE uri = $1", uri) == 1
    assert [t for _, t in await deliveries(db.pool)] == ["Create", "Delete"]


async def test_author_with_many_local_followers_can_post(db: Database, urls: LocalUrls) -> None:
    # given 450 local followers: their ids alone would overflow PostgreSQL's 8000-byte NOTIFY payload
    author = await local_actor(db.pool, urls, "author")
    rows = [(f"reader{i}", f"{urls.base}/users/reader{i}") for i in range(450)]
    await db.pool.executemany(
        "INSERT INTO actors (username, uri, public_key_pem, private_key_pem) VALUES ($1, $2, 'k', 'k')", rows
    )
    await db.pool.execute(
        """INSERT INTO follows (actor_id, target_actor_id)
           SELECT id, $1 FROM actors WHERE username LIKE 'reader%'""",
        author["id"],
    )
    # when the author posts, then it is in every follower's home feed (and the post did not fail)
    status_id = await post(db.pool, urls, author, "to all 450")
    assert await db.pool.fetchval("SELECT count(*) FROM home_feed WHERE status_id = $1", status_id) == 451
