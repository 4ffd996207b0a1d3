"""Verified links of remote accounts (business/verified_links.py): a peer's actor (tests/support/peers.py)
whose fields link to a real website on a loopback address (tests/support/websites.py). The job checks
them through the SSRF-safe client after the actor is stored or updated, never during it.

This module's app allow-lists 127.0.0.1 only, so a site on 127.0.0.2 stands in for a private network.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.business import organizations, verified_links
from fediverse_biz.config import Settings
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.services import services
from tests.support.html import by_class, parse, text_of
from tests.support.inbound import receive, row_of
from tests.support.mastodon_schemas import assert_matches
from tests.support.peers import FakePeer, PeerActor
from tests.support.servers import make_settings
from tests.support.websites import Website, linking_back


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path / "data", 80, domain="127.0.0.1", workers=0, allow_private_addresses=("127.0.0.1/32",)
    )


@pytest.fixture
async def site() -> AsyncIterator[Website]:
    server = await Website().start()
    yield server
    await server.stop()


@pytest.fixture
async def private_site() -> AsyncIterator[Website]:
    """A site on an address the app may not reach (not in its allow-list)."""
    server = await Website(address="127.0.0.2").start()
    yield server
    await server.stop()


def link_value(url: str) -> str:
    """A link as Mastodon sends it in a PropertyValue: one <a> whose text is the URL, in three spans."""
    scheme, rest = url.split("://", 1)
    return (
        f'<a href="{url}" target="_blank" rel="nofollow noopener me" translate="no">'
        f'<span class="invisible">{scheme}://</span><span class="">{rest}</span><span class="invisible"></span></a>'
    )


def set_links(actor: PeerActor, *fields: tuple[str, str], website: str | None = None) -> None:
    """The actor's profile fields (a value starting with http is sent as a link) and schema.org website."""
    actor.doc["attachment"] = [
        {"type": "PropertyValue", "name": name, "value": link_value(value) if value.startswith("http") else value}
        for name, value in fields
    ]
    actor.doc.pop("website", None)
    if website is not None:
        actor.doc["website"] = website


def remote(peer: FakePeer, username: str, *fields: tuple[str, str], **kwargs: Any) -> PeerActor:
    actor_type = kwargs.pop("actor_type", "Person")
    actor = peer.actor(username, actor_type=actor_type, key=len(peer.docs) % 3)
    actor.doc["url"] = f"{peer.base}/@{username}"  # its profile page, on its own host
    set_links(actor, *fields, **kwargs)
    return actor


async def run_link_jobs(app: Starlette) -> None:
    """Run verify_links jobs until none is left, retries of a job whose host was busy included."""
    state = services(app)
    # run_inbox_jobs' worker knows only the inbox handlers: it put these off as "no handler"
    await state.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'verify_links'")
    worker = Worker(state.pool, state.http, state.settings, verified_links.handlers(), backoff_scale=0.001)
    async with asyncio.timeout(30):
        while await state.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'verify_links'"):
            await worker.run_until_idle(timeout=30)
            await asyncio.sleep(0.02)


async def fields_of(pool: asyncpg.Pool, uri: str) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = await pool.fetchval("SELECT fields FROM actors WHERE uri = $1", uri)
    return fields


async def verified(pool: asyncpg.Pool, uri: str) -> list[bool]:
    return [entry.get("verified_at") is not None for entry in await fields_of(pool, uri)]


