"""The text convention: a job offer or opportunity typed in any Mastodon app, and the post we write for one.

A post is an offer when its first line is made of hashtags (mentions allowed) and names a kind —
`#job`, `#jobs` or `#hiring` for a job, `#offer` or `#request` for an opportunity — and the lines right
below it hold a `Title:`. Those lines are `Label: value` pairs (labels in any case, LABELS lists them);
the block ends at the first blank line or line that is not one, and the rest is the description
(a last line of only hashtags and mentions is left out of it). docs/offers.md shows examples.

`render` writes an Offer in the same convention, so the post every Mastodon user reads is also one any
server can parse back, and `parse(render(offer))` gives the offer again (tests/business/test_offer_text.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from fediverse_biz.business._currencies import CURRENCIES, SYMBOLS
from fediverse_biz.business._offer_values import MAX_DESCRIPTION, Offer, OfferInvalid, check_offer
from fediverse_biz.business.sectors import COUNTRIES, SECTORS
from fediverse_biz.core.statuses import MAX_CHARACTERS, text_length

# First-line hashtag -> (kind, direction).
MARKERS: Final[dict[str, tuple[str, str | None]]] = {
    "job": ("job", None), "jobs": ("job", None), "hiring": ("job", None),
    "offer": ("opportunity", "offer"), "request": ("opportunity", "request"),
}  # fmt: skip
# What a line may start with -> the field it fills ("salary", "budget" and "apply" fill several).
LABELS: Final[dict[str, str]] = {
    "title": "title", "location": "location", "where": "location", "remote": "remote",
    "type": "employment_type", "employment": "employment_type", "employment type": "employment_type",
    "salary": "salary", "pay": "salary", "apply": "apply", "how to apply": "apply",
    "valid until": "valid_through", "valid through": "valid_through", "apply by": "valid_through",
    "until": "valid_through", "deadline": "valid_through", "sector": "sector", "region": "region",
    "country": "region", "budget": "budget", "quantity": "quantity",
}  # fmt: skip
# One short hashtag per NACE section, added to every post (Mastodon users follow tags, not codes).
SECTOR_TAGS: Final[dict[str, str]] = {
    "A": "Agriculture", "B": "Mining", "C": "Manufacturing", "D": "Energy", "E": "WasteManagement",
    "F": "Construction", "G": "Trade", "H": "Logistics", "I": "Hospitality", "J": "ICT", "K": "Finance",
    "L": "RealEstate", "M": "ProfessionalServices", "N": "BusinessServices", "O": "PublicSector",
    "P": "Education", "Q": "Health", "R": "Arts", "S": "Services", "T": "Households", "U": "International",
}  # fmt: skip
EMPLOYMENT_LABELS: Final[dict[str, str]] = {
    "FULL_TIME": "full-time", "PART_TIME": "part-time", "CONTRACTOR": "contractor", "TEMPORARY": "temporary",
    "INTERN": "internship", "VOLUNTEER": "volunteer", "PER_DIEM": "per diem", "OTHER": "other",
}  # fmt: skip
_LINE_RE: Final = re.compile(r"\s*([A-Za-z][A-Za-z ]{0,15}?)\s*:\s*(.*)")
_TOKEN_RE: Final = re.compile(r"[#@][^\s]+")
_NUMBER_RE: Final = re.compile(r"\d[\d.,' \u2019\u00a0\u202f]*\d[kK]?|\d[kK]?")
_RANGE_RE: Final = re.compile(r"\s*(?:-|\u2013|\u2014|to)\s*", re.IGNORECASE)
_PERIOD_RE: Final = re.compile(r"\s*(?:per|a|/)\s*(?:year|annum|yr)\b\.?|\s*p\.?\s*a\.?$|\s*(?:yearly|gross)\b", re.I)


@dataclass(frozen=True)
class TextOffer:
    """What a post says, before the rules: raw values by field, and the label each came from."""

    values: dict[str, Any]
    labels: dict[str, str]


# ---- reading -------------------------------------------------------------------------------------------
def _marker(line: str) -> tuple[str, str | None] | None:
    tokens = line.split()
    if not tokens or not all(_TOKEN_RE.fullmatch(t) for t in tokens):
        return None
    return next((MARKERS[t[1:].lower()] for t in tokens if t[1:].lower() in MARKERS), None)


def parse(text: str) -> TextOffer | None:
    """The offer a post's text states, or None when it follows no convention (a plain post)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    found = _marker(lines[start]) if start is not None else None
    if start is None or found is None:
        return None
    kind, direction = found
    values: dict[str, Any] = {"kind": kind}
    labels: dict[str, str] = {}
    if direction:
        values["direction"] = direction
    i = start + 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    while i < len(lines):
        match = _LINE_RE.fullmatch(lines[i])
        field = LABELS.get(" ".join(match.group(1).lower().split())) if match else None
        if match is None or field is None:
            break
        if field not in labels:  # the first line for a field counts
            labels[field] = match.group(1).strip()
            values[field] = match.group(2).strip()
        i += 1
    if not values.get("title"):
        return None  # "#hiring is hard" is a post about hiring, not a job offer
    rest = lines[i:]
    while rest and (not rest[-1].strip() or all(_TOKEN_RE.fullmatch(t) for t in rest[-1].split())):
        rest.pop()
    values["description"] = "\n".join(rest).strip()
    return TextOffer(values, labels)


