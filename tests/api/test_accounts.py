"""Accounts through the client API: credentials, profile edits, sign-up, reading accounts and their statuses."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.config import Settings
from fediverse_biz.core import accounts, follows, oauth
from fediverse_biz.db.database import Database
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD, api_headers
from tests.support.factories import deliveries, post, remote_actor
from tests.support.images import png
from tests.support.mastodon_schemas import assert_matches
from tests.support.social import checked, error, member, token

VERIFY = "/api/v1/accounts/verify_credentials"
UPDATE = "/api/v1/accounts/update_credentials"


# ---- verify_credentials ------------------------------------------------------------------------
async def test_verify_credentials_returns_the_credential_account(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    me = await checked(client.get(VERIFY, headers=alice.headers), "credential_account")
    assert me["id"] == alice.account_id and me["username"] == "alice" and me["acct"] == "alice"
    assert me["source"]["note"] == "" and me["source"]["follow_requests_count"] == 0
    assert me["source"]["language"] == "en"


async def test_verify_credentials_takes_profile_or_read_accounts_and_a_user(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    await checked(client.get(VERIFY, headers=await token(db, alice, "profile")), "credential_account")
    await checked(client.get(VERIFY, headers=await token(db, alice, "read:accounts")), "credential_account")
    assert await error(client.get(VERIFY), 401) == "The access token is invalid"
    await error(client.get(VERIFY, headers={"Authorization": "Bearer nonsense"}), 401)
    await error(client.get(VERIFY, headers=await token(db, alice, "write")), 403)
    app = await oauth.create_app(
        db.pool, name="app", redirect_uris=[oauth.OOB_REDIRECT_URI], scopes="read", website=None
    )
    app_token = await oauth.client_credentials_token(db.pool, app, "read")
    await error(client.get(VERIFY, headers={"Authorization": f"Bearer {app_token.access_token}"}), 422)


# ---- update_credentials ------------------------------------------------------------------------
async def test_update_credentials_as_mastodon_py_sends_it(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    await member(db, urls, "bob")
    form = {
        "display_name": "Alice at ACME",
        "note": "We make <b>anvils</b>.\nAsk @bob about #Anvils at https://acme.example/shop",
        "locked": "1",
        "bot": "0",
        "fields_attributes[0][name]": "Website",
        "fields_attributes[0][value]": "https://acme.example",
        "fields_attributes[1][name]": "Founded",
        "fields_attributes[1][value]": "1949 <i>in</i> Arizona",
        "source[language]": "de",
        "source[privacy]": "private",
        "source[sensitive]": "1",
    }
    me = await checked(client.patch(UPDATE, data=form, headers=alice.headers), "credential_account")
    assert me["display_name"] == "Alice at ACME" and me["locked"] is True and me["bot"] is False
    assert "&lt;b&gt;anvils&lt;/b&gt;" in me["note"] and "<b>" not in me["note"]
    assert f'href="{urls.profile_page("bob")}"' in me["note"] and 'class="mention hashtag"' in me["note"]
    assert "<br />" in me["note"] and 'href="https://acme.example/shop"' in me["note"]
    assert me["source"]["note"] == form["note"]
    website, founded = me["fields"]
    assert website["name"] == "Website" and 'rel="me nofollow noopener noreferrer"' in website["value"]
    assert website["value"].startswith('<a href="https://acme.example"') and not website["value"].startswith("<p>")
    assert founded["value"] == "1949 &lt;i&gt;in&lt;/i&gt; Arizona"
    assert [f["value"] for f in me["source"]["fields"]] == ["https://acme.example", "1949 <i>in</i> Arizona"]
    assert me["source"]["language"] == "de"
    again = await checked(client.get(VERIFY, headers=alice.headers), "credential_account")
    assert again["fields"] == me["fields"] and again["note"] == me["note"]


async def test_update_credentials_with_json_fields_as_list_or_hash(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    body = {"fields_attributes": [{"name": "A", "value": "1"}, {"name": "", "value": ""}], "discoverable": False}
    me = await checked(client.patch(UPDATE, json=body, headers=alice.headers), "credential_account")
    assert [(f["name"], f["value"]) for f in me["fields"]] == [("A", "1")] and me["discoverable"] is False
    body2 = {"fields_attributes": {"7": {"name": "Second", "value": "2"}, "3": {"name": "First", "value": "1"}}}
    me = await checked(client.patch(UPDATE, json=body2, headers=alice.headers), "credential_account")
    assert [f["name"] for f in me["fields"]] == ["First", "Second"]
    assert me["discoverable"] is False  # untouched when not sent
    me = await checked(client.patch(UPDATE, json={"indexable": False}, headers=alice.headers), "credential_account")
    assert me["indexable"] is False and len(me["fields"]) == 2


async def test_hostile_display_name_is_cleaned_and_stays_plain_text(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    name = "\u202e<script>alert(1)</script>\nx\x07"
    me = await checked(client.patch(UPDATE, data={"display_name": name}, headers=alice.headers), "credential_account")
    assert me["display_name"] == "<script>alert(1)</script> x"  # plain text: clients escape it
    public = await checked(client.get(f"/api/v1/accounts/{alice.id}"), "account")
    assert public["display_name"] == "<script>alert(1)</script> x"


async def test_invalid_profiles_are_refused_and_change_nothing(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    five = {f"fields_attributes[{i}][name]": f"n{i}" for i in range(5)}
    five.update({f"fields_attributes[{i}][value]": "v" for i in range(5)})
    refused = [
        {"display_name": "x" * 31},
        {"note": "y" * 501},
        five,
        {"fields_attributes[0][name]": "n" * 256, "fields_attributes[0][value]": "v"},
        {"fields_attributes[0][name]": "n", "fields_attributes[0][value]": "v" * 256},
        {"source[privacy]": "everyone"},
        {"source[language]": "not a language"},
        {"locked": "perhaps"},
    ]
    for form in refused:
        message = await error(
            client.patch(UPDATE, data={"display_name": "changed", **form}, headers=alice.headers), 422
        )
        assert message.startswith("Validation failed"), message
    message = await error(
        client.patch(UPDATE, json={"fields_attributes": [{"name": {"x": 1}}]}, headers=alice.headers), 422
    )
    row = await db.pool.fetchrow("SELECT display_name, fields, locked FROM actors WHERE id = $1", alice.id)
    assert (row["display_name"], row["fields"], row["locked"]) == ("", [], False)
    assert "\u202e" not in message


async def test_a_note_of_exactly_the_limit_with_a_long_link_is_accepted(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    note = "z" * 476 + " https://example.com/" + "p" * 100  # the link counts 23, as in statuses
    me = await checked(client.patch(UPDATE, data={"note": note}, headers=alice.headers), "credential_account")
    assert me["source"]["note"] == note


async def test_update_needs_write_accounts(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    await error(client.patch(UPDATE, data={"note": "x"}, headers=await token(db, alice, "read")), 403)
    await error(client.patch(UPDATE, data={"note": "x"}), 401)


async def test_profile_change_is_sent_to_remote_followers_once(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    far = await remote_actor(db.pool, "far", "far.example")
    async with db.pool.acquire() as conn:
        await follows.accept_follow(conn, far, alice.actor, "https://far.example/follows/1")
    before = await deliveries(db.pool)
    await checked(client.patch(UPDATE, data={"display_name": "Alice"}, headers=alice.headers), "credential_account")
    sent = (await deliveries(db.pool))[len(before) :]
    assert sent == [("https://far.example/inbox", "Update")]
    job = await db.pool.fetchval("SELECT payload FROM jobs ORDER BY id DESC LIMIT 1")
    assert job["activity"]["object"]["name"] == "Alice" and job["activity"]["object"]["id"] == alice.actor["uri"]
    await checked(client.patch(UPDATE, data={"display_name": "Alice"}, headers=alice.headers), "credential_account")
    assert len(await deliveries(db.pool)) == len(before) + 1  # nothing changed, nothing sent


async def test_avatar_and_header_upload(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, settings: Settings
) -> None:
    alice = await member(db, urls, "alice")
    files = {"avatar": ("me.png", png((800, 600)), "image/png"), "header": ("h.png", png((1600, 900)), "image/png")}
    me = await checked(
        client.patch(UPDATE, data={"display_name": "Pic"}, files=files, headers=alice.headers), "credential_account"
    )
    assert me["avatar"].startswith(urls.media("accounts/")) and me["header"].startswith(urls.media("accounts/"))
    assert me["display_name"] == "Pic"
    image = await client.get(me["avatar"])
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")
    bad = {"avatar": ("evil.png", b"<svg onload=alert(1)>", "image/png")}
    await error(client.patch(UPDATE, files=bad, headers=alice.headers), 422)
    stored = sorted((settings.media_path / "accounts").rglob("*"))
    refused = {"avatar": ("me.png", png(), "image/png")}
    await error(client.patch(UPDATE, data={"display_name": "x" * 99}, files=refused, headers=alice.headers), 422)
    assert sorted((settings.media_path / "accounts").rglob("*")) == stored  # nothing processed for a refusal


# ---- organizations -----------------------------------------------------------------------------
async def test_a_token_acting_for_an_organization_shows_and_edits_the_organization(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    acme = await accounts.create_organization(db.pool, urls, "acme", "alice", display_name="ACME")
    as_acme = await api_headers(db.pool, alice.user, actor_id=acme["id"])
    me = await checked(client.get(VERIFY, headers=as_acme), "credential_account")
    assert (
        me["id"] == str(acme["id"]) and me["username"] == "acme" and me["fediverse_biz"]["actor_type"] == "Organization"
    )
    me = await checked(client.patch(UPDATE, data={"note": "Anvils since 1949"}, headers=as_acme), "credential_account")
    assert me["id"] == str(acme["id"]) and me["source"]["note"] == "Anvils since 1949"
    own = await checked(client.get(VERIFY, headers=alice.headers), "credential_account")
    assert own["source"]["note"] == ""
    bob = await member(db, urls, "bob")
    await db.pool.execute(
        "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'contributor')",
        acme["id"],
        bob.user.user_id,
    )
    as_contributor = await api_headers(db.pool, bob.user, actor_id=acme["id"])
    await checked(client.get(VERIFY, headers=as_contributor), "credential_account")
    await error(client.patch(UPDATE, data={"note": "hijacked"}, headers=as_contributor), 403)


# ---- registration ------------------------------------------------------------------------------
async def _app_token(db: Database, scopes: str = "read write follow push") -> dict[str, str]:
    app = await oauth.create_app(
        db.pool, name="signup app", redirect_uris=[oauth.OOB_REDIRECT_URI], scopes=scopes, website=None
    )
    issued = await oauth.client_credentials_token(db.pool, app, scopes)
    return {"Authorization": f"Bearer {issued.access_token}"}


SIGN_UP = {"username": "newbie", "email": "newbie@example.com", "password": PASSWORD, "agreement": "1", "locale": "fr"}


async def test_open_registration_returns_a_working_token(client: httpx.AsyncClient, db: Database) -> None:
    headers = await _app_token(db)
    body = await checked(client.post("/api/v1/accounts", data=SIGN_UP, headers=headers), "token")
    assert body["scope"] == "read write follow push" and body["token_type"] == "Bearer"
    me = await checked(
        client.get(VERIFY, headers={"Authorization": f"Bearer {body['access_token']}"}), "credential_account"
    )
    assert me["username"] == "newbie" and me["source"]["language"] == "fr"
    assert await db.pool.fetchval("SELECT approved FROM users WHERE lower(email) = 'newbie@example.com'") is True


async def test_registration_errors_use_mastodons_details_shape(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    await member(db, urls, "taken")
    headers = await _app_token(db)
    form = {"username": "Taken", "email": "not-an-email", "password": "short", "locale": "x!"}
    response = await client.post("/api/v1/accounts", data=form, headers=headers)
    assert response.status_code == 422
    body = response.json()
    assert_matches("error", body)
    codes = {name: [p["error"] for p in problems] for name, problems in body["details"].items()}
    assert codes == {
        "username": ["ERR_TAKEN"],
        "email": ["ERR_INVALID"],
        "password": ["ERR_TOO_SHORT"],
        "agreement": ["ERR_ACCEPTED"],
        "locale": ["ERR_INCLUSION"],
    }
    assert body["error"].startswith("Validation failed: Username has already been taken, ")
    json_form = {"username": "admin", "email": "taken@example.com", "password": "", "agreement": True}
    body = (await client.post("/api/v1/accounts", json=json_form, headers=headers)).json()
    assert {n: [p["error"] for p in ps] for n, ps in body["details"].items()} == {
        "username": ["ERR_RESERVED"],
        "email": ["ERR_TAKEN"],
        "password": ["ERR_BLANK"],
    }
    bad_name = {**SIGN_UP, "username": "bad name!"}
    body = (await client.post("/api/v1/accounts", data=bad_name, headers=headers)).json()
    assert body["details"] == {
        "username": [{"error": "ERR_INVALID", "description": "must contain only letters, numbers and underscores"}]
    }
    assert await db.pool.fetchval("SELECT count(*) FROM users") == 1


async def test_registration_refuses_text_that_cannot_be_stored(client: httpx.AsyncClient, db: Database) -> None:
    form = {"username": "newbie", "email": "\ud800@example.com", "password": "pass\udfffword", "agreement": True}
    headers = {**await _app_token(db), "Content-Type": "application/json"}
    response = await client.post("/api/v1/accounts", content=json.dumps(form), headers=headers)  # ASCII escapes
    # refused by the API's reader, before any registration rule (fediverse_biz/storable.py), naming the field
    assert response.status_code == 422
    assert response.json() == {"error": "Validation failed: email is not valid Unicode (it holds a lone surrogate)"}
    assert await db.pool.fetchval("SELECT count(*) FROM users") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": "A\ud800B"}, "display_name"),
        ({"note": "x\udc00y"}, "note"),
        ({"fields_attributes": [{"name": "\ud83d", "value": "v"}]}, "fields_attributes[0][name]"),
    ],
)
async def test_profile_text_with_lone_surrogates_is_refused_naming_the_field(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, body: dict[str, object], field: str
) -> None:
    alice = await member(db, urls, "alice")
    headers = {**alice.headers, "Content-Type": "application/json"}
    response = await client.patch(UPDATE, content=json.dumps(body), headers=headers)  # ASCII escapes
    assert response.status_code == 422
    assert response.json() == {"error": f"Validation failed: {field} is not valid Unicode (it holds a lone surrogate)"}
    me = await checked(client.get("/api/v1/accounts/verify_credentials", headers=alice.headers), "credential_account")
    assert (me["display_name"], me["source"]["note"], me["fields"]) == ("", "", [])  # nothing changed


async def test_registration_needs_an_app_token_with_write_accounts(client: httpx.AsyncClient, db: Database) -> None:
    await error(client.post("/api/v1/accounts", data=SIGN_UP), 401)
    await error(client.post("/api/v1/accounts", data=SIGN_UP, headers=await _app_token(db, "read")), 403)


async def test_closed_registration_is_refused(client: httpx.AsyncClient, db: Database, app: Starlette) -> None:
    services(app).settings = dataclasses.replace(services(app).settings, registration_mode="closed")
    await error(client.post("/api/v1/accounts", data=SIGN_UP, headers=await _app_token(db)), 403)
    assert await db.pool.fetchval("SELECT count(*) FROM users") == 0


async def test_approval_registration_waits_for_a_moderator(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, app: Starlette
) -> None:
    services(app).settings = dataclasses.replace(services(app).settings, registration_mode="approval")
    admin = await accounts.create_user(db.pool, urls, "boss", "boss@example.com", PASSWORD, role="admin")
    form = {**SIGN_UP, "reason": "We sell anvils and want to join the fair"}
    body = await checked(client.post("/api/v1/accounts", data=form, headers=await _app_token(db)), "token")
    new_token = {"Authorization": f"Bearer {body['access_token']}"}
    await error(client.get(VERIFY, headers=new_token), 401)  # pending approval
    assert await accounts.authenticate(db.pool, "newbie", PASSWORD) is not None  # the password is right, but:
    with pytest.raises(oauth.OAuthError, match="pending approval"):
        await oauth.authenticate_user(db.pool, "newbie", PASSWORD)
    user = await db.pool.fetchrow(
        "SELECT u.approved, a.extra FROM users u JOIN actors a ON a.id = u.actor_id WHERE a.username = 'newbie'"
    )
    assert user["approved"] is False and user["extra"]["registration_reason"].startswith("We sell anvils")
    kinds = await db.pool.fetch("SELECT actor_id, type FROM notifications")
    assert [(k["actor_id"], k["type"]) for k in kinds] == [(admin.actor_id, "admin.sign_up")]
    await db.pool.execute("UPDATE users SET approved = true")
    me = await checked(client.get(VERIFY, headers=new_token), "credential_account")
    assert me["username"] == "newbie"


# ---- reading accounts --------------------------------------------------------------------------
async def test_show_accounts_local_remote_and_refusals(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    far = await remote_actor(db.pool, "far", "far.example")
    local = await checked(client.get(f"/api/v1/accounts/{alice.id}"), "account")
    assert local["acct"] == "alice" and local["url"] == urls.profile_page("alice")
    remote = await checked(client.get(f"/api/v1/accounts/{far['id']}", headers=alice.headers), "account")
    assert remote["acct"] == "far@far.example"
    for junk in ("123", "abc", "99999999999999999999999", "-1", "1e3", "%20"):
        assert await error(client.get(f"/api/v1/accounts/{junk}"), 404) == "Record not found"
    await db.pool.execute("UPDATE actors SET suspended_at = now() WHERE id = $1", far["id"])
    await error(client.get(f"/api/v1/accounts/{far['id']}"), 404)
    instance_actor = await db.pool.fetchval("SELECT id FROM actors WHERE is_instance_actor")
    await error(client.get(f"/api/v1/accounts/{instance_actor}"), 404)


async def test_many_accounts_by_id(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    bob = await member(db, urls, "bob")
    query = f"id[]={bob.id}&id[]=junk&id[]=1&id[]={alice.id}&id[]={bob.id}"
    listed = await checked(client.get(f"/api/v1/accounts?{query}"), "account")
    assert [a["id"] for a in listed] == [bob.account_id, alice.account_id]
    too_many = "&".join(f"id[]={i}" for i in range(1, 42))
    await error(client.get(f"/api/v1/accounts?{too_many}"), 422)


async def test_lookup_finds_known_accounts_only(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    far = await remote_actor(db.pool, "far", "far.example")
    for acct in ("alice", "Alice", "@alice", "alice@127.0.0.1", "@alice@127.0.0.1"):
        found = await checked(client.get("/api/v1/accounts/lookup", params={"acct": acct}), "account")
        assert found["id"] == alice.account_id, acct
    found = await checked(client.get("/api/v1/accounts/lookup", params={"acct": "far@far.example"}), "account")
    assert found["id"] == str(far["id"])
    for acct in ("nobody", "nobody@far.example", "alice@elsewhere.example", "", "@", "x" * 5000):
        await error(client.get("/api/v1/accounts/lookup", params={"acct": acct}), 404)
    await error(client.get("/api/v1/accounts/lookup"), 404)
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0  # lookup never asks the network


async def test_account_statuses_page_with_link_headers_and_filters(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    ids = [await post(db.pool, urls, alice.actor, f"post {n}") for n in range(5)]
    hidden = await post(db.pool, urls, alice.actor, "followers only", visibility="private")
    tagged = await post(db.pool, urls, alice.actor, "about #Anvils")
    reply = await post(db.pool, urls, alice.actor, "a reply to myself", in_reply_to_id=ids[0])
    response = await client.get(f"/api/v1/accounts/{alice.id}/statuses", params={"limit": 2})
    assert response.status_code == 200
    first = response.json()
    for status in first:
        assert_matches("status", status)
    assert [s["id"] for s in first] == [str(reply), str(tagged)]
    link = response.headers["link"]
    assert link.startswith(f'<{urls.base}/api/v1/accounts/{alice.id}/statuses?limit=2&max_id={tagged}>; rel="next"')
    assert f'min_id={reply}>; rel="prev"' in link
    second = await checked(client.get(f"/api/v1/accounts/{alice.id}/statuses?limit=2&max_id={tagged}"), "status")
    assert [s["id"] for s in second] == [str(ids[4]), str(ids[3])]  # the private post stays hidden
    own = await checked(client.get(f"/api/v1/accounts/{alice.id}/statuses", headers=alice.headers), "status")
    assert str(hidden) in [s["id"] for s in own]
    only_tag = await checked(client.get(f"/api/v1/accounts/{alice.id}/statuses?tagged=anvils"), "status")
    assert [s["id"] for s in only_tag] == [str(tagged)]
    media = await checked(client.get(f"/api/v1/accounts/{alice.id}/statuses?only_media=true"), "status")
    assert media == []
    pinned = await checked(client.get(f"/api/v1/accounts/{alice.id}/statuses?pinned=1"), "status")
    assert pinned == []
    empty = await client.get(f"/api/v1/accounts/{alice.id}/statuses?max_id={ids[0]}")
    assert empty.json() == [] and "link" not in empty.headers
    await error(client.get("/api/v1/accounts/42/statuses"), 404)


async def test_featured_tags_lists_and_endorsements_are_empty(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    assert (await client.get(f"/api/v1/accounts/{alice.id}/featured_tags")).json() == []
    assert (await client.get(f"/api/v1/accounts/{alice.id}/lists", headers=alice.headers)).json() == []
    assert (await client.get("/api/v1/endorsements", headers=alice.headers)).json() == []
    await error(client.get("/api/v1/accounts/nope/featured_tags"), 404)
    await error(client.get(f"/api/v1/accounts/{alice.id}/lists"), 401)
