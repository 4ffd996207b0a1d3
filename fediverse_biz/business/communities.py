"""Communities ("halls"): local FEP-1b12 Group actors at `/c/{name}` — create, edit, rules, moderators.

A hall is a `Group` actor (the row in `actors`, with its keys, avatar and header) plus its row in
`communities` (title, description, sector and region tags, rules, open or approval membership).
Every edit is one transaction that also
- mirrors what peers show into the actor: display name = title, note = description and rules (Mastodon
  shows `summary`; Lemmy shows it as the sidebar), profile fields = sector, region, membership, and
  `locked` = approval membership, so a Follow waits for a moderator exactly like a locked account's;
- records the change in the hall's audit log (business/audit.py, the hall's actor id as "organization");
- queues Update(actor) to the hall's followers' servers.
Joining is following (core/follows.py, the inbox); membership decisions, bans, removals and pins live
in _hall_moderation.py; relaying posts is federation/group_relay.py. docs/communities.md explains it all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from fediverse_biz.activitypub.actors import actor_to_ap
from fediverse_biz.business import audit, sectors
from fediverse_biz.business._hall_values import (
    EDITABLE,
    MEMBERSHIPS,
    HallInvalid,
    check_changes,
    checked,
    note_html,
    profile_fields,
)
from fediverse_biz.core import accounts, outbound
from fediverse_biz.core.errors import forbidden, not_found
from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.db.executor import Executor
from fediverse_biz.urls import LocalUrls

__all__ = [
    "CREATION_MODES",
    "EDITABLE",
    "MEMBERSHIPS",
    "Acting",
    "Hall",
    "HallInvalid",
    "create_hall",
    "edit_hall",
    "find_hall",
    "get_hall",
    "hall_of",
    "hall_threads",
    "is_moderator",
    "list_halls",
    "members_count",
    "moderators",
    "require_moderator",
    "valid_name",
]


CREATION_MODES: Final = ("any", "admins")  # settings.community_creation


@dataclass(frozen=True)
class Acting:
    """Who asks: the account a request acts as (a person or an organization) and the user behind it.
    Instance admins may moderate every local hall (FEP-1b12: same-server admin actions are accepted)."""

    actor_id: int
    user_id: int
    admin: bool = False


@dataclass(frozen=True)
class Hall:
    actor: asyncpg.Record  # the Group actor row
    title: str
    description: str
    sector: str | None
    region: str | None
    rules: tuple[str, ...]
    membership: str
    created_at: datetime
    updated_at: datetime

    @property
    def id(self) -> int:
        return int(self.actor["id"])

    @property
    def name(self) -> str:
        return str(self.actor["username"])


def hall_of(status_row: Any) -> int | None:
    """The Group (actor id) a post belongs to — a local hall or a remote group — or None.

    For other modules (job offers and opportunities list a hall's posts on its board): the column is
    set only once a local hall accepted the post, or when a followed remote group announced it, or when
    a member here posted to a remote group. Works on any row or mapping of `statuses`.
    """
    try:
        value = status_row["community_id"]
    except (KeyError, TypeError, IndexError):
        return None
    return int(value) if value is not None else None


# ---- reading -------------------------------------------------------------------------------------
_SELECT: Final = """SELECT c.title, c.description, c.sector, c.region, c.rules, c.membership,
                           c.created_at AS hall_created_at, c.updated_at AS hall_updated_at, a.*
                      FROM communities c JOIN actors a ON a.id = c.actor_id"""


def _hall(row: Mapping[str, Any], actor: asyncpg.Record) -> Hall:
    return Hall(
        actor=actor,
        title=row["title"],
        description=row["description"],
        sector=row["sector"],
        region=row["region"],
        rules=tuple(row["rules"]),
        membership=row["membership"],
        created_at=row["hall_created_at"],
        updated_at=row["hall_updated_at"],
    )


async def _halls(conn: Executor, where: str, *args: Any) -> list[Hall]:
    rows = await conn.fetch(f"{_SELECT} WHERE {where}", *args)
    if not rows:
        return []
    actors = {
        r["id"]: r
        for r in await conn.fetch("SELECT * FROM actors WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
    }
    return [_hall(r, actors[r["id"]]) for r in rows]


async def get_hall(conn: Executor, actor_id: int | None) -> Hall | None:
    """A local hall by its actor id (suspended ones too: callers answer 410 or hide them)."""
    if actor_id is None:
        return None
    found = await _halls(conn, "c.actor_id = $1", actor_id)
    return found[0] if found else None


def valid_name(name: str) -> bool:
    """Whether `name` can be a hall's name: checked before any query, since a path may hold anything,
    NUL included, which PostgreSQL refuses in text."""
    return bool(accounts.USERNAME_RE.fullmatch(name or ""))


async def find_hall(conn: Executor, name: str) -> Hall | None:
    if not valid_name(name):
        return None
    found = await _halls(conn, "lower(a.username) = lower($1) AND a.domain IS NULL", name)
    return found[0] if found else None


async def list_halls(
    conn: Executor, *, sector: str | None = None, q: str | None = None, offset: int = 0, limit: int = 40
) -> list[Hall]:
    """Local halls that are not suspended, newest first; `sector` a NACE letter, `q` text in the title."""
    sector_code = checked("sector", sector, sectors.check_sector) if sector else None
    pattern = None
    if q and q.strip():
        text = q.strip()[:100].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{text}%"
    return await _halls(
        conn,
        """a.suspended_at IS NULL AND ($1::text IS NULL OR c.sector = $1)
           AND ($2::text IS NULL OR c.title ILIKE $2 OR a.username ILIKE $2)
           ORDER BY a.id DESC OFFSET $3 LIMIT $4""",
        sector_code,
        pattern,
        max(offset, 0),
        min(max(limit, 1), 80),
    )


async def hall_threads(conn: Executor, hall_id: int, page: Page) -> list[int]:
    """Ids of a group's threads (not replies), public and published, newest first: the hall page, its feed
    and GET /api/v1/communities/{id}/statuses (Lemmy's post list). Works for remote groups too."""
    where, args, order = keyset(page, "id", 3)
    rows = await conn.fetch(
        f"""SELECT id FROM statuses
             WHERE community_id = $1 AND reblog_of_id IS NULL AND in_reply_to_uri IS NULL
               AND visibility = 'public' AND approval_state = 'published' {where}
             ORDER BY {order} LIMIT $2""",
        hall_id,
        page.limit,
        *args,
    )
    return [r["id"] for r in newest_first(list(rows), page)]


async def members_count(conn: Executor, hall_id: int) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM follows WHERE target_actor_id = $1", hall_id))


async def moderators(conn: Executor, hall_id: int) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT a.* FROM community_moderators m JOIN actors a ON a.id = m.actor_id
                WHERE m.community_id = $1 ORDER BY m.created_at, a.id""",
            hall_id,
        )
    )


async def is_moderator(conn: Executor, hall_id: int, actor_id: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM community_moderators WHERE community_id = $1 AND actor_id = $2", hall_id, actor_id
        )
    )


async def require_moderator(conn: Executor, hall_id: int, by: Acting, *, lock: bool = False) -> Hall:
    """The hall, if `by` is one of its listed moderators (or an instance admin); 404 / 403 otherwise."""
    hall = await get_hall(conn, hall_id)
    if hall is None or hall.actor["suspended_at"] is not None:
        raise not_found()
    if not by.admin and not await is_moderator(conn, hall_id, by.actor_id):
        raise forbidden("Only a moderator of this hall may do this")
    if lock:
        await conn.execute("SELECT 1 FROM communities WHERE actor_id = $1 FOR UPDATE", hall_id)
    return hall


async def _mirror(conn: asyncpg.Connection, urls: LocalUrls, domain: str, hall_id: int) -> asyncpg.Record:
    """Write the hall's values into its actor row (what peers and Mastodon apps show); returns the row."""
    row = await conn.fetchrow("SELECT * FROM communities WHERE actor_id = $1", hall_id)
    values = dict(row)
    community = {k: values[k] for k in ("title", "sector", "region", "membership")} | {"rules": list(row["rules"])}
    return await conn.fetchrow(
        """UPDATE actors SET display_name = $2, note = $3, note_source = $4, fields = $5::text::jsonb, locked = $6,
                  extra = extra || jsonb_build_object('community', $7::text::jsonb), updated_at = now()
            WHERE id = $1 RETURNING *""",
        hall_id,
        row["title"],
        note_html(row["description"], row["rules"], urls, domain),
        row["description"],
        json.dumps(profile_fields(values)),
        row["membership"] == "approval",
        json.dumps(community),
    )


# ---- create and edit -----------------------------------------------------------------------------
async def create_hall(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    domain: str,
    by: Acting,
    name: str,
    values: Mapping[str, Any],
    *,
    creation_mode: str = "any",
) -> Hall:
    """A new hall `/c/{name}` whose first moderator is the acting account. `creation_mode` is the
    instance setting: "any" member may create halls, or only "admins". 422 for a taken or invalid name
    or value; nothing is stored unless everything is."""
    if creation_mode == "admins" and not by.admin:
        raise forbidden("Only administrators may create halls on this server")
    try:
        accounts.validate_username(name)
    except accounts.AccountError:
        # Said of the name itself: the message starts with the field's name ("name 'x' is …"), so the
        # account module's own wording ("invalid username 'x': …") would name it twice.
        if accounts.USERNAME_RE.match(name or ""):
            raise HallInvalid("name", f"{name!r} is reserved") from None
        raise HallInvalid("name", f"{name!r} is not a valid name (1 to 30 letters, digits and underscores)") from None
    cleaned = check_changes({"membership": "open", **values})
    if "title" not in cleaned:
        raise HallInvalid("title", "can't be blank")
    async with pool.acquire() as conn, conn.transaction():
        if await accounts.username_taken(conn, name):
            raise HallInvalid("name", f"{name!r} is already taken")
        try:
            actor = await accounts.insert_local_actor(
                conn, urls, name, actor_type="Group", display_name=cleaned["title"]
            )
        except accounts.AccountError:  # taken in the meantime (insert_local_actor's only refusal for a Group)
            raise HallInvalid("name", f"{name!r} is already taken") from None
        await conn.execute(
            """INSERT INTO communities (actor_id, title, description, sector, region, rules, membership,
                                        created_by_user_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            actor["id"],
            cleaned["title"],
            cleaned.get("description", ""),
            cleaned.get("sector"),
            cleaned.get("region"),
            cleaned.get("rules", []),
            cleaned["membership"],
            by.user_id,
        )
        await conn.execute(
            "INSERT INTO community_moderators (community_id, actor_id, added_by_user_id) VALUES ($1, $2, $3)",
            actor["id"],
            by.actor_id,
            by.user_id,
        )
        await _mirror(conn, urls, domain, actor["id"])
        await audit.record(conn, actor["id"], by.user_id, "hall_create", name, {"title": cleaned["title"]})
        hall = await get_hall(conn, actor["id"])
    assert hall is not None
    return hall


async def edit_hall(
    pool: asyncpg.Pool, urls: LocalUrls, domain: str, hall_id: int, by: Acting, changes: Mapping[str, Any]
) -> Hall:
    """Apply `changes` (any of EDITABLE; absent fields stay). Moderators only; audited; peers get
    Update(actor) so Lemmy and Mastodon show the new title, description and rules."""
    cleaned = check_changes(changes)
    async with pool.acquire() as conn, conn.transaction():
        before = await require_moderator(conn, hall_id, by, lock=True)
        old = {f: (list(getattr(before, f)) if f == "rules" else getattr(before, f)) for f in EDITABLE}
        changed = sorted(f for f, v in cleaned.items() if old[f] != v)
        if changed:
            new = old | cleaned
            await conn.execute(
                """UPDATE communities SET title = $2, description = $3, sector = $4, region = $5, rules = $6,
                          membership = $7, updated_at = now() WHERE actor_id = $1""",
                hall_id,
                new["title"],
                new["description"],
                new["sector"],
                new["region"],
                new["rules"],
                new["membership"],
            )
            actor = await _mirror(conn, urls, domain, hall_id)
            await audit.record(conn, hall_id, by.user_id, "hall_edit", before.name, {"fields": changed})
            await outbound.publish_actor_update(conn, actor, actor_to_ap(actor, urls))
        hall = await get_hall(conn, hall_id)
    assert hall is not None
    return hall
