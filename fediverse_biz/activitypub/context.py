"""The JSON-LD @context we put on every document we emit, and the context documents we ship.

Peers do not run JSON-LD processors on the hot path; they match on compact term names. So the terms
must be exactly Mastodon's: `schema` maps to the (wrong, but universal) `http://schema.org#`, and
`focalPoint` is an `@list`. The term definitions come from Mastodon's `ContextHelper`
(app/helpers/context_helper.rb, formerly `ActivityPub::Adapter::CONTEXT_EXTENSION_MAP`). Mastodon adds
only the terms a document uses; we always send the full set, as its `full_context` does, so every
document carries one constant header.

Context documents are never fetched at run time (the W3C asks consumers to cache them, and a fetch per
document would be an SSRF and availability hazard). `load_context` serves the shipped copies:
- contexts/activitystreams.json: https://www.w3.org/ns/activitystreams as served today (the same bytes
  Fedify preloads in packages/vocab-runtime/src/contexts/activitystreams.json);
- contexts/security-v1.json: https://w3id.org/security/v1 (w3c-ccg security-vocab
  contexts/security-v1.jsonld).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any, Final

from fediverse_biz.package_data import package_file

__all__ = ["ACTIVITYSTREAMS", "CONTEXT", "PUBLIC", "SECURITY_V1", "load_context"]

ACTIVITYSTREAMS: Final = "https://www.w3.org/ns/activitystreams"
SECURITY_V1: Final = "https://w3id.org/security/v1"
PUBLIC: Final = "https://www.w3.org/ns/activitystreams#Public"

_TOOT = "http://joinmastodon.org/ns#"

# Treat as read-only: it is shared by every document we render.
CONTEXT: Final[list[Any]] = [
    ACTIVITYSTREAMS,
    SECURITY_V1,
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "movedTo": {"@id": "as:movedTo", "@type": "@id"},
        "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
        "toot": _TOOT,
        "Emoji": "toot:Emoji",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
        "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
        "blurhash": "toot:blurhash",
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        "memorial": "toot:memorial",
        "votersCount": "toot:votersCount",
        "suspended": "toot:suspended",
        "attributionDomains": {"@id": "toot:attributionDomains", "@type": "@id"},
        # Mastodon's status serializer context: we send `conversation` and Tombstone `atomUri`.
        "ostatus": "http://ostatus.org#",
        "atomUri": "ostatus:atomUri",
        "inReplyToAtomUri": "ostatus:inReplyToAtomUri",
        "conversation": "ostatus:conversation",
        # The company profile of Organization actors (activitypub/organizations.py), in schema.org terms
        # under Mastodon's `schema` prefix. `website` names schema:url because `url` is taken by as:url.
        "legalName": "schema:legalName",
        "isicV4": "schema:isicV4",
        "address": "schema:address",
        "PostalAddress": "schema:PostalAddress",
        "addressCountry": "schema:addressCountry",
        "addressRegion": "schema:addressRegion",
        "addressLocality": "schema:addressLocality",
        "website": {"@id": "schema:url", "@type": "@id"},
        "numberOfEmployees": "schema:numberOfEmployees",
        "QuantitativeValue": "schema:QuantitativeValue",
        "minValue": "schema:minValue",
        "maxValue": "schema:maxValue",
        "foundingDate": "schema:foundingDate",
        "knowsLanguage": "schema:knowsLanguage",
        "email": "schema:email",
        "identifier": "schema:identifier",
        "propertyID": "schema:propertyID",
        "vatID": "schema:vatID",
        # Job offers and business opportunities (activitypub/offers.py, FEDERATION.md): a
        # schema.org JobPosting in the Note's `mainEntity`, FEP-0837 (Valueflows) Proposal terms on the Note.
        "mainEntity": "schema:mainEntity",
        "JobPosting": "schema:JobPosting",
        "title": "schema:title",
        "description": "schema:description",
        "datePosted": "schema:datePosted",
        "validThrough": "schema:validThrough",
        "employmentType": "schema:employmentType",
        "jobLocation": "schema:jobLocation",
        "jobLocationType": "schema:jobLocationType",
        "baseSalary": "schema:baseSalary",
        "MonetaryAmount": "schema:MonetaryAmount",
        "currency": "schema:currency",
        "unitText": "schema:unitText",
        "hiringOrganization": "schema:hiringOrganization",
        "directApply": "schema:directApply",
        "applicationContact": "schema:applicationContact",
        "ContactPoint": "schema:ContactPoint",
        "vf": "https://w3id.org/valueflows/ont/vf#",
        "om2": "http://www.ontology-of-units-of-measure.org/resource/om-2/",
        "Proposal": "vf:Proposal",
        "Intent": "vf:Intent",
        "purpose": "vf:purpose",
        "publishes": "vf:publishes",
        "reciprocal": "vf:reciprocal",
        "unitBased": "vf:unitBased",
        "action": "vf:action",
        "resourceQuantity": "vf:resourceQuantity",
        "hasUnit": "om2:hasUnit",
        "hasNumericalValue": "om2:hasNumericalValue",
    },
]

_CONTEXT_DIR = package_file("activitypub", "contexts")

# Spellings seen in the wild for the same two documents.
_SHIPPED: Final[dict[str, str]] = {
    ACTIVITYSTREAMS: "activitystreams.json",
    "http://www.w3.org/ns/activitystreams": "activitystreams.json",
    "https://www.w3.org/ns/activitystreams.jsonld": "activitystreams.json",
    SECURITY_V1: "security-v1.json",
    "http://w3id.org/security/v1": "security-v1.json",
    "https://w3id.org/security/v1.jsonld": "security-v1.json",
}


def load_context(url: str) -> dict[str, Any]:
    """Return the shipped context document for `url` (a fresh copy); KeyError if we ship none."""
    normalized = url.rstrip("#")
    if normalized not in _SHIPPED:
        raise KeyError(f"no shipped JSON-LD context for {url!r}")
    return copy.deepcopy(_read(_SHIPPED[normalized]))


@cache
def _read(filename: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((_CONTEXT_DIR / filename).read_text(encoding="utf-8"))
    return document
