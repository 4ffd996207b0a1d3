"""A hall's outbox and followers as Lemmy reads a community's (federation/group_endpoints.py outbox,
actor_endpoints.followers).

Lemmy fetches both collections by their URLs and parses them into fixed structs; a document that does not
fit fails the whole read. From LemmyNet/lemmy @ 439734dd: `GroupOutbox`
(crates/apub/apub/src/protocol/collections/group_outbox.rs: an `OrderedCollection` with `id`,
`totalItems` and `orderedItems` of Announces, read from the collection itself, no `first` followed) and
`GroupFollowers` (group_followers.rs: a `Collection` with `id`, `totalItems` and `items`, a `Vec<()>`
that only an empty array satisfies); the documents Lemmy serves are
crates/apub/apub/assets/lemmy/collections/group_outbox.json and group_followers.json.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from starlette.applications import Starlette

from fediverse_biz.activitypub.activities import as_list
from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.halls import make_hall
from tests.support.inbound import receive
from tests.support.peers import AS2, FakePeer

ACCEPT = {"Accept": AS2}


def read_as_lemmy_group_outbox(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """What serde needs to build Lemmy's GroupOutbox (and AnnounceActivity for each item)."""
    assert doc["type"] == "OrderedCollection"  # OrderedCollectionType
    assert isinstance(doc["id"], str) and isinstance(doc["totalItems"], int)
    items: list[dict[str, Any]] = doc["orderedItems"]
    for item in items:
        assert item["type"] == "Announce" and isinstance(item["id"], str) and isinstance(item["actor"], str)
        assert as_list(item["to"]) and as_list(item["cc"])  # both required, one URL or many
        inner = item["object"]  # IdOrNestedObject<RawAnnouncableActivities>: a URL, or an object with id and actor
        assert isinstance(inner, str) or (isinstance(inner["id"], str) and isinstance(inner["actor"], str))
    return items


def read_as_lemmy_group_followers(doc: dict[str, Any]) -> int:
    """What serde needs to build Lemmy's GroupFollowers; Lemmy keeps the count."""
    assert doc["type"] == "Collection"  # CollectionType: "OrderedCollection" does not deserialize
    assert isinstance(doc["id"], str) and isinstance(doc["totalItems"], int)
    assert doc["items"] == []  # Vec<()>: required, and only nulls would fit in it
    total: int = doc["totalItems"]
    return total


async def test_hall_outbox_and_followers_read_as_lemmy_reads_a_community(
    app: Starlette, client: httpx.AsyncClient, urls: LocalUrls, pool: asyncpg.Pool, peer: FakePeer
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    hall = await make_hall(pool, urls, alice)
    rita, sam = peer.actor("rita", key=0), peer.actor("sam", key=1)
    for member in (rita, sam):
        await receive(app, client, peer.activity("Follow", member, hall.actor["uri"]), member)
    mention = {"type": "Mention", "href": hall.actor["uri"], "name": "@hall7@127.0.0.1"}
    for n in range(3):
        note = peer.note(rita, f"<p>lathe {n} for sale</p>", cc=[rita.followers, hall.actor["uri"]], tag=[mention])
        await receive(app, client, peer.activity("Create", rita, note, to=[PUBLIC]), rita)
    announced = [
        r["id"]
        for r in await pool.fetch(
            """SELECT announce->>'id' AS id FROM community_announces WHERE community_id = $1 ORDER BY id DESC""",
            hall.id,
        )
    ]
    assert len(announced) == 3

    # the outbox collection itself carries the newest Announces, as Lemmy's outbox does
    outbox = (await client.get("/c/hall7/outbox", headers=ACCEPT)).json()
    items = read_as_lemmy_group_outbox(outbox)
    assert outbox["id"] == f"{urls.base}/c/hall7/outbox" and outbox["totalItems"] == 3
    assert [item["id"] for item in items] == announced
    assert all("@context" not in item for item in items)
    # and still pages for those who follow `first`
    first = (await client.get(outbox["first"].removeprefix(urls.base), headers=ACCEPT)).json()
    assert first["type"] == "OrderedCollectionPage" and [i["id"] for i in first["orderedItems"]] == announced

    # followers: a Collection with the count and an empty `items`, the members on its pages
    followers = (await client.get("/c/hall7/followers", headers=ACCEPT)).json()
    assert read_as_lemmy_group_followers(followers) == 2
    assert followers["id"] == hall.actor["followers_url"]
    page = (await client.get("/c/hall7/followers?page=1", headers=ACCEPT)).json()
    assert page["type"] == "CollectionPage" and page["partOf"] == followers["id"]
    assert sorted(page["items"]) == sorted([rita.uri, sam.uri]) and "orderedItems" not in page
    # a person's followers keep Mastodon's OrderedCollection
    person = (await client.get("/users/alice/followers", headers=ACCEPT)).json()
    assert person["type"] == "OrderedCollection" and "items" not in person


async def test_an_empty_hall_outbox_still_reads(
    client: httpx.AsyncClient, urls: LocalUrls, pool: asyncpg.Pool
) -> None:
    hall_owner = await factories.local_actor(pool, urls, "alice")
    await make_hall(pool, urls, hall_owner)
    outbox = (await client.get("/c/hall7/outbox", headers=ACCEPT)).json()
    assert read_as_lemmy_group_outbox(outbox) == [] and outbox["totalItems"] == 0
    assert read_as_lemmy_group_followers((await client.get("/c/hall7/followers", headers=ACCEPT)).json()) == 0
