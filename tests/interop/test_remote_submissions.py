"""A contributor on another server, between two live instances: A's organization accepts B's user, who
submits a post the way any Mastodon user would — a direct post mentioning the organization, marked
#submission, written with Mastodon.py through B's client API — and A's manager approves it from the
queue; the organization's post then reaches B, where the user (a follower of the organization) sees it.

Instance A hosts acme (owner alice, manager mia); instance B hosts bob. Everything between the two goes
over real HTTP with signatures, WebFinger and the delivery workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

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


@pytest.fixture
async def pair(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[tuple[Instance, Instance]]:
    async with started(live_server_factory, 2, Instance) as (a, b):
        yield a, b


async def login(instance: Instance, username: str) -> Mastodon:
    return await asyncio.to_thread(login_mastodon, instance.server.base_url, username, PASSWORD)


async def test_a_remote_contributors_submission_is_published_after_approval(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    # given acme on A, run by alice and mia, and bob on B, who follows acme
    for name in ("alice", "mia"):
        await a.user(name)
    acme = await accounts.create_organization(a.pool, a.urls, "acme", "alice", display_name="ACME")
    alice_user = await a.pool.fetchval(
        "SELECT u.id FROM users u JOIN actors a ON a.id = u.actor_id WHERE a.username = 'alice'"
    )
    await teams.add_member(a.pool, acme["id"], alice_user, "mia", "manager")
    bob = await b.user("bob")
    await follows.follow(b.pool, bob, await b.resolve(f"acme@{a.domain}"))
    await eventually(
        lambda: a.pool.fetchval(
            "SELECT 1 FROM follows f JOIN actors x ON x.id = f.actor_id WHERE x.uri = $1", bob["uri"]
        ),
        "A records bob's follow of acme",
    )
    mia = await login(a, "mia")
    org = f"{a.server.base_url}/api/v1/organizations/{acme['id']}"
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {mia.access_token}"}) as http:
        # when mia accepts bob, by his handle, as a contributor of acme
        added = await http.post(f"{org}/remote_contributors", data={"account": f"@bob@{b.domain}"})
        assert added.status_code == 200, added.text
        assert added.json()["account"]["acct"] == f"bob@{b.domain}"

        # and bob, on B, sends a direct post to acme marked #submission, from his Mastodon app
        bob_api = await login(b, "bob")
        sent = await asyncio.to_thread(
            bob_api.status_post,
            f"@acme@{a.domain} #submission Our widget line ships on Monday, in three colours.",
            visibility="direct",
        )
        assert sent["visibility"] == "direct"

        # then it waits in acme's queue on A, with bob as its author
        async def in_queue() -> list[dict[str, Any]]:
            entries: list[dict[str, Any]] = (await http.get(f"{org}/pending_statuses")).json()
            return entries

        [held] = await eventually(in_queue, "A queues bob's submission")
        assert held["fediverse_biz"]["submitted_by"]["account"]["acct"] == f"bob@{b.domain}"
        assert held["fediverse_biz"]["submitted_by"]["uri"] == sent["uri"]
        assert held["account"]["username"] == "acme" and "#submission" not in held["content"]
        # and it is nowhere else yet: B has no post of acme's
        assert not await b.pool.fetchval(
            "SELECT 1 FROM statuses s JOIN actors x ON x.id = s.actor_id WHERE x.uri = $1", acme["uri"]
        )

        # when mia approves it
        approved = await http.post(f"{org}/pending_statuses/{held['id']}/approve")
        assert approved.status_code == 200, approved.text
        published = approved.json()

    # then acme's post reaches B, and bob sees it in his home timeline, naming him
    copy = await eventually(lambda: b.status_by_uri(published["uri"]), "B receives acme's post")
    assert "Our widget line ships on Monday" in copy["content"]

    async def in_bobs_home() -> dict[str, Any] | None:
        home = await asyncio.to_thread(bob_api.timeline_home)
        return next((s for s in home if s["uri"] == published["uri"]), None)

    status = await eventually(in_bobs_home, "bob's home timeline on B shows acme's post")
    assert status["account"]["acct"] == f"acme@{a.domain}"
    assert [m["acct"] for m in status["mentions"]] == ["bob"]
    notifications = await asyncio.to_thread(bob_api.notifications)
    assert any(n["type"] == "mention" and n["status"]["uri"] == published["uri"] for n in notifications)
