"""Data export (JSON archive, Mastodon CSVs) and account deletion through the client API."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import httpx
import pytest

from fediverse_biz.config import Settings
from fediverse_biz.core import accounts, interactions, statuses
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.accounts import api_headers
from tests.support.social import Member, member

BASE = "http://127.0.0.1"
EXPORT = "/api/v1/fediverse_biz/export"
DELETE = "/api/v1/fediverse_biz/delete_account"
AS2 = {"Accept": "application/activity+json"}


async def follow_row(pool: asyncpg.Pool, follower: int, target: int, *, notify: bool = False) -> None:
    await pool.execute(
        "INSERT INTO follows (actor_id, target_actor_id, notify) VALUES ($1, $2, $3)", follower, target, notify
    )


@pytest.fixture
async def alice(app: Any, db: Database, urls: LocalUrls) -> Member:
    return await member(db, urls, "alice")


async def social_life(pool: asyncpg.Pool, urls: LocalUrls, alice: Member) -> dict[str, Any]:
    """alice's posts of every kind, her followers (local and remote) and the accounts she follows."""
    author = alice.actor
    posts = {
        visibility: await factories.post(pool, urls, author, f"{visibility} words", visibility=visibility)
        for visibility in ("public", "unlisted", "private", "direct")
    }
    posts["held"] = await statuses.create(
        pool, urls, factories.LOCAL_DOMAIN, author, statuses.Draft(text="held words"), hold_for_approval=True
    )
    bob = await factories.local_actor(pool, urls, "bob")
    bobs = await factories.post(pool, urls, bob, "bob's words")
    posts["boost"] = await interactions.reblog(pool, urls, author, bobs)
    media_id = await pool.fetchval(
        """INSERT INTO media_attachments (actor_id, media_type, content_type, file_path, preview_path)
           VALUES ($1, 'image', 'image/png', '12/7.png', '12/7_small.jpg') RETURNING id""",
        author["id"],
    )
    posts["media"] = await factories.post(pool, urls, author, "with a picture", media_ids=[media_id])
    remy = await factories.remote_actor(pool, "remy", "peer.example")  # shared inbox https://peer.example/inbox
    rita = await factories.remote_actor(pool, "rita", "other.example", shared_inbox=False)
    await follow_row(pool, bob["id"], author["id"])
    await follow_row(pool, remy["id"], author["id"])
    await follow_row(pool, author["id"], rita["id"], notify=True)
    await follow_row(pool, author["id"], bob["id"])
    await pool.execute("DELETE FROM jobs")  # only what the deletion queues matters below
    return {"posts": posts, "bob": bob, "remy": remy, "rita": rita}


