"""Reviewing sign-ups in approval mode (core/registrations.py approve/reject/pending), seen from the apps:
a pending user gets no working token until approved; a rejected one is gone, name and address free."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.core import accounts, registrations
from fediverse_biz.core.errors import DomainError
from fediverse_biz.db.database import Database
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.mastodon_client import code_from
from tests.support.oauth_flows import bearer, exchange, query, register, submit, token_request

VERIFY = "/api/v1/accounts/verify_credentials"


@pytest.fixture
def approval(app: Starlette) -> None:
    services(app).settings = dataclasses.replace(services(app).settings, registration_mode="approval")


async def sign_up(client: httpx.AsyncClient, oauth_app: dict[str, Any], username: str, **extra: str) -> str:
    """Sign up as a Mastodon app does; returns the token the app receives for the new user."""
    app_token = (await token_request(client, oauth_app, grant_type="client_credentials", scope="write")).json()
    form = {"username": username, "email": f"{username}@example.com", "password": PASSWORD, "agreement": "true"}
    response = await client.post(
        "/api/v1/accounts", data={**form, **extra}, headers=bearer(app_token["access_token"])
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def password_grant(client: httpx.AsyncClient, oauth_app: dict[str, Any], username: str) -> httpx.Response:
    return await token_request(
        client, oauth_app, grant_type="password", username=username, password=PASSWORD, scope="read"
    )


@pytest.mark.usefixtures("approval")
async def test_approval_lets_the_user_log_in_and_wakes_the_sign_up_token(
    client: httpx.AsyncClient, db: Database
) -> None:
    oauth_app = await register(client)
    sign_up_token = await sign_up(client, oauth_app, "newbie", reason="We forge anvils")
    # before: no token works, no grant, no authorization code
    assert (await client.get(VERIFY, headers=bearer(sign_up_token))).status_code == 401
    refused = await password_grant(client, oauth_app, "newbie")
    assert refused.status_code == 400 and "pending approval" in refused.json()["error_description"]
    login = await submit(client, query(oauth_app), login="newbie")
    assert "pending approval" in login.text

    approved = await registrations.approve(db.pool, "Newbie")

    assert approved.username == "newbie" and approved.reason == "We forge anvils"
    me = await client.get(VERIFY, headers=bearer(sign_up_token))
    assert me.status_code == 200 and me.json()["username"] == "newbie"
    granted = await password_grant(client, oauth_app, "newbie")
    assert granted.status_code == 200, granted.text
    assert (await client.get(VERIFY, headers=bearer(granted.json()["access_token"]))).status_code == 200
    code = code_from(await submit(client, query(oauth_app), login="newbie"))
    assert (await exchange(client, oauth_app, code)).status_code == 200


@pytest.mark.usefixtures("approval")
async def test_rejection_removes_the_sign_up_and_frees_its_name(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    boss = await accounts.create_user(db.pool, urls, "boss", "boss@example.com", PASSWORD, role="admin")
    oauth_app = await register(client)
    await sign_up(client, oauth_app, "spammer")
    await sign_up(client, oauth_app, "keeper")
    assert [p.username for p in await registrations.pending(db.pool)] == ["spammer", "keeper"]

    rejected = await registrations.reject(db.pool, "spammer")

    assert rejected.email == "spammer@example.com"
    assert [p.username for p in await registrations.pending(db.pool)] == ["keeper"]
    assert await db.pool.fetchval("SELECT count(*) FROM actors WHERE username = 'spammer'") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM users WHERE email = 'spammer@example.com'") == 0
    # the moderators' notice of the sign-up goes with it; the other one stays
    notices = await db.pool.fetch("SELECT actor_id FROM notifications WHERE type = 'admin.sign_up'")
    assert [n["actor_id"] for n in notices] == [boss.actor_id]
    # name and address may be used again
    await sign_up(client, oauth_app, "spammer")


async def test_only_pending_sign_ups_are_reviewed(db: Database, urls: LocalUrls) -> None:
    await accounts.create_user(db.pool, urls, "alice", "alice@example.com", PASSWORD)
    owner = await accounts.create_user(db.pool, urls, "owner", "owner@example.com", PASSWORD, approved=False)
    await accounts.create_organization(db.pool, urls, "acme", "owner")
    with pytest.raises(DomainError, match="no local user named 'nobody'") as unknown:
        await registrations.approve(db.pool, "nobody")
    assert unknown.value.status == 404
    with pytest.raises(DomainError, match="no local user named 'acme'"):  # an organization has no login
        await registrations.reject(db.pool, "acme")
    for review in (registrations.approve, registrations.reject):
        with pytest.raises(DomainError, match=r"@alice is not waiting for approval \(already approved\)"):
            await review(db.pool, "alice")
    with pytest.raises(DomainError, match="@owner owns @acme: give it another owner first"):
        await registrations.reject(db.pool, "owner")
    assert await db.pool.fetchval("SELECT count(*) FROM users") == 2
    assert await db.pool.fetchval("SELECT approved FROM users WHERE id = $1", owner.user_id) is False

