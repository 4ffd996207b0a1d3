"""Verified links (business/verified_links.py) of local accounts: a real website on 127.0.0.1 that does
or does not link back with rel="me", fetched by the real job through the SSRF-safe client. Remote
accounts' links: tests/federation/test_remote_verified_links.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.business import organizations, verified_links
from fediverse_biz.core import accounts, profiles
from fediverse_biz.db.database import Database
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.social import Member, checked, member
from tests.support.websites import Website, linking_back


@pytest.fixture
async def site() -> AsyncIterator[Website]:
    server = await Website().start()
    yield server
    await server.stop()


async def run_jobs(app: Starlette) -> None:
    state = services(app)
    await Worker(state.pool, state.http, state.settings, verified_links.handlers()).run_until_idle(timeout=30)


async def set_fields(db: Database, urls: LocalUrls, who: Member, *fields: tuple[str, str]) -> None:
    await profiles.update_profile(
        db.pool, urls, "127.0.0.1", who.id, who.user.user_id, profiles.ProfileChanges(fields=list(fields))
    )


async def fields_of(db: Database, actor_id: int) -> list[dict[str, object]]:
    result: list[dict[str, object]] = await db.pool.fetchval("SELECT fields FROM actors WHERE id = $1", actor_id)
    return result


# ---- profile fields ------------------------------------------------------------------------------
async def test_a_field_whose_page_links_back_is_verified(
    app: Starlette, client: httpx.AsyncClient, db: Database, urls: LocalUrls, site: Website
) -> None:
    alice = await member(db, urls, "alice")
    home = site.page("/home", linking_back(alice.actor["url"]))
    away = site.page("/away", linking_back("http://127.0.0.1/@someone_else"))
    await set_fields(db, urls, alice, ("Website", home), ("Blog", away), ("About", f"see {home}"))
    assert await db.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'verify_links'") == 1
    await run_jobs(app)
    website, blog, about = await fields_of(db, alice.id)
    assert website["verified_at"] is not None
    assert blog["verified_at"] is None  # links to someone else
    assert about["verified_at"] is None  # more than a link: not verifiable, not even fetched
    assert sorted(site.hits) == ["/away", "/home"]
    # the client API shows it, in Mastodon's format
    account = await checked(client.get(f"/api/v1/accounts/{alice.id}"), "account")
    assert account["fields"][0]["verified_at"] == website["verified_at"]


async def test_a_page_without_the_link_back_is_not_verified(
    app: Starlette, db: Database, urls: LocalUrls, site: Website
) -> None:
    alice = await member(db, urls, "alice")
    profile = alice.actor["url"]
    pages = [
        site.page("/plain", f'<a href="{profile}">us</a>'),  # no rel="me"
        site.page("/text", linking_back(profile), content_type="text/plain"),  # not HTML
        site.page("/gone", linking_back(profile), status=410),
        # a page is read up to 1 MB: a link back after that is never seen
        site.page("/huge", "<!--" + "x" * (1024 * 1024) + "-->" + linking_back(profile)),
    ]
    await set_fields(db, urls, alice, *((f"Link {n}", url) for n, url in enumerate(pages)))
    await run_jobs(app)
    assert [f["verified_at"] for f in await fields_of(db, alice.id)] == [None] * 4
    assert sorted(site.hits) == ["/gone", "/huge", "/plain", "/text"]


async def test_a_huge_page_is_cut_not_refused(app: Starlette, db: Database, urls: LocalUrls, site: Website) -> None:
    # As Mastodon's truncated_body: the first megabyte is read, so a link back in the head still counts.
    alice = await member(db, urls, "alice")
    huge = site.page("/huge", linking_back(alice.actor["url"], tag="link") + "<!--" + "x" * (8 * 1024 * 1024) + "-->")
    await set_fields(db, urls, alice, ("Website", huge))
    await run_jobs(app)
    assert (await fields_of(db, alice.id))[0]["verified_at"] is not None


async def test_changing_a_field_resets_it_and_checks_again(
    app: Starlette, db: Database, urls: LocalUrls, site: Website
) -> None:
    alice = await member(db, urls, "alice")
    good = site.page("/home", linking_back(alice.actor["uri"], tag="link"))  # the actor URI counts too
    bad = site.page("/other", "<p>nothing</p>")
    await set_fields(db, urls, alice, ("Website", good))
    await run_jobs(app)
    assert (await fields_of(db, alice.id))[0]["verified_at"] is not None
    # when the field changes to a page that does not link back, it is not verified any more
    await set_fields(db, urls, alice, ("Website", bad))
    assert (await fields_of(db, alice.id))[0]["verified_at"] is None
    await run_jobs(app)
    assert (await fields_of(db, alice.id))[0]["verified_at"] is None
    # and back to the good page: checked again, verified again (through a redirect, as Mastodon follows them)
    await set_fields(db, urls, alice, ("Website", site.url("/moved")))
    await run_jobs(app)
    assert (await fields_of(db, alice.id))[0]["verified_at"] is not None
    assert site.hits == ["/home", "/other", "/moved", "/home"]


# ---- an organization's website -------------------------------------------------------------------
async def test_an_organizations_website_is_verified_with_its_mirrored_field(
    app: Starlette, client: httpx.AsyncClient, db: Database, urls: LocalUrls, site: Website
) -> None:
    owner = await member(db, urls, "olivia")
    org = await accounts.create_organization(db.pool, urls, "acme", "olivia")
    path = f"/api/v1/organizations/{org['id']}/profile"
    # given a website without the link back: not verified
    plain = site.page("/plain", "<p>Anvils</p>")
    await organizations.update_profile(db.pool, urls, org, owner.user.user_id, {"website": plain, "sector": "C"})
    await run_jobs(app)
    assert (await checked(client.get(path), "organization_profile"))["website_verified_at"] is None
    # when the website changes to one that links back, both the profile and the field are verified
    home = site.page("/home", linking_back(org["url"].upper().replace("HTTP://", "http://")))  # case does not matter
    await organizations.update_profile(db.pool, urls, org, owner.user.user_id, {"website": home})
    await run_jobs(app)
    body = await checked(client.get(path), "organization_profile")
    assert body["website_verified_at"] is not None
    website = (await fields_of(db, org["id"]))[0]
    assert website["name"] == "Website" and website["verified_at"] is not None
    # an edit of another fact keeps the website's verification and checks nothing again
    hits = len(site.hits)
    await organizations.update_profile(db.pool, urls, org, owner.user.user_id, {"sector": "J"})
    assert (await fields_of(db, org["id"]))[0]["verified_at"] == website["verified_at"]
    assert await db.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'verify_links'") == 0
    await run_jobs(app)
    assert len(site.hits) == hits


# ---- the pieces ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a rel="me" href="https://biz.example/@acme">x</a>', True),
        ('<A REL="Me Nofollow" HREF="HTTPS://BIZ.EXAMPLE/@ACME">x</A>', True),
        ('<link rel="me authn" href="https://biz.example/users/acme">', True),
        ('<a rel="me" href="/@acme">x</a>', False),  # relative: resolved on the site, not on us
        ('<a rel="meh" href="https://biz.example/@acme">x</a>', False),
        ('<a href="https://biz.example/@acme" rel="nofollow">x</a>', False),
        ('<a rel="me" href="https://biz.example/@acme2">x</a>', False),
        ('<script>document.write(\'<a rel="me" href="https://biz.example/@acme">\')</script>', False),
    ],
)
def test_links_back(html: str, expected: bool) -> None:
    targets = ["https://biz.example/@acme", "https://biz.example/users/acme"]
    assert verified_links.links_back(html, "https://acme.example/", targets) is expected


MASTODON_LINK = (
    '<a href="https://acme.example/a" rel="me"><span class="invisible">https://</span>'
    '<span>acme.example/a</span><span class="invisible"></span></a>'
)


@pytest.mark.parametrize(
    ("entry", "link"),
    [
        ({"source": "https://acme.example"}, "https://acme.example"),
        ({"source": " https://acme.example/a?b=c "}, "https://acme.example/a?b=c"),
        ({"source": "see https://acme.example"}, None),
        ({"source": "ftp://acme.example"}, None),
        ({"value": '<a href="https://acme.example">https://acme.example</a>'}, "https://acme.example"),
        ({"value": "<p>just text</p>"}, None),
        # a peer's field (no source): one <a> whose text is its href, as Mastodon shapes and reads it
        ({"value": f"{MASTODON_LINK}"}, "https://acme.example/a"),
        ({"value": '<a href="https://evil.example/">https://acme.example/</a>'}, None),  # says another place
        ({"value": 'see <a href="https://acme.example">https://acme.example</a>'}, None),
        ({"value": f"{MASTODON_LINK}{MASTODON_LINK}"}, None),
        ({"value": '<p><a href="https://acme.example">https://acme.example</a></p>'}, None),
        ({"value": '<a href="ftp://acme.example">ftp://acme.example</a>'}, None),
        ({}, None),
    ],
)
def test_field_link(entry: dict[str, str], link: str | None) -> None:
    assert verified_links.field_link(entry) == link


async def test_a_job_for_a_vanished_account_does_nothing(app: Starlette, db: Database) -> None:
    assert await verified_links.verify_actor_links(db.pool, services(app).http, 424242) == set()
    rows: list[asyncpg.Record] = await db.pool.fetch("SELECT * FROM jobs")
    assert rows == []
