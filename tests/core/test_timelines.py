"""Reading: paging semantics, public/tag timelines, what each viewer may see."""

from __future__ import annotations

from fediverse_biz.core import follows, timelines
from fediverse_biz.core.paging import Page
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.factories import local_actor, post


async def test_max_since_and_min_id_follow_mastodon(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    ids = [await post(db.pool, urls, author, f"n{i}") for i in range(6)]  # oldest first
    newest_first = list(reversed(ids))
    home = timelines.home
    assert await home(db.pool, author["id"], Page(limit=2)) == newest_first[:2]
    assert await home(db.pool, author["id"], Page(max_id=ids[3], limit=2)) == [ids[2], ids[1]]
    # since_id: the newest page above the cursor; min_id: the page just above it
    assert await home(db.pool, author["id"], Page(since_id=ids[1], limit=2)) == [ids[5], ids[4]]
    assert await home(db.pool, author["id"], Page(min_id=ids[1], limit=2)) == [ids[3], ids[2]]
    assert await home(db.pool, author["id"], Page(max_id=ids[5], since_id=ids[2])) == [ids[4], ids[3]]


async def test_public_timelines_show_only_public_top_level_posts(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    public = await post(db.pool, urls, author, "public #Trade")
    await post(db.pool, urls, author, "unlisted", visibility="unlisted")
    await post(db.pool, urls, author, "private #Trade", visibility="private")
    await post(db.pool, urls, author, "direct", visibility="direct")
    assert await timelines.public(db.pool, None, Page()) == [public]
    assert await timelines.public(db.pool, None, Page(), local=True) == [public]
    assert await timelines.public(db.pool, None, Page(), remote=True) == []
    assert await timelines.tag(db.pool, None, "trade", Page()) == [public]
    assert await timelines.public(db.pool, None, Page(), only_media=True) == []


async def test_account_timeline_filters(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    other = await local_actor(db.pool, urls, "other")
    top = await post(db.pool, urls, author, "top #jobs")
    their = await post(db.pool, urls, other, "theirs")
    reply_other = await post(db.pool, urls, author, "@other reply", in_reply_to_id=their)
    self_reply = await post(db.pool, urls, author, "thread", in_reply_to_id=top)
    account = timelines.account
    assert await account(db.pool, None, author["id"], Page()) == [self_reply, reply_other, top]
    no_replies = timelines.AccountFilter(exclude_replies=True)
    assert await account(db.pool, None, author["id"], Page(), no_replies) == [self_reply, top]
    tagged = timelines.AccountFilter(tagged="JOBS")
    assert await account(db.pool, None, author["id"], Page(), tagged) == [top]


async def test_each_viewer_sees_what_they_may(db: Database, urls: LocalUrls) -> None:
    author = await local_actor(db.pool, urls, "author")
    follower = await local_actor(db.pool, urls, "follower")
    mentioned = await local_actor(db.pool, urls, "mentioned")
    stranger = await local_actor(db.pool, urls, "stranger")
    await follows.follow(db.pool, follower, author)
    public = await post(db.pool, urls, author, "public")
    private = await post(db.pool, urls, author, "private", visibility="private")
    direct = await post(db.pool, urls, author, "hi @mentioned", visibility="direct")
    seen = {
        name: set(await timelines.account(db.pool, viewer, author["id"], Page()))
        for name, viewer in (
            ("anonymous", None),
            ("stranger", stranger["id"]),
            ("follower", follower["id"]),
            ("mentioned", mentioned["id"]),
            ("author", author["id"]),
        )
    }
    assert seen["anonymous"] == seen["stranger"] == {public}
    assert seen["follower"] == {public, private}
    assert seen["mentioned"] == {public, direct}
    assert seen["author"] == {public, private, direct}
    # and the thread view applies the same rule to replies
    reply = await post(db.pool, urls, author, "private reply", in_reply_to_id=public, visibility="private")
    assert await timelines.context(db.pool, stranger["id"], public) == ([], [])
    assert await timelines.context(db.pool, follower["id"], public) == ([], [reply])
