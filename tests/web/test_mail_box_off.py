"""Without FEDIVERSE_BIZ_SMTP_URL there are no mail features: no box on a booth, no form to post to."""

from __future__ import annotations

import httpx

from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.html import parse


async def test_no_smtp_no_box_and_nothing_breaks(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, settings: Settings
) -> None:
    assert settings.smtp_url is None
    await accounts.create_user(db.pool, urls, "owner", "owner@example.com", factories.PASSWORD)
    org = await accounts.create_organization(db.pool, urls, "acme", "owner", display_name="Acme Anvils")
    booth = await client.get("/@acme", headers={"Accept": "text/html"})
    assert booth.status_code == 200
    parse(booth.text)
    assert "mail-updates" not in booth.text and "e-mail" not in booth.text.lower()
    refused = await client.post("/@acme/subscribe", data={"email": "reader@example.org", "consent": "1"})
    assert refused.status_code == 404 and "does not send e-mail" in refused.text
    await factories.post(db.pool, urls, await db.pool.fetchrow("SELECT * FROM actors WHERE id = $1", org["id"]), "Hi")
    assert await db.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'send_mail'") == 0