def _number(token: str) -> Decimal:
    """40000, 40,000, 40.000, 40 000, 40'000, 45.5, 45,5, 45k."""
    thousand = 1000 if token[-1] in "kK" else 1
    digits = re.sub(r"[ '\u2019\u00a0\u202f]", "", token.rstrip("kK"))
    separators = [c for c in digits if c in ".,"]
    if separators:
        last = max(digits.rfind("."), digits.rfind(","))
        groups = re.split(r"[.,]", digits)
        if len(set(separators)) == 1 and all(len(g) == 3 for g in groups[1:]) and (len(groups) > 2 or thousand == 1):
            digits = "".join(groups)  # thousands separators only
        else:
            digits = re.sub(r"[.,]", "", digits[:last]) + "." + digits[last + 1 :]
    return Decimal(digits) * thousand


# Currency words people write out; three-letter codes are read from CURRENCIES.
_CURRENCY_WORDS: Final = {"euro": "EUR", "euros": "EUR", "dollar": "USD", "dollars": "USD", "pound": "GBP",
                          "pounds": "GBP", "francs": "CHF", "yen": "JPY"}  # fmt: skip


def money(text: str, field: str, label: str) -> tuple[Decimal, Decimal, str | None]:
    """(low, high, currency) from "40000-50000 EUR", "€40k\u201350k", "EUR 45,000 per year"; OfferInvalid
    (naming `field`) if the line holds no amount. A single amount is low == high."""
    rest = _PERIOD_RE.sub("", text).strip()
    currency = None
    for symbol in sorted(SYMBOLS, key=len, reverse=True):
        if symbol in rest:
            currency, rest = SYMBOLS[symbol], rest.replace(symbol, " ")
            break
    for word in re.findall(r"[A-Za-z]+", rest):
        code = word.upper() if word.upper() in CURRENCIES else _CURRENCY_WORDS.get(word.lower())
        if code is not None:
            currency, rest = code, rest.replace(word, " ", 1)
            break
    parts = [p.strip() for p in _RANGE_RE.split(rest.strip()) if p.strip()]
    if not 1 <= len(parts) <= 2 or not all(_NUMBER_RE.fullmatch(p) for p in parts):
        raise OfferInvalid(field, f"{text[:40]!r} is not an amount such as 40000-50000 EUR ('{label}:' line)")
    amounts = [_number(p) for p in parts]
    return amounts[0], amounts[-1], currency


def _code_or_name(text: str, names: dict[str, str], extra: dict[str, str] | None = None) -> str:
    """A code as typed, or the code of a name ("Manufacturing" -> "C", "Germany" -> "DE")."""
    wanted = " ".join(text.split()).lower()
    for table in (names, extra or {}):
        for code, name in table.items():
            if name.lower() == wanted:
                return code
    return text.strip()


