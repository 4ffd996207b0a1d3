"""Statuses at their URIs and the outbox: what peers can fetch, and what they never can."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from fediverse_biz.activitypub.signatures import sign_request
from fediverse_biz.core import follows, interactions, statuses
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.peers import FakePeer, PeerActor

AS2 = {"Accept": "application/activity+json"}


async def signed_get(client: httpx.AsyncClient, path: str, actor: PeerActor) -> httpx.Response:
    headers = sign_request(
        "GET", f"{client.base_url}{path}", key_id=actor.key_id, private_key_pem=actor.private_pem, headers=AS2
    )
    return await client.get(path, headers=headers)


def path_of(uri: str, urls: LocalUrls) -> str:
    return uri.removeprefix(urls.base)


async def test_public_status_is_a_note_and_its_activity_a_create(
    app: Starlette, client: httpx.AsyncClient, urls: LocalUrls
) -> None:
    author = await factories.local_actor(services(app).pool, urls, "author")
    status_id = await factories.post(services(app).pool, urls, author, "Open day #trade")
    uri = f"{urls.base}/users/author/statuses/{status_id}"
    note = await client.get(path_of(uri, urls), headers=AS2)
    assert note.status_code == 200
    assert note.headers["content-type"].startswith("application/activity+json")
    doc = note.json()
    assert doc["id"] == uri and doc["type"] == "Note" and doc["attributedTo"] == author["uri"]
    assert "Open day" in doc["content"] and doc["tag"][0]["type"] == "Hashtag"
    create = (await client.get(path_of(uri, urls) + "/activity", headers=AS2)).json()
    assert create["type"] == "Create" and create["object"]["id"] == uri
    browser = await client.get(path_of(uri, urls), headers={"Accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 302 and browser.headers["location"].endswith(f"/@author/{status_id}")


async def test_boost_is_served_as_announce(app: Starlette, client: httpx.AsyncClient, urls: LocalUrls) -> None:
    author = await factories.local_actor(services(app).pool, urls, "author")
    booster = await factories.local_actor(services(app).pool, urls, "booster")
    original = await factories.post(services(app).pool, urls, author, "worth it")
    boost = await interactions.reblog(services(app).pool, urls, booster, original)
    response = await client.get(f"/users/booster/statuses/{boost}/activity", headers=AS2)
    doc = response.json()
    assert doc["type"] == "Announce" and doc["object"] == f"{urls.base}/users/author/statuses/{original}"
    assert (await client.get(f"/users/booster/statuses/{boost}", headers=AS2)).status_code == 404


async def test_followers_only_status_needs_a_signature_of_a_follower(
    app: Starlette, client: httpx.AsyncClient, urls: LocalUrls, peer: FakePeer
) -> None:
    pool = services(app).pool
    author = await factories.local_actor(pool, urls, "author")
    fan, stranger = peer.actor("fan", key=1), peer.actor("stranger", key=2)
    status_id = await factories.post(pool, urls, author, "followers only", visibility="private")
    path = f"/users/author/statuses/{status_id}"
    # anonymous and a signed stranger: as if it did not exist
    assert (await client.get(path, headers=AS2)).status_code == 404
    assert (await signed_get(client, path, stranger)).status_code == 404
    assert (await signed_get(client, path + "/activity", stranger)).status_code == 404
    # the fan, before following: a valid signature is not enough (and makes the fan known to us)
    assert (await signed_get(client, path, fan)).status_code == 404
    fan_row = await pool.fetchrow("SELECT * FROM actors WHERE uri = $1", fan.uri)
    # a forged signature (the fan's key id, the stranger's key) is no better than none
    forged = PeerActor(fan.uri, fan.username, fan.doc, stranger.private_pem)
    # once the fan follows, the fan's signed fetch works
    async with pool.acquire() as conn:
        await follows.accept_follow(conn, fan_row, author, f"{fan.uri}#follows/1")
    assert (await signed_get(client, path, forged)).status_code == 404
    allowed = await signed_get(client, path, fan)
    assert allowed.status_code == 200 and allowed.json()["content"] == "<p>followers only</p>"


async def test_direct_status_only_for_the_addressee(
    app: Starlette, client: httpx.AsyncClient, urls: LocalUrls, peer: FakePeer
) -> None:
    pool = services(app).pool
    author = await factories.local_actor(pool, urls, "author")
    friend, other = peer.actor("friend", key=1), peer.actor("other", key=2)
    friend_row = await pool.fetchrow(
        """INSERT INTO actors (username, domain, uri, inbox_url, key_id, public_key_pem)
           VALUES ('friend', $1, $2, $3, $4, $5) RETURNING *""",
        peer.host,
        friend.uri,
        friend.inbox,
        friend.key_id,
        friend.doc["publicKey"]["publicKeyPem"],
    )
    status_id = await statuses.create(
        pool, urls, "127.0.0.1", author, statuses.Draft(text=f"hi @friend@{peer.host}", visibility="direct")
    )
    assert (
        await pool.fetchval("SELECT actor_id FROM status_mentions WHERE status_id = $1", status_id) == friend_row["id"]
    )
    path = f"/users/author/statuses/{status_id}"
    assert (await client.get(path, headers=AS2)).status_code == 404
    assert (await signed_get(client, path, other)).status_code == 404
    assert (await signed_get(client, path, friend)).status_code == 200


async def test_deleted_status_is_gone(app: Starlette, client: httpx.AsyncClient, urls: LocalUrls) -> None:
    author = await factories.local_actor(services(app).pool, urls, "author")
    status_id = await factories.post(services(app).pool, urls, author, "soon gone")
    await statuses.delete(services(app).pool, urls, author, status_id)
    response = await client.get(f"/users/author/statuses/{status_id}", headers=AS2)
    assert response.status_code == 410 and response.json()["type"] == "Tombstone"
    assert (await client.get("/users/author/statuses/12345", headers=AS2)).status_code == 404
    assert (await client.get("/users/author/statuses/not-a-number", headers=AS2)).status_code == 404
    assert (await client.get(f"/users/nobody/statuses/{status_id}", headers=AS2)).status_code == 404


async def test_outbox_lists_public_and_unlisted_activities_in_pages(
    app: Starlette, client: httpx.AsyncClient, urls: LocalUrls
) -> None:
    pool = services(app).pool
    author = await factories.local_actor(pool, urls, "author")
    public = [await factories.post(pool, urls, author, f"public {i}") for i in range(22)]
    unlisted = await factories.post(pool, urls, author, "unlisted", visibility="unlisted")
    await factories.post(pool, urls, author, "private", visibility="private")
    await factories.post(pool, urls, author, "direct", visibility="direct")
    collection = (await client.get("/users/author/outbox", headers=AS2)).json()
    assert collection["type"] == "OrderedCollection" and collection["totalItems"] == 23
    first = (await client.get(path_of(collection["first"], urls), headers=AS2)).json()
    assert first["type"] == "OrderedCollectionPage" and len(first["orderedItems"]) == 20
    second = (await client.get(path_of(first["next"], urls), headers=AS2)).json()
    listed = [item["object"]["id"] for item in first["orderedItems"] + second["orderedItems"]]
    expected = [f"{urls.base}/users/author/statuses/{i}" for i in [unlisted, *reversed(public)]]
    assert listed == expected
    assert all(item["type"] == "Create" for item in first["orderedItems"])
    assert "next" not in second
