"""Company profiles: the JSON endpoint, validation, roles, the mirrored Mastodon fields, the actor
document, and profiles read from peers (business/organizations.py, api/organizations.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.activitypub.actors import actor_to_ap
from fediverse_biz.activitypub.organizations import organization_from_ap
from fediverse_biz.business import organizations
from fediverse_biz.business._profile_values import clean_remote_values
from fediverse_biz.core import accounts, profiles
from fediverse_biz.core.errors import DomainError
from fediverse_biz.db.database import Database
from fediverse_biz.federation.remote_actors import resolve_actor
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import api_headers
from tests.support.factories import deliveries, remote_actor
from tests.support.peers import FakePeer, deliver, run_inbox_jobs
from tests.support.social import Member, checked, error, member, token

AS2 = {"Accept": "application/activity+json"}
FULL: dict[str, Any] = {
    "legal_name": "ACME Anvils GmbH",
    "sector": "C",
    "country": "DE",
    "region": "Bayern",
    "city": "München",
    "website": "https://acme.example/",
    "size_band": "10-49",
    "founded_year": 1949,
    "languages": ["de", "en"],
    "contact_email": "info@acme.example",
    "registration_id": "HRB 123456",
    "vat_id": "DE123456789",
}


@dataclass
class Org:
    actor: asyncpg.Record
    owner: Member
    headers: dict[str, str]  # the owner's token, acting as the organization

    @property
    def path(self) -> str:
        return f"/api/v1/organizations/{self.actor['id']}/profile"


async def organization(db: Database, urls: LocalUrls) -> Org:
    owner = await member(db, urls, "olivia")
    acme = await accounts.create_organization(db.pool, urls, "acme", "olivia", display_name="ACME")
    return Org(acme, owner, await api_headers(db.pool, owner.user, actor_id=acme["id"]))


@pytest.fixture
async def org(db: Database, urls: LocalUrls) -> Org:
    return await organization(db, urls)


async def team_member(db: Database, urls: LocalUrls, org: Org, username: str, role: str) -> dict[str, str]:
    """A user with `role` in the organization, and a token acting as the organization."""
    someone = await member(db, urls, username)
    await db.pool.execute(
        "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, $3)",
        org.actor["id"], someone.user.user_id, role,
    )  # fmt: skip
    return await api_headers(db.pool, someone.user, actor_id=org.actor["id"])


async def stored(db: Database, org: Org) -> asyncpg.Record | None:
    return await db.pool.fetchrow("SELECT * FROM organization_profiles WHERE actor_id = $1", org.actor["id"])


# ---- editing and reading ---------------------------------------------------------------------------
async def test_owner_sets_every_field_and_anyone_reads_it(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, org: Org
) -> None:
    # given a remote follower of the organization
    fan = await remote_actor(db.pool, "fan")
    await db.pool.execute("INSERT INTO follows (actor_id, target_actor_id) VALUES ($1, $2)", fan["id"], org.actor["id"])
    # when the owner sets every field
    body = await checked(client.patch(org.path, json=FULL, headers=org.headers), "organization_profile")
    # then the answer, the public read and the stored row say the same
    assert {name: body[name] for name in FULL} == FULL
    assert body["sector_label"] == "Manufacturing" and body["country_name"] == "Germany"
    assert body["website_verified_at"] is None and body["updated_at"] is not None
    assert await checked(client.get(org.path), "organization_profile") == body
    row = await stored(db, org)
    assert row is not None and row["languages"] == ["de", "en"] and row["founded_year"] == 1949
    # and the followers' server gets Update(actor), the website gets checked, the audit log knows who
    assert ("https://remote.example/inbox", "Update") in await deliveries(db.pool)
    assert await db.pool.fetchval("SELECT payload FROM jobs WHERE kind = 'verify_links'") == {
        "actor_id": org.actor["id"]
    }
    entry = await db.pool.fetchrow("SELECT * FROM organization_audit_log WHERE action = 'profile_update'")
    assert entry["username"] == "olivia" and entry["details"]["fields"] == sorted(FULL)


async def test_the_actor_document_carries_schema_org_properties_and_mirrored_fields(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, org: Org
) -> None:
    await checked(client.patch(org.path, json=FULL, headers=org.headers), "organization_profile")
    doc = (await client.get("/users/acme", headers=AS2)).json()
    assert doc["legalName"] == "ACME Anvils GmbH" and doc["isicV4"] == "C"
    assert doc["address"] == {
        "type": "PostalAddress", "addressCountry": "DE", "addressRegion": "Bayern", "addressLocality": "München"
    }  # fmt: skip
    assert doc["website"] == "https://acme.example/"
    assert doc["numberOfEmployees"] == {"type": "QuantitativeValue", "minValue": 10, "maxValue": 49}
    assert doc["foundingDate"] == "1949" and doc["knowsLanguage"] == ["de", "en"]
    assert doc["email"] == "info@acme.example" and doc["vatID"] == "DE123456789"
    assert doc["identifier"] == {"type": "PropertyValue", "propertyID": "companyRegistration", "value": "HRB 123456"}
    # every term is defined by the document's own context
    terms = doc["@context"][2]
    assert {"legalName", "isicV4", "address", "website", "numberOfEmployees", "vatID", "propertyID"} <= set(terms)
    # Mastodon's view: 4 fields, the key facts first
    names = [(a["name"], a["value"]) for a in doc["attachment"]]
    assert [n for n, _ in names] == ["Website", "Sector", "Location", "Founded"]
    assert 'rel="me nofollow noopener noreferrer"' in names[0][1] and 'href="https://acme.example/"' in names[0][1]
    assert names[1][1] == "Manufacturing (NACE C)" and names[2][1] == "München, Bayern, Germany"
    # and what we emit reads back into the same structure
    assert clean_remote_values(organization_from_ap(doc)) == {**FULL, "languages": ("de", "en")}


async def test_a_form_edit_changes_only_what_it_sends_and_empty_clears(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, org: Org
) -> None:
    await checked(client.patch(org.path, json=FULL, headers=org.headers), "organization_profile")
    form = {"city": "Augsburg", "languages[]": ["fr", "it"], "vat_id": "", "sector": "j"}
    body = await checked(client.patch(org.path, data=form, headers=org.headers), "organization_profile")
    assert body["city"] == "Augsburg" and body["languages"] == ["fr", "it"] and body["sector"] == "J"
    assert body["vat_id"] is None and body["legal_name"] == FULL["legal_name"]
    body = await checked(client.patch(org.path, json={"languages": [], "website": None}, headers=org.headers),
                         "organization_profile")  # fmt: skip
    assert body["languages"] == [] and body["website"] is None and body["country"] == "DE"


async def test_an_organization_without_a_profile_reads_as_empty_and_others_are_404(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, org: Org
) -> None:
    body = await checked(client.get(org.path), "organization_profile")
    assert body["account_id"] == str(org.actor["id"]) and body["legal_name"] is None and body["languages"] == []
    await error(client.get(f"/api/v1/organizations/{org.owner.id}/profile"), 404)  # a person
    await error(client.get("/api/v1/organizations/123456789/profile"), 404)
    await error(client.get("/api/v1/organizations/junk/profile"), 404)
    far = await remote_actor(db.pool, "far")
    await db.pool.execute("UPDATE actors SET actor_type = 'Organization' WHERE id = $1", far["id"])
    await error(client.patch(f"/api/v1/organizations/{far['id']}/profile", json=FULL, headers=org.headers), 404)


# ---- validation ----------------------------------------------------------------------------------
NEXT_YEAR = datetime.now(UTC).year + 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sector", "Z"),
        ("sector", 3),
        ("country", "XX"),
        ("country", "DEU"),
        ("languages", ["en", "xx"]),
        ("languages", "klingon"),
        ("languages", [["en"]]),
        ("size_band", "5-10"),
        ("website", "ftp://acme.example"),
        ("website", "https://"),
        ("website", "https://user:pw@acme.example"),
        ("website", "https://acme.example/" + "a" * 300),
        ("contact_email", "info@"),
        ("contact_email", "info at acme.example"),
        ("founded_year", NEXT_YEAR),
        ("founded_year", "1949a"),
        ("founded_year", True),
        ("legal_name", "A" * 10240),
        ("legal_name", {"de": "ACME"}),
        ("city", "x" * 101),
        ("vat_id", "123"),
        ("registration_id", "R" * 65),
        ("colour", "red"),
    ],
)
async def test_an_invalid_value_is_refused_naming_the_field_and_nothing_is_stored(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, org: Org, field: str, value: Any
) -> None:
    fields_before = await db.pool.fetchval("SELECT fields FROM actors WHERE id = $1", org.actor["id"])
    message = await error(client.patch(org.path, json={**FULL, field: value}, headers=org.headers), 422)
    assert message.startswith(f"Validation failed: {field} ")
    assert await stored(db, org) is None
    assert await db.pool.fetchval("SELECT fields FROM actors WHERE id = $1", org.actor["id"]) == fields_before
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_a_real_instance_requires_an_https_website(db: Database, org: Org) -> None:
    https_urls = LocalUrls("https://biz.example")
    with pytest.raises(organizations.ProfileInvalid) as raised:
        await organizations.update_profile(
            db.pool, https_urls, org.actor, org.owner.user.user_id, {"website": "http://acme.example"}
        )
    assert raised.value.field == "website" and raised.value.status == 422
    profile = await organizations.update_profile(
        db.pool, https_urls, org.actor, org.owner.user.user_id, {"website": "https://acme.example"}
    )
    assert profile.website == "https://acme.example"


async def test_a_future_founding_year_is_refused_but_this_year_is_fine(db: Database, org: Org, urls: LocalUrls) -> None:
    this_year = datetime.now(UTC).year
    profile = await organizations.update_profile(
        db.pool, urls, org.actor, org.owner.user.user_id, {"founded_year": str(this_year)}
    )
    assert profile.founded_year == this_year


# ---- roles ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("manager", 200), ("editor", 403), ("contributor", 403)])
async def test_only_owners_and_managers_edit(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, org: Org, role: str, status: int
) -> None:
    headers = await team_member(db, urls, org, "sam", role)
    response = await client.patch(org.path, json={"legal_name": "Sam's ACME"}, headers=headers)
    assert response.status_code == status, response.text
    legal_name = await db.pool.fetchval("SELECT legal_name FROM organization_profiles")
    assert legal_name == ("Sam's ACME" if status == 200 else None)


async def test_outsiders_and_tokens_without_the_scope_cannot_edit(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, org: Org
) -> None:
    stranger = await member(db, urls, "mallory")
    await error(client.patch(org.path, json={"legal_name": "Pwned"}, headers=stranger.headers), 403)
    await error(client.patch(org.path, json={"legal_name": "Pwned"}), 401)
    await error(client.patch(org.path, json={"legal_name": "Pwned"}, headers=await token(db, org.owner, "read")), 403)
    assert await stored(db, org) is None
    # the owner's personal token works too: the role is what counts, not the actor the token acts as
    await checked(
        client.patch(org.path, json={"legal_name": "ACME"}, headers=org.owner.headers), "organization_profile"
    )


# ---- the Mastodon fields -------------------------------------------------------------------------
async def test_members_own_fields_keep_their_places_and_facts_fill_the_rest(
    db: Database, urls: LocalUrls, org: Org
) -> None:
    # given two fields of the members' own, one of them named like a fact
    await profiles.update_profile(
        db.pool, urls, "127.0.0.1", org.actor["id"], org.owner.user.user_id,
        profiles.ProfileChanges(fields=[("Sector", "Anvils, of course"), ("Shop", "https://shop.acme.example")]),
    )  # fmt: skip
    await organizations.update_profile(db.pool, urls, org.actor, org.owner.user.user_id, FULL)
    fields = await db.pool.fetchval("SELECT fields FROM actors WHERE id = $1", org.actor["id"])
    # then the own fields stay first and the member's "Sector" wins over the fact
    assert [f["name"] for f in fields] == ["Sector", "Shop", "Website", "Location"]
    assert fields[0]["value"] == "Anvils, of course"

    # when a Mastodon app saves the fields back as it shows them (the mirrored ones included) ...
    echoed = [(f["name"], f.get("source", f["value"])) for f in fields]
    await profiles.update_profile(
        db.pool, urls, "127.0.0.1", org.actor["id"], org.owner.user.user_id, profiles.ProfileChanges(fields=echoed)
    )
    # ... and the profile changes later, the echoed facts are replaced, not kept twice
    await organizations.update_profile(db.pool, urls, org.actor, org.owner.user.user_id, {"city": "Passau"})
    fields = await db.pool.fetchval("SELECT fields FROM actors WHERE id = $1", org.actor["id"])
    assert [(f["name"], f.get("source")) for f in fields] == [
        ("Sector", "Anvils, of course"),
        ("Shop", "https://shop.acme.example"),
        ("Website", "https://acme.example/"),
        ("Location", "Passau, Bayern, Germany"),
    ]


# ---- remote profiles -----------------------------------------------------------------------------
@pytest.fixture
async def peer() -> AsyncIterator[FakePeer]:
    server = await FakePeer().start()
    yield server
    await server.stop()


HOSTILE: dict[str, Any] = {
    "legalName": "L" * 10240,
    "isicV4": "Z",
    "address": {"type": "PostalAddress", "addressCountry": 276, "addressRegion": ["Bayern"], "addressLocality": "Lyon"},
    "website": "javascript:alert(1)",
    "numberOfEmployees": {"type": "QuantitativeValue", "minValue": True, "maxValue": "49"},
    "foundingDate": "3000-01-01",
    "knowsLanguage": ["fr", 5, "xx", "de-AT", "<b>en</b>"],
    "email": "<script>@x",
    "identifier": {"type": "PropertyValue", "propertyID": "companyRegistration", "value": "R" * 10240},
    "vatID": {"value": "DE123456789"},
}


async def test_hostile_values_in_a_peers_document_are_dropped(app: Starlette, db: Database, peer: FakePeer) -> None:
    evil = peer.actor("evilcorp", actor_type="Organization")
    evil.doc.update(HOSTILE)
    row = await resolve_actor(db.pool, services(app).http, evil.uri)
    profile = await organizations.get_profile(db.pool, row["id"])
    # only what passes the rules of a local edit is kept: the city, the sector's region, two languages
    assert profile is not None
    assert profile.values() == {
        **dict.fromkeys(organizations.PROFILE_FIELDS), "region": "Bayern", "city": "Lyon", "languages": ["fr", "de"]
    }  # fmt: skip


async def test_a_peers_profile_follows_its_updates_and_goes_with_its_type(
    app: Starlette, client: httpx.AsyncClient, db: Database, peer: FakePeer, urls: LocalUrls
) -> None:
    # given a remote organization known with a profile
    corp = peer.actor("corp", actor_type="Organization")
    corp.doc.update({"legalName": "Corp SA", "isicV4": "2511", "address": {"addressCountry": "fr"},
                     "numberOfEmployees": {"minValue": 12, "maxValue": 40}, "foundingDate": "1998-04-01",
                     "identifier": [{"propertyID": "duns", "value": "1"},
                                    {"type": "PropertyValue", "propertyID": "companyRegistration", "value": "RCS 1"}],
                     "email": "mailto:hello@corp.example", "vatID": "fr 12 345678901"})  # fmt: skip
    row = await resolve_actor(db.pool, services(app).http, corp.uri)
    profile = await organizations.get_profile(db.pool, row["id"])
    assert profile is not None
    assert (profile.legal_name, profile.sector, profile.country, profile.size_band, profile.founded_year) == (
        "Corp SA", "C", "FR", "10-49", 1998
    )  # fmt: skip
    assert (profile.registration_id, profile.contact_email, profile.vat_id) == (
        "RCS 1", "hello@corp.example", "FR12345678901"
    )  # fmt: skip

    # when it sends Update(actor) with another profile, the stored one follows (absent means cleared)
    new_doc = {**corp.doc, "legalName": "Corp Group SA", "isicV4": "J"}
    del new_doc["vatID"]
    response = await deliver(client, peer.activity("Update", corp, new_doc), corp)
    assert response.status_code == 202, response.text
    await run_inbox_jobs(app)
    profile = await organizations.get_profile(db.pool, row["id"])
    assert profile is not None and (profile.legal_name, profile.sector, profile.vat_id) == ("Corp Group SA", "J", None)

    # and an actor that is no longer an Organization keeps no company profile
    as_person = {**new_doc, "type": "Person"}
    await deliver(client, peer.activity("Update", corp, as_person), corp)
    await run_inbox_jobs(app)
    assert await organizations.get_profile(db.pool, row["id"]) is None


async def test_a_remote_document_never_overwrites_a_local_profile(db: Database, urls: LocalUrls, org: Org) -> None:
    await organizations.update_profile(db.pool, urls, org.actor, org.owner.user.user_id, {"legal_name": "ACME"})
    doc = {"type": "Organization", "legalName": "Hijacked"}
    assert await organizations.store_remote_profile(db.pool, org.actor["id"], doc) is None
    await organizations.store_remote_profile(db.pool, org.actor["id"], {"type": "Person"})
    profile = await organizations.get_profile(db.pool, org.actor["id"])
    assert profile is not None and profile.legal_name == "ACME"


def test_the_rendered_document_round_trips_every_size_band() -> None:
    from fediverse_biz.activitypub.organizations import organization_to_ap
    from fediverse_biz.business.sectors import SIZE_BANDS

    for band, bounds in SIZE_BANDS.items():
        doc = json.loads(json.dumps(organization_to_ap({"employees": list(bounds)})))
        assert clean_remote_values(organization_from_ap(doc)) == {"size_band": band}


async def test_check_changes_refuses_a_body_that_is_not_an_object() -> None:
    with pytest.raises(DomainError):
        organizations.check_changes(["legal_name"])  # type: ignore[arg-type]


async def test_actor_to_ap_of_an_organization_without_profile_adds_nothing(
    db: Database, org: Org, urls: LocalUrls
) -> None:
    row = await db.pool.fetchrow("SELECT * FROM actors WHERE id = $1", org.actor["id"])
    assert "legalName" not in actor_to_ap(row, urls)
