"""Followers-only and direct posts never reach anyone not addressed — on every client-API endpoint.

(Streaming is covered by the streaming tests; federation deliveries by the core/federation tests.)
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from fediverse_biz.core import follows
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.social import Member, checked, error, member

SECRET = "zebrafinance"


@dataclass
class Scene:
    alice: Member  # the author
    fran: Member  # follows alice
    mia: Member  # mentioned in the direct post
    sam: Member  # a stranger
    parent: str  # alice's public post
    private: str  # alice's followers-only reply to it, tagged and with the secret word
    direct: str  # alice's direct post to mia, with the secret word


@pytest.fixture
async def scene(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> Scene:
    alice, fran, mia, sam = [await member(db, urls, n) for n in ("alice", "fran", "mia", "sam")]
    await follows.follow(db.pool, fran.actor, alice.actor)

    async def post(**data: str) -> str:
        status = await checked(client.post("/api/v1/statuses", data=data, headers=alice.headers), "status")
        return str(status["id"])

    parent = await post(status="Open day at our booth #fair")
    private = await post(status=f"{SECRET} for followers #fair", visibility="private", in_reply_to_id=parent)
    direct = await post(status=f"@mia {SECRET} just for you #fair", visibility="direct")
    await checked(client.post(f"/api/v1/statuses/{private}/favourite", headers=fran.headers), "status")
    await checked(client.post(f"/api/v1/statuses/{direct}/favourite", headers=mia.headers), "status")
    return Scene(alice, fran, mia, sam, parent, private, direct)


async def visible_ids(client: httpx.AsyncClient, url: str, headers: dict[str, str] | None) -> list[str]:
    body = await checked(client.get(url, headers=headers), "status")
    return [s["id"] for s in body]


async def sees(client: httpx.AsyncClient, scene: Scene, status_id: str, headers: dict[str, str] | None) -> bool:
    """Whether the viewer can see the status anywhere; asserts every endpoint agrees."""
    response = await client.get(f"/api/v1/statuses/{status_id}", headers=headers)
    shown = response.status_code == 200
    if not shown:
        await error(client.get(f"/api/v1/statuses/{status_id}", headers=headers), 404)
    many = await visible_ids(client, f"/api/v1/statuses?id[]={status_id}", headers)
    assert (many == [status_id]) is shown
    context = await client.get(f"/api/v1/statuses/{status_id}/context", headers=headers)
    assert context.status_code == (200 if shown else 404)
    for what in ("favourited_by", "reblogged_by", "history"):
        response = await client.get(f"/api/v1/statuses/{status_id}/{what}", headers=headers)
        assert response.status_code == (200 if shown else 404), what
        if not shown:
            await error(client.get(f"/api/v1/statuses/{status_id}/{what}", headers=headers), 404)
    account = await visible_ids(client, f"/api/v1/accounts/{scene.alice.account_id}/statuses", headers)
    assert (status_id in account) is shown
    if headers is not None:
        response = await client.get(f"/api/v1/statuses/{status_id}/source", headers=headers)
        assert response.status_code == (200 if shown else 404)
        if not shown:  # acting on it is "not found"; it is in no home feed
            for verb in ("favourite", "unfavourite", "bookmark", "unbookmark", "pin", "mute"):
                await error(client.post(f"/api/v1/statuses/{status_id}/{verb}", headers=headers), 404)
            assert status_id not in await visible_ids(client, "/api/v1/timelines/home", headers)
    if status_id == scene.parent:
        return shown
    # shared timelines and search never show non-public posts, even to those who may see them
    assert status_id not in await visible_ids(client, "/api/v1/timelines/public", headers)
    assert status_id not in await visible_ids(client, "/api/v1/timelines/tag/fair", headers)
    found = await checked(client.get("/api/v2/search", params={"q": SECRET}, headers=headers), "search")
    assert found["statuses"] == [] or headers == scene.alice.headers
    return shown


async def test_a_stranger_sees_neither(client: httpx.AsyncClient, scene: Scene) -> None:
    assert not await sees(client, scene, scene.private, scene.sam.headers)
    assert not await sees(client, scene, scene.direct, scene.sam.headers)
    assert await sees(client, scene, scene.parent, scene.sam.headers)
    context = await checked(client.get(f"/api/v1/statuses/{scene.parent}/context", headers=scene.sam.headers),
                            "context")
    assert context["descendants"] == []


async def test_anonymous_sees_neither(client: httpx.AsyncClient, scene: Scene) -> None:
    assert not await sees(client, scene, scene.private, None)
    assert not await sees(client, scene, scene.direct, None)
    context = await checked(client.get(f"/api/v1/statuses/{scene.parent}/context"), "context")
    assert context["descendants"] == []


async def test_a_follower_sees_the_followers_only_post_not_the_direct_one(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    assert await sees(client, scene, scene.private, scene.fran.headers)
    assert not await sees(client, scene, scene.direct, scene.fran.headers)
    context = await checked(client.get(f"/api/v1/statuses/{scene.parent}/context", headers=scene.fran.headers),
                            "context")
    assert [s["id"] for s in context["descendants"]] == [scene.private]
    fans = await checked(client.get(f"/api/v1/statuses/{scene.private}/favourited_by", headers=scene.fran.headers),
                         "account")
    assert [a["id"] for a in fans] == [scene.fran.account_id]
    assert scene.private in await visible_ids(client, "/api/v1/timelines/home", scene.fran.headers)


async def test_the_addressee_sees_the_direct_post_not_the_followers_only_one(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    assert await sees(client, scene, scene.direct, scene.mia.headers)
    assert not await sees(client, scene, scene.private, scene.mia.headers)
    fans = await checked(client.get(f"/api/v1/statuses/{scene.direct}/favourited_by", headers=scene.mia.headers),
                         "account")
    assert [a["id"] for a in fans] == [scene.mia.account_id]
    assert scene.direct in await visible_ids(client, "/api/v1/timelines/home", scene.mia.headers)


async def test_the_author_sees_both_and_finds_them_by_search(client: httpx.AsyncClient, scene: Scene) -> None:
    assert await sees(client, scene, scene.private, scene.alice.headers)
    assert await sees(client, scene, scene.direct, scene.alice.headers)
    found = await checked(client.get("/api/v2/search", params={"q": SECRET}, headers=scene.alice.headers), "search")
    assert [s["id"] for s in found["statuses"]] == [scene.direct, scene.private]


async def test_nobody_but_the_author_may_boost_them(client: httpx.AsyncClient, scene: Scene) -> None:
    await error(client.post(f"/api/v1/statuses/{scene.private}/reblog", headers=scene.fran.headers), 403)
    await error(client.post(f"/api/v1/statuses/{scene.direct}/reblog", headers=scene.mia.headers), 403)
    await error(client.post(f"/api/v1/statuses/{scene.private}/reblog", headers=scene.sam.headers), 404)


async def test_unfollowing_takes_the_post_away(client: httpx.AsyncClient, db: Database, scene: Scene) -> None:
    assert await visible_ids(client, "/api/v1/favourites", scene.fran.headers) == [scene.private]
    await follows.unfollow(db.pool, scene.fran.actor, scene.alice.actor)
    assert not await sees(client, scene, scene.private, scene.fran.headers)
    assert await visible_ids(client, "/api/v1/favourites", scene.fran.headers) == []
