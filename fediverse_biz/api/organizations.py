"""Company profiles (docs/organizations.md): `GET|PATCH /api/v1/organizations/{id}/profile`.

Reading is public, like the profile itself: every value is also in the actor document. Editing needs
`write:accounts` and a user who is an owner or a manager of the organization, whichever actor the
token acts as (a member's personal token works too: the role is what counts). The body is a JSON
object or a form with any subset of the fields; absent fields stay, null or "" clears one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api.auth import optional, require
from fediverse_biz.api.entities import iso
from fediverse_biz.api.errors import NOT_FOUND, ApiError, domain_errors
from fediverse_biz.api.params import read_params
from fediverse_biz.business import organizations
from fediverse_biz.business.organizations import OrgProfile
from fediverse_biz.business.sectors import COUNTRIES, SECTORS
from fediverse_biz.core import profiles
from fediverse_biz.core.ids import parse_id
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

__all__ = ["profile_entity", "routes"]

# Parameters every endpoint may carry that are not profile fields (the token, for clients that put it
# in the query string; Params merges the query into the body).
_TRANSPORT_PARAMS = frozenset({"access_token"})


def profile_entity(actor: Mapping[str, Any], profile: OrgProfile | None) -> dict[str, Any]:
    """The OrganizationProfile entity (schemas/mastodon/organization_profile.schema.json): codes, with
    English labels for the two code lists a client cannot be expected to ship."""
    p = profile or OrgProfile(actor["id"])
    return {
        "account_id": str(actor["id"]),
        "legal_name": p.legal_name,
        "sector": p.sector,
        "sector_label": SECTORS.get(p.sector) if p.sector else None,
        "country": p.country,
        "country_name": COUNTRIES.get(p.country) if p.country else None,
        "region": p.region,
        "city": p.city,
        "website": p.website,
        "website_verified_at": iso(p.website_verified_at),
        "size_band": p.size_band,
        "founded_year": p.founded_year,
        "languages": list(p.languages),
        "contact_email": p.contact_email,
        "registration_id": p.registration_id,
        "vat_id": p.vat_id,
        "updated_at": iso(p.updated_at),
    }


async def _organization_or_404(request: Request) -> Any:
    actor = await profiles.visible_account(services(request).pool, parse_id(request.path_params["id"]))
    if actor is None or actor["actor_type"] != "Organization":
        raise ApiError(404, NOT_FOUND)
    return actor


async def show_profile(request: Request) -> Response:
    await optional(request, "read:accounts")
    actor = await _organization_or_404(request)
    profile = await organizations.get_profile(services(request).pool, actor["id"])
    return JSONResponse(profile_entity(actor, profile))


async def update_profile(request: Request) -> Response:
    viewer = await require(request, "write:accounts")
    assert viewer.user_id is not None
    actor = await _organization_or_404(request)
    async with await read_params(request) as params:
        changes = {name: value for name, value in params.raw.items() if name not in _TRANSPORT_PARAMS}
    with domain_errors():
        profile = await organizations.update_profile(
            services(request).pool, services(request).urls, actor, viewer.user_id, changes
        )
    return JSONResponse(profile_entity(actor, profile))


routes: list[BaseRoute] = [
    Route("/api/v1/organizations/{id}/profile", show_profile, methods=["GET"]),
    Route("/api/v1/organizations/{id}/profile", update_profile, methods=["PATCH"]),
]
