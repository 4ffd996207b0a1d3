"""A company profile crosses the federation: edited on instance A through its JSON endpoint, read by
instance B from A's actor document, stored on B as structure, found in B's directory, and kept up to
date by A's Update(actor). Two real servers on 127.0.0.1 with their own databases and workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from fediverse_biz.business import organizations
from fediverse_biz.core import accounts, follows
from fediverse_biz.core.urls import LocalUrls
from fediverse_biz.db.pool import create_pool
from fediverse_biz.federation.fetch import create_session
from fediverse_biz.federation.remote_actors import instance_signer, resolve_handle
from tests.support.accounts import api_headers
from tests.support.mastodon_schemas import assert_matches
from tests.support.polling import eventually
from tests.support.servers import LiveServer

PASSWORD = "correct horse battery"
FULL: dict[str, Any] = {
    "legal_name": "ACME Anvils GmbH",
    "sector": "C",
    "country": "DE",
    "region": "Bayern",
    "city": "München",
    "website": "https://acme.example/",
    "size_band": "250+",
    "founded_year": 1949,
    "languages": ["de", "en", "fr"],
    "contact_email": "info@acme.example",
    "registration_id": "HRB 123456",
    "vat_id": "DE123456789",
}


@dataclass
class Instance:
    server: LiveServer
    pool: asyncpg.Pool

    @property
    def urls(self) -> LocalUrls:
        return LocalUrls(self.server.base_url)

    @property
    def domain(self) -> str:
        return self.server.settings.domain

    async def resolve(self, handle: str) -> asyncpg.Record:
        """Look up a remote account the way a member's search does (WebFinger, then the actor)."""
        instance_actor = await self.pool.fetchrow("SELECT * FROM actors WHERE is_instance_actor")
        async with create_session(["127.0.0.0/8"], user_agent="test") as http:
            return await resolve_handle(self.pool, http, handle, signer=instance_signer(instance_actor), scheme="http")

    async def directory(self, query: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.server.base_url) as http:
            response = await http.get(f"/api/v1/directory?{query}")
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        for account in body:
            assert_matches("account", account)
        return body


@pytest.fixture
async def pair(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[tuple[Instance, Instance]]:
    servers = [await asyncio.to_thread(live_server_factory) for _ in range(2)]
    pools = [await create_pool(s.dsn, min_size=1, max_size=4) for s in servers]
    yield Instance(servers[0], pools[0]), Instance(servers[1], pools[1])
    for p in pools:
        await p.close()


async def test_every_structured_field_round_trips_into_the_other_directory(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    # given an organization on A, edited by its owner through the JSON endpoint
    owner = await accounts.create_user(a.pool, a.urls, "olivia", "olivia@example.com", PASSWORD)
    acme = await accounts.create_organization(a.pool, a.urls, "acme", "olivia", display_name="ACME")
    headers = await api_headers(a.pool, owner, actor_id=acme["id"])
    async with httpx.AsyncClient(base_url=a.server.base_url) as http:
        response = await http.patch(f"/api/v1/organizations/{acme['id']}/profile", json=FULL, headers=headers)
    assert response.status_code == 200, response.text
    assert_matches("organization_profile", response.json())

    # when B resolves the organization
    acme_on_b = await b.resolve(f"acme@{a.domain}")
    assert acme_on_b["actor_type"] == "Organization" and acme_on_b["discoverable"] is True

    # then B stores every field as structure ...
    stored = await organizations.get_profile(b.pool, acme_on_b["id"])
    assert stored is not None and stored.values() == FULL
    # ... and its directory finds the organization by sector and country, with the profile
    found = await b.directory("sector=C&country=DE")
    assert [account["acct"] for account in found] == [f"acme@{a.domain}"]
    profile = found[0]["fediverse_biz"]["organization"]
    assert_matches("organization_profile", profile)
    assert {name: profile[name] for name in FULL} == FULL
    assert profile["sector_label"] == "Manufacturing" and profile["account_id"] == str(acme_on_b["id"])
    assert await b.directory("sector=C&country=FR") == []
    assert await b.directory("sector=C&local=true") == []
    # and Mastodon clients on B see the mirrored facts as fields
    assert [f["name"] for f in found[0]["fields"]] == ["Website", "Sector", "Location", "Founded"]


async def test_a_later_edit_reaches_the_followers_server(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    owner = await accounts.create_user(a.pool, a.urls, "olivia", "olivia@example.com", PASSWORD)
    acme = await accounts.create_organization(a.pool, a.urls, "acme", "olivia", display_name="ACME")
    await organizations.update_profile(a.pool, a.urls, acme, owner.user_id, FULL)
    # given a member of B following the organization
    bob = await accounts.create_user(b.pool, b.urls, "bob", "bob@example.com", PASSWORD)
    bob_row = await b.pool.fetchrow("SELECT * FROM actors WHERE id = $1", bob.actor_id)
    acme_on_b = await b.resolve(f"acme@{a.domain}")
    await follows.follow(b.pool, bob_row, acme_on_b)
    await eventually(
        lambda: b.pool.fetchval("SELECT 1 FROM follows WHERE actor_id = $1", bob.actor_id), "A accepts the follow"
    )

    # when the organization moves to another sector, country and size, and drops its VAT number
    changes = {"sector": "J", "country": "AT", "region": None, "city": "Wien", "size_band": "1-9", "vat_id": ""}
    await organizations.update_profile(a.pool, a.urls, acme, owner.user_id, changes)

    # then B's copy follows, through the Update(actor) A sends to its followers' servers
    async def updated() -> bool:
        profile = await organizations.get_profile(b.pool, acme_on_b["id"])
        return profile is not None and profile.sector == "J"

    await eventually(updated, "B applies the Update(actor)")
    profile = await organizations.get_profile(b.pool, acme_on_b["id"])
    assert profile is not None
    assert (profile.country, profile.region, profile.city, profile.size_band, profile.vat_id) == (
        "AT", None, "Wien", "1-9", None
    )  # fmt: skip
    assert profile.legal_name == FULL["legal_name"] and profile.languages == ("de", "en", "fr")
    assert [x["acct"] for x in await b.directory("sector=J&country=AT")] == [f"acme@{a.domain}"]
    assert await b.directory("sector=C") == []
