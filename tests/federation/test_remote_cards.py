"""Peers' posts get link preview cards too (core/cards.py, queued by core/remote_statuses.py): a Create
through the real inbox, then the `fetch_card` job; the mention and the hashtag links are passed over for
the first real link, as Mastodon's FetchLinkCardService does for remote statuses. An Update that drops
the link drops the card."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.core import cards
from fediverse_biz.federation.inbound import dispatch
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.services import services
from tests.support.inbound import make_follow, remote_status, row_of
from tests.support.peers import FakePeer, PeerActor, deliver
from tests.support.websites import Website


@pytest.fixture
async def site() -> AsyncIterator[Website]:
    server = await Website().start()
    yield server
    await server.stop()


async def receive(app: Starlette, client: httpx.AsyncClient, activity: dict[str, Any], signer: PeerActor) -> None:
    """Deliver, then run the inbox job and the card job it queues with the real worker."""
    response = await deliver(client, activity, signer)
    assert response.status_code == 202, response.text
    state = services(app)
    handlers = {**dispatch.handlers(), **cards.handlers()}
    await Worker(state.pool, state.http, state.settings, handlers).run_until_idle(timeout=30)


async def test_a_peers_post_gets_the_card_of_its_first_real_link(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, alice: asyncpg.Record,
    site: Website,
) -> None:
    bob = peer.actor("bob")
    await make_follow(pool, alice, await row_of(app, bob))
    link = site.page("/fair", '<meta property="og:title" content="The trade fair">')
    other = site.page("/other", '<meta property="og:title" content="Not this one">')
    note = peer.note(
        bob,
        f'<p><span class="h-card"><a href="{site.url("/@someone")}" class="u-url mention">@someone</a></span> '
        f'<a href="{site.url("/tags/fair")}" class="mention hashtag" rel="tag">#fair</a> '
        f'<a href="{link}">the fair</a> and <a href="{other}">more</a></p>',
    )
    await receive(app, client, peer.activity("Create", bob, note), bob)
    status = await remote_status(pool, note["id"])
    assert site.hits == ["/fair"]
    entity = (await client.get(f"/api/v1/statuses/{status['id']}")).json()
    assert entity["card"]["title"] == "The trade fair" and entity["card"]["url"] == link

    update = peer.note(bob, "<p>no link any more</p>") | {"id": note["id"], "updated": "2024-05-02T12:00:00Z"}
    await receive(app, client, peer.activity("Update", bob, update), bob)
    assert (await client.get(f"/api/v1/statuses/{status['id']}")).json()["card"] is None
