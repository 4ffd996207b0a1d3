"""The offer endpoints (api/offers.py) described for the OpenAPI document, in the form of
api/_openapi_operations.py; api/openapi.py documents them with the rest. One file per group of endpoints keeps
each table short enough to read.
"""

from __future__ import annotations

from typing import Any, Final

from fediverse_biz.api._openapi_operations import BOOLEAN, ID, STRING, Operation, Param, Schema, array, paging, ref
from fediverse_biz.business._offer_values import EMPLOYMENT_TYPES

__all__ = ["OFFER_OPERATIONS"]

OFFER = ref("Offer")
NUMBER: Final[Schema] = {"type": ["number", "string"], "description": "a number (a form sends it as text)"}
_CODES = "docs/offers.md"
OFFER_FIELDS: Final = (
    Param("kind", {"enum": ["job", "opportunity"]}, "what is posted", required=True),
    Param("title", STRING, "1-200 characters", required=True),
    Param("description", STRING, "plain text, at most 5000 characters"),
    Param("location", STRING, "at most 200 characters"),
    Param("remote", BOOLEAN, "jobs: remote work possible"),
    Param("employment_type", STRING, f"jobs: {', '.join(EMPLOYMENT_TYPES)} (full-time, part-time... accepted)"),
    Param("salary_min", NUMBER, "jobs: yearly, needs currency"),
    Param("salary_max", NUMBER, "jobs: yearly, needs currency"),
    Param("currency", STRING, "ISO 4217"),
    Param("apply_url", STRING, "jobs: http(s) address to apply at"),
    Param("apply_email", STRING, "jobs: address to apply to"),
    Param("direction", {"enum": ["offer", "request"]}, "opportunities: offered or sought (required for them)"),
    Param("sector", STRING, "NACE Rev. 2 section letter"),
    Param("region", STRING, "ISO 3166-1 alpha-2, or ISO 3166-2 (DE-BY)"),
    Param("budget", NUMBER, "opportunities: needs currency"),
    Param("quantity", NUMBER, "opportunities: more than 0"),
    Param("valid_through", STRING, "YYYY-MM-DD (end of that day, UTC) or ISO 8601; 60 days when not given"),
    Param("hall_id", ID, "post into this community (Group account): the post mentions it"),
)
BOARD_FILTERS: Final = (
    Param("kind", {"enum": ["job", "opportunity"]}, "one board; both when absent"),
    Param("sector", STRING, "NACE Rev. 2 section letter"),
    Param("region", STRING, "a country code also finds its subdivisions"),
    Param("q", STRING, "words in the title, description or location"),
    Param("hall", ID, "offers posted into this community"),
    Param("local", BOOLEAN, "only offers posted on this server"),
    Param("direction", {"enum": ["offer", "request"]}),
    Param("employment_type", STRING),
    Param("remote", BOOLEAN),
)


def _op(method: str, path: str, operation_id: str, summary: str, response: Schema, **kw: Any) -> Operation:
    return Operation(method, path, operation_id, summary, "offers", response, **kw)


OFFER_OPERATIONS: Final[tuple[Operation, ...]] = (
    _op("POST", "/api/v1/offers", "create_offer", "Post a job offer or business opportunity", OFFER,
        scope="write:statuses", body=OFFER_FIELDS,
        description=f"Posted as a public status in the text convention, with the structure attached ({_CODES}). "
                    "422 names the first field that breaks its rule; nothing is stored then. A contributor's offer "
                    "waits for review: approval_state pending, url null (docs/teams.md)."),
    _op("GET", "/api/v1/offers", "offers", "The job and opportunity boards: unexpired, newest first", array(OFFER),
        auth="optional", scope="read:statuses", query=(*BOARD_FILTERS, *paging()), paginated=True),
    _op("GET", "/api/v1/offers/{id}", "show_offer", "One offer (the id of its status), expired ones included",
        OFFER, auth="optional", scope="read:statuses",
        description="A held or rejected offer answers its author and the organization's reviewers, with its "
                    "approval_state; 404 for everyone else."),
)  # fmt: skip
