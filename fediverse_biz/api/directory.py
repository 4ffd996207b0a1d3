"""`GET /api/v1/directory` (https://docs.joinmastodon.org/methods/directory/) with the business filters of
docs/organizations.md.

Mastodon's parameters — offset, limit (default 40, at most 80, larger values are clamped as Mastodon
does), order=active|new, local — plus `sector`, `country`, `region` (ISO 3166-2, as the boards), `type`
and `q`. Who may be listed is business/directory.py's rule. Organization accounts carry their structured
profile in the extension field `fediverse_biz.organization` (null when they have none); other clients
ignore it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import entities
from fediverse_biz.api.auth import optional
from fediverse_biz.api.errors import domain_errors
from fediverse_biz.api.organizations import profile_entity
from fediverse_biz.api.params import query_params
from fediverse_biz.business import directory as catalogue
from fediverse_biz.business import organizations
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

__all__ = ["routes"]

MAX_OFFSET = 100_000  # deep paging is a crawler, not a visitor; the query cost grows with the offset


async def list_directory(request: Request) -> Response:
    await optional(request, "read:accounts")
    pool, params = services(request).pool, query_params(request)
    limit = params.get_int("limit", catalogue.DEFAULT_LIMIT)
    with domain_errors():
        rows = await catalogue.search(
            pool,
            sector=params.get("sector"),
            country=params.get("country"),
            actor_type=params.get("type"),
            q=params.get("q"),
            region=params.get("region"),
            local_only=params.get_bool("local"),
            order=params.get("order") or "active",
            offset=params.get_int("offset", 0, 0, MAX_OFFSET),
            # Mastodon's limit_param: the absolute value, at most the maximum.
            limit=max(1, min(abs(limit), catalogue.MAX_LIMIT)),
        )
    accounts = await entities.accounts(pool, rows, services(request).urls)
    org_ids = [row["id"] for row in rows if row["actor_type"] == "Organization"]
    found = await organizations.get_profiles(pool, org_ids) if org_ids else {}
    for row, account in zip(rows, accounts, strict=True):
        if row["actor_type"] == "Organization":
            profile = found.get(row["id"])
            account["fediverse_biz"]["organization"] = profile_entity(row, profile) if profile else None
    return JSONResponse(accounts)


routes: list[BaseRoute] = [Route("/api/v1/directory", list_directory, methods=["GET"])]
