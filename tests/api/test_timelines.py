"""Timelines, bookmarks, favourites and hashtags: content, scopes, and Mastodon's Link paging."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx

from fediverse_biz.core import follows
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.factories import post, remote_actor
from tests.support.images import png
from tests.support.mastodon_schemas import assert_matches
from tests.support.social import checked, error, member, token

LINK_RE = re.compile(r'^<([^>]+)>; rel="next", <([^>]+)>; rel="prev"$')


async def page(client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None) -> tuple[list[str], str]:
    """(ids of a status page, its Link header or ''), every status validated."""
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    for status in response.json():
        assert_matches("status", status)
    return [s["id"] for s in response.json()], response.headers.get("link", "")


def links(header: str) -> tuple[str, str]:
    match = LINK_RE.match(header)
    assert match, header
    return match.group(1), match.group(2)


async def test_home_pages_with_mastodons_link_header(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    await follows.follow(db.pool, alice.actor, bob.actor)
    posted = [str(await post(db.pool, urls, bob.actor, f"news {i}")) for i in range(5)]
    newest_first = posted[::-1]
    ids, link = await page(client, "/api/v1/timelines/home?limit=2", alice.headers)
    assert ids == newest_first[:2]
    next_url, prev_url = links(link)
    assert next_url == f"{urls.base}/api/v1/timelines/home?limit=2&max_id={ids[-1]}"
    assert prev_url == f"{urls.base}/api/v1/timelines/home?limit=2&min_id={ids[0]}"
    seen = list(ids)
    while next_url:
        ids, link = await page(client, next_url, alice.headers)
        seen += ids
        next_url = links(link)[0] if link else ""
    assert seen == newest_first  # three pages, no gaps, no repeats, boundary items excluded
    # min_id: the page just above the cursor, still newest first; nothing newer than the newest
    ids, _ = await page(client, f"/api/v1/timelines/home?min_id={posted[0]}&limit=2", alice.headers)
    assert ids == [posted[2], posted[1]]
    ids, _ = await page(client, f"/api/v1/timelines/home?since_id={posted[0]}&limit=2", alice.headers)
    assert ids == [posted[4], posted[3]]
    ids, link = await page(client, f"/api/v1/timelines/home?min_id={posted[4]}", alice.headers)
    assert ids == [] and link == ""


async def test_authors_shown_in_a_timeline_are_never_stale(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    # The process keeps the account entities it built (api/entities.AccountEntities); any change to what
    # they are made of must show on the next page.
    alice, bob, carol = [await member(db, urls, n) for n in ("alice", "bob", "carol")]
    await follows.follow(db.pool, alice.actor, bob.actor)
    await post(db.pool, urls, bob.actor, "news")

    async def bob_as_shown() -> dict[str, object]:
        [status] = await checked(client.get("/api/v1/timelines/home", headers=alice.headers), "status")
        return status["account"]  # type: ignore[no-any-return]

    first = await bob_as_shown()
    assert first["display_name"] == "" and first["followers_count"] == 1
    assert await bob_as_shown() == first
    await db.pool.execute("UPDATE actors SET display_name = 'Bob & Co' WHERE id = $1", bob.id)
    assert (await bob_as_shown())["display_name"] == "Bob & Co"  # the profile changed
    await follows.follow(db.pool, carol.actor, bob.actor)
    assert (await bob_as_shown())["followers_count"] == 2  # the counters changed
    await post(db.pool, urls, bob.actor, "more news")
    [newest, _] = await checked(client.get("/api/v1/timelines/home", headers=alice.headers), "status")
    assert newest["account"]["statuses_count"] == 2


async def test_home_needs_a_user_token_with_read_statuses(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    await error(client.get("/api/v1/timelines/home"), 401)
    await error(client.get("/api/v1/timelines/home", headers=await token(db, alice, "write")), 403)
    await checked(client.get("/api/v1/timelines/home", headers=await token(db, alice, "read:statuses")), "status")


async def test_public_timeline_anonymous_local_remote_and_media(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    local = await checked(client.post("/api/v1/statuses", data={"status": "local"}, headers=alice.headers), "status")
    await checked(
        client.post("/api/v1/statuses", data={"status": "u", "visibility": "unlisted"}, headers=alice.headers), "status"
    )
    media = await checked(
        client.post("/api/v2/media", files={"file": ("a.png", png(), "image/png")}, headers=alice.headers),
        "media_attachment",
    )
    pictured = await checked(
        client.post("/api/v1/statuses", data={"status": "pic", "media_ids[]": media["id"]}, headers=alice.headers),
        "status",
    )
    carol = await remote_actor(db.pool, "carol")
    remote_id = await db.pool.fetchval(
        """INSERT INTO statuses (uri, actor_id, local, visibility, content)
           VALUES ('https://remote.example/users/carol/statuses/1', $1, false, 'public', '<p>remote</p>')
           RETURNING id""",
        carol["id"],
    )
    assert (await page(client, "/api/v1/timelines/public"))[0] == [str(remote_id), pictured["id"], local["id"]]
    assert (await page(client, "/api/v1/timelines/public?local=true"))[0] == [pictured["id"], local["id"]]
    assert (await page(client, "/api/v1/timelines/public?remote=1"))[0] == [str(remote_id)]
    assert (await page(client, "/api/v1/timelines/public?only_media=true"))[0] == [pictured["id"]]
    assert (await page(client, "/api/v1/timelines/public?limit=1", alice.headers))[0] == [str(remote_id)]
    await error(client.get("/api/v1/timelines/public", headers={"Authorization": "Bearer revoked"}), 401)


async def test_tag_timeline(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    first = await post(db.pool, urls, alice.actor, "#Valves for sale")
    await post(db.pool, urls, alice.actor, "#valves for friends", visibility="private")
    await post(db.pool, urls, alice.actor, "#pumps")
    second = await post(db.pool, urls, alice.actor, "more #VALVES")
    assert (await page(client, "/api/v1/timelines/tag/valves"))[0] == [str(second), str(first)]
    assert (await page(client, "/api/v1/timelines/tag/Valves?local=true&limit=1"))[0] == [str(second)]
    assert (await page(client, "/api/v1/timelines/tag/unknown"))[0] == []
    await error(client.get("/api/v1/timelines/tag/no%20tag"), 404)


async def test_bookmarks_and_favourites_page_by_their_own_row_ids(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    older = await post(db.pool, urls, alice.actor, "older")
    newer = await post(db.pool, urls, alice.actor, "newer")
    for kind, verb in (("bookmarks", "bookmark"), ("favourites", "favourite")):
        # marked in the opposite order of posting: the list follows the marking
        for status_id in (newer, older):
            await checked(client.post(f"/api/v1/statuses/{status_id}/{verb}", headers=bob.headers), "status")
        ids, link = await page(client, f"/api/v1/{kind}?limit=1", bob.headers)
        assert ids == [str(older)]
        row_id = await db.pool.fetchval(f"SELECT id FROM {kind} WHERE status_id = $1", older)
        next_url, prev_url = links(link)
        assert parse_qs(urlsplit(next_url).query)["max_id"] == [str(row_id)]
        assert parse_qs(urlsplit(prev_url).query)["min_id"] == [str(row_id)]
        ids, link = await page(client, next_url, bob.headers)
        assert ids == [str(newer)]
        ids, _ = await page(client, links(link)[0], bob.headers)
        assert ids == []
        scope = f"read:{kind}"
        await error(client.get(f"/api/v1/{kind}", headers=await token(db, bob, "read:statuses")), 403)
        await checked(client.get(f"/api/v1/{kind}", headers=await token(db, bob, scope)), "status")
    assert (await page(client, "/api/v1/bookmarks", alice.headers))[0] == []


async def test_tag_entity(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    await post(db.pool, urls, alice.actor, "#Export fair")
    tag = await checked(client.get("/api/v1/tags/export"), "tag")
    assert tag["name"] == "Export" and tag["history"] == [] and tag["following"] is False and "id" in tag
    unknown = await checked(client.get("/api/v1/tags/Nobody"), "tag")
    assert unknown["name"] == "Nobody" and "id" not in unknown and unknown["url"] == urls.tag("Nobody")
    await error(client.get("/api/v1/tags/a%20b"), 404)
    await error(client.post("/api/v1/tags/export/follow"), 401)  # following: tests/api/test_followed_tags.py
