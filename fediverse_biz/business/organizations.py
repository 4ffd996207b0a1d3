"""Structured company profiles of Organization actors: read, edit (local), store (remote).

The profile lives in `organization_profiles`, one row per organization, local or remote, indexed for
the directory. A local edit is one transaction that also
- mirrors the key facts into the Mastodon profile fields (_profile_fields.py),
- keeps a render-ready copy in `actors.extra["organization"]`, from which activitypub/actors.py renders
  the schema.org properties of the actor document (so every renderer of the row shows them),
- records the edit in the audit log, queues Update(actor) to the followers' servers and, when a link
  changed, the `verify_links` job (verified_links.py).
A peer's profile is parsed from its actor document whenever we store one (remote_actors, the inbox's
Update handler); a value that breaks a rule is dropped, never stored (docs/organizations.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final

import asyncpg

from fediverse_biz.activitypub.actors import actor_to_ap
from fediverse_biz.activitypub.organizations import organization_from_ap
from fediverse_biz.business import audit, roles, sectors
from fediverse_biz.business._profile_fields import facts, merge_fields
from fediverse_biz.business._profile_values import PROFILE_FIELDS, check_value, clean_remote_values
from fediverse_biz.core import outbound
from fediverse_biz.core.errors import DomainError, forbidden, not_found
from fediverse_biz.db.executor import Executor
from fediverse_biz.jobs import queue
from fediverse_biz.urls import LocalUrls

__all__ = [
    "PROFILE_FIELDS",
    "VERIFY_LINKS",
    "OrgProfile",
    "ProfileInvalid",
    "can_edit",
    "get_profile",
    "get_profiles",
    "store_remote_profile",
    "update_profile",
]


VERIFY_LINKS: Final = "verify_links"  # the job kind of business/verified_links.py


class ProfileInvalid(DomainError):
    """A profile value breaks its rule; `field` names it (a web form marks that input)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"Validation failed: {field} {message}", 422)
        self.field = field


@dataclass(frozen=True)
class OrgProfile:
    """One organization's structured profile. Codes, not labels: sectors.py names them."""

    actor_id: int
    legal_name: str | None = None
    sector: str | None = None  # NACE Rev. 2 section letter
    country: str | None = None  # ISO 3166-1 alpha-2
    region: str | None = None
    city: str | None = None
    website: str | None = None
    website_verified_at: datetime | None = None
    size_band: str | None = None  # a key of sectors.SIZE_BANDS
    founded_year: int | None = None
    languages: tuple[str, ...] = ()  # ISO 639-1
    contact_email: str | None = None
    registration_id: str | None = None
    vat_id: str | None = None
    updated_at: datetime | None = None

    def values(self) -> dict[str, Any]:
        """The editable values (PROFILE_FIELDS), JSON-ready."""
        return {name: (list(self.languages) if name == "languages" else getattr(self, name)) for name in PROFILE_FIELDS}

    @property
    def is_empty(self) -> bool:
        return not any(self.values().values())


_COLUMNS: Final = tuple(f.name for f in fields(OrgProfile))


def _profile(row: Mapping[str, Any]) -> OrgProfile:
    values = {name: row[name] for name in _COLUMNS if name != "languages"}
    return OrgProfile(**values, languages=tuple(row["languages"]))


async def get_profile(conn: Executor, actor_id: int) -> OrgProfile | None:
    """The stored profile of an organization, local or remote; None when it has none."""
    row = await conn.fetchrow("SELECT * FROM organization_profiles WHERE actor_id = $1", actor_id)
    return _profile(row) if row is not None else None


async def get_profiles(conn: Executor, actor_ids: Sequence[int]) -> dict[int, OrgProfile]:
    """Profiles of many organizations at once (a directory page), by actor id."""
    rows = await conn.fetch("SELECT * FROM organization_profiles WHERE actor_id = ANY($1::bigint[])", list(actor_ids))
    return {row["actor_id"]: _profile(row) for row in rows}


async def can_edit(conn: Executor, organization_id: int, user_id: int | None) -> bool:
    """Whether the user is an owner or a manager of the organization (the only ones who edit it)."""
    if user_id is None:
        return False
    role = await conn.fetchval(
        "SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2", organization_id, user_id
    )
    return roles.member_may(role, roles.Permission.PROFILE)


def check_changes(changes: Mapping[str, Any], *, allow_http: bool = False) -> dict[str, Any]:
    """Cleaned values for the fields in `changes` (None clears one); ProfileInvalid for the first bad one."""
    if not isinstance(changes, Mapping):
        raise DomainError("Validation failed: the profile must be an object of fields", 422)
    cleaned: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in PROFILE_FIELDS:
            raise ProfileInvalid(str(name)[:50], "is not a profile field")
        try:
            cleaned[name] = check_value(name, value, allow_http=allow_http)
        except ValueError as exc:
            raise ProfileInvalid(name, str(exc)) from None
    return cleaned


# ---- the local edit ------------------------------------------------------------------------------
_UPSERT = f"""
INSERT INTO organization_profiles (actor_id, {", ".join(PROFILE_FIELDS)}, website_verified_at, updated_at)
VALUES ($1, {", ".join(f"${n}" for n in range(2, len(PROFILE_FIELDS) + 2))}, ${len(PROFILE_FIELDS) + 2}, now())
ON CONFLICT (actor_id) DO UPDATE SET
    {", ".join(f"{name} = EXCLUDED.{name}" for name in PROFILE_FIELDS)},
    website_verified_at = EXCLUDED.website_verified_at, updated_at = now()
RETURNING *
"""