# ---- export ------------------------------------------------------------------------------------
async def test_archive_holds_every_own_post_and_the_graph(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, alice: Member
) -> None:
    world = await social_life(db.pool, urls, alice)
    response = await client.get(EXPORT, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    archive = response.json()
    profile = archive["profile"]
    assert profile["acct"] == "alice@127.0.0.1" and profile["uri"] == f"{BASE}/users/alice"
    by_id = {s["id"]: s for s in archive["statuses"]}
    posts = world["posts"]
    assert set(by_id) == {str(i) for i in posts.values()}
    for visibility in ("public", "unlisted", "private", "direct"):
        assert by_id[str(posts[visibility])]["visibility"] == visibility
        assert by_id[str(posts[visibility])]["text"] == f"{visibility} words"
    assert by_id[str(posts["held"])]["approval_state"] == "pending"
    assert by_id[str(posts["boost"])]["reblog_of"].startswith(f"{BASE}/users/bob/statuses/")
    [attached] = by_id[str(posts["media"])]["media_attachments"]
    assert attached["url"] == f"{BASE}/media/12/7.png"
    assert f"{BASE}/media/12/7.png" in archive["media"]
    assert {f["acct"] for f in archive["followers"]} == {"bob@127.0.0.1", "remy@peer.example"}
    following = {f["acct"]: f for f in archive["following"]}
    assert set(following) == {"rita@other.example", "bob@127.0.0.1"}
    assert following["rita@other.example"]["notify"] is True


async def test_csv_files_are_mastodons(client: httpx.AsyncClient, db: Database, urls: LocalUrls, alice: Member) -> None:
    await social_life(db.pool, urls, alice)
    headers = await api_headers(db.pool, alice.user, "read:accounts")
    following = await client.get(f"{EXPORT}/following.csv", headers=headers)
    assert following.status_code == 200
    assert following.headers["content-type"] == "text/csv; charset=utf-8"
    assert following.text.splitlines()[0] == "Account address,Show boosts,Notify on new posts,Languages"
    rows = list(csv.reader(io.StringIO(following.text)))[1:]
    assert sorted(rows) == [["bob@127.0.0.1", "true", "false", ""], ["rita@other.example", "true", "true", ""]]
    followers = await client.get(f"{EXPORT}/followers.csv", headers=headers)
    assert followers.status_code == 200
    assert followers.text.splitlines()[0] == "Account address"
    assert sorted(followers.text.splitlines()[1:]) == ["bob@127.0.0.1", "remy@peer.example"]


async def test_export_needs_its_scopes(client: httpx.AsyncClient, db: Database, alice: Member) -> None:
    accounts_only = await api_headers(db.pool, alice.user, "read:accounts")
    assert (await client.get(EXPORT, headers=accounts_only)).status_code == 403  # posts need read:statuses
    write_only = await api_headers(db.pool, alice.user, "write")
    assert (await client.get(f"{EXPORT}/followers.csv", headers=write_only)).status_code == 403
    assert (await client.get(f"{EXPORT}/following.csv")).status_code == 401


async def test_organization_export_is_for_its_managers(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, alice: Member
) -> None:
    org = await accounts.create_organization(db.pool, urls, "acme", "alice")
    await factories.post(db.pool, urls, org, "company news", visibility="private")
    owner = await api_headers(db.pool, alice.user, actor_id=org["id"])
    archive = (await client.get(EXPORT, headers=owner)).json()
    assert archive["profile"]["actor_type"] == "Organization"
    assert [s["text"] for s in archive["statuses"]] == ["company news"]
    carl = await member(db, urls, "carl")
    await db.pool.execute(
        "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'contributor')",
        org["id"],
        carl.user.user_id,
    )
    contributor = await api_headers(db.pool, carl.user, actor_id=org["id"])
    assert (await client.get(EXPORT, headers=contributor)).status_code == 403
    assert (await client.get(f"{EXPORT}/followers.csv", headers=contributor)).status_code == 403


# ---- deletion ----------------------------------------------------------------------------------
async def test_wrong_password_deletes_nothing(client: httpx.AsyncClient, db: Database, alice: Member) -> None:
    for body in ({"password": "not it"}, {}):
        response = await client.post(DELETE, json=body, headers=alice.headers)
        assert response.status_code == 422 and "password" in response.json()["error"]
    read_only = await api_headers(db.pool, alice.user, "read")
    assert (await client.post(DELETE, json={"password": factories.PASSWORD}, headers=read_only)).status_code == 403
    assert (await client.get("/users/alice", headers=AS2)).status_code == 200


async def test_deletion_federates_removes_data_and_leaves_a_tombstone(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, alice: Member, settings: Settings
) -> None:
    pool = db.pool
    world = await social_life(pool, urls, alice)
    media = settings.media_path
    files = [media / "12" / "7.png", media / "12" / "7_small.jpg", media / "accounts" / str(alice.id) / "avatar-1.png"]
    kept = media / "12" / "8.png"  # someone else's upload in the same directory
    for path in [*files, kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    public_post = world["posts"]["public"]
    response = await client.post(DELETE, json={"password": factories.PASSWORD}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] is True

    # Delete(actor) to each remote follower's (shared) inbox and to each followed account's inbox
    assert sorted(await factories.deliveries(pool)) == [
        ("https://other.example/users/rita/inbox", "Delete"),
        ("https://peer.example/inbox", "Delete"),
    ]
    job = await pool.fetchrow("SELECT payload FROM jobs WHERE kind = 'deliver' LIMIT 1")
    activity = job["payload"]["activity"]
    assert activity["actor"] == activity["object"] == f"{BASE}/users/alice"
    assert job["payload"]["actor_id"] == alice.id
    # the data is gone
    for table, column in (
        ("statuses", "actor_id"),
        ("follows", "actor_id"),
        ("follows", "target_actor_id"),
        ("media_attachments", "actor_id"),
        ("oauth_tokens", "actor_id"),
        ("users", "actor_id"),
    ):
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE {column} = $1", alice.id) == 0, table
    assert not any(path.exists() for path in files) and kept.exists()
    # the row stays as a tombstone: 410 at every door, no lookups, no new account under the name
    assert (await client.get("/users/alice", headers=AS2)).status_code == 410
    assert (await client.get(f"/users/alice/statuses/{public_post}", headers=AS2)).status_code == 410
    webfinger = await client.get("/.well-known/webfinger", params={"resource": "acct:alice@127.0.0.1"})
    assert webfinger.status_code == 410
    assert (await client.get("/@alice")).status_code == 410
    bob_headers = await api_headers(pool, (await member_of(pool, "bob")), "read")
    assert (
        await client.get("/api/v1/accounts/lookup", params={"acct": "alice"}, headers=bob_headers)
    ).status_code == 404
    assert (await client.get(f"/api/v1/accounts/{alice.id}", headers=bob_headers)).status_code == 404
    assert (await client.get("/api/v1/accounts/verify_credentials", headers=alice.headers)).status_code == 401
    with pytest.raises(accounts.AccountError, match="already taken"):
        await accounts.create_user(pool, urls, "Alice", "new-alice@example.com", factories.PASSWORD)


async def member_of(pool: asyncpg.Pool, username: str) -> accounts.NewUser:
    row = await pool.fetchrow(
        "SELECT u.id, a.id AS actor_id, a.username FROM users u JOIN actors a ON a.id = u.actor_id "
        "WHERE a.username = $1",
        username,
    )
    return accounts.NewUser(user_id=row["id"], actor_id=row["actor_id"], username=row["username"])


async def test_the_only_owner_of_an_organization_cannot_leave_it_ownerless(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, alice: Member
) -> None:
    org = await accounts.create_organization(db.pool, urls, "acme", "alice")
    refused = await client.post(DELETE, json={"password": factories.PASSWORD}, headers=alice.headers)
    assert refused.status_code == 422 and "only owner of acme" in refused.json()["error"]
    bob = await member(db, urls, "bob")
    await db.pool.execute(
        "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'owner')",
        org["id"],
        bob.user.user_id,
    )
    done = await client.post(DELETE, json={"password": factories.PASSWORD}, headers=alice.headers)
    assert done.status_code == 200
    assert (await client.get("/users/acme", headers=AS2)).status_code == 200  # the company lives on


async def test_an_owner_deletes_the_organization_not_themselves(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, alice: Member
) -> None:
    org = await accounts.create_organization(db.pool, urls, "acme", "alice")
    await factories.post(db.pool, urls, org, "company news")
    bob = await member(db, urls, "bob")
    await db.pool.execute(
        "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'manager')",
        org["id"],
        bob.user.user_id,
    )
    as_manager = await api_headers(db.pool, bob.user, actor_id=org["id"])
    assert (await client.post(DELETE, json={"password": factories.PASSWORD}, headers=as_manager)).status_code == 403
    as_owner = await api_headers(db.pool, alice.user, actor_id=org["id"])
    assert (await client.post(DELETE, json={"password": factories.PASSWORD}, headers=as_owner)).status_code == 200
    assert (await client.get("/users/acme", headers=AS2)).status_code == 410
    assert await db.pool.fetchval("SELECT count(*) FROM statuses WHERE actor_id = $1", org["id"]) == 0
    assert (
        await db.pool.fetchval("SELECT count(*) FROM organization_members WHERE organization_id = $1", org["id"]) == 0
    )
    assert (await client.get("/api/v1/accounts/verify_credentials", headers=alice.headers)).status_code == 200
    assert (await client.get("/api/v1/accounts/verify_credentials", headers=as_manager)).status_code == 401
