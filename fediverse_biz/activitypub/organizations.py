"""A company profile in an Organization's actor document, as schema.org properties.

Pure, like actors.py: `organization_to_ap` renders the stored profile values, `organization_from_ap`
picks candidate values out of a peer's document by shape only. Deciding which candidates are valid
(codes, lengths, dates) is business/organizations.py's job, with the same rules as a local edit, so
the two sides can never disagree. The terms are defined in context.CONTEXT; the choice of each one is
explained in FEDERATION.md, "Organizations".

Peers match compact term names, not expanded IRIs (as with every Mastodon extension), so we read the
names our context defines and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["REGISTRATION_PROPERTY_ID", "organization_from_ap", "organization_to_ap"]

# `identifier` is a bag of identifiers in schema.org; ours is the one with this propertyID.
REGISTRATION_PROPERTY_ID: Final = "companyRegistration"
MAX_LANGUAGES_READ: Final = 50  # a longer list is read up to here and then validated; never stored as is
_DATE_RE: Final = re.compile(r"^(\d{4})(?:-\d{2}(?:-\d{2})?)?$")


def organization_to_ap(profile: Mapping[str, Any] | None) -> dict[str, Any]:
    """The schema.org properties of a profile (keys as in organization_profiles); {} when empty.

    Only values that are set appear: an absent property means "not stated", never "none".
    """
    if not profile:
        return {}
    props: dict[str, Any] = {}
    if profile.get("legal_name"):
        props["legalName"] = profile["legal_name"]
    if profile.get("sector"):
        props["isicV4"] = profile["sector"]
    address = {
        term: profile[key]
        for term, key in (("addressCountry", "country"), ("addressRegion", "region"), ("addressLocality", "city"))
        if profile.get(key)
    }
    if address:
        props["address"] = {"type": "PostalAddress", **address}
    if profile.get("website"):
        props["website"] = profile["website"]
    bounds = profile.get("employees")
    if isinstance(bounds, list | tuple) and len(bounds) == 2:
        quantity: dict[str, Any] = {"type": "QuantitativeValue", "minValue": bounds[0]}
        if bounds[1] is not None:
            quantity["maxValue"] = bounds[1]
        props["numberOfEmployees"] = quantity
    if profile.get("founded_year"):
        # ISO 8601 allows a year alone ("reduced precision"), which is all we know.
        props["foundingDate"] = f"{int(profile['founded_year']):04d}"
    if profile.get("languages"):
        props["knowsLanguage"] = list(profile["languages"])
    if profile.get("contact_email"):
        props["email"] = profile["contact_email"]
    if profile.get("registration_id"):
        props["identifier"] = {
            "type": "PropertyValue",
            "propertyID": REGISTRATION_PROPERTY_ID,
            "value": profile["registration_id"],
        }
    if profile.get("vat_id"):
        props["vatID"] = profile["vat_id"]
    return props


def organization_from_ap(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Candidate profile values from a peer's actor document, keyed as in organization_profiles.

    Values of the wrong JSON type or shape are left out here; strings come back as sent, for the
    caller to validate. `employees` is (minValue, maxValue) as integers or None.
    """
    found: dict[str, Any] = {}
    for key, term in (("legal_name", "legalName"), ("sector", "isicV4"), ("website", "website"),
                      ("contact_email", "email"), ("vat_id", "vatID")):  # fmt: skip
        value = _first(doc.get(term), str)
        if value is not None:
            found[key] = value
    address = _first(doc.get("address"), Mapping)
    if address is not None:
        for key, term in (("country", "addressCountry"), ("region", "addressRegion"), ("city", "addressLocality")):
            value = _first(address.get(term), str)
            if value is not None:
                found[key] = value
    if isinstance(found.get("contact_email"), str):
        found["contact_email"] = found["contact_email"].removeprefix("mailto:")
    employees = _first(doc.get("numberOfEmployees"), Mapping)
    if employees is not None:
        low, high = _integer(employees.get("minValue")), _integer(employees.get("maxValue"))
        exact = _integer(employees.get("value"))
        if low is None and high is None and exact is not None:
            low = high = exact
        if low is not None:
            found["employees"] = (low, high)
    founded = _first(doc.get("foundingDate"), str)
    match = _DATE_RE.match(founded) if founded is not None else None
    if match is not None:
        found["founded_year"] = int(match.group(1))
    languages = [v for v in _as_list(doc.get("knowsLanguage"))[:MAX_LANGUAGES_READ] if isinstance(v, str)]
    if languages:
        found["languages"] = languages
    for item in _as_list(doc.get("identifier")):
        if isinstance(item, Mapping) and item.get("propertyID") == REGISTRATION_PROPERTY_ID:
            value = item.get("value")
            if isinstance(value, str):
                found["registration_id"] = value
                break
    return found


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _first(value: Any, kind: Any) -> Any:
    """The value, or the first item of a list, if it is of `kind`; JSON-LD lets any property be a list."""
    item = value[0] if isinstance(value, list) and value else value
    return item if isinstance(item, kind) else None


def _integer(value: Any) -> int | None:
    # JSON true is an int in Python; a head count of `true` is junk, not 1.
    return value if isinstance(value, int) and not isinstance(value, bool) else None
