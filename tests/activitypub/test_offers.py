"""Offers as ActivityStreams (activitypub/offers.py): the properties a Note carries for a job (schema.org
JobPosting) or an opportunity (FEP-0837), read back into the same offer, and shapes from elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from fediverse_biz.activitypub import notes
from fediverse_biz.activitypub.context import ACTIVITYSTREAMS, CONTEXT, load_context
from fediverse_biz.activitypub.offers import offer_from_ap, offer_to_ap
from fediverse_biz.business._offer_values import DEFAULT_VALIDITY, Offer, clean_remote, sector_of
from fediverse_biz.urls import LocalUrls

URI = "https://biz.example/users/forge/statuses/1"
PUBLISHED = datetime(2026, 6, 1, 12, tzinfo=UTC)
STATUS = {"uri": URI, "published_at": PUBLISHED}
FORGE = {"uri": "https://biz.example/users/forge", "actor_type": "Organization", "display_name": "Lyon Forge",
         "username": "forge"}  # fmt: skip
UNTIL = datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)
JOB = Offer(
    kind="job",
    title="Senior welder",
    description="Gates and railings.",
    location="Lyon",
    remote=True,
    employment_type="FULL_TIME",
    salary_min=Decimal(40000),
    salary_max=Decimal("50000.5"),
    currency="EUR",
    apply_url="https://forge.example/apply",
    apply_email="jobs@forge.example",
    sector="C",
    region="FR-69",
    valid_through=UNTIL,
)
CAPACITY = Offer(
    kind="opportunity",
    title="Laser cutting capacity",
    description="Stainless up to 6 mm.",
    direction="offer",
    location="Augsburg",
    sector="C",
    region="DE",
    budget=Decimal(12500),
    currency="EUR",
    quantity=Decimal(200),
    valid_through=UNTIL,
)


def read_back(props: dict[str, Any]) -> Offer | None:
    candidate = offer_from_ap({"id": URI, "type": "Note", **props})
    assert candidate is not None
    candidate["sector"] = sector_of(candidate["sector"]) if candidate.get("sector") else None
    return clean_remote(candidate, published=PUBLISHED)


@pytest.mark.parametrize("offer", [JOB, CAPACITY], ids=["job", "opportunity"])
def test_every_field_survives_the_round_trip(offer: Offer) -> None:
    assert read_back(offer_to_ap(offer.to_json(), STATUS, FORGE)) == offer


def test_a_job_is_a_schema_org_job_posting_in_main_entity() -> None:
    posting = offer_to_ap(JOB.to_json(), STATUS, FORGE)["mainEntity"]

    assert posting == {
        "type": "JobPosting",
        "id": f"{URI}#job",
        "title": "Senior welder",
        "description": "Gates and railings.",
        "datePosted": "2026-06-01T12:00:00Z",
        "hiringOrganization": {"type": "Organization", "id": FORGE["uri"], "name": "Lyon Forge"},
        "validThrough": "2027-01-31T23:59:59+00:00",
        "employmentType": "FULL_TIME",
        "jobLocation": {
            "type": "Place",
            "name": "Lyon",
            "address": {
                "type": "PostalAddress",
                "addressLocality": "Lyon",
                "addressCountry": "FR",
                "addressRegion": "FR-69",
            },
        },
        "jobLocationType": "TELECOMMUTE",
        "baseSalary": {
            "type": "MonetaryAmount",
            "value": {"type": "QuantitativeValue", "unitText": "YEAR", "minValue": 40000, "maxValue": 50000.5},
            "currency": "EUR",
        },
        "website": "https://forge.example/apply",
        "directApply": True,
        "applicationContact": {"type": "ContactPoint", "email": "jobs@forge.example"},
        "isicV4": "C",
    }


def test_an_opportunity_carries_fep_0837_proposal_terms_on_the_note() -> None:
    props = offer_to_ap(CAPACITY.to_json(), STATUS, FORGE)

    assert props["name"] == "Laser cutting capacity" and props["purpose"] == "offer" and props["unitBased"] is False
    assert props["publishes"] == {
        "type": "Intent",
        "id": f"{URI}#primary",
        "action": "deliverService",
        "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "200"},
    }
    assert props["reciprocal"]["resourceQuantity"] == {"hasUnit": "one", "hasNumericalValue": "12500"}
    assert props["reciprocal"]["currency"] == "EUR" and props["reciprocal"]["action"] == "transfer"
    assert props["location"]["address"] == {"type": "PostalAddress", "addressLocality": "Augsburg",
                                            "addressCountry": "DE"}  # fmt: skip


def test_the_note_stays_a_note_and_every_term_is_in_our_context() -> None:
    status = {
        "id": 1, "uri": URI, "url": None, "local": True, "object_type": "Note", "visibility": "public",
        "content": "<p>#hiring</p>", "spoiler_text": "", "in_reply_to_uri": None, "published_at": PUBLISHED,
        "sensitive": False, "conversation_uri": None, "language": None, "edited_at": None, "title": None,
        "ap_to": [], "ap_cc": [], "extra": {"offer": JOB.to_json()},
    }  # fmt: skip
    author = {**FORGE, "followers_url": FORGE["uri"] + "/followers", "domain": None}

    bundle = SimpleNamespace(status=status, author=author, mentions=[], tags=[], media=[], reblog=None)

    note = notes.status_to_ap(bundle, LocalUrls("https://biz.example"))  # type: ignore[arg-type]

    assert note["type"] == "Note" and note["content"] == "<p>#hiring</p>" and "mainEntity" in note
    terms = set(CONTEXT[2]) | set(load_context(ACTIVITYSTREAMS)["@context"])

    def keys(value: Any) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        return set()

    assert keys(note["mainEntity"]) <= terms
    assert keys(offer_to_ap(CAPACITY.to_json(), STATUS, FORGE)) <= terms


@pytest.mark.parametrize(
    "doc",
    [
        {"mainEntity": "https://elsewhere.example/job"},
        {"mainEntity": [{"type": "Product"}]},
        {"purpose": "offer"},  # no intent published: not a proposal
        {"purpose": ["gift"], "publishes": {}},
        {"purpose": "request", "publishes": "https://x.example/intent"},
        {},
    ],
)
def test_notes_without_an_offer_carry_none(doc: dict[str, Any]) -> None:
    assert offer_from_ap({"id": URI, "type": "Note", **doc}) is None


def test_odd_but_honest_shapes_are_read() -> None:
    # arrays where one value is expected, a nameMap, an exact salary, a ContactPoint list
    candidate = offer_from_ap(
        {
            "mainEntity": [
                {"type": ["JobPosting"], "nameMap": {"de": "Schweißer"}, "employmentType": ["PART_TIME"],
                 "baseSalary": {"value": {"value": 21.5}, "currency": ["CHF"]},
                 "applicationContact": [{"email": "hr@example.ch"}], "jobLocation": [{"name": ["Basel"]}]},
            ]
        }
    )  # fmt: skip

    offer = clean_remote(candidate or {}, published=PUBLISHED)
    assert offer is not None
    assert (offer.title, offer.employment_type, offer.location) == ("Schweißer", "PART_TIME", "Basel")
    assert (offer.salary_min, offer.salary_max, offer.currency) == (Decimal("21.5"), Decimal("21.5"), "CHF")
    assert offer.apply_email == "hr@example.ch"


@pytest.mark.parametrize("date", ["2099-01-01", "9999-12-31T23:00:00-05:00", "soon", 20270131])
def test_a_peers_date_we_would_refuse_gives_way_to_the_default(date: object) -> None:
    offer = clean_remote({"kind": "job", "title": "Welder", "valid_through": date}, published=PUBLISHED)

    assert offer is not None and offer.valid_through == PUBLISHED + DEFAULT_VALIDITY


@pytest.mark.parametrize(
    ("stated", "description"),
    [
        ({"description": ""}, ""),  # stated empty (what we send for an opportunity without one): empty
        ({"description": "   "}, ""),
        ({"descriptionMap": {"de": ""}}, ""),
        ({"description": "Bikes only."}, "Bikes only."),
        ({}, "Blue bike, some rust"),  # not stated: FEP-0837's content is the description
        ({"description": None}, "Blue bike, some rust"),  # JSON-LD drops a null: not stated either
    ],
)
def test_an_opportunitys_description_is_the_content_only_when_none_is_stated(
    stated: dict[str, Any], description: str
) -> None:
    proposal = {"name": "Used bike", "purpose": "offer", "publishes": {"type": "Intent"}, **stated}

    offer = read_back({"content": "<p>Blue bike, some rust</p>", **proposal})

    assert offer is not None and offer.description == description
