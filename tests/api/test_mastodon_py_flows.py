"""The real Mastodon.py client against a live server: the daily use of a client, end to end.

Every JSON response Mastodon.py receives is also checked against schemas/mastodon/ by a requests
response hook (Mastodon.py itself parses leniently, so a wrong type would otherwise slip through).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from mastodon import Mastodon, MastodonAPIError, MastodonNotFoundError

from fediverse_biz.core import statuses
from fediverse_biz.db.pool import create_pool
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD, create_user_sync, run_sync
from tests.support.images import png
from tests.support.mastodon_client import login_mastodon
from tests.support.servers import LiveServer
from tests.support.social import validating_session


def client(server: LiveServer, username: str, *, pkce: bool = False) -> tuple[Mastodon, list[str]]:
    api = login_mastodon(server.base_url, username, PASSWORD, pkce=pkce)
    session, seen = validating_session()
    api.session = session
    return api, seen


def post_through_core(server: LiveServer, username: str, count: int) -> list[int]:
    """Many statuses at once, written by core.statuses.create in the live server's database."""

    async def write() -> list[int]:
        pool = await create_pool(server.dsn, min_size=1, max_size=1)
        try:
            author = await pool.fetchrow("SELECT * FROM actors WHERE username = $1 AND domain IS NULL", username)
            urls = LocalUrls(server.base_url)
            draft = statuses.Draft
            return [
                await statuses.create(pool, urls, server.settings.domain, author, draft(text=f"item {i} #expo"))
                for i in range(count)
            ]
        finally:
            await pool.close()

    return run_sync(write)


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    for name in ("alice", "bob"):
        create_user_sync(live_server, name)
    return live_server


def test_post_edit_and_delete(server: LiveServer) -> None:
    alice, seen = client(server, "alice")
    plain = alice.status_post("Hello from Mastodon.py")
    assert plain.visibility == "public" and "Hello from Mastodon.py" in plain.content
    warned = alice.status_post("Prices inside", spoiler_text="Q3 prices")
    assert warned.sensitive is True and warned.spoiler_text == "Q3 prices"
    for visibility in ("public", "unlisted", "private", "direct"):
        assert alice.status_post(f"a {visibility} post", visibility=visibility).visibility == visibility
    reply = alice.status_post("and a thread", in_reply_to_id=plain.id)
    assert str(reply.in_reply_to_id) == str(plain.id)
    assert [str(s.id) for s in alice.status_context(plain.id).descendants] == [str(reply.id)]

    media = alice.media_post(png(), mime_type="image/png", description="our stand")
    pictured = alice.status_post("our stand", media_ids=[media])
    assert [str(m.id) for m in pictured.media_attachments] == [str(media.id)]

    edited = alice.status_update(plain.id, "Hello, edited")
    assert "edited" in edited.content and edited.edited_at is not None
    assert [("Hello from" in h.content) for h in alice.status_history(plain.id)] == [True, False]
    assert alice.status_source(plain.id).text == "Hello, edited"

    deleted = alice.status_delete(reply.id)
    assert deleted.text == "and a thread"
    with pytest.raises(MastodonNotFoundError):
        alice.status(reply.id)
    with pytest.raises(MastodonAPIError) as refused:
        alice.status_post("x" * 5001)
    assert refused.value.args[1] == 422
    assert "POST /api/v2/media" in seen and f"DELETE /api/v1/statuses/{reply.id}" in seen


def test_timelines_page_with_fetch_next(server: LiveServer) -> None:
    alice, _ = client(server, "alice")
    bob, seen = client(server, "bob", pkce=True)
    bob.account_follow(alice.me().id)
    posted = post_through_core(server, "alice", 45)
    expected = [str(i) for i in reversed(posted)]

    def walk(first: Callable[[], Any]) -> list[str]:
        ids: list[str] = []
        page = first()
        pages = 0
        while page:
            ids += [str(s.id) for s in page]
            pages += 1
            page = bob.fetch_next(page)
        assert pages == 3
        return ids

    assert walk(lambda: bob.timeline_home(limit=20)) == expected
    assert walk(lambda: bob.timeline_public(limit=20)) == expected
    assert walk(lambda: bob.timeline_local(limit=20)) == expected
    assert walk(lambda: bob.timeline_hashtag("expo", limit=20)) == expected
    newest = bob.timeline_home(limit=5)
    assert not bob.fetch_previous(newest)  # nothing newer than the newest
    middle = bob.timeline_home(max_id=posted[20], limit=5)
    newer = bob.fetch_previous(middle)
    assert newer is not None and [str(s.id) for s in newer] == [str(i) for i in reversed(posted[20:25])]
    assert any(path.startswith("GET /api/v1/timelines/home") for path in seen)


