"""The booth `/@name`, the permalink `/@name/id`, `/about`, and remote follow, as a visitor sees them.

Every page is parsed as strict HTML5; each test names what must be on the page and what must never be.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from aiohttp import web
from starlette.applications import Starlette

from fediverse_biz.business import organizations
from fediverse_biz.core import accounts, follows, interactions, statuses
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.html import by_class, links, meta, parse, text, text_of
from tests.support.loopback import listen
from tests.support.peers import FakePeer

BASE = "http://127.0.0.1"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


async def page(client: httpx.AsyncClient, path: str, status: int = 200) -> Any:
    response = await client.get(path, headers=BROWSER)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    return parse(response.text)


async def organization(pool: asyncpg.Pool, urls: LocalUrls, **profile: Any) -> asyncpg.Record:
    owner = await accounts.create_user(pool, urls, "owner", "owner@example.com", factories.PASSWORD)
    org = await accounts.create_organization(pool, urls, "acme", "owner", display_name="Acme Anvils")
    await organizations.update_profile(pool, urls, org, owner.user_id, profile)
    return await pool.fetchrow("SELECT * FROM actors WHERE id = $1", org["id"])


# ---- the booth -----------------------------------------------------------------------------------
async def test_booth_shows_the_profile_and_public_posts_only(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    await pool.execute(
        "UPDATE actors SET display_name = 'Alice <b>A.</b>', note = '<p>We make anvils</p>' WHERE id = $1", alice["id"]
    )
    await factories.post(pool, urls, alice, "public news")
    await factories.post(pool, urls, alice, "unlisted news", visibility="unlisted")
    await factories.post(pool, urls, alice, "followers secret", visibility="private")
    await factories.post(pool, urls, alice, "direct secret", visibility="direct")
    await statuses.create(
        pool, urls, factories.LOCAL_DOMAIN, alice, statuses.Draft(text="held secret"), hold_for_approval=True
    )
    for name in ("bob", "carol"):
        await follows.follow(pool, await factories.local_actor(pool, urls, name), alice)

    doc = await page(client, "/@alice")
    shown = text(doc)
    assert "Alice <b>A.</b>" in shown  # escaped: shown as typed, never as markup
    assert "We make anvils" in shown and "@alice@127.0.0.1" in shown
    assert "public news" in shown and "unlisted news" in shown
    assert "secret" not in shown
    counts = " ".join(text_of(e) for e in by_class(doc, "counts"))
    # Mastodon's count: every published post (followers-only and direct too), never a held one.
    assert counts == "4 posts 0 following 2 followers"
    assert meta(doc, "og:type") == "profile"
    assert meta(doc, "og:title") == "Alice <b>A.</b> (@alice@127.0.0.1)"
    assert meta(doc, "og:url") == f"{BASE}/@alice"
    assert meta(doc, "og:description") == "We make anvils"
    assert meta(doc, "og:image") == f"{BASE}/static/default-avatar.png"
    assert meta(doc, "twitter:card") == "summary"
    assert meta(doc, "robots") is None
    assert ("application/activity+json", f"{BASE}/users/alice") in links(doc, "alternate")
    assert ("application/atom+xml", f"{BASE}/@alice.atom") in links(doc, "alternate")
    assert ("application/rss+xml", f"{BASE}/@alice.rss") in links(doc, "alternate")
    assert links(doc, "canonical") == [(None, f"{BASE}/@alice")]
    assert links(doc, "stylesheet") == [(None, f"{BASE}/static/site.css")]
    assert not list(doc.iter("script"))


async def test_booth_lists_pinned_posts_and_pages_back(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    ids = [await factories.post(pool, urls, alice, f"post number {n}") for n in range(22)]
    await interactions.pin(pool, alice, ids[0], on=True)
    doc = await page(client, "/@alice")
    pinned = [e for e in doc.iter("section") if e.get("aria-labelledby") == "pinned-heading"]
    assert len(pinned) == 1 and "post number 0" in text_of(pinned[0])
    older = [a for a in doc.iter("a") if a.get("rel") == "next"]
    assert older and older[0].get("href") == f"{BASE}/@alice?max_id={ids[2]}"
    second = await page(client, f"/@alice?max_id={ids[2]}")
    assert "post number 1" in text(second) and "post number 5" not in text(second)
    assert meta(second, "robots") == "noindex"


async def test_booth_of_an_organization_shows_its_company_profile_and_verified_links(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    org = await organization(
        pool,
        urls,
        legal_name="Acme Anvils SARL",
        sector="C",
        country="FR",
        city="Lyon",
        website="https://acme.example",
        size_band="10-49",
        founded_year=1999,
        languages=["fr", "en"],
        contact_email="hello@acme.example",
        vat_id="FR12345678901",
    )
    await pool.execute("UPDATE organization_profiles SET website_verified_at = now() WHERE actor_id = $1", org["id"])
    fields = [
        *org["fields"],
        {
            "name": "Shop",
            "value": '<a href="https://shop.example" rel="me">shop.example</a>',
            "verified_at": "2024-05-01T00:00:00.000Z",
        },
        {"name": "Blog", "value": "blog.example", "verified_at": None},
    ]
    await pool.execute("UPDATE actors SET fields = $2::text::jsonb WHERE id = $1", org["id"], json.dumps(fields))

    doc = await page(client, "/@acme")
    shown = text(doc)
    for expected in (
        "Acme Anvils SARL",
        "Manufacturing",
        "Lyon, France",
        "https://acme.example",
        "10 to 49 employees",
        "1999",
        "French, English",
        "hello@acme.example",
        "FR12345678901",
        "Organization",
    ):
        assert expected in shown, expected
    verified = [text_of(e) for e in by_class(doc, "verified")]
    assert any("Website" in v and "✓" in v for v in verified)  # the company website, checked
    assert any("Shop" in v and "✓" in v for v in verified)  # a verified profile field
    assert not any("Blog" in v for v in verified)
    assert shown.count("Manufacturing") == 1  # the mirrored "Sector" field is not shown twice
    assert "Manufacturing · Lyon, France" in (meta(doc, "og:description") or "")


async def test_non_discoverable_accounts_keep_a_booth_that_is_not_indexed(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    await pool.execute("UPDATE actors SET discoverable = false WHERE id = $1", alice["id"])
    doc = await page(client, "/@alice")
    assert meta(doc, "robots") == "noindex"


async def test_unknown_and_gone_accounts(client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    assert "no account with this name" in text(await page(client, "/@nobody", 404))
    for junk in ("/@a%00b", "/@a%0A", "/@" + "x" * 300, "/@a%00b/1"):  # never a query, never a 500
        await page(client, junk, 404)
    assert (await client.get("/@a%00b.rss")).status_code == 404
    await pool.execute("UPDATE actors SET suspended_at = now() WHERE id = $1", alice["id"])
    gone = await page(client, "/@alice", 410)
    assert "suspended or deleted" in text(gone) and meta(gone, "robots") == "noindex"
    assert (await client.get("/@alice.atom")).status_code == 410


async def test_the_actor_url_sends_browsers_to_the_booth(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    await factories.local_actor(pool, urls, "alice")
    response = await client.get("/users/alice", headers=BROWSER)
    assert response.status_code == 302 and response.headers["location"] == f"{BASE}/@alice"
    document = await client.get("/users/alice", headers={"Accept": "application/activity+json"})
    assert document.status_code == 200 and document.json()["type"] == "Person"


# ---- the permalink ---------------------------------------------------------------------------------
async def test_permalink_shows_the_post_and_its_public_replies(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    bob = await factories.local_actor(pool, urls, "bob")
    root = await factories.post(pool, urls, alice, "Open day on Friday #anvils")
    await factories.post(pool, urls, bob, "public reply", in_reply_to_id=root)
    await factories.post(pool, urls, bob, "unlisted reply", in_reply_to_id=root, visibility="unlisted")
    await factories.post(pool, urls, bob, "private reply", in_reply_to_id=root, visibility="private")
    await factories.post(pool, urls, bob, "@alice direct reply", in_reply_to_id=root, visibility="direct")
    for name, domain in (("spam", "spam.example"), ("gone", "ok.example")):
        remote = await factories.remote_actor(pool, name, domain)
        await pool.execute(
            """INSERT INTO statuses (uri, actor_id, local, visibility, content, in_reply_to_id)
               VALUES ($1, $2, false, 'public', $3, $4)""",
            f"https://{domain}/s/1",
            remote["id"],
            f"<p>{name} reply</p>",
            root,
        )
    await pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ('spam.example', 'silence')")
    await pool.execute("UPDATE actors SET suspended_at = now() WHERE domain = 'ok.example'")

    doc = await page(client, f"/@alice/{root}")
    shown = text(doc)
    assert "Open day on Friday" in shown
    assert "public reply" in shown and "unlisted reply" in shown
    assert "private reply" not in shown and "direct reply" not in shown
    assert "spam reply" not in shown and "gone reply" not in shown
    assert meta(doc, "og:type") == "article"
    assert meta(doc, "og:url") == f"{BASE}/@alice/{root}"
    assert (meta(doc, "og:description") or "").startswith("Open day on Friday")
    assert ("application/activity+json", f"{BASE}/users/alice/statuses/{root}") in links(doc, "alternate")
    assert links(doc, "canonical") == [(None, f"{BASE}/@alice/{root}")]
    assert meta(doc, "robots") is None


async def test_counts_take_the_singular_for_one(client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    bob = await factories.local_actor(pool, urls, "bob")
    carol = await factories.local_actor(pool, urls, "carol")
    root = await factories.post(pool, urls, alice, "Open day on Friday")
    await factories.post(pool, urls, bob, "See you there", in_reply_to_id=root)
    await interactions.reblog(pool, urls, bob, root)
    for fan in (bob, carol):
        await interactions.favourite(pool, fan, root)
    await follows.follow(pool, bob, alice)

    post = await page(client, f"/@alice/{root}")
    booth = await page(client, "/@alice")

    footers = [text_of(f) for f in post.iter("footer") if "Replies" in [s.get("title") for s in f.iter("span")]]
    assert footers[0] == "1 reply 1 boost 2 favourites"  # the post itself; its reply comes after it
    assert footers[1] == "0 replies 0 boosts 0 favourites"
    assert " ".join(text_of(e) for e in by_class(booth, "counts")) == "1 post 0 following 1 follower"


@pytest.mark.parametrize("visibility", ["private", "direct"])
async def test_permalink_of_a_non_public_post_is_not_found(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, visibility: str
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    status_id = await factories.post(pool, urls, alice, "secret words", visibility=visibility)
    doc = await page(client, f"/@alice/{status_id}", 404)
    assert "secret words" not in text(doc)


async def test_permalink_of_a_held_post_is_not_found(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    held = await statuses.create(
        pool, urls, factories.LOCAL_DOMAIN, alice, statuses.Draft(text="held words"), hold_for_approval=True
    )
    assert "held words" not in text(await page(client, f"/@alice/{held}", 404))
    assert "held words" not in text(await page(client, "/@alice"))


async def test_permalink_of_an_unlisted_post_is_shown_but_not_indexed(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    status_id = await factories.post(pool, urls, alice, "quiet words", visibility="unlisted")
    doc = await page(client, f"/@alice/{status_id}")
    assert "quiet words" in text(doc) and meta(doc, "robots") == "noindex"


async def test_permalink_of_a_deleted_post_is_gone_and_junk_ids_are_not_found(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    bob = await factories.local_actor(pool, urls, "bob")
    status_id = await factories.post(pool, urls, alice, "soon gone")
    other = await factories.post(pool, urls, bob, "bob's post")
    await statuses.delete(pool, urls, alice, status_id)
    await page(client, f"/@alice/{status_id}", 410)
    await page(client, f"/@alice/{other}", 404)  # someone else's post under alice's name
    await page(client, "/@alice/notanumber", 404)
    await page(client, "/@alice/99999999999999999999999", 404)


# ---- about -------------------------------------------------------------------------------------
async def test_about_page_shows_the_instance(client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls) -> None:
    await pool.execute(
        """INSERT INTO instance_settings (key, value) VALUES
             ('title', '"Anvil Makers Guild"'), ('short_description', '"Forges of Europe"'),
             ('contact_email', '"admin@guild.example"'), ('rules', '[{"text": "Be civil", "hint": "No spam"}]')"""
    )
    alice = await factories.local_actor(pool, urls, "alice")
    await factories.post(pool, urls, alice, "hello")
    doc = await page(client, "/about")
    shown = text(doc)
    for expected in (
        "Anvil Makers Guild",
        "Forges of Europe",
        "Be civil",
        "No spam",
        "admin@guild.example",
        "Registrations are open",
        "1 account 1 post 0 connected servers",  # never "1 accounts"
    ):
        assert expected in shown, expected
    assert meta(doc, "og:site_name") == "Anvil Makers Guild"
    assert meta(doc, "og:title") == "About Anvil Makers Guild"
    assert ("application/activity+json", f"{BASE}/actor") in links(doc, "alternate")
    home = await client.get("/")
    assert home.status_code == 302 and home.headers["location"] == f"{BASE}/about"


# ---- remote follow ---------------------------------------------------------------------------------
class SubscribeServer:
    """A fediverse server on 127.0.0.1 whose WebFinger names a subscribe template (or none)."""

    def __init__(self, template: str | None) -> None:
        self.template = template
        self.asked: list[str] = []
        self._runner: web.AppRunner | None = None
        self.host = ""

    async def start(self) -> SubscribeServer:
        app = web.Application()
        app.router.add_get("/.well-known/webfinger", self._webfinger)
        self._runner = web.AppRunner(app, handle_signals=False)
        self.host = f"127.0.0.1:{await listen(self._runner)}"
        return self

    async def _webfinger(self, request: web.Request) -> web.Response:
        self.asked.append(request.query["resource"])
        links: list[dict[str, str]] = [{"rel": "self", "type": "application/activity+json", "href": "x"}]
        if self.template:
            links.append({"rel": "http://ostatus.org/schema/1.0/subscribe", "template": self.template})
        body = {"subject": request.query["resource"], "links": links}
        return web.json_response(body, content_type="application/jrd+json")

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def their_server() -> AsyncIterator[SubscribeServer]:
    server = await SubscribeServer(None).start()
    server.template = f"http://{server.host}/authorize_interaction?uri={{uri}}"
    yield server
    await server.stop()


async def test_remote_follow_sends_the_visitor_to_their_servers_subscribe_template(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, their_server: SubscribeServer
) -> None:
    await factories.local_actor(pool, urls, "alice")
    form = (await page(client, "/@alice")).iter("form")
    assert [f.get("action") for f in form] == [f"{BASE}/@alice/remote_follow"]
    response = await client.post("/@alice/remote_follow", data={"acct": f"@visitor@{their_server.host}"})
    assert response.status_code == 303
    expected = f"http://{their_server.host}/authorize_interaction?uri={quote(f'{BASE}/users/alice', safe='')}"
    assert response.headers["location"] == expected
    assert their_server.asked == [f"acct:visitor@{their_server.host}"]


async def test_remote_follow_with_a_bad_address_or_a_server_without_template(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, their_server: SubscribeServer
) -> None:
    await factories.local_actor(pool, urls, "alice")
    for address in ("not an address", "a\x00b@c\x01", "@x@", ""):
        bad = await client.post("/@alice/remote_follow", data={"acct": address})
        assert bad.status_code == 422 and "not a fediverse address" in text(parse(bad.text))
    junk = await client.get("/authorize_interaction", params={"uri": "a\x00b"}, headers=BROWSER)
    assert junk.status_code == 400
    parse(junk.text)
    their_server.template = None
    silent = await client.post("/@alice/remote_follow", data={"acct": f"visitor@{their_server.host}"})
    assert silent.status_code == 502
    parse(silent.text)
    ours = await client.post("/@alice/remote_follow", data={"acct": "bob@127.0.0.1"})
    assert ours.status_code == 303
    assert ours.headers["location"] == f"{BASE}/authorize_interaction?uri={quote(f'{BASE}/users/alice', safe='')}"


def _form_fields(doc: Any) -> dict[str, str]:
    return {i.get("name"): i.get("value") or "" for i in doc.iter("input") if i.get("type") == "hidden"}


async def test_authorize_interaction_follows_after_signing_in(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    bob = await factories.local_actor(pool, urls, "bob")
    alice = await factories.local_actor(pool, urls, "alice")
    doc = await page(client, f"/authorize_interaction?uri={quote(alice['uri'])}")
    assert "@alice@127.0.0.1" in text(doc) and meta(doc, "robots") == "noindex"
    hidden = _form_fields(doc)
    wrong = await client.post("/authorize_interaction", data={**hidden, "login": "bob", "password": "nope"})
    assert wrong.status_code == 403 and "Invalid" in text(parse(wrong.text))
    forged = await client.post(
        "/authorize_interaction",
        data={**hidden, "uri": "acct:x@y.example", "login": "bob", "password": factories.PASSWORD},
    )
    assert forged.status_code == 403
    assert not await pool.fetchval("SELECT count(*) FROM follows")
    done = await client.post("/authorize_interaction", data={**hidden, "login": "bob", "password": factories.PASSWORD})
    assert done.status_code == 200 and "You now follow alice" in text(parse(done.text))
    assert await pool.fetchval(
        "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", bob["id"], alice["id"]
    )


async def test_a_suspended_account_cannot_act_through_a_page(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    # the acting-actor rule of the API holds on pages too (core/accounts.acting_actor)
    bob = await factories.local_actor(pool, urls, "bob")
    alice = await factories.local_actor(pool, urls, "alice")
    hidden = _form_fields(await page(client, f"/authorize_interaction?uri={quote(alice['uri'])}"))
    await pool.execute("UPDATE actors SET suspended_at = now() WHERE id = $1", bob["id"])
    data = {**hidden, "login": "bob", "password": factories.PASSWORD}
    refused = await client.post("/authorize_interaction", data=data)
    assert refused.status_code == 401
    assert not await pool.fetchval("SELECT count(*) FROM follows")


async def test_authorize_interaction_resolves_a_remote_account_only_after_sign_in(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    peer = await FakePeer().start()
    try:
        remote = peer.actor("remy")
        bob = await factories.local_actor(pool, urls, "bob")
        doc = await page(client, f"/authorize_interaction?uri={quote(remote.uri)}")
        assert peer.hits == []  # an anonymous visitor makes us fetch nothing
        data = {**_form_fields(doc), "login": "bob@example.com", "password": factories.PASSWORD}
        done = await client.post("/authorize_interaction", data=data)
        assert done.status_code == 200 and "Follow request sent" in text(parse(done.text))
        target = await pool.fetchval("SELECT id FROM actors WHERE uri = $1", remote.uri)
        assert await pool.fetchval(
            "SELECT 1 FROM follow_requests WHERE actor_id = $1 AND target_actor_id = $2", bob["id"], target
        )
        assert await factories.deliveries(pool) == [(remote.inbox, "Follow")]
    finally:
        await peer.stop()


async def test_authorize_interaction_as_an_organization_needs_the_follow_permission(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    org = await organization(pool, urls)
    alice = await factories.local_actor(pool, urls, "alice")
    doc = await page(client, f"/authorize_interaction?uri={quote(alice['uri'])}")
    data = {**_form_fields(doc), "login": "owner", "password": factories.PASSWORD, "actor": "acme"}
    done = await client.post("/authorize_interaction", data=data)
    assert done.status_code == 200
    assert await pool.fetchval(
        "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", org["id"], alice["id"]
    )
    assert await pool.fetchval(
        "SELECT 1 FROM organization_audit_log WHERE organization_id = $1 AND action = 'follow'", org["id"]
    )
    stranger = await client.post("/authorize_interaction", data={**data, "login": "alice"})
    assert stranger.status_code == 403 and "may not follow accounts for acme" in text(parse(stranger.text))
