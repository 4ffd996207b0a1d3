"""What a hostile or careless visitor may send to the subscription form and the mailed links."""

from __future__ import annotations

from dataclasses import replace

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.app import create_app
from fediverse_biz.business.mail_subscriptions import unsubscribe_token
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.mail.conftest import BROWSER, booth_form_token, run_mail_jobs
from tests.support import factories
from tests.support.html import parse
from tests.support.smtp_server import SmtpServer


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


@pytest.fixture
async def org(pool: asyncpg.Pool, urls: LocalUrls) -> asyncpg.Record:
    await accounts.create_user(pool, urls, "owner", "owner@example.com", factories.PASSWORD)
    return await accounts.create_organization(pool, urls, "acme", "owner", display_name="Acme Anvils")


async def post_form(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    form.setdefault("form_token", await booth_form_token(client, "acme"))
    return await client.post("/@acme/subscribe", data=form, headers=BROWSER)


def field_error(response: httpx.Response, name: str) -> str:
    parse(response.text)  # strict HTML5
    marker = f'id="error-{name}">'
    assert marker in response.text, response.text[:2000]
    return response.text.split(marker, 1)[1].split("<", 1)[0]


@pytest.mark.parametrize(
    "email",
    [
        "reader@example.org\r\nBcc: victim@example.net",
        "reader@example.org\nSubject: spam",
        "reader@example.org, victim@example.net",
        "Reader <reader@example.org>",
        "not an address",
        "x" * 250 + "@example.org",
        "reader@" + "a" * 300 + ".org",
        "",
    ],
)
async def test_bad_addresses_are_refused_beside_the_field(
    client: httpx.AsyncClient, pool: asyncpg.Pool, org: asyncpg.Record, email: str
) -> None:
    response = await post_form(client, email=email, consent="1")
    assert response.status_code == 422
    assert "e-mail address" in field_error(response, "email")
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'send_mail'") == 0
    assert await pool.fetchval("SELECT count(*) FROM mail_subscriptions") == 0


async def test_no_consent_no_subscription(client: httpx.AsyncClient, pool: asyncpg.Pool, org: asyncpg.Record) -> None:
    response = await post_form(client, email="reader@example.org")
    assert response.status_code == 422
    assert "must be ticked" in field_error(response, "consent")
    assert 'value="reader@example.org"' in response.text  # kept for the next try
    assert await pool.fetchval("SELECT count(*) FROM mail_subscriptions") == 0


@pytest.mark.parametrize("token", ["", "0.abc", "1733600000.deadbeef", "x" * 5000])
async def test_forged_form_tokens_are_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool, org: asyncpg.Record, token: str
) -> None:
    response = await post_form(client, email="reader@example.org", consent="1", form_token=token)
    assert response.status_code == 403
    assert "expired" in field_error(response, "email")
    assert await pool.fetchval("SELECT count(*) FROM mail_subscriptions") == 0


async def test_forged_links_are_not_found(
    client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, org: asyncpg.Record
) -> None:
    assert (await post_form(client, email="reader@example.org", consent="1")).status_code == 200
    row = await pool.fetchrow("SELECT id, email FROM mail_subscriptions")
    wrong_secret = unsubscribe_token("another secret" * 3, row["id"], row["email"])
    forged = [
        "/mail/confirm/guess", "/mail/confirm/" + "a" * 500, "/mail/confirm/%00",
        f"/mail/unsubscribe/{wrong_secret}", f"/mail/unsubscribe/{row['id']}.", "/mail/unsubscribe/..",
        "/mail/unsubscribe/" + "9" * 400, "/mail/unsubscribe/" + "9" * 40 + ".ab", "/mail/unsubscribe/%D9%A3.ab",
    ]
    for path in forged:
        assert (await client.get(path, headers=BROWSER)).status_code == 404, path
        assert (await client.post(path, headers=BROWSER)).status_code == 404, path
    assert await pool.fetchval("SELECT count(*) FROM mail_subscriptions WHERE confirmed_at IS NULL") == 1


async def test_one_address_gets_few_confirmations(
    client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, org: asyncpg.Record, smtp_server: SmtpServer
) -> None:
    for _ in range(3):
        assert (await post_form(client, email="reader@example.org", consent="1")).status_code == 200
    response = await post_form(client, email="Reader@EXAMPLE.org", consent="1")  # the same address
    assert response.status_code == 429
    assert "try again in an hour" in field_error(response, "email")
    assert await run_mail_jobs(pool, settings) == ["done"] * 3


async def test_one_ip_gets_few_subscriptions(
    db: Database, settings: Settings, pool: asyncpg.Pool, org: asyncpg.Record
) -> None:
    # A second app on the same database, whose limit is low.
    limited = create_app(replace(settings, rate_limits=True, rate_limit_subscriptions=2), db)
    async with limited.router.lifespan_context(limited), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited), base_url=settings.base_url
    ) as client:
        statuses = [(await post_form(client, email=f"r{i}@example.org", consent="1")).status_code for i in range(3)]
    assert statuses == [200, 200, 429]


async def test_unknown_and_non_organization_booths_take_no_subscription(
    client: httpx.AsyncClient, pool: asyncpg.Pool, org: asyncpg.Record
) -> None:
    token = await booth_form_token(client, "acme")
    form = {"email": "reader@example.org", "consent": "1", "form_token": token}
    for path in ("/@nobody/subscribe", "/@owner/subscribe", "/@a%00b/subscribe"):
        assert (await client.post(path, data=form, headers=BROWSER)).status_code == 404
    assert "mail-updates" not in (await client.get("/@owner", headers=BROWSER)).text


async def test_a_hostile_display_name_cannot_add_headers(
    client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, org: asyncpg.Record, smtp_server: SmtpServer
) -> None:
    await pool.execute("UPDATE actors SET display_name = $2 WHERE id = $1", org["id"],
                       "Evil\r\nBcc: victim@example.net\r\n<script>x</script>")  # fmt: skip
    assert (await post_form(client, email="reader@example.org", consent="1")).status_code == 200
    assert await run_mail_jobs(pool, settings) == ["done"]
    [(recipients, message)] = smtp_server.mailbox.received
    assert recipients == ["reader@example.org"] and "Bcc" not in message
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert "<script>" not in message.get_body(("html",)).get_content()  # type: ignore[union-attr]
