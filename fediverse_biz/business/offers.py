"""Job offers and business opportunities: posting one, indexing what arrives, reading the boards.

An offer is a status: its readable text is what every Mastodon app shows (business/offer_text.py), its
structure lives in statuses.extra["offer"] (rendered to ActivityPub by activitypub/offers.py, to the
client API by api/_offer_entity.py), and one `offers` row indexes it for the boards. `index(offer)` writes
both inside the status's own transaction — through core.statuses' `after_write` hook for local posts,
from core.remote_statuses for peers' posts — so an offer never exists half-written.

Boards list public (or unlisted) published offers, local and federated, newest first; an offer whose
valid_through has passed drops off at read time, with no job to run. docs/offers.md has the details.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg

from fediverse_biz.activitypub import offers as ap_offers
from fediverse_biz.activitypub.notes import ParsedNote
from fediverse_biz.business import communities, offer_text
from fediverse_biz.business._offer_values import (
    FIELDS,
    KINDS,
    Offer,
    OfferInvalid,
    check_offer,
    clean_remote,
    sector_of,
)
from fediverse_biz.core import statuses
from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.db.executor import Executor
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import LocalUrls

__all__ = ["KINDS", "BoardFilter", "Offer", "OfferInvalid", "board", "create", "from_text", "get", "index"]

MAX_QUERY: Final = 100
_COLUMNS: Final = tuple(name for name in FIELDS)

_UPSERT: Final = f"""
INSERT INTO offers (status_id, {", ".join(_COLUMNS)}, local, hall_id)
SELECT s.id, {", ".join(f"${n}" for n in range(2, len(_COLUMNS) + 2))}, s.local, ${len(_COLUMNS) + 2}
  FROM statuses s WHERE s.id = $1
ON CONFLICT (status_id) DO UPDATE SET
    {", ".join(f"{name} = EXCLUDED.{name}" for name in _COLUMNS)}, hall_id = EXCLUDED.hall_id
"""

# "A post into a hall is a post that mentions or addresses the hall's Group actor": the fallback when
# business.communities has not filed the post under a group. Only for remote groups: a local hall files
# the posts it accepts itself (statuses.community_id, set when the post is published or relayed), and
# one it refuses, though it mentions the hall, must not reach the hall's board.
_ADDRESSED_GROUP: Final = """
SELECT a.id FROM statuses s JOIN actors a ON a.actor_type = 'Group' AND a.domain IS NOT NULL
 WHERE s.id = $1
   AND (a.id IN (SELECT actor_id FROM status_mentions WHERE status_id = s.id)
        OR s.ap_to ? a.uri OR s.ap_cc ? a.uri OR a.uri = s.extra->>'audience')
 ORDER BY a.domain IS NOT NULL, a.id LIMIT 1