def to_values(found: TextOffer) -> dict[str, Any]:
    """The raw values turned into the fields check_offer reads."""
    values = dict(found.values)
    for field in ("salary", "budget"):
        if field in values:
            low, high, currency = money(
                values.pop(field), f"{field}_min" if field == "salary" else field, found.labels[field]
            )
            if field == "salary":
                values["salary_min"], values["salary_max"] = low, high
            elif low != high:
                raise OfferInvalid("budget", f"is one amount ('{found.labels['budget']}:' line)")
            else:
                values["budget"] = low
            if currency and not values.get("currency"):
                values["currency"] = currency
    if "apply" in values:
        target = values.pop("apply")
        values["apply_email" if "@" in target and "://" not in target else "apply_url"] = target
    if str(values.get("location", "")).strip().lower() == "remote":
        values["location"], values["remote"] = None, values.get("remote") or "yes"
    if "sector" in values:
        values["sector"] = _code_or_name(values["sector"], SECTORS, SECTOR_TAGS).removeprefix("#")
    if "region" in values:
        values["region"] = _code_or_name(values["region"], COUNTRIES)
    number = _NUMBER_RE.search(str(values.get("quantity") or ""))
    if number is not None:  # "500 pallets": the number; the unit stays in the description's words
        values["quantity"] = _number(number.group(0))
    return values


# A field filled from a line with another name: its errors name that line.
_SOURCE_LINES: Final = {"salary_min": ("salary",), "salary_max": ("salary",), "currency": ("salary", "budget"),
                        "apply_url": ("apply",), "apply_email": ("apply",)}  # fmt: skip


def offer_from_text(text: str, *, now: datetime) -> Offer | None:
    """The Offer a post states (None for a plain post); OfferInvalid names the field and the line's label."""
    found = parse(text)
    if found is None:
        return None
    try:
        return check_offer(to_values(found), now=now)
    except OfferInvalid as exc:
        sources = (exc.field, *_SOURCE_LINES.get(exc.field, ()))
        label = next((found.labels[s] for s in sources if s in found.labels), None)
        message = str(exc).removeprefix(f"Validation failed: {exc.field} ")
        if label is None or f"'{label}:'" in message:
            raise
        raise OfferInvalid(exc.field, f"{message} ('{label}:' line)") from None


# ---- writing -------------------------------------------------------------------------------------------
def amount_text(value: Decimal) -> str:
    """40000 -> "40,000"; 45.5 -> "45.50": what the post and the board show (parse() reads it back)."""
    return f"{value:,.2f}".removesuffix(".00")


def render(offer: Offer, *, mentions: str = "") -> str:
    """The post for an offer: readable in any app, and in the convention (parse() reads it back). The
    description is cut at a word when the whole would pass Mastodon's 5000-character limit."""
    if offer.kind == "job":
        head, tags = "#hiring", ["#jobs"]
    else:
        head, tags = f"#{offer.direction}", ["#opportunities"]
    lines = [head, f"Title: {offer.title}"]
    if offer.employment_type:
        lines.append(f"Type: {EMPLOYMENT_LABELS[offer.employment_type]}")
    if offer.location:
        lines.append(f"Location: {offer.location}")
    if offer.remote:
        lines.append("Remote: yes")
    if offer.salary_min is not None or offer.salary_max is not None:
        low, high = offer.salary_min or offer.salary_max, offer.salary_max or offer.salary_min
        assert low is not None and high is not None
        span = amount_text(low) if low == high else f"{amount_text(low)}\u2013{amount_text(high)}"
        lines.append(f"Salary: {span} {offer.currency or ''}".rstrip())
    if offer.budget is not None:
        lines.append(f"Budget: {amount_text(offer.budget)} {offer.currency or ''}".rstrip())
    if offer.quantity is not None:
        lines.append(f"Quantity: {amount_text(offer.quantity)}")
    if offer.sector:
        lines.append(f"Sector: {SECTORS[offer.sector]}")
        tags.append(f"#{SECTOR_TAGS[offer.sector]}")
    if offer.region:
        lines.append(f"Region: {COUNTRIES.get(offer.region, offer.region)}")
    if offer.apply_url or offer.apply_email:
        lines.append(f"Apply: {offer.apply_url or offer.apply_email}")
    if offer.valid_through:
        lines.append(f"Valid until: {offer.valid_through.astimezone(UTC).date().isoformat()}")
    footer = " ".join([*tags, mentions]).strip()
    head_text, description = "\n".join(lines), offer.description[:MAX_DESCRIPTION]
    room = MAX_CHARACTERS - text_length(f"{head_text}\n\n\n\n{footer}")
    if text_length(description) > room:
        description = description[: max(room - 1, 0)].rsplit(" ", 1)[0].rstrip() + "\u2026"
    return "\n\n".join(part for part in (head_text, description, footer) if part)
