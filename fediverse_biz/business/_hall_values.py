"""A hall's values: their rules (lengths, codes, the membership modes) and how the actor shows them.

Pure: values in, cleaned values or HallInvalid (naming the field, for a 422 and a form) out. Used by
business/communities.py for creation and every edit, so both apply the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Final

from fediverse_biz.business import sectors
from fediverse_biz.core.errors import DomainError
from fediverse_biz.text.content import render_status_html
from fediverse_biz.urls import LocalUrls

__all__ = [
    "EDITABLE",
    "MEMBERSHIPS",
    "HallInvalid",
    "check_changes",
    "checked",
    "note_html",
    "profile_fields",
    "storable",
]

MEMBERSHIPS: Final = ("open", "approval")
MAX_TITLE: Final = 100
MAX_DESCRIPTION: Final = 5000
MAX_REGION: Final = 100
MAX_RULES: Final = 20
MAX_RULE: Final = 500
EDITABLE: Final = ("title", "description", "sector", "region", "rules", "membership")


class HallInvalid(DomainError):
    """A hall value breaks its rule; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"Validation failed: {field} {message}", 422)
        self.field = field


def checked(field: str, value: Any, check: Any) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise HallInvalid(field, str(exc)) from None


def storable(text: str) -> bool:
    """Whether PostgreSQL can keep `text`: JSON allows NUL and lone surrogates, which text refuses."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _text(field: str, value: Any, limit: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise HallInvalid(field, "must be text")
    text = value.strip()
    if not storable(text):
        raise HallInvalid(field, "contains a NUL character or an unpaired surrogate")
    if required and not text:
        raise HallInvalid(field, "can't be blank")
    if len(text) > limit:
        raise HallInvalid(field, f"is too long (maximum is {limit} characters)")
    return text


def _rules(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [line for line in value.splitlines()]
    if not isinstance(value, Sequence):
        raise HallInvalid("rules", "must be a list of texts")
    rules = [_text("rules", rule, MAX_RULE) for rule in value]
    rules = [rule for rule in rules if rule]
    if len(rules) > MAX_RULES:
        raise HallInvalid("rules", f"are too many (maximum is {MAX_RULES})")
    return rules


def check_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned values for the fields in `changes`; HallInvalid for the first bad one or an unknown field."""
    cleaned: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "title":
            cleaned[field] = _text(field, value, MAX_TITLE, required=True)
        elif field == "description":
            cleaned[field] = _text(field, value, MAX_DESCRIPTION)
        elif field == "sector":
            cleaned[field] = checked(field, value, sectors.check_sector) if value not in (None, "") else None
        elif field == "region":
            cleaned[field] = _text(field, value, MAX_REGION) or None
        elif field == "rules":
            cleaned[field] = _rules(value)
        elif field == "membership":
            if value not in MEMBERSHIPS:
                raise HallInvalid(field, f"must be one of {', '.join(MEMBERSHIPS)}")
            cleaned[field] = value
        else:
            raise HallInvalid(str(field)[:50], "is not a hall field")
    return cleaned


def note_html(description: str, rules: Sequence[str], urls: LocalUrls, domain: str) -> str:
    """The actor's `summary`: the description as Mastodon-style HTML, then the rules as a numbered list
    (ol/li are on Mastodon's allow-list, so every peer shows them)."""
    html = render_status_html(description, mentions={}, tag_url=urls.tag, local_domain=domain) if description else ""
    if rules:
        items = "".join(f"<li>{escape(rule)}</li>" for rule in rules)
        html += f"<p><strong>Rules</strong></p><ol>{items}</ol>"
    return html


def profile_fields(values: Mapping[str, Any]) -> list[dict[str, str]]:
    fields = []
    if values.get("sector"):
        label = f"{values['sector']} - {sectors.SECTORS[values['sector']]}"
        fields.append({"name": "Sector", "value": escape(label), "source": label})
    if values.get("region"):
        fields.append({"name": "Region", "value": escape(values["region"]), "source": values["region"]})
    membership = "Open: join by following" if values["membership"] == "open" else "Moderators approve members"
    fields.append({"name": "Membership", "value": escape(membership), "source": membership})
    return fields
