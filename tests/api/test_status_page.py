"""api/status_page: a page rendered from its two queries is the page entities.statuses renders from whole
bundles, with the account-entity cache cold or warm, and a status whose author vanished mid-page is left
out instead of failing the page."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from fediverse_biz.api import entities
from fediverse_biz.api.status_page import render_page
from fediverse_biz.core import interactions
from fediverse_biz.core.hydrate import load_statuses
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.factories import post, remote_actor
from tests.support.images import png
from tests.support.social import checked, member


async def _mixed_page(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> tuple[int, list[int]]:
    """A viewer and a page with everything a status shows: an app, tags, mentions of a local and a remote
    account, media, a boost, a reply, the viewer's favourite, bookmark and pin, and a remote author."""
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    carol = await remote_actor(db.pool, "carol")
    media = await checked(
        client.post("/api/v2/media", files={"file": ("a.png", png(), "image/png")}, headers=bob.headers),
        "media_attachment",
    )
    pictured = await checked(
        client.post(
            "/api/v1/statuses",
            data={"status": "#fair #Booth @alice @carol@remote.example", "media_ids[]": media["id"]},
            headers=bob.headers,
        ),
        "status",
    )
    plain = await post(db.pool, urls, alice.actor, "our own #news")
    reply = await post(db.pool, urls, bob.actor, "@alice welcome", in_reply_to_id=plain)
    remote = await db.pool.fetchval(
        """INSERT INTO statuses (uri, actor_id, local, visibility, content)
           VALUES ('https://remote.example/users/carol/statuses/1', $1, false, 'public', '<p>remote</p>')
           RETURNING id""",
        carol["id"],
    )
    boost = await interactions.reblog(db.pool, urls, alice.actor, int(pictured["id"]))
    await interactions.favourite(db.pool, alice.actor, remote)
    await interactions.bookmark(db.pool, alice.actor, reply, on=True)
    await interactions.pin(db.pool, alice.actor, plain, on=True)
    return alice.id, [boost, remote, reply, plain, int(pictured["id"]), 10**15]  # the last id names nothing


async def _reference(db: Database, urls: LocalUrls, ids: list[int], viewer: int | None) -> list[dict[str, Any]]:
    bundles = await load_statuses(db.pool, ids)
    return await entities.statuses(db.pool, [bundles[i] for i in ids if i in bundles], urls, viewer)


@pytest.mark.parametrize("viewer_kind", ["viewer", "anonymous"])
async def test_a_page_is_the_page_whole_bundles_make(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, viewer_kind: str
) -> None:
    alice, ids = await _mixed_page(client, db, urls)
    viewer = alice if viewer_kind == "viewer" else None
    expected = await _reference(db, urls, ids, viewer)
    assert [e["id"] for e in expected] == [str(i) for i in ids[:-1]]
    assert expected[0]["reblog"]["media_attachments"] and expected[0]["reblog"]["mentions"]  # the page is rich
    known = entities.AccountEntities()
    async with db.pool.acquire() as conn:
        cold = await render_page(conn, ids, urls, viewer, known)
        warm = await render_page(conn, ids, urls, viewer, known)  # authors now from the cache
        uncached = await render_page(conn, ids, urls, viewer, None)
    assert cold == expected
    assert warm == expected
    assert uncached == expected


class _DeletingAfter:
    """A connection that deletes an actor (and by cascade its statuses) once its `nth` fetch returns: a
    profile deleted between the page's queries."""

    def __init__(self, conn: asyncpg.Connection, nth: int, actor_id: int) -> None:
        self._conn, self._nth, self._actor_id, self.fetches = conn, nth, actor_id, 0

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._conn.fetch(query, *args)
        self.fetches += 1
        if self.fetches == self._nth:
            await self._conn.execute("DELETE FROM actors WHERE id = $1", self._actor_id)
        return rows


@pytest.mark.parametrize("nth", [1, 2])
async def test_an_author_deleted_between_the_queries_leaves_the_page(
    db: Database, urls: LocalUrls, nth: int
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    kept = await post(db.pool, urls, alice.actor, "stays")
    gone = await post(db.pool, urls, bob.actor, "goes")
    async with db.pool.acquire() as conn:
        # Cold cache: after the statuses (1) the author is missing from the facts; after the facts (2) its
        # whole row is missing.
        deleting = _DeletingAfter(conn, nth, bob.id)
        page = await render_page(deleting, [gone, kept], urls, None, entities.AccountEntities())  # type: ignore[arg-type]
    assert deleting.fetches >= nth
    assert [e["id"] for e in page] == [str(kept)]
    assert str(gone) not in str(page)
