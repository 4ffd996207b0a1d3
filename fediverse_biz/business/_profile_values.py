"""The rules for each company-profile value, shared by local edits and remote documents.

One rule set for both directions: a local edit that breaks a rule is refused (422 naming the field),
a peer's value that breaks it is dropped. Each checker takes whatever JSON gave us and returns the
normalised value, or raises ValueError whose message follows the field name ("is too long ...").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from fediverse_biz.business import sectors
from fediverse_biz.text.sanitize import sanitize_plain

__all__ = ["PROFILE_FIELDS", "check_value", "clean_remote_values"]

# The limits are generous for honest data and small enough for a directory row; a company name longer
# than 200 characters is not one (the longest registered ones are around 150).
MAX_LEGAL_NAME: Final = 200
MAX_PLACE: Final = 100  # region, city
MAX_WEBSITE: Final = 255  # also fits a Mastodon profile field value (255), where it is mirrored
MAX_EMAIL: Final = 254  # RFC 5321 path limit
MAX_REGISTRATION_ID: Final = 64
MAX_LANGUAGES: Final = 20
# ASCII local part (SMTPUTF8 addresses are rare and many peers cannot send to them) and a host name.
_EMAIL_RE: Final = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@([^\s@]{1,253})$")
_HOST_LABEL_RE: Final = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# VAT and tax numbers as written on invoices: a country prefix and letters/digits (DE123456789,
# FRXX999999999, CHE123456789MWST); spaces, dots and dashes are presentation and are removed.
_VAT_RE: Final = re.compile(r"^[A-Z]{2}[A-Z0-9]{2,18}$")

Checker = Callable[[Any], Any]


def _text(max_len: int) -> Checker:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be text")
        cleaned = sanitize_plain(value, len(value))  # one line, no control or bidi-override characters
        if len(cleaned) > max_len:
            raise ValueError(f"is too long (maximum is {max_len} characters)")
        return cleaned

    return check


def check_website(value: Any, *, allow_http: bool) -> str:
    """An absolute https URL (http too on a development instance), without credentials or spaces."""
    if not isinstance(value, str):
        raise ValueError("must be text")
    url = value.strip()
    if len(url) > MAX_WEBSITE:
        raise ValueError(f"is too long (maximum is {MAX_WEBSITE} characters)")
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"must be an {' or '.join(schemes)} URL")
    if any(c.isspace() or not c.isprintable() for c in url) or not parts.hostname or "@" in parts.netloc:
        raise ValueError("is not a valid URL")
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    return url


def check_email(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    address = value.strip()
    match = _EMAIL_RE.match(address) if len(address) <= MAX_EMAIL else None
    if match is None:
        raise ValueError("is not a valid e-mail address")
    try:
        host = match.group(1).encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("is not a valid e-mail address") from None
    labels = host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL_RE.match(label) for label in labels) or labels[-1].isdigit():
        raise ValueError("is not a valid e-mail address")
    return address


def check_vat_id(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    compact = re.sub(r"[\s.\-]", "", value).upper() if len(value) <= 64 else value
    if not _VAT_RE.match(compact):
        raise ValueError("is not a VAT number (a country prefix and 2 to 18 letters or digits)")
    return compact


def check_founded_year(value: Any) -> int:
    if isinstance(value, str) and 0 < len(value.strip()) <= 4 and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("must be a year")
    if value > datetime.now(UTC).year:
        raise ValueError(f"{value} is in the future")
    if value < 1:
        raise ValueError("must be a year")
    return value


def check_languages(value: Any) -> tuple[str, ...]:
    """ISO 639-1 codes from a list or a comma-separated string; BCP 47 tags keep their language ("en-GB")."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("must be a list of ISO 639-1 codes")
    codes: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("must be a list of ISO 639-1 codes")
        primary = item.strip().split("-", 1)[0] if len(item) <= 35 else item  # 35: RFC 5646's longest tag
        if primary:
            codes.append(sectors.check_language(primary))
    unique = tuple(dict.fromkeys(codes))
    if len(unique) > MAX_LANGUAGES:
        raise ValueError(f"is too long (maximum is {MAX_LANGUAGES} languages)")
    return unique


_CHECKS: Final[dict[str, Checker]] = {
    "legal_name": _text(MAX_LEGAL_NAME),
    "sector": sectors.check_sector,
    "country": sectors.check_country,
    "region": _text(MAX_PLACE),
    "city": _text(MAX_PLACE),
    "website": lambda value: check_website(value, allow_http=False),
    "size_band": sectors.check_size_band,
    "founded_year": check_founded_year,
    "languages": check_languages,
    "contact_email": check_email,
    "registration_id": _text(MAX_REGISTRATION_ID),
    "vat_id": check_vat_id,
}
PROFILE_FIELDS: Final = tuple(_CHECKS)


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, list) and not value)


def check_value(name: str, value: Any, *, allow_http: bool = False) -> Any:
    """The stored form of `value` for profile field `name`: None (or () for languages) clears it.

    Raises KeyError for an unknown field name and ValueError for a value that breaks its rule.
    """
    check = _CHECKS[name]
    if _is_blank(value):
        return () if name == "languages" else None
    if name == "website":
        return check_website(value, allow_http=allow_http)
    result = check(value)
    # A text value made only of characters that cleaning removes (controls, bidi overrides) is empty.
    return result if result != "" else None


def clean_remote_values(claims: Mapping[str, Any], *, allow_http: bool = False) -> dict[str, Any]:
    """Validated values from organization_from_ap's candidates; anything that breaks a rule is dropped.

    Dropped, not cut: a 10 KB legal name is junk or an attack, and half of it is no better.
    `allow_http`: an http website is kept from a peer that itself runs on plain http (a development
    server, as the local rule allows one on ours), so its link can be shown and checked.
    """
    values: dict[str, Any] = {}
    for name, raw in claims.items():
        try:
            if name == "sector":
                values[name] = sectors.section_for_isic(raw)  # peers may send a finer ISIC code
            elif name == "employees":
                low, high = raw
                values["size_band"] = sectors.size_band_for_employees(low, high)
            elif name == "languages":  # one unknown code costs that code, not the whole list
                codes = [c for c in (_remote_language(item) for item in raw) if c is not None]
                values[name] = tuple(dict.fromkeys(codes))[:MAX_LANGUAGES]
            elif name in _CHECKS:
                values[name] = check_value(name, raw, allow_http=allow_http)
        except (ValueError, TypeError):
            continue
    return {name: value for name, value in values.items() if value not in (None, ())}


def _remote_language(tag: Any) -> str | None:
    try:
        languages = check_languages([tag])
    except ValueError:
        return None
    return languages[0] if languages else None
