"""Peers' statuses in our database (core/remote_statuses.py): rows, parts, counters, feeds, idempotence."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.activitypub.notes import ParsedNote, note_from_ap
from fediverse_biz.core import follows, remote_statuses
from fediverse_biz.core.hydrate import load_status
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.factories import local_actor, post, remote_actor

FIXTURES = Path(__file__).parents[1] / "fixtures" / "federation"


@pytest.fixture
async def conn(db: Database) -> AsyncIterator[asyncpg.Connection]:
    async with db.pool.acquire() as connection:
        yield connection


def parse(doc: dict[str, Any], author: asyncpg.Record) -> ParsedNote:
    return note_from_ap(doc, actor_followers_url=author["followers_url"])


def note(author: asyncpg.Record, number: int, content: str = "<p>hi</p>", **extra: Any) -> dict[str, Any]:
    uri = f"{author['uri']}/statuses/{number}"
    return {
        "id": uri, "type": "Note", "attributedTo": author["uri"], "content": content,
        "published": "2024-05-01T12:00:00Z", "to": [PUBLIC], "cc": [author["followers_url"]], **extra,
    }


async def make_follow(pool: asyncpg.Pool, follower: asyncpg.Record, target: asyncpg.Record) -> None:
    await pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", follower["id"], target["id"])


# ---- store_remote_note -----------------------------------------------------------------------------
async def test_mastodon_note_is_stored_with_its_parts_and_sorted_by_publish_time(
    db: Database, conn: asyncpg.Connection, urls: LocalUrls
) -> None:
    # given Mastodon 4.3's note with a blurhashed image, from an author followed here
    kde = await remote_actor(db.pool, "kde", "floss.social")
    reader = await local_actor(db.pool, urls, "reader")
    await make_follow(db.pool, reader, kde)
    doc = json.loads((FIXTURES / "mastodon/note_media_blurhash.json").read_text())
    # when it is stored
    status_id = await remote_statuses.store_remote_note(conn, parse(doc, kde), kde, urls)
    # then its id sorts at its publish time, and the row, media and home feed are as expected
    published = datetime(2024, 10, 14, 16, 57, 15, tzinfo=UTC)
    assert status_id >> 16 == int(published.timestamp() * 1000)
    status = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    assert (status["uri"], status["local"], status["visibility"], status["language"]) == (
        doc["id"], False, "public", "en"
    )
    assert status["published_at"] == published
    assert status["in_reply_to_id"] is None and status["in_reply_to_uri"] == doc["inReplyTo"]
    assert status["conversation_uri"] == doc["conversation"]
    media = await conn.fetchrow("SELECT * FROM media_attachments WHERE status_id = $1", status_id)
    assert media["remote_url"] == doc["attachment"][0]["url"] and media["file_path"] is None
    assert media["media_type"] == "image" and media["blurhash"] == "USQv:h-W-qI-^,W;RPs=^-R%NZxbo#sDobSc"
    assert media["meta"] == {"original": {"width": 1500, "height": 1095}, "focus": {"x": 0.0, "y": 0.0}}
    assert await conn.fetchval(
        "SELECT 1 FROM home_feed WHERE actor_id = $1 AND status_id = $2", reader["id"], status_id
    )


async def test_mentions_of_local_accounts_by_uri_or_profile_url_and_hashtags(
    db: Database, conn: asyncpg.Connection, urls: LocalUrls
) -> None:
    bob = await remote_actor(db.pool, "bob")
    alice = await local_actor(db.pool, urls, "alice")
    carol = await local_actor(db.pool, urls, "carol")
    tags = [
        {"type": "Mention", "href": alice["uri"], "name": "@alice"},
        {"type": "Mention", "href": f"{urls.base}/@carol", "name": "@carol"},
        {"type": "Mention", "href": "https://unknown.example/users/x", "name": "@x@unknown.example"},
        {"type": "Hashtag", "name": "#TradeFair", "href": "https://remote.example/tags/tradefair"},
    ]
    status_id = await remote_statuses.store_remote_note(conn, parse(note(bob, 1, tag=tags), bob), bob, urls)
    bundle = await load_status(conn, status_id)
    assert bundle is not None
    assert sorted(m["username"] for m in bundle.mentions) == ["alice", "carol"]
    assert bundle.tags == ["TradeFair"]
    notified = await conn.fetch("SELECT actor_id FROM notifications WHERE type = 'mention' ORDER BY actor_id")
    assert [r["actor_id"] for r in notified] == sorted([alice["id"], carol["id"]])


async def test_direct_message_addressed_without_mention_still_reaches_its_recipient(
    db: Database, conn: asyncpg.Connection, urls: LocalUrls
) -> None:
    bob = await remote_actor(db.pool, "bob")
    alice = await local_actor(db.pool, urls, "alice")
    status_id = await remote_statuses.store_remote_note(
        conn, parse(note(bob, 1, to=[alice["uri"]], cc=[]), bob), bob, urls
    )
    assert await conn.fetchval("SELECT visibility FROM statuses WHERE id = $1", status_id) == "direct"
    assert await conn.fetchval("SELECT 1 FROM home_feed WHERE actor_id = $1 AND status_id = $2", alice["id"], status_id)


async def test_storing_twice_returns_the_same_status_and_a_future_date_is_clamped(
    db: Database, conn: asyncpg.Connection, urls: LocalUrls
) -> None:
    bob = await remote_actor(db.pool, "bob")
    future = (datetime.now(UTC) + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    parsed = parse(note(bob, 1, published=future), bob)
    first = await remote_statuses.store_remote_note(conn, parsed, bob, urls)
    assert await remote_statuses.store_remote_note(conn, parsed, bob, urls) == first
    assert await conn.fetchval("SELECT count(*) FROM statuses") == 1
    assert await conn.fetchval("SELECT published_at FROM statuses") <= datetime.now(UTC)


async def test_reply_links_its_parent_and_a_late_parent_adopts_its_orphans(
    db: Database, conn: asyncpg.Connection, urls: LocalUrls
) -> None:
    bob = await remote_actor(db.pool, "bob")
    eve = await remote_actor(db.pool, "eve", "other.example")
    # given a reply that arrives before its parent
    parent_doc = note(eve, 1, "<p>question</p>", context="https://other.example/contexts/1")
    reply = await remote_statuses.store_remote_note(
        conn, parse(note(bob, 2, inReplyTo=parent_doc["id"]), bob), bob, urls
    )
    assert await conn.fetchval("SELECT in_reply_to_id FROM statuses WHERE id = $1", reply) is None
    # when the parent arrives, it adopts the reply
    parent = await remote_statuses.store_remote_note(conn, parse(parent_doc, eve), eve, urls)
    row = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", reply)
    assert (row["in_reply_to_id"], row["in_reply_to_actor_id"]) == (parent, eve["id"])
    assert await conn.fetchval("SELECT replies_count FROM statuses WHERE id = $1", parent) == 1
    # and a reply arriving after its parent links and counts at once, in the parent's conversation
    late = await remote_statuses.store_remote_note(
        conn, parse(note(bob, 3, inReplyTo=parent_doc["id"]), bob), bob, urls
    )
    assert await conn.fetchval("SELECT in_reply_to_id FROM statuses WHERE id = $1", late) == parent
    assert await conn.fetchval("SELECT replies_count FROM statuses WHERE id = $1", parent) == 2
    assert await conn.fetchval("SELECT conversation_uri FROM statuses WHERE id = $1", parent) == (
        "https://other.example/contexts/1"
    )


# ---- update_remote_note ----------------------------------------------------------------------------
async def test_edit_keeps_history_and_a_stale_update_is_ignored(
    db: Database, conn: asyncpg.Connection, urls: LocalUrls
) -> None:
    bob = await remote_actor(db.pool, "bob")
    booster = await local_actor(db.pool, urls, "booster")
    doc = note(bob, 1, "<p>v1</p>")
    status_id = await remote_statuses.store_remote_note(conn, parse(doc, bob), bob, urls)
    row = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    await conn.execute(
        "INSERT INTO statuses (uri, actor_id, local, object_type, visibility, reblog_of_id) "
        "VALUES ('b1', $1, true, 'Announce', 'public', $2)",
        booster["id"], status_id,
    )
    edited = doc | {"content": "<p>v2</p>", "updated": "2024-05-01T13:00:00Z", "tag": [
        {"type": "Hashtag", "name": "#new"}]}
    assert await remote_statuses.update_remote_note(conn, row, parse(edited, bob), urls)
    row = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    assert row["content"] == "<p>v2</p>" and row["edited_at"] == datetime(2024, 5, 1, 13, tzinfo=UTC)
    assert [r["content"] for r in await conn.fetch(
        "SELECT content FROM status_edits WHERE status_id = $1 ORDER BY id", status_id
    )] == ["<p>v1</p>", "<p>v2</p>"]
    assert (await load_status(conn, status_id)).tags == ["new"]  # type: ignore[union-attr]
    assert await conn.fetchval(
        "SELECT type FROM notifications WHERE actor_id = $1", booster["id"]
    ) == "update"  # whoever boosted it hears of the edit
    # the same or an older `updated` changes nothing
    stale = doc | {"content": "<p>v0</p>", "updated": "2024-05-01T12:30:00Z"}
    assert not await remote_statuses.update_remote_note(conn, row, parse(stale, bob), urls)
    assert await conn.fetchval("SELECT content FROM statuses WHERE id = $1", status_id) == "<p>v2</p>"


async def test_poll_counts_refresh_without_updated(db: Database, conn: asyncpg.Connection, urls: LocalUrls) -> None:
    bob = await remote_actor(db.pool, "bob")

    def question(votes: int) -> dict[str, Any]:
        options = [{"type": "Note", "name": "yes", "replies": {"type": "Collection", "totalItems": votes}}]
        return note(bob, 1, type="Question", oneOf=options)

    status_id = await remote_statuses.store_remote_note(conn, parse(question(1), bob), bob, urls)
    row = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    assert not await remote_statuses.update_remote_note(conn, row, parse(question(7), bob), urls)
    extra = await conn.fetchval("SELECT extra FROM statuses WHERE id = $1", status_id)
    assert extra["poll"]["options"][0]["votes_count"] == 7
    assert await conn.fetchval("SELECT count(*) FROM status_edits") == 0


# ---- favourites and boosts -------------------------------------------------------------------------
async def test_like_and_unlike_keep_the_counter_and_notify_once(
    db: Database, conn: asyncpg.Connection, urls: LocalUrls
) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    bob = await remote_actor(db.pool, "bob")
    status = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", await post(db.pool, urls, alice))
    assert await remote_statuses.record_remote_like(conn, bob, status, "https://remote.example/likes/1")
    assert not await remote_statuses.record_remote_like(conn, bob, status, "https://remote.example/likes/1")
    assert await conn.fetchval("SELECT favourites_count FROM statuses WHERE id = $1", status["id"]) == 1
    assert await conn.fetchval("SELECT count(*) FROM notifications WHERE type = 'favourite'") == 1
    assert await remote_statuses.record_remote_unlike(conn, bob, like_uri="https://remote.example/likes/1")
    assert not await remote_statuses.record_remote_unlike(conn, bob, status_id=status["id"])
    assert await conn.fetchval("SELECT favourites_count FROM statuses WHERE id = $1", status["id"]) == 0


@pytest.mark.parametrize(
    ("to", "cc", "expected"),
    [
        ([PUBLIC], [], "public"),
        (["https://r.example/users/b/followers"], ["as:Public"], "unlisted"),
        (["https://r.example/users/b/followers"], [], "private"),
        ([], [], "private"),
    ],
)
def test_boost_visibility(to: list[str], cc: list[str], expected: str) -> None:
    assert remote_statuses.boost_visibility(to, cc) == expected


async def test_boost_rules_counters_and_feeds(db: Database, conn: asyncpg.Connection, urls: LocalUrls) -> None:
    alice = await local_actor(db.pool, urls, "alice")
    reader = await local_actor(db.pool, urls, "reader")
    bob = await remote_actor(db.pool, "bob")
    await make_follow(db.pool, reader, bob)
    public = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", await post(db.pool, urls, alice, "pub"))
    private = await conn.fetchrow(
        "SELECT * FROM statuses WHERE id = $1", await post(db.pool, urls, alice, "fo", visibility="private")
    )
    # another's followers-only post cannot be boosted
    assert await remote_statuses.record_remote_announce(conn, bob, private, "https://remote.example/a/0", to=[PUBLIC],
                                                        cc=[]) is None
    # a public one can, once; the boost reaches bob's local followers and notifies alice
    boost = await remote_statuses.record_remote_announce(
        conn, bob, public, "https://remote.example/a/1", to=[bob["followers_url"]], cc=[PUBLIC]
    )
    again = await remote_statuses.record_remote_announce(
        conn, bob, public, "https://remote.example/a/2", to=[PUBLIC], cc=[]
    )
    assert boost is not None and again == boost
    row = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", boost)
    assert (row["visibility"], row["reblog_of_id"], row["local"]) == ("unlisted", public["id"], False)
    assert await conn.fetchval("SELECT reblogs_count FROM statuses WHERE id = $1", public["id"]) == 1
    assert await conn.fetchval("SELECT 1 FROM home_feed WHERE actor_id = $1 AND status_id = $2", reader["id"], boost)
    assert await conn.fetchval("SELECT type FROM notifications WHERE actor_id = $1", alice["id"]) == "reblog"
    # undoing it by the original's id works as well as by the Announce id
    assert await remote_statuses.record_remote_unannounce(conn, bob, original_id=public["id"])
    assert await conn.fetchval("SELECT reblogs_count FROM statuses WHERE id = $1", public["id"]) == 0
    assert not await remote_statuses.record_remote_unannounce(conn, bob, announce_uri="https://remote.example/a/1")


async def test_an_author_may_boost_their_own_followers_only_post(
    db: Database, conn: asyncpg.Connection, urls: LocalUrls
) -> None:
    bob = await remote_actor(db.pool, "bob")
    own = await remote_statuses.store_remote_note(conn, parse(note(bob, 1, to=[bob["followers_url"]], cc=[]), bob),
                                                  bob, urls)
    original = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", own)
    assert original["visibility"] == "private"
    boost = await remote_statuses.record_remote_announce(conn, bob, original, "https://remote.example/a/1",
                                                         to=[PUBLIC], cc=[])
    assert await conn.fetchval("SELECT visibility FROM statuses WHERE id = $1", boost) == "private"


async def test_removing_an_actors_statuses_fixes_counters_elsewhere(
    db: Database, conn: asyncpg.Connection, urls: LocalUrls
) -> None:
    # given bob replied to, boosted and liked alice's post
    alice = await local_actor(db.pool, urls, "alice")
    bob = await remote_actor(db.pool, "bob")
    await follows.follow(db.pool, alice, bob)
    status = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", await post(db.pool, urls, alice))
    reply = note(bob, 1, inReplyTo=status["uri"])
    await remote_statuses.store_remote_note(conn, parse(reply, bob), bob, urls)
    await remote_statuses.record_remote_announce(conn, bob, status, "https://remote.example/a/1", to=[PUBLIC], cc=[])
    await remote_statuses.record_remote_like(conn, bob, status, None)
    counts = "SELECT replies_count, reblogs_count, favourites_count FROM statuses WHERE id = $1"
    assert tuple(await conn.fetchrow(counts, status["id"])) == (1, 1, 1)
    # when bob's account is gone
    assert await remote_statuses.remove_actor_statuses(conn, bob["id"]) == 2
    # then alice's post is as if bob never touched it, and bob's reply is tombstoned
    assert tuple(await conn.fetchrow(counts, status["id"])) == (0, 0, 0)
    assert await conn.fetchval("SELECT count(*) FROM statuses WHERE actor_id = $1", bob["id"]) == 0
    assert await conn.fetchval("SELECT 1 FROM tombstones WHERE uri = $1", reply["id"])
