"""The whole story on a live server whose own workers send through a real SMTP server on loopback:
subscribe, confirm by the mailed link, receive a post, unsubscribe with one click, receive nothing more."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from fediverse_biz.core import accounts
from fediverse_biz.db.pool import create_pool
from fediverse_biz.urls import LocalUrls
from tests.mail.conftest import BROWSER, booth_form_token
from tests.support import factories
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.smtp_server import SmtpServer


@pytest.fixture
def server(live_server_factory: Callable[..., LiveServer], smtp_server: SmtpServer) -> LiveServer:
    return live_server_factory(smtp_url=smtp_server.url, mail_from="news@127.0.0.1")


async def test_on_a_live_server(server: LiveServer, smtp_server: SmtpServer) -> None:
    urls = LocalUrls(server.base_url)
    mailbox = smtp_server.mailbox
    pool = await create_pool(server.dsn, min_size=1, max_size=2)
    try:
        await accounts.create_user(pool, urls, "owner", "owner@example.com", factories.PASSWORD)
        made = await accounts.create_organization(pool, urls, "acme", "owner", display_name="Acme Anvils")
        org = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", made["id"])
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            form = {"email": "reader@example.org", "consent": "1", "form_token": await booth_form_token(client, "acme")}
            assert (await client.post("/@acme/subscribe", data=form, headers=BROWSER)).status_code == 200
            await eventually(lambda: _count(mailbox.messages, 1), "the confirmation mail")
            plain = mailbox.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
            confirm = next(word for word in plain.split() if "/mail/confirm/" in word)
            assert confirm.startswith(server.base_url)
            assert (await client.post(confirm, headers=BROWSER)).status_code == 200

            await factories.post(pool, urls, org, "Our new anvil is out")
            await eventually(lambda: _count(mailbox.messages, 2), "the update mail")
            news = mailbox.messages[1]
            assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            one_click = await client.post(news["List-Unsubscribe"].strip("<>"), content=b"List-Unsubscribe=One-Click",
                                          headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
            assert one_click.status_code == 200

            await factories.post(pool, urls, org, "Another anvil")
            # The post's own jobs (none for mail) are done when no job is left; nothing more arrives.
            await eventually(lambda: _no_jobs(pool), "the queue to empty")
            await asyncio.sleep(0.5)
            assert len(mailbox.messages) == 2
    finally:
        await pool.close()


async def _count(messages: list[object], n: int) -> bool:
    return len(messages) >= n


async def _no_jobs(pool: object) -> bool:
    return await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'send_mail'") == 0  # type: ignore[attr-defined,no-any-return]