def _published_copy(profile: OrgProfile) -> dict[str, Any]:
    """What actors.extra["organization"] keeps for activitypub/organizations.organization_to_ap."""
    copy = profile.values()
    copy["employees"] = list(sectors.employee_range(profile.size_band)) if profile.size_band else None
    return copy


async def update_profile(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    actor_row: Mapping[str, Any],
    editor_user_id: int,
    changes: Mapping[str, Any],
) -> OrgProfile:
    """Apply `changes` ({field: value}; absent fields stay, None or "" clears) to a local organization.

    404 unless `actor_row` is a local, active Organization; 403 unless the editor is one of its owners
    or managers; 422 (ProfileInvalid, naming the field) for an invalid value. One transaction: nothing
    is stored or sent unless everything is.
    """
    # http websites are accepted only when this instance itself is served over http (development and
    # tests on 127.0.0.1, where no certificate exists); a real instance requires https.
    allow_http = urls.base.startswith("http://")
    async with pool.acquire() as conn, conn.transaction():
        actor = await conn.fetchrow(
            """SELECT * FROM actors WHERE id = $1 AND domain IS NULL AND actor_type = 'Organization'
                  AND suspended_at IS NULL FOR UPDATE""",
            actor_row["id"],
        )
        if actor is None:
            raise not_found()
        if not await can_edit(conn, actor["id"], editor_user_id):
            raise forbidden("Only the owner or a manager of this organization may edit its profile")
        cleaned = check_changes(changes, allow_http=allow_http)
        before = await get_profile(conn, actor["id"]) or OrgProfile(actor["id"])
        values = {**before.values(), **cleaned}
        website_changed = values["website"] != before.website
        verified_at = None if website_changed else before.website_verified_at
        row = await conn.fetchrow(_UPSERT, actor["id"], *(values[name] for name in PROFILE_FIELDS), verified_at)
        profile = _profile(row)
        merged = merge_fields(
            actor["fields"] or [], facts(before.values()), facts(profile.values()), website_verified_at=verified_at
        )
        after = await conn.fetchrow(
            """UPDATE actors SET fields = $2::text::jsonb,
                      extra = extra || jsonb_build_object('organization', $3::text::jsonb), updated_at = now()
                WHERE id = $1 RETURNING *""",
            actor["id"],
            json.dumps(merged),
            json.dumps(_published_copy(profile)),
        )
        changed = sorted(name for name in PROFILE_FIELDS if profile.values()[name] != before.values()[name])
        if changed:
            await audit.record(conn, actor["id"], editor_user_id, "profile_update", "profile", {"fields": changed})
        if changed or merged != actor["fields"]:
            moved_to = None
            if after["moved_to_actor_id"] is not None:
                moved_to = await conn.fetchval("SELECT uri FROM actors WHERE id = $1", after["moved_to_actor_id"])
            await outbound.publish_actor_update(conn, after, actor_to_ap(after, urls, moved_to=moved_to))
        if profile.website and verified_at is None:
            # A new website, or one that did not link back yet: saving again is how a member asks for
            # another check after adding the rel="me" link to their site.
            await queue.enqueue(conn, VERIFY_LINKS, {"actor_id": actor["id"]})
    return profile


# ---- remote profiles -----------------------------------------------------------------------------
async def store_remote_profile(conn: Executor, actor_id: int, doc: Mapping[str, Any]) -> OrgProfile | None:
    """Store (or remove) the profile a peer's actor document states; returns what was kept.

    Called wherever a remote actor document is stored (remote_actors._store, the inbox's Update(actor)).
    The document is the truth: a property it no longer has is cleared, and an actor that is no longer
    an Organization, or states nothing valid, keeps no profile row. Never touches a local actor.
    """
    types = doc.get("type")
    is_organization = "Organization" in (types if isinstance(types, list) else [types])
    on_http = str(doc.get("id", "")).startswith("http://")  # a development peer: its website may be http too
    values = clean_remote_values(organization_from_ap(doc), allow_http=on_http) if is_organization else {}
    if not values:
        await conn.execute(
            """DELETE FROM organization_profiles p USING actors a
                WHERE p.actor_id = $1 AND a.id = p.actor_id AND a.domain IS NOT NULL""",
            actor_id,
        )
        return None
    row = await conn.fetchrow(
        f"""INSERT INTO organization_profiles (actor_id, {", ".join(PROFILE_FIELDS)}, updated_at)
            SELECT a.id, {", ".join(f"${n}" for n in range(2, len(PROFILE_FIELDS) + 2))}, now()
              FROM actors a WHERE a.id = $1 AND a.domain IS NOT NULL
            ON CONFLICT (actor_id) DO UPDATE SET
                {", ".join(f"{name} = EXCLUDED.{name}" for name in PROFILE_FIELDS)}, updated_at = now(),
                -- our own finding (verified_links.py): kept while the website stays, gone when it changes
                website_verified_at = CASE WHEN organization_profiles.website = EXCLUDED.website
                                           THEN organization_profiles.website_verified_at END
            RETURNING *""",
        actor_id,
        *(values.get(name, [] if name == "languages" else None) for name in PROFILE_FIELDS),
    )
    return _profile(row) if row is not None else None
