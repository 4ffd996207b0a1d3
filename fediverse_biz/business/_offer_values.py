"""The values of a job offer or business opportunity: the `Offer` type and the rule for each field.

One set of rules for every way an offer arrives, so the board never holds what a local member could
not have entered: `check_offer` applies them strictly to a member's input (the JSON endpoint, the web
form, the text convention) and raises `OfferInvalid` naming the first bad field; `clean_remote` applies
them leniently to what a peer sent, dropping a bad value instead of refusing the post (only a missing
title makes it no offer at all). docs/offers.md lists the fields and their rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from fediverse_biz.business._currencies import check_currency
from fediverse_biz.business.sectors import check_country, check_sector, section_for_isic
from fediverse_biz.core.errors import DomainError
from fediverse_biz.text.sanitize import is_allowed_link, sanitize_plain

KINDS: Final = ("job", "opportunity")
DIRECTIONS: Final = ("offer", "request")
# schema.org JobPosting employmentType as Google for Jobs defines it: the values every job tool reads.
EMPLOYMENT_TYPES: Final = ("FULL_TIME", "PART_TIME", "CONTRACTOR", "TEMPORARY", "INTERN", "VOLUNTEER", "PER_DIEM",
                           "OTHER")  # fmt: skip
# What people type for them (the text convention, the web form); any case, '-' and ' ' read as '_'.
EMPLOYMENT_ALIASES: Final = {"FULLTIME": "FULL_TIME", "PARTTIME": "PART_TIME", "CONTRACT": "CONTRACTOR",
                             "FREELANCE": "CONTRACTOR", "TEMP": "TEMPORARY", "INTERNSHIP": "INTERN",
                             "PERDIEM": "PER_DIEM"}  # fmt: skip
MAX_TITLE: Final = 200
MAX_DESCRIPTION: Final = 5000
MAX_LOCATION: Final = 200
MAX_URL: Final = 2000
MAX_EMAIL: Final = 254  # RFC 5321's path limit
MAX_AMOUNT: Final = Decimal("999999999999.99")  # numeric(14, 2)
# An offer without a date still leaves the boards: two months is a common job-board default. One may stay
# up to two years, no more: a date centuries ahead would pin it to every board for good.
DEFAULT_VALIDITY: Final = timedelta(days=60)
MAX_VALIDITY: Final = timedelta(days=731)
_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_REGION_RE: Final = re.compile(r"([A-Z]{2})(?:-([A-Z0-9]{1,3}))?")
_DATE_RE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{1,2})\.(\d{1,2})\.(\d{4})")
_JOB_ONLY: Final = ("employment_type", "salary_min", "salary_max", "apply_url", "apply_email")
_OPPORTUNITY_ONLY: Final = ("direction", "budget", "quantity")


class OfferInvalid(DomainError):
    """A value breaks its rule; `field` names the first (the API's message), `problems` every field that
    broke one with its message, in form order, so that a form can show them all at once."""

    def __init__(self, field: str, message: str, problems: Mapping[str, str] | None = None) -> None:
        super().__init__(f"Validation failed: {field} {message}", 422)
        self.field = field
        self.problems: dict[str, str] = dict(problems) if problems else {field: message}


@dataclass(frozen=True)
class Offer:
    """A job offer (kind "job") or a business opportunity (kind "opportunity"): codes, not labels."""

    kind: str
    title: str
    description: str = ""
    location: str | None = None
    remote: bool = False
    employment_type: str | None = None  # one of EMPLOYMENT_TYPES
    salary_min: Decimal | None = None
    salary_max: Decimal | None = None
    currency: str | None = None  # ISO 4217
    apply_url: str | None = None
    apply_email: str | None = None
    direction: str | None = None  # "offer" | "request", opportunities only
    sector: str | None = None  # NACE Rev. 2 section
    region: str | None = None  # ISO 3166-1 alpha-2, or an ISO 3166-2 subdivision ("DE-BY")
    budget: Decimal | None = None
    quantity: Decimal | None = None
    valid_through: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready values (statuses.extra["offer"], the client API): amounts as numbers, time ISO."""
        values = asdict(self)
        for name, value in values.items():
            if isinstance(value, Decimal):
                values[name] = int(value) if value == value.to_integral_value() else float(value)
        values["valid_through"] = self.valid_through.isoformat() if self.valid_through else None
        return values

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> Offer:
        """The inverse of to_json, for values this server wrote (statuses.extra["offer"])."""
        known = {f.name for f in fields(cls)}
        kept: dict[str, Any] = {k: v for k, v in values.items() if k in known}
        for name in ("salary_min", "salary_max", "budget", "quantity"):
            if kept.get(name) is not None:
                kept[name] = Decimal(str(kept[name]))
        if kept.get("valid_through"):
            kept["valid_through"] = datetime.fromisoformat(kept["valid_through"])
        return cls(**kept)


FIELDS: Final = tuple(f.name for f in fields(Offer))


# ---- one rule per field: value in, clean value out, ValueError with the reason ---------------------
def _text(value: Any) -> str:
    """A string PostgreSQL can store: no NUL, no lone UTF-16 surrogate (JSON lets a client send one)."""
    if not isinstance(value, str):
        raise ValueError("must be text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid text") from None
    return value.replace("\x00", "")


def _line(limit: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        value = _text(value)
        if len(value.strip()) > limit:
            raise ValueError(f"is longer than {limit} characters")
        return sanitize_plain(value, limit).strip() or None

    return check


def check_description(value: Any) -> str:
    text = _text(value).replace("\r\n", "\n").strip()
    if len(text) > MAX_DESCRIPTION:
        raise ValueError(f"is longer than {MAX_DESCRIPTION} characters ({len(text)})")
    return text


def check_employment_type(value: Any) -> str:
    value = _text(value)
    code = re.sub(r"[\s-]+", "_", value.strip().upper())
    code = EMPLOYMENT_ALIASES.get(code.replace("_", ""), code)
    if code not in EMPLOYMENT_TYPES:
        raise ValueError(f"{value.strip()[:30]!r} is not one of {', '.join(EMPLOYMENT_TYPES)}")
    return code


def check_amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("must be a number")
    try:
        amount = Decimal(str(value).strip().replace(" ", ""))
    except InvalidOperation:
        raise ValueError(f"{str(value)[:20]!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise ValueError(f"must be between 0 and {MAX_AMOUNT:,.0f}")
    amount = amount.quantize(Decimal("0.01"))  # cents at most, as the column keeps
    return Decimal(int(amount)) if amount == amount.to_integral_value() else amount.normalize()


def check_url(value: Any) -> str:
    url = _text(value).strip()
    if not url.lower().startswith(("https://", "http://")) or len(url) > MAX_URL or not is_allowed_link(url):
        raise ValueError(f"{url[:40]!r} is not an http(s) address")
    return url


def check_email(value: Any) -> str:
    email = _text(value).strip().removeprefix("mailto:")
    if len(email) > MAX_EMAIL or not _EMAIL_RE.fullmatch(email):
        raise ValueError(f"{email[:40]!r} is not an email address")
    return email


def check_region(value: Any) -> str:
    """An ISO 3166-1 alpha-2 country ("DE") or an ISO 3166-2 subdivision of one ("DE-BY")."""
    text = _text(value).strip().upper()
    match = _REGION_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text[:20]!r} is not a country code (DE) or subdivision code (DE-BY)")
    check_country(match.group(1))
    return text


def check_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("0", "false", "no", "n", "off", ""):
        return False
    raise ValueError("must be true or false")


def check_valid_through(value: Any) -> datetime:
    """A datetime, an ISO 8601 date-time, or a date (ISO or DD.MM.YYYY) meaning the end of that day, UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = _text(value).strip() if isinstance(value, str) else None
        if text is None:
            raise ValueError("must be a date (YYYY-MM-DD)")
        match = _DATE_RE.fullmatch(text)
        try:
            if match is not None:
                y, m, d = match.group(1, 2, 3) if match.group(1) else match.group(6, 5, 4)
                return datetime.combine(date(int(y), int(m), int(d)), time(23, 59, 59), UTC)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text[:30]!r} is not a date (YYYY-MM-DD)") from None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last datetime Python has
        raise ValueError("is not a date this server can keep") from None


def check_quantity(value: Any) -> Decimal:
    amount = check_amount(value)
    if amount <= 0:
        raise ValueError("must be more than 0")
    return amount


RULES: Final[dict[str, Callable[[Any], Any]]] = {
    "title": _line(MAX_TITLE),
    "description": check_description,
    "location": _line(MAX_LOCATION),
    "remote": check_bool,
    "employment_type": check_employment_type,
    "salary_min": check_amount,
    "salary_max": check_amount,
    "currency": check_currency,
    "apply_url": check_url,
    "apply_email": check_email,
    "sector": check_sector,
    "region": check_region,
    "budget": check_amount,
    "quantity": check_quantity,
    "valid_through": check_valid_through,
}


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


# ---- a member's input --------------------------------------------------------------------------------
def check_offer(values: Mapping[str, Any], *, now: datetime) -> Offer:
    """The Offer `values` describe ({field: value}, absent or empty = not stated); OfferInvalid for the first
    value that breaks a rule, in the order of FIELDS. A missing date becomes now + DEFAULT_VALIDITY."""
    if not isinstance(values, Mapping):
        raise DomainError("Validation failed: an offer must be an object of fields", 422)
    for name in values:
        if name not in FIELDS:
            raise OfferInvalid(str(name)[:50], "is not an offer field")
    kind = values.get("kind")
    if kind not in KINDS:
        raise OfferInvalid("kind", f"must be one of {', '.join(KINDS)}")
    cleaned: dict[str, Any] = {"kind": kind}
    problems: dict[str, str] = {}  # every broken rule, not only the first: a form shows them together
    for name in FIELDS[1:]:
        value = values.get(name)
        if not _present(value):
            continue
        if name in (_OPPORTUNITY_ONLY if kind == "job" else _JOB_ONLY):
            problems[name] = f"does not apply to {'jobs' if kind == 'job' else 'opportunities'}"
            continue
        try:
            cleaned[name] = RULES[name](value) if name != "direction" else _direction(value)
        except ValueError as exc:
            problems[name] = str(exc)
    if not cleaned.get("title") and "title" not in problems:
        problems["title"] = "can't be blank"
    if kind == "opportunity" and "direction" not in cleaned:
        problems.setdefault("direction", f"must be one of {', '.join(DIRECTIONS)}")
    low, high = cleaned.get("salary_min"), cleaned.get("salary_max")
    if low is not None and high is not None and low > high:
        problems["salary_max"] = "is below salary_min"
    if "currency" not in cleaned and any(k in cleaned for k in ("salary_min", "salary_max", "budget")):
        problems.setdefault("currency", "is required with an amount of money")
    valid_through = cleaned.get("valid_through")
    if valid_through is not None and valid_through <= now:
        problems["valid_through"] = f"is in the past ({valid_through.date().isoformat()})"
    if valid_through is not None and valid_through > now + MAX_VALIDITY:
        problems["valid_through"] = f"is more than {MAX_VALIDITY.days // 365} years ahead"
    if problems:  # the first found is the API's message, as when this stopped at the first
        first = next(iter(problems))
        raise OfferInvalid(first, problems[first], problems)
    cleaned.setdefault("valid_through", now + DEFAULT_VALIDITY)
    return Offer(**cleaned)


def _direction(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in DIRECTIONS:
        raise ValueError(f"must be one of {', '.join(DIRECTIONS)}")
    return text


# ---- a peer's values ---------------------------------------------------------------------------------
_CUT: Final = {"title": MAX_TITLE, "description": MAX_DESCRIPTION, "location": MAX_LOCATION}


def clean_remote(candidate: Mapping[str, Any], *, published: datetime) -> Offer | None:
    """An Offer from values read out of a peer's post, or None without a usable kind and title. A value that
    breaks its rule is dropped (never the post); a text too long is cut to the limit rather than dropped; an
    offer without a date expires DEFAULT_VALIDITY after it was published, as ours do."""
    kind = candidate.get("kind")
    if kind not in KINDS:
        return None
    kept: dict[str, Any] = {"kind": kind}
    for name, rule in RULES.items():
        value = candidate.get(name)
        if not _present(value) or name in (_OPPORTUNITY_ONLY if kind == "job" else _JOB_ONLY):
            continue
        if name in _CUT and isinstance(value, str):
            value = value.strip()[: _CUT[name]]
        try:
            kept[name] = rule(value)
        except ValueError:
            continue
    if kind == "opportunity":
        try:
            kept["direction"] = _direction(candidate.get("direction"))
        except ValueError:
            return None
    if not kept.get("title"):
        return None
    if kind == "job" and "salary_min" in kept and "salary_max" in kept and kept["salary_min"] > kept["salary_max"]:
        del kept["salary_min"], kept["salary_max"]
    if kept.get("valid_through") is not None and kept["valid_through"] > published + MAX_VALIDITY:
        del kept["valid_through"]  # a date years ahead would keep it on every board: ours would refuse it
    kept.setdefault("valid_through", published + DEFAULT_VALIDITY)
    return Offer(**kept)


def sector_of(code: Any) -> str | None:
    """A NACE section from a peer's isicV4 value (a section letter or a finer ISIC code), or None."""
    try:
        return section_for_isic(code)
    except ValueError:
        return None


__all__ = ["DEFAULT_VALIDITY", "EMPLOYMENT_TYPES", "FIELDS", "KINDS", "Offer", "OfferInvalid", "check_offer",
           "clean_remote", "sector_of"]  # fmt: skip
