"""Local accounts: usernames, emails, passwords, organizations, the instance actor."""

from __future__ import annotations

import asyncio

import pytest

from fediverse_biz.activitypub.keys import load_private_key, load_public_key
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls

PASSWORD = "correct horse battery"


async def test_user_gets_a_person_actor_with_keys_and_urls(db: Database, urls: LocalUrls) -> None:
    user = await accounts.create_user(db.pool, urls, "Alice_1", "alice@example.com", PASSWORD)
    actor = await db.pool.fetchrow("SELECT * FROM actors WHERE id = $1", user.actor_id)
    assert actor["actor_type"] == "Person"
    assert actor["domain"] is None
    assert actor["uri"] == f"{urls.base}/users/Alice_1"
    assert actor["key_id"] == actor["uri"] + "#main-key"
    assert actor["inbox_url"] == actor["uri"] + "/inbox"
    assert actor["shared_inbox_url"] == f"{urls.base}/inbox"
    # the key pair is a real RSA-2048 pair that belongs together
    private, public = load_private_key(actor["private_key_pem"]), load_public_key(actor["public_key_pem"])
    assert private.key_size == 2048
    assert private.public_key().public_numbers() == public.public_numbers()


async def test_ids_are_time_sortable_strings_of_digits(db: Database, urls: LocalUrls) -> None:
    first = await accounts.create_user(db.pool, urls, "first", "f@example.com", PASSWORD)
    second = await accounts.create_user(db.pool, urls, "second", "s@example.com", PASSWORD)
    assert second.actor_id > first.actor_id > 2**48  # milliseconds live in the high bits
    assert str(first.actor_id).isdigit()


@pytest.mark.parametrize(
    "username", ["", "a" * 31, "with space", "dash-ed", "dot.ted", "émile", "admin", "Admin", "inbox", "api", "actor"]
)
async def test_bad_usernames_are_refused(db: Database, urls: LocalUrls, username: str) -> None:
    with pytest.raises(accounts.AccountError) as info:
        await accounts.create_user(db.pool, urls, username, "x@example.com", PASSWORD)
    assert info.value.field == "username"
    assert await db.pool.fetchval("SELECT count(*) FROM users") == 0


async def test_usernames_are_unique_regardless_of_case(db: Database, urls: LocalUrls) -> None:
    await accounts.create_user(db.pool, urls, "bob", "bob@example.com", PASSWORD)
    with pytest.raises(accounts.AccountError, match="already taken"):
        await accounts.create_user(db.pool, urls, "BOB", "other@example.com", PASSWORD)
    assert await db.pool.fetchval("SELECT count(*) FROM actors WHERE NOT is_instance_actor") == 1


async def test_emails_are_validated_and_unique(db: Database, urls: LocalUrls) -> None:
    with pytest.raises(accounts.AccountError, match="invalid email"):
        await accounts.create_user(db.pool, urls, "carol", "not-an-email", PASSWORD)
    await accounts.create_user(db.pool, urls, "carol", "carol@example.com", PASSWORD)
    with pytest.raises(accounts.AccountError, match="already registered"):
        await accounts.create_user(db.pool, urls, "carol2", "CAROL@example.com", PASSWORD)


async def test_short_password_is_refused(db: Database, urls: LocalUrls) -> None:
    with pytest.raises(accounts.AccountError, match="at least 8"):
        await accounts.create_user(db.pool, urls, "dave", "dave@example.com", "short")


async def test_login_by_username_or_email(db: Database, urls: LocalUrls) -> None:
    await accounts.create_user(db.pool, urls, "erin", "erin@example.com", PASSWORD, role="admin")
    by_name = await accounts.authenticate(db.pool, "ERIN", PASSWORD)
    by_email = await accounts.authenticate(db.pool, "erin@example.com", PASSWORD)
    assert by_name is not None and by_email is not None and by_name["id"] == by_email["id"]
    assert by_name["role"] == "admin"
    stored = await db.pool.fetchval("SELECT password_hash FROM users")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert await accounts.authenticate(db.pool, "erin", "wrong password") is None
    assert await accounts.authenticate(db.pool, "nobody", PASSWORD) is None


async def test_organization_is_owned_by_its_creator(db: Database, urls: LocalUrls) -> None:
    owner = await accounts.create_user(db.pool, urls, "founder", "founder@example.com", PASSWORD)
    org = await accounts.create_organization(db.pool, urls, "acme", "founder", display_name="ACME Ltd")
    assert org["actor_type"] == "Organization"
    assert org["display_name"] == "ACME Ltd"
    role = await db.pool.fetchval(
        "SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2",
        org["id"], owner.user_id,
    )
    assert role == "owner"


async def test_organization_needs_an_existing_owner_and_free_name(db: Database, urls: LocalUrls) -> None:
    with pytest.raises(accounts.AccountError, match="no local user"):
        await accounts.create_organization(db.pool, urls, "acme", "ghost")
    await accounts.create_user(db.pool, urls, "founder", "founder@example.com", PASSWORD)
    with pytest.raises(accounts.AccountError, match="already taken"):
        await accounts.create_organization(db.pool, urls, "Founder", "founder")
    assert await db.pool.fetchval("SELECT count(*) FROM actors WHERE actor_type = 'Organization'") == 0


async def test_instance_actor_is_created_once(db: Database, urls: LocalUrls) -> None:
    first = await accounts.ensure_instance_actor(db.pool, urls, "127.0.0.1")
    again = await accounts.ensure_instance_actor(db.pool, urls, "127.0.0.1")
    assert first["id"] == again["id"]
    assert first["uri"] == f"{urls.base}/actor"
    assert first["actor_type"] == "Application"
    assert first["private_key_pem"]
    assert [r["username"] for r in await accounts.list_local_accounts(db.pool)] == []


async def test_instance_actor_is_created_once_by_processes_starting_together(db: Database, urls: LocalUrls) -> None:
    # as several `serve` processes do on a fresh database: each would otherwise find no row and insert one
    made = await asyncio.gather(*(accounts.ensure_instance_actor(db.pool, urls, "127.0.0.1") for _ in range(3)))
    assert len({row["id"] for row in made}) == 1
    assert await db.pool.fetchval("SELECT count(*) FROM actors WHERE is_instance_actor") == 1
