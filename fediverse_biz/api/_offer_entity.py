"""The Offer entity (schemas/mastodon/offer.schema.json): a job offer or business opportunity as JSON.

Two uses, one shape: `Status.fediverse_biz.offer` (entities.statuses, from statuses.extra["offer"]) and
the boards of api/offers.py, which add where the offer lives and who posted it. Codes are sent with
their labels, datetimes in Mastodon's format, amounts as JSON numbers. Kept apart from entities.py so
both it and api/offers.py can import it (hence its own copy of `iso`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fediverse_biz.business._offer_values import Offer
from fediverse_biz.business.sectors import SECTORS, region_name


def iso(value: datetime | None) -> str | None:
    """entities.iso (Mastodon's datetime format), repeated here: entities imports this module."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def offer_fields(offer: Offer, status_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """The offer's own fields: what Status.fediverse_biz.offer carries."""
    return {"id": str(status_id), **_values(offer), "expired": _expired(offer.valid_through, now)}


def _values(offer: Offer) -> dict[str, Any]:
    """offer_fields but the id and `expired`: what depends on the offer alone."""
    values = offer.to_json()
    values["valid_through"] = iso(offer.valid_through)
    values["sector_label"] = SECTORS.get(offer.sector) if offer.sector else None
    values["region_name"] = region_name(offer.region)
    return values


def _expired(valid_through: datetime | None, now: datetime | None) -> bool:
    return valid_through is not None and valid_through < (now or datetime.now(UTC))


def extension(extra: Any, status_id: int) -> dict[str, Any] | None:
    """Status.fediverse_biz.offer for a status whose extra holds an offer; None otherwise."""
    stored = extra.get("offer") if isinstance(extra, Mapping) else None
    if not isinstance(stored, Mapping):
        return None
    # The same stored offer is shown again and again (every page of every timeline and board it is on),
    # and building it costs 27 µs, mostly Offer.to_json's dataclasses.asdict: the values are kept by the
    # stored JSON, each value with its type (True == 1 as a key, but not as a value), so a hit costs 2 µs.
    key = tuple((name, type(value), value) for name, value in stored.items())
    try:
        hash(key)
    except TypeError:  # a list or an object among the values: not something this server writes
        return offer_fields(Offer.from_json(stored), status_id)
    values, valid_through = _stored_values(key)
    return {"id": str(status_id), **values, "expired": _expired(valid_through, None)}


@lru_cache(maxsize=2048)
def _stored_values(key: tuple[tuple[str, type, Any], ...]) -> tuple[dict[str, Any], datetime | None]:
    """_values of a stored offer (extension's key) and its valid_through; callers copy, never edit."""
    offer = Offer.from_json({name: value for name, _, value in key})
    return _values(offer), offer.valid_through


def board_entity(row: Mapping[str, Any], offer: Offer, account: dict[str, Any]) -> dict[str, Any]:
    """A board entry (GET /api/v1/offers): the offer, its post, its author, its hall, and whether it is
    published. A held or rejected offer (read by its author or a reviewer) has no `url`: its page does
    not exist for anyone, and approval publishes it under a new id (docs/teams.md), so no link to it
    would ever work."""
    entity = offer_fields(offer, row["status_id"])
    state = row["approval_state"]
    entity.update(
        approval_state=state,
        uri=row["uri"],
        url=(row["url"] or row["uri"]) if state == "published" else None,
        created_at=iso(row["published_at"]),
        local=row["local"],
        hall_id=str(row["hall"]) if row["hall"] is not None else None,
        account=account,
    )
    return entity
