"""Every Update we send has an id of its own (activitypub/activities.py, federation/outbox.py).

Mastodon's pattern, `#updates/<unix seconds>`, gave two edits (or two profile changes) within one second
one id, and a receiver that processes each id once kept the first: a Fedify-based server
(tests/support/fedify_inbox.py), and our own inbox before it kept versions. Here such a receiver follows
a local account, gets both Updates under two ids and applies the second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import aiohttp
import asyncpg
import pytest

from fediverse_biz.activitypub.activities import parse_datetime
from fediverse_biz.config import Settings
from fediverse_biz.core import profiles, statuses
from fediverse_biz.core.hydrate import load_status
from fediverse_biz.db.database import Database
from fediverse_biz.federation import delivery, outbox
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.net.fetch import create_session
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.fedify_inbox import FedifyInbox
from tests.support.inbound import make_follow


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    session = create_session(["127.0.0.0/8"], user_agent="test", total_timeout=5.0)
    yield session
    await session.close()


@pytest.fixture
async def acme(db: Database, urls: LocalUrls) -> asyncpg.Record:
    return await factories.local_actor(db.pool, urls, "acme")


@pytest.fixture
async def fedify(db: Database, acme: asyncpg.Record) -> AsyncIterator[FedifyInbox]:
    """A Fedify-based server on 127.0.0.1 whose member `fan` follows acme."""
    inbox = await FedifyInbox(public_keys={acme["key_id"]: acme["public_key_pem"]}).start()
    host = inbox.url("").removeprefix("http://")
    fan = await db.pool.fetchrow(
        """INSERT INTO actors (username, domain, uri, inbox_url, shared_inbox_url, key_id, public_key_pem)
           VALUES ('fan', $1, $2, $3, $4, $5, 'unused') RETURNING *""",
        host,
        inbox.url("/users/fan"),
        inbox.url("/users/fan/inbox"),
        inbox.url("/inbox"),
        inbox.url("/users/fan#main-key"),
    )
    await make_follow(db.pool, fan, acme)
    yield inbox
    await inbox.stop()


async def deliver_all(db: Database, http: aiohttp.ClientSession, settings: Settings) -> None:
    await Worker(db.pool, http, settings, delivery.handlers()).run_until_idle(timeout=15)


def updated_times(activities: list[dict[str, object]]) -> list[datetime | None]:
    return [parse_datetime(a["object"]["updated"]) for a in activities]  # type: ignore[index]


async def test_two_quick_edits_are_two_updates_and_a_fedify_peer_applies_the_second(
    db: Database, http: aiohttp.ClientSession, settings: Settings, urls: LocalUrls, acme: asyncpg.Record,
    fedify: FedifyInbox,
) -> None:
    status_id = await factories.post(db.pool, urls, acme, "Open day on Friday")
    uri = await db.pool.fetchval("SELECT uri FROM statuses WHERE id = $1", status_id)
    # two edits in quick succession, usually within the same second
    await statuses.edit(db.pool, urls, factories.LOCAL_DOMAIN, acme, status_id, statuses.Draft(text="Open day, 9am"))
    await statuses.edit(db.pool, urls, factories.LOCAL_DOMAIN, acme, status_id, statuses.Draft(text="Open day, 10am"))
    await deliver_all(db, http, settings)

    assert fedify.rejected == [] and fedify.skipped == []
    updates = [a for a in fedify.processed if a["type"] == "Update"]
    assert len(updates) == 2
    assert updates[0]["id"] != updates[1]["id"]
    assert all(a["id"].startswith(f"{uri}#updates/") for a in updates)
    # the two deliveries may run in either order (two worker slots); `updated` tells the two versions
    # apart even within one second, so a receiver keeps the later edit whichever arrives last
    before, after = sorted(updated_times(updates), key=lambda t: (t is None, t))
    assert before is not None and after is not None and before < after
    latest = max(updates, key=lambda a: parse_datetime(a["object"]["updated"]))  # type: ignore[index]
    assert "10am" in latest["object"]["content"]


async def test_updates_of_one_edit_still_get_ids_of_their_own(
    db: Database, urls: LocalUrls, acme: asyncpg.Record, fedify: FedifyInbox
) -> None:
    # the same edit time twice (the old ids were built from it): two activities, two ids
    status_id = await factories.post(db.pool, urls, acme, "catalogue")
    await statuses.edit(db.pool, urls, factories.LOCAL_DOMAIN, acme, status_id, statuses.Draft(text="catalogue v2"))
    async with db.pool.acquire() as conn, conn.transaction():
        bundle = await load_status(conn, status_id)
        assert bundle is not None
        await outbox.publish_update(conn, urls, bundle)
        await outbox.publish_update(conn, urls, bundle)
    ids = [
        r["id"]
        for r in await db.pool.fetch(
            """SELECT payload->'activity'->>'id' AS id FROM jobs
                WHERE kind = 'deliver' AND payload->'activity'->>'type' = 'Update'"""
        )
    ]
    assert len(ids) == len(set(ids)) == 3


async def test_two_quick_profile_changes_are_two_updates_a_fedify_peer_applies(
    db: Database, http: aiohttp.ClientSession, settings: Settings, urls: LocalUrls, acme: asyncpg.Record,
    fedify: FedifyInbox,
) -> None:
    user_id = await db.pool.fetchval("SELECT id FROM users WHERE actor_id = $1", acme["id"])
    for name in ("ACME Anvils", "ACME Anvils & Forges"):
        changes = profiles.ProfileChanges(display_name=name)
        await profiles.update_profile(db.pool, urls, factories.LOCAL_DOMAIN, acme["id"], user_id, changes)
    await deliver_all(db, http, settings)

    assert fedify.rejected == [] and fedify.skipped == []
    updates = [a for a in fedify.processed if a["type"] == "Update"]
    assert sorted(a["object"]["name"] for a in updates) == ["ACME Anvils", "ACME Anvils & Forges"]
    assert updates[0]["id"] != updates[1]["id"]
    assert all(a["id"].startswith(f"{acme['uri']}#updates/") for a in updates)
    # delivered in either order; the later change carries the later `updated`
    latest = max(updates, key=lambda a: parse_datetime(a["object"]["updated"]))  # type: ignore[index]
    assert latest["object"]["name"] == "ACME Anvils & Forges"
    assert len({a["object"]["updated"] for a in updates}) == 2
