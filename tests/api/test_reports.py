"""Reports (POST /api/v1/reports): stored, the staff notified, forwarded as a Flag from the instance actor
to a remote account's server when asked; the Report entity as Mastodon answers it; hostile input refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from mastodon import MastodonAPIError
from starlette.applications import Starlette

from fediverse_biz.core import accounts, instance_settings, interactions
from fediverse_biz.db.database import Database
from fediverse_biz.federation import delivery
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories, peers
from tests.support.accounts import PASSWORD, api_headers, create_user_sync
from tests.support.inbound import receive, remote_status, row_of
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer
from tests.support.social import checked, error, member, token

peer = peers.peer


async def _admin_notes(db: Database, admin_id: int) -> list[dict[str, str]]:
    rows = await db.pool.fetch("SELECT type, extra FROM notifications WHERE actor_id = $1 ORDER BY id", admin_id)
    return [{"type": r["type"], "report_id": r["extra"].get("report_id")} for r in rows]


async def test_report_of_a_local_account_is_stored_and_notifies_the_staff(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    admin = await accounts.create_user(db.pool, urls, "dana", "dana@example.com", factories.PASSWORD, role="admin")
    mod = await accounts.create_user(db.pool, urls, "moe", "moe@example.com", factories.PASSWORD, role="moderator")
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    first = await factories.post(db.pool, urls, bob.actor, "buy my pills")
    second = await factories.post(db.pool, urls, bob.actor, "more pills")
    report = await checked(
        client.post(
            "/api/v1/reports",
            json={"account_id": bob.account_id, "status_ids": [str(first), str(second)], "comment": " spam! ",
                  "category": "spam", "forward": True},  # forward means nothing for a local account
            headers=alice.headers,
        ),
        "report",
    )  # fmt: skip
    assert report["category"] == "spam" and report["comment"] == "spam!" and report["forwarded"] is False
    assert report["status_ids"] == [str(first), str(second)] and report["rule_ids"] is None
    assert report["action_taken"] is False and report["target_account"]["id"] == bob.account_id
    row = await db.pool.fetchrow("SELECT * FROM reports WHERE id = $1", int(report["id"]))
    assert row["reporter_actor_id"] == alice.id and row["target_actor_id"] == bob.id
    for staff in (admin, mod):
        assert await _admin_notes(db, staff.actor_id) == [{"type": "admin.report", "report_id": report["id"]}]
    assert await _admin_notes(db, alice.id) == [] and await _admin_notes(db, bob.id) == []
    assert await factories.deliveries(db.pool) == []
    # the notification as the moderator's app reads it
    mod_headers = await api_headers(db.pool, mod, "read write")
    [note] = await checked(client.get("/api/v1/notifications", headers=mod_headers), "notification")
    assert note["type"] == "admin.report" and note["account"]["id"] == alice.account_id


async def test_category_defaults_to_other_and_rules_make_a_violation(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    await instance_settings.update(db.pool, instance_settings.InstanceChanges(rules=["Be kind", "No spam"]))
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    plain = await checked(client.post("/api/v1/reports", data={"account_id": bob.account_id}, headers=alice.headers),
                          "report")  # fmt: skip
    assert plain["category"] == "other" and plain["status_ids"] is None and plain["comment"] == ""
    ruled = await checked(
        client.post("/api/v1/reports", data={"account_id": bob.account_id, "category": "spam", "rule_ids[]": ["2"]},
                    headers=alice.headers),
        "report",
    )  # fmt: skip
    assert ruled["category"] == "violation" and ruled["rule_ids"] == ["2"]
    message = await error(
        client.post("/api/v1/reports", data={"account_id": bob.account_id, "rule_ids[]": ["3"]}, headers=alice.headers),
        422,
    )
    assert "rule" in message


async def test_forwarded_report_sends_a_flag_from_the_instance_actor(
    app: Starlette, client: httpx.AsyncClient, db: Database, urls: LocalUrls, peer: peers.FakePeer
) -> None:
    alice = await member(db, urls, "alice")
    bob = peer.actor("bob")
    bob_row = await row_of(app, bob)
    await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", alice.id, bob_row["id"])
    note = peer.note(bob, "<p>buy my pills</p>")
    await receive(app, client, peer.activity("Create", bob, note), bob)
    status = await remote_status(db.pool, note["id"])
    report = await checked(
        client.post(
            "/api/v1/reports",
            data={"account_id": str(bob_row["id"]), "status_ids[]": [str(status["id"])], "comment": "spam",
                  "forward": "true"},
            headers=alice.headers,
        ),
        "report",
    )  # fmt: skip
    assert report["forwarded"] is True
    state = services(app)
    await Worker(state.pool, state.http, state.settings, delivery.handlers()).run_until_idle(timeout=30)
    [(path, flag)] = [(p, body) for p, body in peer.posted if body.get("type") == "Flag"]
    instance = state.instance_actor
    assert path == "/users/bob/inbox"
    assert flag["actor"] == instance["uri"] and flag["id"] == f"{instance['uri']}#flags/{report['id']}"
    assert flag["object"] == [bob.uri, note["id"]] and flag["content"] == "spam"
    assert alice.actor["uri"] not in str(flag)  # the reporter stays anonymous on the other server
    # not forwarded: nothing leaves
    await checked(client.post("/api/v1/reports", data={"account_id": str(bob_row["id"])}, headers=alice.headers),
                  "report")  # fmt: skip
    assert await factories.deliveries(db.pool) == []


async def test_hostile_and_invalid_reports_are_refused(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, carol = [await member(db, urls, n) for n in ("alice", "bob", "carol")]
    carols = await factories.post(db.pool, urls, carol.actor, "innocent")
    boost_of_carol = await interactions.reblog(db.pool, urls, bob.actor, carols)
    base = {"account_id": bob.account_id}

    async def refused(status: int, **changes: object) -> str:
        return await error(client.post("/api/v1/reports", json=base | changes, headers=alice.headers), status)

    assert "status_ids" in await refused(422, status_ids=[str(carols)])  # not bob's
    assert "status_ids" in await refused(422, status_ids=[str(boost_of_carol)])  # a boost is not bob's words
    assert "status_ids" in await refused(422, status_ids=["1' OR 1=1 --"])
    assert "status_ids" in await refused(422, status_ids=["99999999999999999999"])
    assert "too long" in await refused(422, comment="x" * 1001)
    assert "category" in await refused(422, category="nonsense")
    assert "forward" in await refused(422, forward="maybe")
    assert await refused(422, comment="nul\u0000") != ""
    assert await refused(404, account_id="123456789") == "Record not found"
    assert await refused(404, account_id="../1") == "Record not found"
    assert await error(client.post("/api/v1/reports", json={}, headers=alice.headers), 404) == "Record not found"
    instance = await db.pool.fetchval("SELECT id FROM actors WHERE is_instance_actor")
    assert await refused(404, account_id=str(instance)) == "Record not found"
    assert await db.pool.fetchval("SELECT count(*) FROM reports") == 0
    # scopes: write:reports, a user token
    assert (await client.post("/api/v1/reports", json=base)).status_code == 401
    read_only = await token(db, alice, "read")
    assert await error(client.post("/api/v1/reports", json=base, headers=read_only), 403) != ""
    granular = await token(db, alice, "write:reports")
    await checked(client.post("/api/v1/reports", json=base, headers=granular), "report")


async def test_mastodon_py_files_a_report(live_server_factory: Callable[..., LiveServer]) -> None:
    live = await asyncio.to_thread(live_server_factory)
    for name in ("alice", "bob"):
        await asyncio.to_thread(create_user_sync, live, name)
    await asyncio.to_thread(create_user_sync, live, "dana", role="admin")
    alice, bob, dana = [await asyncio.to_thread(password_login, live.base_url, n, PASSWORD)
                        for n in ("alice", "bob", "dana")]  # fmt: skip
    status = await asyncio.to_thread(bob.status_post, "cheap watches")
    bob_account = await asyncio.to_thread(bob.me)
    report = await asyncio.to_thread(alice.report, bob_account, status_ids=[status], comment="spam", category="spam")
    assert report["category"] == "spam" and [str(i) for i in report["status_ids"]] == [str(status["id"])]
    assert str(report["target_account"]["id"]) == str(bob_account["id"])
    [note] = await asyncio.to_thread(dana.notifications)
    assert note["type"] == "admin.report"
    own = await asyncio.to_thread(alice.status_post, "mine")
    with pytest.raises(MastodonAPIError) as refused:
        await asyncio.to_thread(alice.report, bob_account, status_ids=[own])
    assert refused.value.args[1] == 422
