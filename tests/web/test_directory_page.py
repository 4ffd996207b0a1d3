"""`/directory`: the catalogue page lists discoverable accounts only, and its GET form filters them."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.business import organizations
from fediverse_biz.core import accounts
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.html import by_class, links, meta, parse, text, text_of

BASE = "http://127.0.0.1"


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


async def directory(client: httpx.AsyncClient, query: str = "") -> Any:
    response = await client.get(f"/directory{query}")
    assert response.status_code == 200, response.text[:500]
    return parse(response.text)


def names(page: Any) -> list[str]:
    return [text_of(h) for entry in by_class(page, "entry") for h in entry.iter("h2")]


@pytest.fixture
async def fair(pool: asyncpg.Pool, urls: LocalUrls) -> dict[str, asyncpg.Record]:
    """A French forge and a German bakery (local organizations), a person, a hidden account, and a
    remote Italian manufacturer."""
    owner = await accounts.create_user(
        pool, urls, "owner", "owner@example.com", factories.PASSWORD, display_name="Olga Owner"
    )
    forge = await accounts.create_organization(pool, urls, "forge", "owner", display_name="Lyon Forge")
    await organizations.update_profile(
        pool, urls, forge, owner.user_id, {"sector": "C", "country": "FR", "city": "Lyon"}
    )
    bakery = await accounts.create_organization(pool, urls, "bakery", "owner", display_name="Berlin Bakery")
    await organizations.update_profile(pool, urls, bakery, owner.user_id, {"sector": "I", "country": "DE"})
    hidden = await factories.local_actor(pool, urls, "hidden")
    await pool.execute(
        "UPDATE actors SET discoverable = false, display_name = 'Hidden Hank' WHERE id = $1", hidden["id"]
    )
    remote = await factories.remote_actor(pool, "torino", "peer.example")
    await pool.execute(
        """UPDATE actors SET actor_type = 'Organization', display_name = 'Torino Metalli',
                  avatar_url = 'https://peer.example/avatar.png', discoverable = true WHERE id = $1""",
        remote["id"],
    )
    await pool.execute(
        "INSERT INTO organization_profiles (actor_id, sector, country) VALUES ($1, 'C', 'IT')", remote["id"]
    )
    return {"forge": forge, "bakery": bakery, "hidden": hidden, "remote": remote}


async def test_directory_lists_discoverable_accounts_only(client: httpx.AsyncClient, fair: Any) -> None:
    page = await directory(client)
    listed = names(page)
    assert set(listed) == {"Lyon Forge", "Berlin Bakery", "Olga Owner", "Torino Metalli"}
    assert "Hidden Hank" not in text(page) and "hidden" not in text(page)
    assert meta(page, "og:title") == "Directory"
    assert meta(page, "og:url") == f"{BASE}/directory"
    assert links(page, "canonical") == [(None, f"{BASE}/directory")]
    assert meta(page, "robots") is None
    shown = text(page)
    assert "Manufacturing · Lyon, France" in shown and "Manufacturing · Italy" in shown
    # a remote organization links to its own server, and its picture is not loaded from there
    remote_link = next(a for a in page.iter("a") if text_of(a) == "Torino Metalli")
    assert remote_link.get("href") == "https://peer.example/@torino"
    assert all(img.get("src", "").startswith(BASE) for img in page.iter("img"))
    local_link = next(a for a in page.iter("a") if text_of(a) == "Lyon Forge")
    assert local_link.get("href") == f"{BASE}/@forge"


async def test_directory_filters(client: httpx.AsyncClient, fair: Any) -> None:
    assert set(names(await directory(client, "?sector=C"))) == {"Lyon Forge", "Torino Metalli"}
    assert names(await directory(client, "?sector=c&country=fr")) == ["Lyon Forge"]
    assert set(names(await directory(client, "?sector=C&local=1"))) == {"Lyon Forge"}
    assert names(await directory(client, "?type=Person")) == ["Olga Owner"]
    assert names(await directory(client, "?q=bakery")) == ["Berlin Bakery"]
    assert names(await directory(client, "?country=IT&type=Organization")) == ["Torino Metalli"]
    filtered = await directory(client, "?sector=C&country=FR")
    selected = {
        (s.get("name"), o.get("value"))
        for s in filtered.iter("select")
        for o in s.iter("option")
        if o.get("selected") is not None
    }
    assert ("sector", "C") in selected and ("country", "FR") in selected
    assert meta(filtered, "robots") == "noindex"


async def test_invalid_filters_are_ignored_with_a_note(client: httpx.AsyncClient, fair: Any) -> None:
    page = await directory(client, "?sector=ZZ&country=Narnia&type=Robot&order=bogus&page=-3")
    assert len(names(page)) == 4
    shown = text(page)
    assert "Ignored:" in shown and "unknown sector" in shown and "unknown country" in shown
    assert "unknown type" in shown


async def test_directory_pages(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    for n in range(45):
        row = await factories.remote_actor(pool, f"user{n:02d}", "many.example")
        await pool.execute("UPDATE actors SET discoverable = true WHERE id = $1", row["id"])
    first = await directory(client, "?order=new")
    assert len(names(first)) == 40
    following = [a.get("href") for a in first.iter("a") if a.get("rel") == "next"]
    assert following == [f"{BASE}/directory?order=new&page=2"]
    second = await directory(client, "?order=new&page=2")
    assert len(names(second)) == 5
    assert not set(names(first)) & set(names(second))
    assert [a.get("href") for a in second.iter("a") if a.get("rel") == "prev"] == [f"{BASE}/directory?order=new&page=1"]


async def test_directory_filters_by_region_and_finds_a_bio_word(
    client: httpx.AsyncClient, pool: asyncpg.Pool, fair: Any
) -> None:
    owner_id = await pool.fetchval(
        "SELECT u.id FROM users u JOIN actors a ON a.id = u.actor_id WHERE a.username = 'owner'"
    )
    bakery = fair["bakery"]
    await organizations.update_profile(pool, LocalUrls(BASE), bakery, owner_id, {"region": "Berlin"})
    await pool.execute("UPDATE actors SET note = '<p>Sourdough rye since 1920</p>' WHERE id = $1", bakery["id"])
    assert names(await directory(client, "?region=DE-BE")) == ["Berlin Bakery"]
    assert names(await directory(client, "?region=DE")) == ["Berlin Bakery"]
    assert names(await directory(client, "?region=FR-ARA")) == []
    assert names(await directory(client, "?q=sourdough")) == ["Berlin Bakery"]
    page = await directory(client, "?region=de-be")
    region = next(i for i in page.iter("input") if i.get("name") == "region")
    assert region.get("value") == "DE-BE"
    label = next(lb for lb in page.iter("label") if region in list(lb))
    assert text_of(label).startswith("Region")
    shown = text(await directory(client, "?region=Narnia"))
    assert "unknown region" in shown