"""


def _now() -> datetime:
    return datetime.now(UTC)


async def _hall(conn: asyncpg.Connection, status_id: int) -> int | None:
    row = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    found = communities.hall_of(row)
    if found is not None:
        return found
    hall = await conn.fetchval(_ADDRESSED_GROUP, status_id)
    return int(hall) if hall is not None else None


# ---- writing ---------------------------------------------------------------------------------------
def index(offer: Offer | None) -> statuses.StatusHook:
    """The hook that makes status `status_id` this offer (statuses.extra and the board row), or no offer
    at all when `offer` is None (an edit that removed the convention, a peer's edit that dropped it)."""

    async def write(conn: asyncpg.Connection, status_id: int) -> None:
        if offer is None:
            await conn.execute(
                "UPDATE statuses SET extra = extra - 'offer' WHERE id = $1 AND extra ? 'offer'", status_id
            )
            await conn.execute("DELETE FROM offers WHERE status_id = $1", status_id)
            return
        await conn.execute(
            "UPDATE statuses SET extra = extra || jsonb_build_object('offer', $2::text::jsonb) WHERE id = $1",
            status_id,
            json.dumps(offer.to_json()),
        )
        values = [getattr(offer, name) for name in _COLUMNS]
        await conn.execute(_UPSERT, status_id, *values, await _hall(conn, status_id))

    return write


def _handle(actor: Mapping[str, Any]) -> str:
    return f"@{actor['username']}" if actor["domain"] is None else f"@{actor['username']}@{actor['domain']}"


async def create(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    local_domain: str,
    author: asyncpg.Record,
    values: Mapping[str, Any],
    *,
    hall: Mapping[str, Any] | None = None,
    resolver: statuses.MentionResolver | None = None,
    application_id: int | None = None,
    created_by_user_id: int | None = None,
    hold_for_approval: bool = False,
) -> int:
    """Post a structured offer ({field: value}, docs/offers.md) as `author`; returns the status id.

    422 (OfferInvalid, naming the field) before anything is written. `hall`, a Group actor, makes it a
    post into that hall: the post mentions the hall, as any Mastodon user posting there would.
    """
    offer = check_offer(values, now=_now())
    if hall is not None and hall["actor_type"] != "Group":
        raise OfferInvalid("hall_id", "is not a community")
    text = offer_text.render(offer, mentions=_handle(hall) if hall is not None else "")
    draft = statuses.Draft(text=text, visibility="public", extra={"offer": offer.to_json()})
    return await statuses.create(
        pool,
        urls,
        local_domain,
        author,
        draft,
        resolver=resolver,
        application_id=application_id,
        created_by_user_id=created_by_user_id,
        hold_for_approval=hold_for_approval,
        after_write=index(offer),
    )


def from_text(text: str, *, editing: bool = False) -> statuses.StatusHook | None:
    """For a post typed in a Mastodon app: the hook that files it as an offer when its text follows the
    convention (422 naming the line when it follows it wrongly), else None — or, for an edit, the hook
    that removes the offer the earlier text made."""
    offer = offer_text.offer_from_text(text, now=_now())
    if offer is None and not editing:
        return None
    return index(offer)


async def store_remote(conn: asyncpg.Connection, status_id: int, parsed: ParsedNote, *, editing: bool) -> None:
    """Index a peer's post (core.remote_statuses, inside its transaction): the structured properties it
    carries (JobPosting, FEP-0837), else the text convention of its content. Bad values are dropped;
    a post that states no offer is left alone, or stops being one when this is an edit."""
    candidate = ap_offers.offer_from_ap(parsed.raw)
    if candidate is None:
        found = offer_text.parse(html_to_text(parsed.content))
        try:
            candidate = offer_text.to_values(found) if found is not None else None
        except OfferInvalid:
            candidate = None
    elif candidate.get("sector") is not None:
        candidate["sector"] = sector_of(candidate["sector"])
    offer = clean_remote(candidate, published=parsed.published or _now()) if candidate else None
    if offer is not None or editing:
        await index(offer)(conn, status_id)


async def index_remote(conn: asyncpg.Connection, status_id: int, parsed: ParsedNote, editing: bool) -> None:
    """core.remote_statuses' NoteIndexer: what the federation passes when it stores a peer's post."""
    await store_remote(conn, status_id, parsed, editing=editing)


# ---- reading ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BoardFilter:
    """What a board shows. Codes are validated by the caller (a bad one is a 422 in the API, ignored on
    the HTML page); None means "any"."""

    kind: str | None = None
    sector: str | None = None
    region: str | None = None  # "DE" also finds "DE-BY"
    q: str | None = None
    hall: int | None = None
    local: bool = False
    direction: str | None = None
    employment_type: str | None = None
    remote: bool | None = None


_FROM: Final = """
  FROM offers o JOIN statuses s ON s.id = o.status_id JOIN actors a ON a.id = s.actor_id
 WHERE s.reblog_of_id IS NULL"""
_PUBLISHED: Final = """
   AND s.visibility IN ('public', 'unlisted') AND s.approval_state = 'published' AND a.suspended_at IS NULL"""
# The hall of an offer: the one business.communities.hall_of reads now (statuses.community_id, which a
# hall may set after the offer was indexed), else the one found when it was indexed.
# approval_state and created_by_user_id: who may read a held offer (approvals.may_view_held) and what it says.
_SELECT: Final = """SELECT o.*, coalesce(s.community_id, o.hall_id) AS hall, s.actor_id, s.uri, s.url, s.published_at,
       s.approval_state, s.created_by_user_id"""


def _like(text: str) -> str:
    """A visitor's words as an ILIKE pattern: their % and _ literal, and nothing PostgreSQL cannot take
    (NUL, lone surrogates from a JSON-escaped query string)."""
    text = "".join(c for c in text if c != "\x00" and not "\ud800" <= c <= "\udfff")
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def board(
    conn: Executor, filters: BoardFilter, page: Page, *, now: datetime | None = None
) -> list[asyncpg.Record]:
    """Unexpired offers matching `filters`, newest first (keyset paging on the status id)."""
    clauses = ["(o.valid_through IS NULL OR o.valid_through >= $1)"]
    args: list[Any] = [now or _now()]

    def where(sql: str, value: Any) -> None:
        args.append(value)
        clauses.append(sql.replace("?", f"${len(args)}"))

    if filters.kind:
        where("o.kind = ?", filters.kind)
    if filters.sector:
        where("o.sector = ?", filters.sector)
    if filters.region:
        where("(o.region = ? OR o.region LIKE ? || '-%')", filters.region)
    if filters.hall is not None:
        where("coalesce(s.community_id, o.hall_id) = ?", filters.hall)
    if filters.local:
        clauses.append("o.local")
    if filters.direction:
        where("o.direction = ?", filters.direction)
    if filters.employment_type:
        where("o.employment_type = ?", filters.employment_type)
    if filters.remote is not None:
        where("o.remote = ?", filters.remote)
    if filters.q:
        where("(o.title ILIKE ? OR o.description ILIKE ? OR o.location ILIKE ?)", _like(filters.q[:MAX_QUERY]))
    paging, paging_args, order = keyset(page, "o.status_id", len(args) + 1)
    sql = f"{_SELECT}{_FROM}{_PUBLISHED} AND {' AND '.join(clauses)}{paging} ORDER BY {order} LIMIT {int(page.limit)}"
    return newest_first(list(await conn.fetch(sql, *args, *paging_args)), page)


async def get(conn: Executor, status_id: int, *, published_only: bool = True) -> asyncpg.Record | None:
    """One offer anyone may see (expired ones included: a link to it keeps working), or None. With
    published_only=False any offer, held or rejected too: the caller decides who may read it
    (approvals.may_view_held, on the row's actor_id, created_by_user_id and approval_state)."""
    return await conn.fetchrow(
        f"{_SELECT}{_FROM}{_PUBLISHED if published_only else ''} AND o.status_id = $1", status_id
    )


def offer_of(row: Mapping[str, Any]) -> Offer:
    """The Offer of an `offers` row."""
    return Offer(**{name: row[name] for name in _COLUMNS})
