"""The directory: discoverable accounts, local and remote, filtered like a trade-fair catalogue.

One query for both doors (GET /api/v1/directory and the HTML directory page). Who may be listed is
decided here and nowhere else (Mastodon's `Account.discoverable` scope, app/models/account.rb, and
its DirectoriesController): an account that opted in (`discoverable`), not suspended, not the instance
actor, not moved away, not an unapproved or disabled login, not on a blocked domain. A remote actor
is discoverable only if its own document said so (actor_from_ap: absent means no).

Search (`q`): PostgreSQL full text ('simple' configuration, websearch syntax: words, "a phrase", -not,
or) over name, handle, bio, profile fields, legal name and places (the generated `directory_document`
columns, migration 0018), or a substring of a name (display name, username, legal name; trigram
indexes), or a name similar to the words (pg_trgm's word similarity, for a typo). A search is ordered by
rank first, then by the chosen order.

Region (`region`): an ISO 3166-2 code as the boards take it (`_offer_values.check_region`). A
country code ("DE") matches every organization of that country, whatever its region; a subdivision
("DE-BY") matches a profile whose region is that code, its part after the country ("BY", with country
DE) or its name in the standard ("Bayern"), since profiles store the region as the member typed it.

Orders: "active" puts accounts with the most recent published post first (never-posted last), "new"
the accounts this server learned about most recently (our ids are time-sortable), as Mastodon does.
"""

from __future__ import annotations

from typing import Final

import asyncpg
import pycountry

from fediverse_biz.business import sectors
from fediverse_biz.business._offer_values import check_region
from fediverse_biz.core import domain_blocks
from fediverse_biz.core.errors import DomainError
from fediverse_biz.db.executor import Executor

__all__ = ["DEFAULT_LIMIT", "DIRECTORY_TYPES", "MAX_LIMIT", "MAX_QUERY", "ORDERS", "search"]


DIRECTORY_TYPES: Final = ("Person", "Organization", "Group")
ORDERS: Final = ("active", "new")
DEFAULT_LIMIT: Final = 40  # Mastodon's DEFAULT_ACCOUNTS_LIMIT
MAX_LIMIT: Final = 80  # Mastodon: twice the default
MAX_QUERY: Final = 100  # characters of free text; longer is not a name anyone types

_SQL = f"""
SELECT a.* FROM actors a
  LEFT JOIN organization_profiles p ON p.actor_id = a.id
  LEFT JOIN LATERAL (
      SELECT s.published_at FROM statuses s
       WHERE s.actor_id = a.id AND s.approval_state = 'published'
       ORDER BY s.id DESC LIMIT 1
  ) last ON true
 WHERE a.discoverable AND a.suspended_at IS NULL AND NOT a.is_instance_actor AND a.moved_to_actor_id IS NULL
   AND NOT EXISTS (SELECT 1 FROM users u WHERE u.actor_id = a.id AND (NOT u.approved OR u.disabled))
   AND (a.domain IS NULL OR NOT {domain_blocks.blocked_sql("a.domain")})
   AND ($1::text IS NULL OR p.sector = $1)
   AND ($2::text IS NULL OR p.country = $2)
   AND ($3::text IS NULL OR a.actor_type = $3)
   AND ($4::text IS NULL OR a.display_name ILIKE $4 OR a.username ILIKE $4 OR p.legal_name ILIKE $4
        OR a.directory_document @@ websearch_to_tsquery('simple', $8)
        OR p.directory_document @@ websearch_to_tsquery('simple', $8)
        OR $8 <% a.display_name OR $8 <% p.legal_name)
   AND (NOT $5::boolean OR a.domain IS NULL)
   AND ($9::text IS NULL OR CASE WHEN length($9) = 2 THEN p.country = $9 OR upper(p.region) LIKE $9 || '-%'
        ELSE upper(p.region) = $9 OR (p.country = left($9, 2) AND (upper(p.region) = substr($9, 4)
             OR lower(p.region) = lower($10))) END)
 ORDER BY {{order}}
 OFFSET $6 LIMIT $7
"""
# A search's best matches first: words in the name weigh most (setweight A), then the bio, then the
# fields; a name that contains the words or resembles them counts as much as a full-text hit there.
_RANK: Final = """(CASE WHEN $4::text IS NULL THEN 0 ELSE
    ts_rank(a.directory_document, websearch_to_tsquery('simple', $8))
    + coalesce(ts_rank(p.directory_document, websearch_to_tsquery('simple', $8)), 0)
    + greatest(word_similarity($8, a.display_name), coalesce(word_similarity($8, p.legal_name), 0))
    + CASE WHEN a.display_name ILIKE $4 OR a.username ILIKE $4 OR p.legal_name ILIKE $4 THEN 1 ELSE 0 END
 END) DESC"""
