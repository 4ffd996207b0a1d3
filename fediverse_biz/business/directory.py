"""The directory: discoverable accounts, local and remote, filtered like a trade-fair catalogue.

One query for both doors (GET /api/v1/directory and the HTML directory page). Who may be listed is
decided here and nowhere else (Mastodon's `Account.discoverable` scope, app/models/account.rb, and
its DirectoriesController): an account that opted in (`discoverable`), not suspended, not the instance
actor, not moved away, not an unapproved or disabled login, not on a blocked domain. A remote actor
is discoverable only if its own document said so (actor_from_ap: absent means no).

Orders: "active" puts accounts with the most recent published post first (never-posted last), "new"
the accounts this server learned about most recently (our ids are time-sortable), as Mastodon does.
"""

from __future__ import annotations

from typing import Final, TypeAlias

import asyncpg

from ..core.errors import DomainError
from . import sectors

__all__ = ["DEFAULT_LIMIT", "DIRECTORY_TYPES", "MAX_LIMIT", "MAX_QUERY", "ORDERS", "search"]

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool

DIRECTORY_TYPES: Final = ("Person", "Organization", "Group")
ORDERS: Final = ("active", "new")
DEFAULT_LIMIT: Final = 40  # Mastodon's DEFAULT_ACCOUNTS_LIMIT
MAX_LIMIT: Final = 80  # Mastodon: twice the default
MAX_QUERY: Final = 100  # characters of free text; longer is not a name anyone types

_SQL = """
SELECT a.* FROM actors a
  LEFT JOIN organization_profiles p ON p.actor_id = a.id
  LEFT JOIN LATERAL (
      SELECT s.published_at FROM statuses s
       WHERE s.actor_id = a.id AND s.approval_state = 'published'
       ORDER BY s.id DESC LIMIT 1
  ) last ON true
 WHERE a.discoverable AND a.suspended_at IS NULL AND NOT a.is_instance_actor AND a.moved_to_actor_id IS NULL
   AND NOT EXISTS (SELECT 1 FROM users u WHERE u.actor_id = a.id AND (NOT u.approved OR u.disabled))
   AND (a.domain IS NULL OR NOT EXISTS (SELECT 1 FROM domain_blocks d WHERE d.domain = a.domain))
   AND ($1::text IS NULL OR p.sector = $1)
   AND ($2::text IS NULL OR p.country = $2)
   AND ($3::text IS NULL OR a.actor_type = $3)
   AND ($4::text IS NULL OR a.display_name ILIKE $4 OR a.username ILIKE $4 OR p.legal_name ILIKE $4)
   AND (NOT $5::boolean OR a.domain IS NULL)
 ORDER BY {order}
 OFFSET $6 LIMIT $7
"""
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
    conn: Conn,
    *,
    sector: str | None = None,
    country: str | None = None,
    actor_type: str | None = None,
    q: str | None = None,
    local_only: bool = False,
    order: str = "active",
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
) -> list[asyncpg.Record]:
    """A page of listable actor rows (`actors.*`), filters combined with AND.

    sector: NACE section letter, country: ISO 3166-1 alpha-2 (any case; both match the structured
    profile, so only organizations with one); actor_type: Person | Organization | Group; q: free text,
    case-insensitive substring of display name, username or legal name; local_only: our accounts only.
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
    if actor_type and actor_type not in DIRECTORY_TYPES:
        raise _invalid(f"type must be one of {', '.join(DIRECTORY_TYPES)}")
    if order not in ORDERS:
        raise _invalid(f"order must be one of {', '.join(ORDERS)}")
    if offset < 0:
        raise _invalid("offset must not be negative")
    if not 1 <= limit <= MAX_LIMIT:
        raise _invalid(f"limit must be between 1 and {MAX_LIMIT}")
    text = (q or "").strip().lstrip("@")
    if len(text) > MAX_QUERY:
        raise _invalid(f"q is too long (maximum is {MAX_QUERY} characters)")
    rows = await conn.fetch(
        _SQL.format(order=_ORDER_BY[order]),
        sector_code,
        country_code,
        actor_type or None,
        _like_pattern(text) if text else None,
        local_only,
        offset,
        limit,
    )
    return list(rows)
