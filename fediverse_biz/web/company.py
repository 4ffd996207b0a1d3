"""The structured company profile as the booth and the directory show it: labels instead of codes.

The profile itself (business/organizations.py) stores codes — a NACE section letter, an ISO country
code, ISO language codes, a size band; business/sectors.py names them. This module only turns one
into the other for a page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fediverse_biz.business import organizations
from fediverse_biz.business.organizations import OrgProfile
from fediverse_biz.business.sectors import COUNTRIES, LANGUAGES, SECTORS
from fediverse_biz.db.executor import Executor

_SIZE_LABELS = {  # the EU SME classes (sectors.SIZE_BANDS), as a visitor reads them
    "1-9": "1 to 9 employees",
    "10-49": "10 to 49 employees",
    "50-249": "50 to 249 employees",
    "250+": "250 or more employees",
}


@dataclass(frozen=True)
class CompanyView:
    legal_name: str | None
    sector: str | None  # the label
    sector_code: str | None
    location: str | None  # "City, Region, Country"
    country_code: str | None
    website: str | None
    website_verified_at: datetime | None
    size: str | None
    founded: int | None
    languages: tuple[str, ...]
    contact_email: str | None
    registration_id: str | None
    vat_id: str | None

    @property
    def summary(self) -> str:
        """One line for link previews: "Manufacturing · Lyon, France"."""
        return " · ".join(part for part in (self.sector, self.location) if part)


def company_view(profile: OrgProfile) -> CompanyView:
    sector, country = profile.sector, profile.country
    place = [profile.city, profile.region, COUNTRIES.get(country, country) if country else None]
    return CompanyView(
        legal_name=profile.legal_name,
        sector=SECTORS.get(sector, sector) if sector else None,
        sector_code=sector,
        location=", ".join(p for p in place if p) or None,
        country_code=country,
        website=profile.website,
        website_verified_at=profile.website_verified_at,
        size=_SIZE_LABELS.get(profile.size_band or "", profile.size_band),
        founded=profile.founded_year,
        languages=tuple(LANGUAGES.get(code, code) for code in profile.languages),
        contact_email=profile.contact_email,
        registration_id=profile.registration_id,
        vat_id=profile.vat_id,
    )


async def company_of(conn: Executor, actor: Mapping[str, Any]) -> CompanyView | None:
    """The company profile of an Organization actor; None for people and for empty profiles."""
    return (await companies_of(conn, [actor])).get(actor["id"])


async def companies_of(conn: Executor, actors: Sequence[Mapping[str, Any]]) -> dict[int, CompanyView]:
    """Company profiles of the organizations among `actors`, by actor id, in one query."""
    wanted = [a["id"] for a in actors if a["actor_type"] == "Organization"]
    profiles = await organizations.get_profiles(conn, wanted) if wanted else {}
    return {actor_id: company_view(p) for actor_id, p in profiles.items() if not p.is_empty}
