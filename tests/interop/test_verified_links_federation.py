"""A verified website crosses the federation: instance A's organization links to a real website on
127.0.0.1 that links back with rel="me"; A verifies it, and B, which stores the organization, checks
the same page itself and shows the same mark (Mastodon: every server verifies the links it shows).
When A's organization moves to a site without the link back, B's mark goes too. Two live servers
with their own databases and workers; the website is the only other server.

The website has a host name, acme.example, which both servers' resolvers answer with 127.0.0.1: a URL
with an IP address is not made a link in a profile field (Mastodon's linkifier, text/content.py), and
B reads a peer's field as a link only when it is one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
import pytest

from fediverse_biz.business import organizations
from fediverse_biz.core import accounts, follows
from tests.support.fetch_peer import FakeDNS
from tests.support.html import by_class, parse, text_of
from tests.support.instances import Instance, started
from tests.support.mastodon_schemas import assert_matches
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.websites import Website, linking_back

PASSWORD = "correct horse battery"


@pytest.fixture
def acme_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every client session made from now on resolves acme.example to 127.0.0.1, and nothing else by
    name (the servers reach each other by address). Set before the servers start their sessions."""
    monkeypatch.setattr(aiohttp, "ThreadedResolver", lambda: FakeDNS({"acme.example": ["127.0.0.1"]}))


@pytest.fixture
async def pair(
    acme_dns: None, live_server_factory: Callable[..., LiveServer]
) -> AsyncIterator[tuple[Instance, Instance]]:
    async with started(live_server_factory, 2, Instance) as (a, b):
        yield a, b


@pytest.fixture
async def site() -> AsyncIterator[Website]:
    server = await Website(name="acme.example").start()
    yield server
    await server.stop()


async def api(instance: Instance, path: str, schema: str) -> Any:
    async with httpx.AsyncClient(base_url=instance.server.base_url) as http:
        response = await http.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches(schema, body)
    return body


async def test_a_verified_website_is_verified_on_the_other_server_too(
    pair: tuple[Instance, Instance], site: Website
) -> None:
    a, b = pair
    owner = await accounts.create_user(a.pool, a.urls, "olivia", "olivia@example.com", PASSWORD)
    acme = await accounts.create_organization(a.pool, a.urls, "acme", "olivia", display_name="ACME")
    home = site.page("/home", linking_back(acme["url"]))

    # given ACME's website on A, which links back to ACME's page on A: A verifies it
    await organizations.update_profile(a.pool, a.urls, acme, owner.user_id, {"website": home, "sector": "C"})

    async def verified_on(instance: Instance, actor_id: int) -> dict[str, Any] | None:
        profile = await api(instance, f"/api/v1/organizations/{actor_id}/profile", "organization_profile")
        return profile if profile["website_verified_at"] else None

    await eventually(lambda: verified_on(a, acme["id"]), "A verifies its organization's website")

    # when a member of B follows ACME, B stores it and checks the website itself
    bob = await b.user("bob")
    acme_on_b = await b.resolve(f"acme@{a.domain}")
    await follows.follow(b.pool, bob, acme_on_b)
    profile = await eventually(lambda: verified_on(b, acme_on_b["id"]), "B verifies the website itself")

    # then B shows the same mark: the company profile, and the Website field of the Account entity
    assert profile["website"] == home
    account = await api(b, f"/api/v1/accounts/{acme_on_b['id']}", "account")
    assert account["fields"][0]["name"] == "Website" and account["fields"][0]["verified_at"] is not None
    assert site.hits == ["/home", "/home"]  # once by A, once by B: B believed nothing it did not check
    async with httpx.AsyncClient(base_url=b.server.base_url) as http:
        page = await http.get("/directory?sector=C")
    (entry,) = by_class(parse(page.text), "website")
    assert "verified" in entry.get("class", "") and text_of(entry) == f"✓ {home}"

    # when ACME moves to a website that does not link back, B's mark goes with the old one
    await eventually(
        lambda: b.pool.fetchval("SELECT 1 FROM follows WHERE actor_id = $1", bob["id"]), "A accepts the follow"
    )
    plain = site.page("/plain", "<p>a new site, no link back yet</p>")
    await organizations.update_profile(a.pool, a.urls, acme, owner.user_id, {"website": plain})

    async def moved() -> dict[str, Any] | None:
        profile = await api(b, f"/api/v1/organizations/{acme_on_b['id']}/profile", "organization_profile")
        return profile if profile["website"] == plain else None

    profile = await eventually(moved, "B applies the Update(actor)")
    assert profile["website_verified_at"] is None

    async def both_checked() -> bool:
        return site.hits.count("/plain") == 2

    await eventually(both_checked, "A and B each check the new site")
    account = await api(b, f"/api/v1/accounts/{acme_on_b['id']}", "account")
    assert account["fields"][0]["verified_at"] is None
    final = await api(b, f"/api/v1/organizations/{acme_on_b['id']}/profile", "organization_profile")
    assert final["website_verified_at"] is None
