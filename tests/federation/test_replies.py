"""The `replies` of our statuses (federation/replies.py, object_endpoints.status_replies): the Note's
inline first page and the `/replies` collection, in Mastodon's shape (app/serializers/activitypub/
note_serializer.rb#replies, app/controllers/activitypub/replies_controller.rb), so Mastodon can backfill
a thread. Only public and unlisted replies are ever listed.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.activitypub.signatures import sign_request
from fediverse_biz.core import follows
from fediverse_biz.federation import replies
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.inbound import receive
from tests.support.peers import FakePeer, PeerActor

AS2 = {"Accept": "application/activity+json"}


async def get(client: httpx.AsyncClient, urls: LocalUrls, uri: str, status: int = 200) -> Any:
    response = await client.get(uri.removeprefix(urls.base), headers=AS2)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/activity+json") or status != 200
    return response.json()


async def uri_of(pool: asyncpg.Pool, status_id: int) -> str:
    return str(await pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id))


async def reply(pool: asyncpg.Pool, urls: LocalUrls, author: asyncpg.Record, parent: int, text: str, **kw: Any) -> int:
    return await factories.post(pool, urls, author, text, in_reply_to_id=parent, **kw)


async def test_a_note_lists_its_authors_replies_first_then_everyone_elses_public_ones(
    app: Starlette, client: httpx.AsyncClient, urls: LocalUrls, pool: asyncpg.Pool, peer: FakePeer
) -> None:
    author = await factories.local_actor(pool, urls, "author")
    other = await factories.local_actor(pool, urls, "other")
    post = await factories.post(pool, urls, author, "Trade fair: who is coming?")
    post_uri = await uri_of(pool, post)
    own = await reply(pool, urls, author, post, "1/ Hall 7, stand 12")
    own_unlisted = await reply(pool, urls, author, post, "2/ bring cards", visibility="unlisted")
    hidden = [
        await reply(pool, urls, author, post, "followers only, mine", visibility="private"),
        await reply(pool, urls, other, post, "followers only, theirs", visibility="private"),
        await reply(pool, urls, other, post, f"@author@{factories.LOCAL_DOMAIN} direct", visibility="direct"),
    ]
    theirs = await reply(pool, urls, other, post, "See you there")
    # two replies from another server, stored because they answer a local post
    bob = peer.actor("bob")
    public_remote = peer.note(bob, "<p>count me in</p>", in_reply_to=post_uri)
    await receive(app, client, peer.activity("Create", bob, public_remote), bob)
    private_remote = peer.note(bob, "<p>just for my followers</p>", in_reply_to=post_uri, to=[bob.followers], cc=[])
    await receive(app, client, peer.activity("Create", bob, private_remote), bob)
    assert await pool.fetchval("SELECT visibility FROM statuses WHERE uri = $1", private_remote["id"]) == "private"
    hidden_uris = [*[await uri_of(pool, i) for i in hidden], private_remote["id"]]

    # the Note: Mastodon's NoteSerializer#replies, the author's own replies inline
    note = await get(client, urls, post_uri)
    collection = f"{post_uri}/replies"
    own_uris = [await uri_of(pool, own), await uri_of(pool, own_unlisted)]
    assert note["replies"] == {
        "id": collection,
        "type": "Collection",
        "first": {
            "type": "CollectionPage",
            "next": f"{collection}?page=true&min_id={own_unlisted}",
            "partOf": collection,
            "items": own_uris,
        },
    }
    # the collection, its first page inline
    head = await get(client, urls, collection)
    assert head["type"] == "Collection" and head["id"] == collection
    assert head["first"]["items"] == own_uris and head["first"]["partOf"] == collection
    # the author's replies after the inline ones: none, so on to everyone else's
    rest = await get(client, urls, note["replies"]["first"]["next"])
    assert rest["type"] == "CollectionPage" and rest["items"] == []
    assert rest["next"] == f"{collection}?page=true&only_other_accounts=true"
    others = await get(client, urls, rest["next"])
    # oldest first: a peer's reply sorts by its `published`, which the peer set long before
    assert others["items"] == [public_remote["id"], await uri_of(pool, theirs)]
    assert "next" not in others
    # a followers-only or direct reply is in no page, whoever wrote it
    everything = str([note, head, rest, others])
    assert not any(uri in everything for uri in hidden_uris)
    # a Create in the outbox carries the same collection
    outbox = await get(client, urls, f"{urls.base}/users/author/outbox?page=true")
    create = next(item for item in outbox["orderedItems"] if item["object"]["id"] == post_uri)
    assert create["object"]["replies"] == note["replies"]


async def test_pages_go_on_by_min_id_oldest_first(
    client: httpx.AsyncClient, urls: LocalUrls, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies, "PAGE_SIZE", 2)
    author = await factories.local_actor(pool, urls, "author")
    other = await factories.local_actor(pool, urls, "other")
    post = await factories.post(pool, urls, author, "thread")
    mine = [await reply(pool, urls, author, post, f"{n}/ part") for n in range(7)]
    theirs = [await reply(pool, urls, other, post, f"reply {n}") for n in range(3)]
    post_uri = await uri_of(pool, post)
    note = await get(client, urls, post_uri)
    assert note["replies"]["first"]["items"] == [await uri_of(pool, i) for i in mine[:5]]  # self_replies(5)
    seen, page_uri = [], note["replies"]["first"]["next"]
    while page_uri:
        page = await get(client, urls, page_uri)
        assert len(page["items"]) <= 2
        seen += page["items"]
        page_uri = page.get("next")
    assert seen == [await uri_of(pool, i) for i in mine[5:] + theirs]


async def test_replies_of_a_followers_only_post_are_as_private_as_the_post(
    app: Starlette, client: httpx.AsyncClient, urls: LocalUrls, pool: asyncpg.Pool, peer: FakePeer
) -> None:
    author = await factories.local_actor(pool, urls, "author")
    post = await factories.post(pool, urls, author, "for followers", visibility="private")
    await reply(pool, urls, author, post, "public reply to a private post")
    path = f"/users/author/statuses/{post}/replies"
    fan = peer.actor("fan", key=1)
    assert (await client.get(path, headers=AS2)).status_code == 404
    assert (await signed_get(client, path, fan)).status_code == 404  # not (yet) a follower
    fan_row = await pool.fetchrow("SELECT * FROM actors WHERE uri = $1", fan.uri)
    async with pool.acquire() as conn:
        await follows.accept_follow(conn, fan_row, author, f"{fan.uri}#follows/1")
    allowed = await signed_get(client, path, fan)
    assert allowed.status_code == 200 and len(allowed.json()["first"]["items"]) == 1


async def test_unknown_statuses_and_bad_cursors(client: httpx.AsyncClient, urls: LocalUrls, pool: asyncpg.Pool) -> None:
    author = await factories.local_actor(pool, urls, "author")
    post = await factories.post(pool, urls, author, "hello")
    assert (await client.get("/users/author/statuses/12345/replies", headers=AS2)).status_code == 404
    assert (await client.get("/users/nobody/statuses/1/replies", headers=AS2)).status_code == 404
    bad = await client.get(f"/users/author/statuses/{post}/replies?page=true&min_id=%C2%B2", headers=AS2)
    assert bad.status_code == 400


async def signed_get(client: httpx.AsyncClient, path: str, actor: PeerActor) -> httpx.Response:
    headers = sign_request(
        "GET", f"{client.base_url}{path}", key_id=actor.key_id, private_key_pem=actor.private_pem, headers=AS2
    )
    return await client.get(path, headers=headers)
