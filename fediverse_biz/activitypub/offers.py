"""Job offers and business opportunities as machine-readable properties of a Note. Pure, like notes.py.

The post stays a Note whose `content` is the readable text (Mastodon shows a Note completely; it shows
an Article as a title and a link), and carries the structure beside it, in the terms context.CONTEXT
defines (FEDERATION.md, "Job offers and business opportunities", says why these):

- a job: a schema.org `JobPosting` in the Note's `mainEntity` — title, description, datePosted,
  validThrough, employmentType, jobLocation (a Place with a PostalAddress), jobLocationType TELECOMMUTE,
  baseSalary (MonetaryAmount of a QuantitativeValue per YEAR), hiringOrganization, directApply with the
  apply address in `website` (schema:url; `url` is as:url), applicationContact, isicV4 and industry;
- an opportunity: FEP-0837's Proposal properties on the Note itself (the FEP allows a Note for reach):
  name, purpose offer|request, publishes (the primary Intent, its quantity), reciprocal (the money Intent,
  its amount, with schema:currency), unitBased, location; plus schema.org validThrough, description and
  isicV4, which FEP-0837 has no terms for.

`offer_to_ap` renders statuses.extra["offer"]; `offer_from_ap` reads candidate values out of any peer's
Note by shape only, leaving the rules (codes, lengths, dates) to business/_offer_values.clean_remote.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fediverse_biz.activitypub.activities import as_list, format_datetime, http_uri, types
from fediverse_biz.text.content import html_to_text

__all__ = ["offer_from_ap", "offer_to_ap", "status_properties"]

SALARY_UNIT: Final = "YEAR"  # salaries are yearly gross amounts (docs/offers.md)
INTENT_ACTION: Final = "deliverService"  # Valueflows: we do not tell goods from services
MAX_NESTING_READ: Final = 8  # how far into nested lists a value is looked for; peers nest one level


# ---- rendering ----------------------------------------------------------------------------------------
def _address(offer: Mapping[str, Any], locality: bool) -> dict[str, Any] | None:
    region = offer.get("region")
    address: dict[str, Any] = {"type": "PostalAddress"}
    if locality and offer.get("location"):
        address["addressLocality"] = offer["location"]
    if region:
        address["addressCountry"] = region[:2]
        if "-" in region:
            address["addressRegion"] = region  # an ISO 3166-2 code, as schema.org allows
    return address if len(address) > 1 else None


def _place(offer: Mapping[str, Any], name: str | None) -> dict[str, Any] | None:
    place: dict[str, Any] = {"type": "Place"}
    if name:
        place["name"] = name
    address = _address(offer, locality=bool(offer.get("location")))
    if address:
        place["address"] = address
    return place if len(place) > 1 else None


def _job_posting(offer: Mapping[str, Any], status: Mapping[str, Any], author: Mapping[str, Any]) -> dict[str, Any]:
    posting: dict[str, Any] = {
        "type": "JobPosting",
        "id": f"{status['uri']}#job",  # a fragment of the post, as FEP-0837 names its intents
        "title": offer["title"],
        "description": offer.get("description") or "",
        "datePosted": format_datetime(status["published_at"]),
        "hiringOrganization": {
            "type": "Organization" if author["actor_type"] == "Organization" else "Person",
            "id": author["uri"],
            "name": author["display_name"] or author["username"],
        },
    }
    if offer.get("valid_through"):
        posting["validThrough"] = offer["valid_through"]
    if offer.get("employment_type"):
        posting["employmentType"] = offer["employment_type"]
    place = _place(offer, offer.get("location"))
    if place:
        posting["jobLocation"] = place
    if offer.get("remote"):
        posting["jobLocationType"] = "TELECOMMUTE"
    low, high = offer.get("salary_min"), offer.get("salary_max")
    if low is not None or high is not None:
        value: dict[str, Any] = {"type": "QuantitativeValue", "unitText": SALARY_UNIT}
        if low is not None:
            value["minValue"] = low
        if high is not None:
            value["maxValue"] = high
        salary: dict[str, Any] = {"type": "MonetaryAmount", "value": value}
        if offer.get("currency"):
            salary["currency"] = offer["currency"]
        posting["baseSalary"] = salary
    if offer.get("apply_url"):
        posting["website"] = offer["apply_url"]
        posting["directApply"] = True
    if offer.get("apply_email"):
        posting["applicationContact"] = {"type": "ContactPoint", "email": offer["apply_email"]}
    return posting


def _quantity(amount: Any) -> dict[str, Any]:
    # om2 `one` for countable things; FEP-0837 writes numbers as strings.
    return {"hasUnit": "one", "hasNumericalValue": str(amount)}


def _proposal(offer: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    primary: dict[str, Any] = {"type": "Intent", "id": f"{status['uri']}#primary", "action": INTENT_ACTION}
    if offer.get("quantity") is not None:
        primary["resourceQuantity"] = _quantity(offer["quantity"])
    props: dict[str, Any] = {
        "name": offer["title"],
        "purpose": offer["direction"],
        "publishes": primary,
        "unitBased": False,
        "description": offer.get("description") or "",
    }
    if offer.get("budget") is not None:
        reciprocal = {"type": "Intent", "id": f"{status['uri']}#reciprocal", "action": "transfer"}
        props["reciprocal"] = reciprocal | {"resourceQuantity": _quantity(offer["budget"])}
        if offer.get("currency"):
            props["reciprocal"]["currency"] = offer["currency"]
    place = _place(offer, offer.get("location"))
    if place:
        props["location"] = place
    if offer.get("valid_through"):
        props["validThrough"] = offer["valid_through"]
    return props


def offer_to_ap(offer: Mapping[str, Any], status: Mapping[str, Any], author: Mapping[str, Any]) -> dict[str, Any]:
    """The properties to merge into the Note of `status` for `offer` (statuses.extra["offer"])."""
    if offer.get("kind") == "job":
        props: dict[str, Any] = {"mainEntity": _job_posting(offer, status, author)}
        target = props["mainEntity"]
    else:
        props = _proposal(offer, status)
        target = props
    if offer.get("sector"):
        target["isicV4"] = offer["sector"]
    return props


def status_properties(bundle: Any) -> dict[str, Any]:
    """The extension properties of a status bundle (notes.NoteSource) for notes.status_to_ap's
    `extra_properties` hook; {} when the status is no offer."""
    extra = bundle.status["extra"]
    offer = extra.get("offer") if isinstance(extra, Mapping) else None
    if not isinstance(offer, Mapping):
        return {}
    return offer_to_ap(offer, bundle.status, bundle.author)


# ---- reading ------------------------------------------------------------------------------------------
def _first(value: Any, depth: int = 0) -> Any:
    """A single value: the first entry of a list (peers send one value or an array of them)."""
    while isinstance(value, list) and depth < MAX_NESTING_READ:
        value, depth = (value[0] if value else None), depth + 1
    return value


def _text(obj: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = _first(obj.get(key))
        if isinstance(value, str) and value.strip():
            return value
        language_map = obj.get(f"{key}Map")
        if isinstance(language_map, Mapping):
            found = next((v for v in language_map.values() if isinstance(v, str) and v.strip()), None)
            if found:
                return found
    return None


def _stated(obj: Mapping[str, Any], key: str) -> bool:
    """Whether `obj` has the property at all, empty or not (JSON-LD drops a null: that is not stating it)."""
    return obj.get(key) is not None or obj.get(f"{key}Map") is not None


def _map(value: Any) -> Mapping[str, Any]:
    value = _first(value)
    return value if isinstance(value, Mapping) else {}


def _number(value: Any) -> Any:
    # Numbers or numeric strings; the rules decide. Booleans are numbers to Python, not to us.
    value = _first(value)
    return value if isinstance(value, int | float | str) and not isinstance(value, bool) else None


def _region(place: Mapping[str, Any]) -> Any:
    address = _map(place.get("address"))
    region = _first(address.get("addressRegion"))
    if isinstance(region, str) and len(region) <= 6 and "-" in region:
        return region  # an ISO 3166-2 code; a region's name is not a code we can file under
    return _first(address.get("addressCountry"))


def _place_values(place: Mapping[str, Any]) -> dict[str, Any]:
    address = _map(place.get("address"))
    return {"location": _text(place, "name") or _text(address, "addressLocality"), "region": _region(place)}


def _job_from(posting: Mapping[str, Any]) -> dict[str, Any]:
    salary = _map(posting.get("baseSalary"))
    value = _map(salary.get("value"))
    exact = _number(value.get("value"))
    place = _map(posting.get("jobLocation"))
    apply_url = http_uri(_first(posting.get("website"))) or (
        http_uri(_first(posting.get("url"))) if posting.get("directApply") is True else None
    )
    return {
        "kind": "job",
        "title": _text(posting, "title", "name"),
        "description": _text(posting, "description"),
        "employment_type": _first(posting.get("employmentType")),
        "remote": "TELECOMMUTE" in [t for t in as_list(posting.get("jobLocationType")) if isinstance(t, str)],
        "salary_min": _number(value.get("minValue")) if exact is None else exact,
        "salary_max": _number(value.get("maxValue")) if exact is None else exact,
        "currency": _first(salary.get("currency")) or _first(posting.get("salaryCurrency")),
        "apply_url": apply_url,
        "apply_email": _first(_map(posting.get("applicationContact")).get("email")),
        "sector": _first(posting.get("isicV4")),
        "valid_through": _first(posting.get("validThrough")),
        **_place_values(place),
    }


def _opportunity_from(obj: Mapping[str, Any]) -> dict[str, Any]:
    reciprocal = _map(obj.get("reciprocal"))
    description = _text(obj, "description")
    # FEP-0837: `content` is the description — when none is stated. A stated empty one ("description": "",
    # which we send for an opportunity without one) means empty: the whole post is not its description.
    if not _stated(obj, "description") and isinstance(obj.get("content"), str):
        description = html_to_text(obj["content"])
    return {
        "kind": "opportunity",
        "direction": _first(obj.get("purpose")),
        "title": _text(obj, "name"),
        "description": description,
        "quantity": _number(_map(_map(obj.get("publishes")).get("resourceQuantity")).get("hasNumericalValue")),
        "budget": _number(_map(reciprocal.get("resourceQuantity")).get("hasNumericalValue")),
        "currency": _first(reciprocal.get("currency")),
        "sector": _first(obj.get("isicV4")),
        "valid_through": _first(obj.get("validThrough")),
        **_place_values(_map(obj.get("location"))),
    }


def offer_from_ap(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """Candidate offer values from a peer's post, keyed as Offer's fields; None when it carries none.

    Values come back as sent (strings, numbers) or None; `sector` is the raw isicV4 value.
    """
    if not isinstance(obj, Mapping):
        return None
    for entity in as_list(obj.get("mainEntity"))[:MAX_NESTING_READ]:
        if isinstance(entity, Mapping) and "JobPosting" in types(entity):
            return _job_from(entity)
    if _first(obj.get("purpose")) in ("offer", "request") and isinstance(_first(obj.get("publishes")), Mapping):
        return _opportunity_from(obj)
    return None
