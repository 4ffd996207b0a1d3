"""The text convention (business/offer_text.py): what a member types in any Mastodon app, read into an
offer; the post we write for an offer, read back into the same offer; and the errors that name the line."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from fediverse_biz.business import offer_text
from fediverse_biz.business._offer_values import Offer, OfferInvalid
from fediverse_biz.core.statuses import MAX_CHARACTERS, text_length

NOW = datetime(2026, 6, 1, tzinfo=UTC)
END_OF_JANUARY = datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)

TYPED_JOB = """#hiring
Title: Senior welder (m/f/d)
Location: Lyon
Type: Full-time
Salary: 40.000 \u2013 50.000 €
Apply: https://forge.example/jobs/welder
Valid until: 31.01.2027
Sector: C
Region: FR

We build gates and railings for the whole Rhône valley.
Two years of TIG experience wanted.

#jobs #welding
"""


def read(text: str) -> Offer | None:
    return offer_text.offer_from_text(text, now=NOW)


def test_a_job_typed_in_a_mastodon_app_is_read_field_by_field() -> None:
    offer = read(TYPED_JOB)

    assert offer == Offer(
        kind="job",
        title="Senior welder (m/f/d)",
        description="We build gates and railings for the whole Rhône valley.\nTwo years of TIG experience wanted.",
        location="Lyon",
        employment_type="FULL_TIME",
        salary_min=Decimal(40000),
        salary_max=Decimal(50000),
        currency="EUR",
        apply_url="https://forge.example/jobs/welder",
        sector="C",
        region="FR",
        valid_through=END_OF_JANUARY,
    )


def test_an_opportunity_with_labels_in_any_case_and_names_instead_of_codes() -> None:
    offer = read(
        "#request @metalworkers@fair.example\n"
        "TITLE: Laser cutting capacity, 200 sheets a month\n"
        "sector: Manufacturing\n"
        "REGION: Germany\n"
        "Budget: 12,500 euros\n"
        "Quantity: 200 sheets\n"
        "Deadline: 2027-01-31\n\n"
        "Stainless, up to 6 mm."
    )

    assert offer is not None
    assert (offer.kind, offer.direction) == ("opportunity", "request")
    assert offer.title == "Laser cutting capacity, 200 sheets a month"
    assert (offer.sector, offer.region, offer.budget, offer.currency) == ("C", "DE", Decimal(12500), "EUR")
    assert offer.quantity == Decimal(200) and offer.valid_through == END_OF_JANUARY
    assert offer.description == "Stainless, up to 6 mm."


@pytest.mark.parametrize(
    ("typed", "low", "high", "currency"),
    [
        ("40000-50000 EUR", 40000, 50000, "EUR"),
        ("€40k\u201350k", 40000, 50000, "EUR"),
        ("EUR 45,000 per year", 45000, 45000, "EUR"),
        ("45 000 CHF p.a.", 45000, 45000, "CHF"),
        ("$95,000 to $120,000", 95000, 120000, "USD"),
        ("52,5k SEK", 52500, 52500, "SEK"),
        ("38.400,50 eur", Decimal("38400.50"), Decimal("38400.50"), "EUR"),
    ],
)
def test_salaries_as_people_write_them(typed: str, low: object, high: object, currency: str) -> None:
    offer = read(f"#job\nTitle: Baker\nSalary: {typed}")

    assert offer is not None and (offer.salary_min, offer.salary_max, offer.currency) == (low, high, currency)


@pytest.mark.parametrize(
    "text",
    [
        "Hello fair! #hiring",  # the marker is not the first line
        "#hiring is hard these days, right?",  # words on the marker line: a plain post
        "#hiring\nWe are looking for bakers.",  # no Title line
        "#hiring\nTitle:\nLocation: Lyon",  # an empty title
        "#welding\nTitle: Welder",  # no kind among the hashtags
        "",
    ],
)
def test_plain_posts_are_not_offers(text: str) -> None:
    assert read(text) is None


@pytest.mark.parametrize(
    ("line", "field", "label"),
    [
        ("Type: fulltime-ish", "employment_type", "Type"),
        ("Salary: a lot", "salary_min", "Salary"),
        ("Salary: 40000", "currency", "Salary"),
        ("Valid until: 2020-01-31", "valid_through", "Valid until"),
        ("Valid until: tomorrow", "valid_through", "Valid until"),
        ("Apply: jobs@", "apply_email", "Apply"),
        ("Apply: ftp://forge.example/jobs", "apply_url", "Apply"),
        ("Sector: Z", "sector", "Sector"),
        ("Region: XX", "region", "Region"),
    ],
)
def test_a_wrong_line_is_refused_naming_the_field_and_the_line(line: str, field: str, label: str) -> None:
    with pytest.raises(OfferInvalid) as refused:
        read(f"#job\nTitle: Welder\n{line}")

    assert refused.value.field == field and refused.value.status == 422
    assert str(refused.value).startswith(f"Validation failed: {field} ")
    assert f"('{label}:' line)" in str(refused.value)


def test_an_oversized_description_is_refused() -> None:
    with pytest.raises(OfferInvalid, match="description is longer than 5000 characters"):
        read("#job\nTitle: Welder\n\n" + "x" * 5001)


def test_a_job_field_on_an_opportunity_is_refused() -> None:
    with pytest.raises(OfferInvalid, match="employment_type does not apply to opportunities"):
        read("#offer\nTitle: Spare capacity\nType: full-time")


@pytest.mark.parametrize(
    "offer",
    [
        Offer(
            kind="job",
            title="Senior welder (m/f/d)",
            description="Gates and railings.\n\nTIG experience: 2 years.",
            location="Lyon",
            remote=True,
            employment_type="PER_DIEM",
            salary_min=Decimal("40000.50"),
            salary_max=Decimal(50000),
            currency="EUR",
            apply_email="jobs@forge.example",
            sector="T",
            region="DE-BY",
            valid_through=END_OF_JANUARY,
        ),
        Offer(kind="job", title="Intern", remote=True, employment_type="INTERN", valid_through=END_OF_JANUARY),
        Offer(
            kind="opportunity",
            title="Laser cutting capacity",
            description="Stainless steel.",
            direction="offer",
            sector="C",
            region="IT",
            budget=Decimal(12500),
            currency="GBP",
            quantity=Decimal("2.5"),
            valid_through=END_OF_JANUARY,
        ),
    ],
)
def test_the_post_we_write_reads_back_as_the_same_offer(offer: Offer) -> None:
    text = offer_text.render(offer)

    assert read(text) == offer
    assert f"Title: {offer.title}" in text  # readable: the facts are in the text Mastodon shows


def test_the_post_carries_the_kind_tags_the_sector_tag_and_a_hall_mention() -> None:
    job = Offer(kind="job", title="Baker", sector="I", valid_through=END_OF_JANUARY)
    request = Offer(kind="opportunity", title="Flour", direction="request", valid_through=END_OF_JANUARY)

    job_text = offer_text.render(job, mentions="@bakers")
    assert job_text.startswith("#hiring\n") and job_text.endswith("#jobs #Hospitality @bakers")
    assert offer_text.render(request).startswith("#request\n")


def test_a_long_description_is_cut_so_the_post_fits_mastodons_limit() -> None:
    offer = Offer(kind="job", title="Welder", description="word " * 999 + "end", valid_through=END_OF_JANUARY)

    text = offer_text.render(offer)

    assert text_length(text) <= MAX_CHARACTERS and "\u2026" in text
    assert text.startswith("#hiring\nTitle: Welder")
