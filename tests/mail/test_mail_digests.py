"""Daily and weekly digests: chosen on the form, one mail a period with the posts of the period."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.mail.conftest import BROWSER, booth_form_token, link_in, run_mail_jobs
from tests.support import factories
from tests.support.smtp_server import SmtpServer


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


@pytest.fixture
async def org(pool: asyncpg.Pool, urls: LocalUrls) -> asyncpg.Record:
    await accounts.create_user(pool, urls, "owner", "owner@example.com", factories.PASSWORD)
    made = await accounts.create_organization(pool, urls, "acme", "owner", display_name="Acme Anvils")
    return await pool.fetchrow("SELECT * FROM actors WHERE id = $1", made["id"])


async def test_a_daily_digest_gathers_the_day_s_posts(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls, settings: Settings, org: asyncpg.Record,
    smtp_server: SmtpServer,
) -> None:
    form = {"email": "reader@example.org", "frequency": "daily", "consent": "1",
            "form_token": await booth_form_token(client, "acme")}  # fmt: skip
    assert (await client.post("/@acme/subscribe", data=form, headers=BROWSER)).status_code == 200
    assert "One e-mail a day" in await pool.fetchval("SELECT consent_text FROM mail_subscriptions")
    assert await run_mail_jobs(pool, settings) == ["done"]
    confirm = link_in(smtp_server.mailbox.messages[0].get_body(("plain",)).get_content(), "/mail/confirm/")  # type: ignore[union-attr]
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'mail_digest'") == 0  # none until asked
    assert (await client.post(confirm, headers=BROWSER)).status_code == 200
    due = await pool.fetchval("SELECT run_at - now() FROM jobs WHERE kind = 'mail_digest'")
    assert due.total_seconds() > 86_000

    await factories.post(pool, urls, org, "Monday's anvil")
    await factories.post(pool, urls, org, "Tuesday's anvil")
    assert await run_mail_jobs(pool, settings) == []  # no mail per post for a digest

    await pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'mail_digest'")
    assert await run_mail_jobs(pool, settings) == ["done"]  # the digest run, queueing one mail
    assert await run_mail_jobs(pool, settings) == ["done"]  # that mail
    digest = smtp_server.mailbox.messages[-1]
    assert digest["Subject"] == "Acme Anvils: your daily digest (2 posts)"
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.index("Tuesday's anvil") < text.index("Monday's anvil")
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'mail_digest' AND run_at > now()") == 1

    # The next run has nothing new: no mail.
    await pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'mail_digest'")
    assert await run_mail_jobs(pool, settings) == ["done"]
    assert await run_mail_jobs(pool, settings) == []
    assert len(smtp_server.mailbox.messages) == 2


async def test_an_unknown_frequency_is_said_beside_the_field(
    client: httpx.AsyncClient, pool: asyncpg.Pool, org: asyncpg.Record
) -> None:
    form = {"email": "reader@example.org", "frequency": "hourly", "consent": "1",
            "form_token": await booth_form_token(client, "acme")}  # fmt: skip
    response = await client.post("/@acme/subscribe", data=form, headers=BROWSER)
    assert response.status_code == 422 and 'id="error-frequency"' in response.text
    assert await pool.fetchval("SELECT count(*) FROM mail_subscriptions") == 0