def test_interactions_notifications_and_markers(server: LiveServer) -> None:
    alice, _ = client(server, "alice")
    bob, _ = client(server, "bob", pkce=True)
    news = alice.status_post("Our new catalogue is out")
    bob.account_follow(alice.me().id)
    assert bob.status_favourite(news.id).favourited is True
    boost = bob.status_reblog(news.id)
    assert str(boost.reblog.id) == str(news.id)
    assert bob.status_bookmark(news.id).bookmarked is True
    mention = bob.status_post("@alice congratulations", in_reply_to_id=news.id)

    assert [str(s.id) for s in bob.bookmarks()] == [str(news.id)]
    assert [str(s.id) for s in bob.favourites()] == [str(news.id)]
    assert [a.acct for a in alice.status_favourited_by(news.id)] == ["bob"]
    assert [a.acct for a in alice.status_reblogged_by(news.id)] == ["bob"]
    assert str(bob.timeline_home(limit=1)[0].id) == str(mention.id)

    notes = alice.notifications()
    assert [n.type for n in notes] == ["mention", "reblog", "favourite", "follow"]
    assert all(n.account.acct == "bob" for n in notes)
    assert str(notes[0].status.id) == str(mention.id)
    assert [n.type for n in alice.notifications(types=["favourite", "follow"])] == ["favourite", "follow"]
    assert [n.type for n in alice.notifications(mentions_only=True)] == ["mention"]
    assert alice.notifications(id=notes[1].id).type == "reblog"

    markers = alice.markers_set(["notifications", "home"], [notes[0].id, news.id])
    assert str(markers.notifications.last_read_id) == str(notes[0].id)
    assert alice.markers_set("notifications", notes[0].id).notifications.version == 2
    got = alice.markers_get(["home", "notifications"])
    assert str(got.home.last_read_id) == str(news.id) and got.notifications.version == 2

    alice.notifications_dismiss(notes[1].id)
    assert [n.type for n in alice.notifications()] == ["mention", "favourite", "follow"]
    alice.notifications_clear()
    assert alice.notifications() == []

    bob.status_unfavourite(news.id)
    bob.status_unreblog(news.id)
    bob.status_unbookmark(news.id)
    assert bob.bookmarks() == [] and bob.favourites() == []
    assert alice.status(news.id).favourites_count == 0


def test_search(server: LiveServer) -> None:
    alice, _ = client(server, "alice")
    alice.status_post("Industrial #robotics for small workshops")
    found = alice.search_v2("bob", result_type="accounts")
    assert [a.acct for a in found.accounts] == ["bob"]
    assert [t.name for t in alice.search_v2("#robot").hashtags] == ["robotics"]
    assert len(alice.search_v2("workshops").statuses) == 1


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll until `check()` is truthy (deliveries are background jobs); fail with `what` if it never is."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


def test_remote_follow_timeline_and_notifications_across_two_instances(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    here, there = live_server_factory(), live_server_factory()
    create_user_sync(here, "alice")
    create_user_sync(there, "carol")
    alice, _ = client(here, "alice")
    carol, _ = client(there, "carol", pkce=True)
    handle = f"carol@{there.settings.domain}"

    # alice finds carol on the other instance and follows her
    [remote_carol] = alice.search_v2(handle, result_type="accounts").accounts
    alice.account_follow(remote_carol.id)
    eventually(lambda: alice.account_relationships(remote_carol.id)[0].following, "carol's server accepts")
    eventually(lambda: [a.acct for a in carol.account_followers(carol.me().id)], "carol sees her follower")

    # carol's post reaches alice's home timeline, and alice's favourite reaches carol
    news = carol.status_post("Carol's #fair stand is ready")
    home = eventually(
        lambda: [s for s in alice.timeline_home() if s.uri == news.uri], "carol's post in alice's home"
    )
    assert home[0].account.acct == handle
    alice.status_favourite(home[0].id)
    notes = eventually(lambda: carol.notifications(types=["favourite"]), "alice's favourite reaches carol")
    assert notes[0].account.acct == f"alice@{here.settings.domain}" and str(notes[0].status.id) == str(news.id)
    assert [n.type for n in carol.notifications()] == ["favourite", "follow"]
