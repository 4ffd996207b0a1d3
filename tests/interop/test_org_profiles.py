"""A company profile crosses the federation: edited on instance A through its JSON endpoint, read by
instance B from A's actor document, stored on B as structure, found in B's directory, and kept up to
date by A's Update(actor). Two real servers on 127.0.0.1 with their own databases and workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from fediverse_biz.business import organizations
from fediverse_biz.core import accounts, follows
from tests.support.accounts import api_headers
from tests.support.instances import Instance as SharedInstance
from tests.support.instances import started
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


class Instance(SharedInstance):
    """The shared live instance, plus what this test reads from it."""

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
    async with started(live_server_factory, 2, Instance) as (a, b):
        yield a, b


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
