"""Mirroring a company profile into the Mastodon profile fields (`actors.fields`).

Mastodon clients show the `attachment` PropertyValues of an actor and nothing else of a company
profile, and they offer at most 4 fields (Mastodon's client limit, core/profiles.MAX_FIELDS). So the
members' own fields keep their places and the key facts fill the free ones, in this order: Website,
Sector, Location, Founded, Employees. Every fact is also in the schema.org properties, which have no
such limit (docs/organizations.md).

A mirrored entry carries FACT_KEY, so the next profile edit can replace it. Mastodon apps send all
fields back when a member edits their own; an entry that still reads exactly like the fact it was is
recognised as the mirror (and replaced), one that was changed has become the member's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from fediverse_biz.business import sectors
from fediverse_biz.core.profiles import MAX_FIELDS
from fediverse_biz.text.content import render_status_html

__all__ = ["FACT_KEY", "Fact", "facts", "mastodon_time", "merge_fields"]

FACT_KEY: Final = "organization_fact"
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


class Fact(NamedTuple):
    name: str
    text: str  # what a client's edit form shows (the field's `source`)
    html: str  # what Account.fields and the actor document show


def _escaped(name: str, text: str) -> Fact:
    return Fact(name, text, text.translate(_ESCAPES))


def _link(url: str) -> str:
    # The same HTML as a link a member types in a field (core/profiles.py): Mastodon's shortened link,
    # unwrapped from its paragraph, with rel="me" so the linked site can confirm the profile.
    html = render_status_html(url, mentions={}, tag_url=lambda tag: "", local_domain="")
    html = html.removeprefix("<p>").removesuffix("</p>")
    return html.replace(' rel="nofollow noopener noreferrer"', ' rel="me nofollow noopener noreferrer"')


def facts(profile: Mapping[str, Any]) -> list[Fact]:
    """The facts a profile (keys as in organization_profiles) shows as fields, most important first."""
    found: list[Fact] = []
    if profile.get("website"):
        found.append(Fact("Website", profile["website"], _link(profile["website"])))
    if profile.get("sector"):
        found.append(_escaped("Sector", f"{sectors.SECTORS[profile['sector']]} (NACE {profile['sector']})"))
    country = sectors.COUNTRIES.get(profile.get("country") or "")
    place = ", ".join(p for p in (profile.get("city"), profile.get("region"), country) if p)
    if place:
        found.append(_escaped("Location", place))
    if profile.get("founded_year"):
        found.append(_escaped("Founded", str(profile["founded_year"])))
    if profile.get("size_band"):
        found.append(_escaped("Employees", profile["size_band"]))
    return found


def _key(name: Any, text: Any) -> tuple[str, str]:
    return (str(name).casefold(), str(text))


def _source_key(entry: Mapping[str, Any]) -> tuple[str, str]:
    # `source` is what a member typed (local fields); `value` is all an older entry may have.
    return _key(entry.get("name", ""), entry.get("source", entry.get("value", "")))


def merge_fields(
    current: Sequence[Mapping[str, Any]],
    old_facts: Sequence[Fact],
    new_facts: Sequence[Fact],
    *,
    website_verified_at: datetime | None,
) -> list[dict[str, Any]]:
    """The members' own fields, then as many new facts as fit in MAX_FIELDS.

    A fact never repeats the name of an own field (the member's wins). Only the website can be
    verified; its fact carries the profile's verification time.
    """
    mirrors = {_key(f.name, f.text) for f in old_facts}
    own = [dict(entry) for entry in current if not entry.get(FACT_KEY) and _source_key(entry) not in mirrors]
    taken = {str(entry.get("name", "")).casefold() for entry in own}
    merged = own
    for fact in new_facts:
        if len(merged) >= MAX_FIELDS:
            break
        if fact.name.casefold() in taken:
            continue
        verified = mastodon_time(website_verified_at) if fact.name == "Website" and website_verified_at else None
        merged.append(
            {"name": fact.name, "value": fact.html, "source": fact.text, "verified_at": verified, FACT_KEY: True}
        )
    return merged


def mastodon_time(moment: datetime) -> str:
    """`verified_at` as Account.fields carries it: UTC with milliseconds (api/entities.iso's format)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
