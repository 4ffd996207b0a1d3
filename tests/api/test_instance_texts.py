"""What the operator publishes (core/instance_settings.py) is what the apps and the web pages show: the
instance documents, rules, privacy policy, extended description, `/about` and `/privacy-policy`; and
signing up means agreeing to it."""

from __future__ import annotations

from typing import Any

import httpx

from fediverse_biz.core import instance_settings, oauth
from fediverse_biz.core.instance_settings import InstanceChanges
from fediverse_biz.db.database import Database
from tests.support.accounts import PASSWORD
from tests.support.html import meta, parse, text
from tests.support.mastodon_schemas import assert_matches

DESCRIPTION = "Machine builders\nof the region.\n\nWe meet every first Monday.\nBring <cards> & coffee."
POLICY = "# Privacy\n\nWe keep **your e-mail address**.\n\n- no tracking\n- no ads\n\n<script>alert(1)</script>"
BROWSER = {"Accept": "text/html"}


async def publish(db: Database) -> dict[str, Any]:
    return await instance_settings.update(
        db.pool,
        InstanceChanges(
            title="Anvil Guild",
            description=DESCRIPTION,
            contact_email="team@guild.example",
            rules=["Be civil", "No spam"],
            privacy_policy=POLICY,
        ),
    )


async def test_the_instance_documents_show_what_was_published(client: httpx.AsyncClient, db: Database) -> None:
    await publish(db)
    v1 = (await client.get("/api/v1/instance")).json()
    v2 = (await client.get("/api/v2/instance")).json()
    rules = (await client.get("/api/v1/instance/rules")).json()
    assert_matches("instance_v1", v1)
    assert_matches("instance_v2", v2)
    assert v1["title"] == v2["title"] == "Anvil Guild"
    assert v1["short_description"] == v2["description"] == "Machine builders of the region."
    assert v1["description"] == DESCRIPTION
    assert v1["email"] == v2["contact"]["email"] == "team@guild.example"
    assert rules == [{"id": "1", "text": "Be civil", "hint": ""}, {"id": "2", "text": "No spam", "hint": ""}]
    assert v1["rules"] == v2["rules"] == rules
    assert v2["configuration"]["urls"]["privacy_policy"] == "http://127.0.0.1/privacy-policy"


async def test_privacy_policy_and_extended_description_are_html(client: httpx.AsyncClient, db: Database) -> None:
    await publish(db)
    times = await db.pool.fetch("SELECT key, updated_at FROM instance_settings ORDER BY key")
    updated = {r["key"]: r["updated_at"] for r in times}
    policy = await client.get("/api/v1/instance/privacy_policy")
    assert policy.status_code == 200
    assert_matches("privacy_policy", policy.json())
    assert policy.json()["content"] == (
        "<h1>Privacy</h1>\n<p>We keep <strong>your e-mail address</strong>.</p>\n"
        "<ul>\n<li>no tracking</li>\n<li>no ads</li>\n</ul>\n<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )
    assert policy.json()["updated_at"] == updated["privacy_policy"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    extended = await client.get("/api/v1/instance/extended_description")
    assert extended.status_code == 200
    assert_matches("extended_description", extended.json())
    assert extended.json()["content"] == (
        "<p>Machine builders<br>\nof the region.</p>\n\n"
        "<p>We meet every first Monday.<br>\nBring &lt;cards&gt; &amp; coffee.</p>"
    )


async def test_nothing_published_is_said_plainly(client: httpx.AsyncClient) -> None:
    policy = await client.get("/api/v1/instance/privacy_policy")
    assert policy.status_code == 200
    assert_matches("privacy_policy", policy.json())
    assert policy.json()["content"] == "<p>This server has not published a privacy policy.</p>"
    extended = await client.get("/api/v1/instance/extended_description")
    assert extended.status_code == 200 and extended.json() == {"updated_at": None, "content": ""}
    assert_matches("extended_description", extended.json())
    assert (await client.get("/api/v1/instance/rules")).json() == []
    v2 = (await client.get("/api/v2/instance")).json()
    assert v2["configuration"]["urls"]["privacy_policy"] is None and v2["contact"]["email"] == ""
    about = text(parse((await client.get("/about", headers=BROWSER)).text))
    assert "This server has not published rules." in about
    assert "This server has not published a privacy policy." in about
    assert "Signing up means agreeing" not in about
    page = text(parse((await client.get("/privacy-policy", headers=BROWSER)).text))
    assert "This server has not published a privacy policy." in page


async def test_about_and_the_privacy_page_show_what_was_published(client: httpx.AsyncClient, db: Database) -> None:
    await publish(db)
    response = await client.get("/about", headers=BROWSER)
    assert response.status_code == 200
    doc = parse(response.text)
    shown = text(doc)
    for expected in (
        "Anvil Guild",
        "Machine builders of the region.",
        "We meet every first Monday. Bring <cards> & coffee.",
        "Be civil",
        "No spam",
        "team@guild.example",
        "Signing up means agreeing to the rules of this server and to its privacy policy.",
    ):
        assert expected in shown, expected
    assert shown.count("Machine builders of the region.") == 1  # the lead is not repeated below it
    consent = [a.get("href") for a in doc.iter("a") if a.text in ("the rules of this server", "its privacy policy")]
    assert consent == ["#rules", "http://127.0.0.1/privacy-policy"]
    page = await client.get("/privacy-policy", headers=BROWSER)
    assert page.status_code == 200 and page.headers["cache-control"] == "public, max-age=60"
    policy = parse(page.text)
    assert "Privacy policy of Anvil Guild" in text(policy)
    assert [h.text for h in policy.iter("h1")] == ["Privacy policy of Anvil Guild", "Privacy"]
    assert [li.text for li in policy.iter("li")] == ["no tracking", "no ads"]
    assert not list(policy.iter("script"))
    summary = "Privacy We keep your e-mail address. no tracking no ads <script>alert(1)</script>"
    assert meta(policy, "og:description") == summary  # the policy's words, as text (escaped by the template)


async def test_signing_up_requires_agreeing_to_the_published_rules_and_policy(
    client: httpx.AsyncClient, db: Database
) -> None:
    await publish(db)
    app = await oauth.create_app(
        db.pool, name="signup", redirect_uris=[oauth.OOB_REDIRECT_URI], scopes="write", website=None
    )
    issued = await oauth.client_credentials_token(db.pool, app, "write")
    headers = {"Authorization": f"Bearer {issued.access_token}"}
    form = {"username": "newbie", "email": "newbie@example.com", "password": PASSWORD}
    for agreement in ({}, {"agreement": "false"}, {"agreement": "0"}, {"agreement": "maybe"}):
        response = await client.post("/api/v1/accounts", data={**form, **agreement}, headers=headers)
        assert response.status_code == 422, agreement
        body = response.json()
        assert_matches("error", body)
        assert body["error"] == "Validation failed: Agreement must be accepted"
        assert body["details"] == {"agreement": [{"error": "ERR_ACCEPTED", "description": "must be accepted"}]}
    assert await db.pool.fetchval("SELECT count(*) FROM users") == 0
    accepted = await client.post("/api/v1/accounts", json={**form, "agreement": True}, headers=headers)
    assert accepted.status_code == 200, accepted.text
