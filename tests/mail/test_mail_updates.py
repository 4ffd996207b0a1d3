"""E-mail updates end to end, through a real SMTP server on loopback: subscribe, confirm by the mailed
link, receive a post, unsubscribe with one click, receive nothing more."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.config import Settings
from fediverse_biz.core import accounts, browser_sessions
from fediverse_biz.core.account_deletion import delete_account
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.mail.conftest import BROWSER, booth_form_token, link_in, run_mail_jobs
from tests.support import factories
from tests.support.smtp_server import SmtpServer

READER = "reader@example.org"


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


@pytest.fixture
async def org(pool: asyncpg.Pool, urls: LocalUrls) -> asyncpg.Record:
    await accounts.create_user(pool, urls, "owner", "owner@example.com", factories.PASSWORD)
    made = await accounts.create_organization(pool, urls, "acme", "owner", display_name="Acme Anvils")
    return await pool.fetchrow("SELECT * FROM actors WHERE id = $1", made["id"])


async def subscribe(client: httpx.AsyncClient, email: str = READER, consent: str | None = "1") -> httpx.Response:
    form = {"email": email, "form_token": await booth_form_token(client, "acme")}
    if consent is not None:
        form["consent"] = consent
    return await client.post("/@acme/subscribe", data=form, headers=BROWSER)


async def confirmed(client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, smtp: SmtpServer) -> None:
    assert (await subscribe(client)).status_code == 200
    assert await run_mail_jobs(pool, settings) == ["done"]
    link = link_in(smtp.mailbox.messages[-1].get_body(("plain",)).get_content(), "/mail/confirm/")  # type: ignore[union-attr]
    assert (await client.post(link, headers=BROWSER)).status_code == 200


async def test_subscribe_confirm_receive_unsubscribe(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, settings: Settings, org: asyncpg.Record,
    smtp_server: SmtpServer,
) -> None:
    booth = await client.get("/@acme", headers=BROWSER)
    assert "Updates by e-mail" in booth.text and "privacy policy" in booth.text
    assert "each time Acme Anvils publishes a public post" in booth.text

    answer = await subscribe(client)
    assert answer.status_code == 200 and "we sent a confirmation link" in answer.text
    assert smtp_server.mailbox.received == []  # never sent from the request: only by the job
    assert await run_mail_jobs(pool, settings) == ["done"]
    [(recipients, confirmation)] = smtp_server.mailbox.received
    assert recipients == [READER] and confirmation["From"] == "news@127.0.0.1"
    assert confirmation.get_content_type() == "multipart/alternative"
    assert "List-Unsubscribe" not in confirmation
    text = confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<a href=" in confirmation.get_body(("html",)).get_content()  # type: ignore[union-attr]
    consent = await pool.fetchrow("SELECT * FROM mail_subscriptions")
    assert consent["consent_page"] == "http://127.0.0.1/@acme" and "Acme Anvils" in consent["consent_text"]
    assert consent["consented_at"] is not None and consent["confirmed_at"] is None

    # Before confirmation nothing but the confirmation is sent.
    await factories.post(pool, urls, org, "Too early")
    assert await run_mail_jobs(pool, settings) == []

    link = link_in(text, "/mail/confirm/")
    page = await client.get(link, headers=BROWSER)
    assert page.status_code == 200 and "Confirm the subscription" in page.text
    assert await pool.fetchval("SELECT confirmed_at FROM mail_subscriptions") is None  # a GET confirms nothing
    assert (await client.post(link, headers=BROWSER)).status_code == 200
    assert await pool.fetchval("SELECT confirmed_at FROM mail_subscriptions") is not None
    assert (await client.post(link, headers=BROWSER)).status_code == 404  # used

    status_id = await factories.post(pool, urls, org, "Our new anvil is out")
    assert await run_mail_jobs(pool, settings) == ["done"]
    news = smtp_server.mailbox.messages[-1]
    assert news["To"] == READER and news["Subject"].startswith("Acme Anvils: Our new anvil")
    assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = news["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("http://127.0.0.1/mail/unsubscribe/")
    plain = news.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Our new anvil is out" in plain and f"/@acme/{status_id}" in plain
    assert "Our new anvil is out" in news.get_body(("html",)).get_content()  # type: ignore[union-attr]

    # RFC 8058: the mail client POSTs this body, with no cookie and no CSRF token.
    one_click = await client.post(unsubscribe, content=b"List-Unsubscribe=One-Click",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert one_click.status_code == 200
    assert await pool.fetchval("SELECT count(*) FROM mail_subscriptions") == 0  # the address is gone
    assert await pool.fetchval("SELECT count(*) FROM mail_confirmations_sent WHERE email_hash LIKE '%@%'") == 0

    before = len(smtp_server.mailbox.received)
    await factories.post(pool, urls, org, "Another anvil")
    assert await run_mail_jobs(pool, settings) == []
    assert len(smtp_server.mailbox.received) == before
    assert (await client.get(unsubscribe, headers=BROWSER)).status_code == 404


async def test_only_public_top_level_posts_are_mailed(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, settings: Settings, org: asyncpg.Record,
    smtp_server: SmtpServer,
) -> None:
    await confirmed(client, pool, settings, smtp_server)
    first = await factories.post(pool, urls, org, "Public news")
    await factories.post(pool, urls, org, "Quiet", visibility="unlisted")
    await factories.post(pool, urls, org, "Followers", visibility="private")
    await factories.post(pool, urls, org, "A reply", in_reply_to_id=first)
    assert await run_mail_jobs(pool, settings) == ["done"]


async def test_a_second_subscription_only_sends_a_new_confirmation(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, settings: Settings, org: asyncpg.Record,
    smtp_server: SmtpServer,
) -> None:
    assert (await subscribe(client)).status_code == 200
    assert (await subscribe(client)).status_code == 200
    assert await run_mail_jobs(pool, settings) == ["done", "done"]
    first, second = (m.get_body(("plain",)).get_content() for m in smtp_server.mailbox.messages)  # type: ignore[union-attr]
    assert (await client.get(link_in(first, "/mail/confirm/"), headers=BROWSER)).status_code == 404  # replaced
    assert (await client.post(link_in(second, "/mail/confirm/"), headers=BROWSER)).status_code == 200
    assert await pool.fetchval("SELECT count(*) FROM mail_subscriptions") == 1


async def test_smtp_failures_retry_when_temporary_and_drop_when_permanent(
    client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, org: asyncpg.Record, smtp_server: SmtpServer,
) -> None:
    assert (await subscribe(client)).status_code == 200
    smtp_server.mailbox.answer = "451 4.3.0 try again later"
    assert await run_mail_jobs(pool, settings) == ["retry"]
    assert await pool.fetchval("SELECT attempts FROM jobs WHERE kind = 'send_mail'") == 1
    await pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'send_mail'")
    smtp_server.mailbox.answer = "550 5.1.1 no such user"
    assert await run_mail_jobs(pool, settings) == ["dropped"]
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'send_mail' AND run_at <= now()") == 0
    assert smtp_server.mailbox.received == []


async def test_the_team_sees_a_count_and_deleting_the_organization_removes_subscribers(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, settings: Settings, org: asyncpg.Record,
    smtp_server: SmtpServer,
) -> None:
    await confirmed(client, pool, settings, smtp_server)
    assert "confirmed subscriber" not in (await client.get("/@acme", headers=BROWSER)).text  # visitors: no count
    owner = await pool.fetchval("SELECT id FROM users WHERE email = 'owner@example.com'")
    signed = await browser_sessions.open_session(pool, owner, remembered=False)
    client.cookies.set(browser_sessions.COOKIE, signed.token)
    booth = (await client.get("/@acme", headers=BROWSER)).text
    assert "1 confirmed subscriber" in booth and READER not in booth
    client.cookies.clear()

    await delete_account(pool, urls, org["id"], owner, media_root=settings.media_path)
    assert await pool.fetchval("SELECT count(*) FROM mail_subscriptions") == 0