async def queued(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'verify_links'"))


async def update(app: Starlette, client: httpx.AsyncClient, peer: FakePeer, actor: PeerActor) -> None:
    """The peer sends Update with the actor's document as it is now; only the inbox job runs."""
    await receive(app, client, peer.activity("Update", actor, dict(actor.doc), to=[PUBLIC]), actor)


# ---- receipt and the job -------------------------------------------------------------------------
async def test_a_peers_links_are_checked_by_a_job_after_receipt(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, site: Website
) -> None:
    bob = peer.actor("bob")  # only to know bob's URLs before his document is written
    profile, uri = f"{peer.base}/@bob", bob.uri
    bob = remote(
        peer,
        "bob",
        ("Website", site.page("/home", linking_back(profile))),  # links back to the profile page
        ("Blog", site.page("/blog", linking_back(uri, tag="link"))),  # or to the actor URI
        ("Away", site.page("/away", linking_back(f"{peer.base}/@someone_else"))),
        ("Plain", site.page("/plain", f'<a href="{profile}">no rel=me</a>')),
        ("Huge", site.page("/huge", "<!--" + "x" * (1024 * 1024) + "-->" + linking_back(profile))),  # after the cut
        ("About", f"see {site.url('/home')}"),  # more than a link: never fetched
    )
    # when we store bob's actor, nothing is fetched from his site: a job is queued
    row = await row_of(app, bob)
    assert await verified(pool, uri) == [False] * 6
    assert await queued(pool) == 1 and site.hits == []
    # then the job verifies the fields whose page links back to bob
    await run_link_jobs(app)
    assert await verified(pool, uri) == [True, True, False, False, False, False]
    assert sorted(site.hits) == ["/away", "/blog", "/home", "/huge", "/plain"]
    assert await pool.fetchval("SELECT count(*) FROM link_check_hosts WHERE busy_until > now()") == 0
    # and the client API shows it, as Mastodon does, in the Account entity's fields
    response = await client.get(f"/api/v1/accounts/{row['id']}")
    assert response.status_code == 200
    account = response.json()
    assert_matches("account", account)
    stored = await fields_of(pool, uri)
    assert [f["verified_at"] for f in account["fields"]] == [f.get("verified_at") for f in stored]


async def test_an_update_keeps_unchanged_links_verified_and_clears_changed_ones(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, site: Website
) -> None:
    bob = remote(peer, "bob")
    home = site.page("/home", linking_back(bob.uri))
    blog = site.page("/blog", linking_back(bob.uri))
    bad = site.page("/bad", "<p>no link back</p>")
    set_links(bob, ("Website", home), ("Blog", blog))
    await row_of(app, bob)
    await run_link_jobs(app)
    first = await fields_of(pool, bob.uri)
    assert [f.get("verified_at") is not None for f in first] == [True, True]

    # when bob sends an Update whose Website is unchanged and whose Blog now leads elsewhere
    set_links(bob, ("Website", home), ("Blog", bad))
    bob.doc["attachment"][1]["verified_at"] = "2020-01-01T00:00:00.000Z"  # a peer's claim counts for nothing
    await update(app, client, peer, bob)
    # then the Website keeps its verification, the Blog loses it at once, and its check is a job
    now = await fields_of(pool, bob.uri)
    assert now[0]["verified_at"] == first[0]["verified_at"] and now[1].get("verified_at") is None
    assert await queued(pool) == 1 and sorted(site.hits) == ["/blog", "/home"]
    await run_link_jobs(app)
    assert await verified(pool, bob.uri) == [True, False]

    # when the Blog comes back to the page checked an hour ago, it is verified again without a fetch
    set_links(bob, ("Website", home), ("Blog", blog))
    await update(app, client, peer, bob)
    assert await queued(pool) == 1
    await run_link_jobs(app)
    assert await verified(pool, bob.uri) == [True, True]
    assert sorted(site.hits) == ["/bad", "/blog", "/home"]

    # and an Update that changes nothing queues nothing
    await update(app, client, peer, bob)
    assert await queued(pool) == 0


async def test_a_remote_organizations_website_is_verified_and_shown(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, site: Website
) -> None:
    acme = remote(peer, "acme", actor_type="Organization")
    acme.doc["discoverable"] = True
    home = site.page("/home", linking_back(f"{peer.base}/@acme"))
    # A fediverse_biz peer sends its website twice: as a schema.org property and as the mirrored field
    set_links(acme, ("Website", home), website=home)
    acme.doc |= {"isicV4": "C", "address": {"type": "PostalAddress", "addressCountry": "IT"}}
    row = await row_of(app, acme)
    profile = await organizations.get_profile(pool, row["id"])
    assert profile is not None and profile.website == home and profile.website_verified_at is None
    await run_link_jobs(app)
    assert site.hits == ["/home"]  # one page, one fetch, two marks
    profile = await organizations.get_profile(pool, row["id"])
    assert profile is not None and profile.website_verified_at is not None
    assert await verified(pool, acme.uri) == [True]

    # the company profile API, the Account entity and the directory page show it as for a local one
    response = await client.get(f"/api/v1/organizations/{row['id']}/profile")
    assert response.status_code == 200
    assert_matches("organization_profile", response.json())
    assert response.json()["website_verified_at"] is not None
    account = (await client.get(f"/api/v1/accounts/{row['id']}")).json()
    assert account["fields"][0]["verified_at"] is not None
    page = await client.get("/directory?sector=C")
    assert page.status_code == 200
    (entry,) = by_class(parse(page.text), "website")
    assert "verified" in entry.get("class", "") and text_of(entry).startswith("✓")

    # when the organization moves to another website, the mark goes with the old one at once
    other = site.page("/other", "<p>new site, no link back yet</p>")
    set_links(acme, ("Website", other), website=other)
    await update(app, client, peer, acme)
    profile = await organizations.get_profile(pool, row["id"])
    assert profile is not None and profile.website == other and profile.website_verified_at is None
    assert await verified(pool, acme.uri) == [False]
    page = await client.get("/directory?sector=C")
    (entry,) = by_class(parse(page.text), "website")
    assert "verified" not in entry.get("class", "") and "✓" not in text_of(entry)


# ---- hostile links -------------------------------------------------------------------------------
async def test_links_to_addresses_outside_the_allow_list_are_never_fetched(
    app: Starlette, peer: FakePeer, pool: asyncpg.Pool, site: Website, private_site: Website
) -> None:
    inside = private_site.page("/home", linking_back("x"))
    bob = remote(peer, "bob")
    private_site.page("/home", linking_back(bob.uri))  # it would verify, if it were ever fetched
    set_links(
        bob,
        ("Direct", inside),
        ("Redirected", site.redirect("/r", inside)),  # a public page that redirects inside
        ("Metadata", "http://169.254.169.254/latest/meta-data/"),
        ("Obfuscated", "http://2130706434/home"),  # 127.0.0.2 in another spelling
    )
    await row_of(app, bob)
    await run_link_jobs(app)
    assert await verified(pool, bob.uri) == [False] * 4
    assert private_site.hits == []
    assert site.hits == ["/r"]


async def test_a_field_whose_text_is_not_its_link_is_not_checked(
    app: Starlette, peer: FakePeer, pool: asyncpg.Pool, site: Website
) -> None:
    bob = remote(peer, "bob")
    good = site.page("/good", linking_back(bob.uri))
    evil = site.page("/evil", "<p>elsewhere</p>")
    set_links(bob, ("Website", f'<a href="{evil}">{good}</a>'), ("Two", f"{link_value(good)} {link_value(good)}"))
    await row_of(app, bob)
    assert await queued(pool) == 0
    await run_link_jobs(app)
    assert await verified(pool, bob.uri) == [False, False] and site.hits == []


async def test_a_profile_page_on_another_server_does_not_count(
    app: Starlette, peer: FakePeer, other_peer: FakePeer, pool: asyncpg.Pool, site: Website
) -> None:
    # Same host name, another port: another server, whose page bob's document may not claim as his own.
    bob = remote(peer, "bob")
    bob.doc["url"] = f"{other_peer.base}/@bob"
    set_links(bob, ("Website", site.page("/home", linking_back(f"{other_peer.base}/@bob"))))
    await row_of(app, bob)
    await run_link_jobs(app)
    assert await verified(pool, bob.uri) == [False] and site.hits == ["/home"]


# ---- politeness: one page at a time per host, once a day -----------------------------------------
async def test_pages_of_one_host_are_fetched_one_at_a_time(
    app: Starlette, peer: FakePeer, pool: asyncpg.Pool, site: Website
) -> None:
    site.delay = 0.2
    bob, carol = remote(peer, "bob"), remote(peer, "carol")
    set_links(bob, ("One", site.page("/one", linking_back(bob.uri))), ("Two", site.page("/two", linking_back(bob.uri))))
    set_links(carol, ("Three", site.page("/three", linking_back(carol.uri))))
    await row_of(app, bob)
    await row_of(app, carol)
    assert await queued(pool) == 2
    # the worker runs both jobs side by side; the one that finds the host busy comes back later
    await run_link_jobs(app)
    assert await verified(pool, bob.uri) == [True, True] and await verified(pool, carol.uri) == [True]
    assert site.most_in_flight == 1
    assert sorted(site.hits) == ["/one", "/three", "/two"]


async def test_a_page_is_fetched_once_a_day_unless_the_link_changes(
    app: Starlette, client: httpx.AsyncClient, peer: FakePeer, pool: asyncpg.Pool, site: Website
) -> None:
    bob, carol = remote(peer, "bob"), remote(peer, "carol")
    home = site.page("/home", linking_back(bob.uri))  # bob's page, which carol links too
    set_links(bob, ("Website", home))
    set_links(carol, ("Website", home))
    await row_of(app, bob)
    await run_link_jobs(app)
    assert site.hits == ["/home"]
    # carol's copy of the same link is answered from that check: nothing to queue, nothing fetched
    await row_of(app, carol)
    assert await queued(pool) == 0
    await update(app, client, peer, carol)
    assert await queued(pool) == 0 and site.hits == ["/home"]
    assert await verified(pool, bob.uri) == [True] and await verified(pool, carol.uri) == [False]

    # a day later, carol's next Update has the page checked again
    await pool.execute("UPDATE link_checks SET checked_at = now() - interval '25 hours'")
    await update(app, client, peer, carol)
    assert await queued(pool) == 1
    await run_link_jobs(app)
    assert site.hits == ["/home", "/home"]
    assert await pool.fetchval("SELECT count(*) FROM link_checks WHERE checked_at < now() - interval '1 day'") == 0

    # and a changed link is checked at once, whatever the day
    own = site.page("/carol", linking_back(carol.uri))
    set_links(carol, ("Website", own))
    await update(app, client, peer, carol)
    await run_link_jobs(app)
    assert await verified(pool, carol.uri) == [True]
    assert site.hits == ["/home", "/home", "/carol"]


# ---- the pieces ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stored", "received", "expected"),
    [
        # an unchanged value keeps its mark, wherever it moved and whatever it is called now
        (
            [{"name": "a", "value": "x", "verified_at": "2024-05-01T12:00:00.000Z"}, {"name": "b", "value": "y"}],
            [{"name": "b", "value": "y"}, {"name": "c", "value": "x"}],
            [{"name": "b", "value": "y"}, {"name": "c", "value": "x", "verified_at": "2024-05-01T12:00:00.000Z"}],
        ),
        # a changed value has none, and a document's own claim is dropped
        (
            [{"name": "a", "value": "x", "verified_at": "2024-05-01T12:00:00.000Z"}],
            [{"name": "a", "value": "z", "verified_at": "2024-05-01T12:00:00.000Z"}],
            [{"name": "a", "value": "z"}],
        ),
        ([], [], []),
        (None, [{"name": "a", "value": "x"}], [{"name": "a", "value": "x"}]),
        ({"not": "a list"}, "nor this", []),
    ],
)
async def test_fields_keeping_verification(pool: asyncpg.Pool, stored: Any, received: Any, expected: Any) -> None:
    result = await pool.fetchval(
        "SELECT fields_keeping_verification($1::text::jsonb, $2::text::jsonb)",
        None if stored is None else json.dumps(stored),
        json.dumps(received),
    )
    assert result == expected
