"""A contributor's post, written with the real Mastodon.py client acting for an organization, between
two live instances: it leaves the server only once a manager approves it, and a rejected one never.

Instance A hosts acme (owner alice, manager mia, contributor carl) and erin, a local follower;
instance B hosts dave, who follows acme. "Never sent" is shown three ways: A's job table right after
the post (a delivery job would be written in the post's own transaction), B's statuses and inbox log,
and a marker — a later post of acme's that B does receive, so B's side is checked only after
deliveries from A demonstrably got through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from mastodon import Mastodon

from fediverse_biz.business import teams
from fediverse_biz.core import accounts, follows
from tests.support.accounts import PASSWORD
from tests.support.instances import Instance, started
from tests.support.mastodon_client import login_mastodon
from tests.support.polling import eventually
from tests.support.servers import LiveServer

AS2 = {"Accept": "application/activity+json"}


@pytest.fixture
async def pair(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[tuple[Instance, Instance]]:
    async with started(live_server_factory, 2, Instance) as (a, b):
        yield a, b


async def login(instance: Instance, username: str, actor: str | None = None) -> Mastodon:
    """Mastodon.py through the authorize page (the test plays the browser), choosing the identity."""
    return await asyncio.to_thread(login_mastodon, instance.server.base_url, username, PASSWORD, actor=actor)


async def held_uri_on(instance: Instance, pool: asyncpg.Pool, uri: str) -> bool:
    """Whether anything on `instance` mentions `uri`: a stored status or a received activity."""
    return bool(
        await pool.fetchval(
            """SELECT EXISTS (SELECT 1 FROM statuses WHERE uri = $1)
                   OR EXISTS (SELECT 1 FROM inbox_activities WHERE payload::text LIKE '%' || $1 || '%')""",
            uri,
        )
    )


async def queued_for(pool: asyncpg.Pool, uri: str) -> bool:
    return bool(await pool.fetchval("SELECT 1 FROM jobs WHERE payload::text LIKE '%' || $1 || '%'", uri))


async def marker_arrives(a: Instance, b: Instance, acme_api: Mastodon, text: str) -> None:
    """An approved-by-default post (the owner's) that B receives: everything queued before it left too."""
    marker = await asyncio.to_thread(acme_api.status_post, text)
    await eventually(lambda: b.status_by_uri(marker["uri"]), f"B receives {text!r}")


def ids_of(items: list[Any]) -> set[str]:
    return {str(s["id"]) for s in items}


async def test_a_held_post_federates_only_after_approval(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    # given acme's team and followers on both instances
    for name in ("alice", "mia", "carl", "erin"):
        await a.user(name)
    acme = await accounts.create_organization(a.pool, a.urls, "acme", "alice", display_name="ACME")
    alice_user = await a.pool.fetchval(
        "SELECT u.id FROM users u JOIN actors a ON a.id = u.actor_id WHERE a.username = 'alice'"
    )
    await teams.add_member(a.pool, acme["id"], alice_user, "mia", "manager")
    await teams.add_member(a.pool, acme["id"], alice_user, "carl", "contributor")
    erin = await a.pool.fetchrow("SELECT * FROM actors WHERE username = 'erin'")
    await follows.follow(a.pool, erin, acme)
    dave = await b.user("dave")
    acme_on_b = await b.resolve(f"acme@{a.domain}")
    await follows.follow(b.pool, dave, acme_on_b)
    await eventually(
        lambda: a.pool.fetchval(
            "SELECT 1 FROM follows f JOIN actors x ON x.id = f.actor_id WHERE x.uri = $1", dave["uri"]
        ),
        "A records dave's follow of acme",
    )

    # when carl, a contributor, posts from Mastodon.py with a token chosen for acme
    carl = await login(a, "carl", actor="acme")
    assert (await asyncio.to_thread(carl.me))["username"] == "acme"
    held = await asyncio.to_thread(carl.status_post, "Held news: the new anvil line #fair")
    doomed = await asyncio.to_thread(carl.status_post, "Leaked prices for the anvil line #fair")
    # then the client gets its status back as usual, marked as waiting
    assert held["fediverse_biz"]["approval_state"] == "pending" and held["account"]["username"] == "acme"
    assert not await queued_for(a.pool, held["uri"]) and not await queued_for(a.pool, doomed["uri"])

    # and it is on no timeline, in no search, outbox or status fetch
    erin_api = await login(a, "erin")
    alice_acme = await login(a, "alice", actor="acme")
    hidden = {str(held["id"]), str(doomed["id"])}
    assert not hidden & ids_of(await asyncio.to_thread(erin_api.timeline_home))
    assert not hidden & ids_of(await asyncio.to_thread(erin_api.timeline_public))
    assert not hidden & ids_of(await asyncio.to_thread(erin_api.timeline_hashtag, "fair"))
    assert not hidden & ids_of(await asyncio.to_thread(erin_api.account_statuses, acme["id"]))
    assert not hidden & ids_of(await asyncio.to_thread(alice_acme.account_statuses, acme["id"]))
    found = await asyncio.to_thread(erin_api.search_v2, "anvil", result_type="statuses")
    assert not hidden & ids_of(found["statuses"])
    async with httpx.AsyncClient() as http:
        outbox = (await http.get(f"{a.server.base_url}/users/acme/outbox?page=true", headers=AS2)).json()
        assert held["uri"] not in str(outbox) and doomed["uri"] not in str(outbox)
        assert (await http.get(held["uri"], headers=AS2)).status_code == 404
    # and B never hears of it: a later post from acme arrives, the held one does not
    await marker_arrives(a, b, alice_acme, "Marker one")
    assert not await held_uri_on(b, b.pool, held["uri"])

    # when mia, a manager, approves it through the JSON endpoint (with her own account's token)
    mia = await login(a, "mia")
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {mia.access_token}"}) as http:
        queue = (await http.get(f"{a.server.base_url}/api/v1/organizations/{acme['id']}/pending_statuses")).json()
        assert [s["id"] for s in queue] == [str(doomed["id"]), str(held["id"])]
        approved = await http.post(
            f"{a.server.base_url}/api/v1/organizations/{acme['id']}/pending_statuses/{held['id']}/approve"
        )
        assert approved.status_code == 200, approved.text
        published = approved.json()
        rejected = await http.post(
            f"{a.server.base_url}/api/v1/organizations/{acme['id']}/pending_statuses/{doomed['id']}/reject",
            data={"reason": "Prices are confidential"},
        )
        assert rejected.status_code == 200, rejected.text

    # then B receives the approved post, under its new id, as a normal Create from acme
    copy = await eventually(lambda: b.status_by_uri(published["uri"]), "B receives the approved post")
    assert "the new anvil line" in copy["content"] and copy["actor_id"] == acme_on_b["id"]
    assert int(published["id"]) > int(held["id"])
    assert str(published["id"]) in ids_of(await asyncio.to_thread(erin_api.timeline_home))
    # and the rejected post never leaves
    await marker_arrives(a, b, alice_acme, "Marker two")
    assert not await held_uri_on(b, b.pool, doomed["uri"])
    assert not await queued_for(a.pool, doomed["uri"])
    # and carl, on his own account, is told why
    carl_self = await login(a, "carl")
    warnings = [n for n in await asyncio.to_thread(carl_self.notifications) if n["type"] == "moderation_warning"]
    assert [w["moderation_warning"]["text"] for w in warnings] == ["Prices are confidential"]
    assert warnings[0]["account"]["username"] == "acme"