_ORDER_BY: Final = {
    "active": "last.published_at DESC NULLS LAST, a.id DESC",
    "new": "a.id DESC",
}


def _invalid(message: str) -> DomainError:
    return DomainError(f"Validation failed: {message}", 422)


def _like_pattern(text: str) -> str:
    # The text is matched literally: % and _ typed by a visitor are characters, not wildcards.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(
    conn: Executor,
    *,
    sector: str | None = None,
    country: str | None = None,
    actor_type: str | None = None,
    q: str | None = None,
    region: str | None = None,
    local_only: bool = False,
    order: str = "active",
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
) -> list[asyncpg.Record]:
    """A page of listable actor rows (`actors.*`), filters combined with AND.

    sector: NACE section letter, country: ISO 3166-1 alpha-2 (any case; both match the structured
    profile, so only organizations with one); actor_type: Person | Organization | Group; q: free text,
    full text over name, handle, bio, fields and company facts, or a substring or near match of a name
    (module docstring); region: ISO 3166-1 country or ISO 3166-2 subdivision; local_only: our accounts only.
    Empty strings mean "no filter". DomainError(422) for an unknown code, type or order, a negative
    offset or a limit outside 1..MAX_LIMIT.
    """
    try:
        sector_code = sectors.check_sector(sector) if sector else None
    except ValueError as exc:
        raise _invalid(f"sector {exc}") from None
    try:
        country_code = sectors.check_country(country) if country else None
    except ValueError as exc:
        raise _invalid(f"country {exc}") from None
    try:
        region_code = check_region(region) if region else None
    except ValueError as exc:
        raise _invalid(f"region {exc}") from None
    if actor_type and actor_type not in DIRECTORY_TYPES:
        raise _invalid(f"type must be one of {', '.join(DIRECTORY_TYPES)}")
    if order not in ORDERS:
        raise _invalid(f"order must be one of {', '.join(ORDERS)}")
    if offset < 0:
        raise _invalid("offset must not be negative")
    if not 1 <= limit <= MAX_LIMIT:
        raise _invalid(f"limit must be between 1 and {MAX_LIMIT}")
    text = "".join(c for c in (q or "") if c != "\x00" and not "\ud800" <= c <= "\udfff").strip().lstrip("@")
    if len(text) > MAX_QUERY:
        raise _invalid(f"q is too long (maximum is {MAX_QUERY} characters)")
    rows = await conn.fetch(
        _SQL.format(order=f"{_RANK}, {_ORDER_BY[order]}"),
        sector_code,
        country_code,
        actor_type or None,
        _like_pattern(text) if text else None,
        local_only,
        offset,
        limit,
        text or None,
        region_code,
        _subdivision_name(region_code),
    )
    return list(rows)


def _subdivision_name(code: str | None) -> str | None:
    if code is None or len(code) <= 2:
        return None
    subdivision = pycountry.subdivisions.get(code=code)
    return str(subdivision.name) if subdivision is not None else None
