"""The team of an organization: members and their roles, and invitation links to join it.

Every change is one transaction that first locks the organization's member rows, so two owners
demoting each other at the same moment cannot leave the organization without an owner. Who may
change what comes from business/roles.py; each change is written to the audit log in the same
transaction.

Invitations: a random 256-bit token, shown once (in the link `/invitations/{token}`) and stored as
its SHA-256; it grants one role in one organization, once, until it expires or is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from fediverse_biz.business import audit, roles
from fediverse_biz.core.errors import DomainError, forbidden, not_found
from fediverse_biz.db.executor import Executor

INVITATION_LIFETIME = 7 * 24 * 3600  # a week: long enough to reach someone on holiday, short enough to forget
MIN_LIFETIME, MAX_LIFETIME = 300, 30 * 24 * 3600
LAST_OWNER = "An organization keeps at least one owner: make someone else owner first"


@dataclass(frozen=True)
class NewInvitation:
    id: int
    token: str  # only here: the database keeps its hash
    role: str
    expires_at: datetime


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# ---- reading -----------------------------------------------------------------------------------
async def organization(conn: Executor, organization_id: int | None) -> asyncpg.Record | None:
    """A local, not suspended Organization actor."""
    if organization_id is None:
        return None
    return await conn.fetchrow(
        """SELECT * FROM actors WHERE id = $1 AND domain IS NULL AND actor_type = 'Organization'
              AND suspended_at IS NULL""",
        organization_id,
    )


async def member_role(conn: Executor, organization_id: int, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    role: str | None = await conn.fetchval(
        "SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2", organization_id, user_id
    )
    return role


async def members(conn: Executor, organization_id: int) -> list[asyncpg.Record]:
    """The team, strongest role first: user id, role, since when, and the member's own actor."""
    return await conn.fetch(
        """SELECT m.user_id, m.role, m.created_at, u.actor_id, a.username
             FROM organization_members m JOIN users u ON u.id = m.user_id JOIN actors a ON a.id = u.actor_id
            WHERE m.organization_id = $1
            ORDER BY array_position($2::text[], m.role), lower(a.username)""",
        organization_id,
        list(roles.ROLES),
    )


async def member(conn: Executor, organization_id: int, user_id: int) -> asyncpg.Record | None:
    for row in await members(conn, organization_id):
        if row["user_id"] == user_id:
            return row
    return None


async def organizations_of(conn: Executor, user_id: int) -> list[asyncpg.Record]:
    """The organizations a user belongs to, with their role in each."""
    return await conn.fetch(
        """SELECT a.*, m.role FROM organization_members m JOIN actors a ON a.id = m.organization_id
            WHERE m.user_id = $1 AND a.suspended_at IS NULL ORDER BY lower(a.username)""",
        user_id,
    )


# ---- changing the team -------------------------------------------------------------------------
async def _lock_team(conn: asyncpg.Connection, organization_id: int) -> dict[int, str]:
    rows = await conn.fetch(
        "SELECT user_id, role FROM organization_members WHERE organization_id = $1 ORDER BY user_id FOR UPDATE",
        organization_id,
    )
    return {r["user_id"]: r["role"] for r in rows}


def _check_role(text: str | None) -> str:
    role = roles.valid_role(text)
    if role is None:
        raise DomainError(f"Validation failed: role must be one of {', '.join(roles.ROLES)}")
    return role


async def _username(conn: asyncpg.Connection, user_id: int) -> str:
    name = await conn.fetchval(
        "SELECT a.username FROM users u JOIN actors a ON a.id = u.actor_id WHERE u.id = $1", user_id
    )
    return str(name)


async def add_member(pool: asyncpg.Pool, organization_id: int, acting_user_id: int, username: str, role: str) -> int:
    """Put an existing local user on the team directly (an owner or manager decides); returns the user id."""
    role = _check_role(role)
    async with pool.acquire() as conn, conn.transaction():
        team = await _lock_team(conn, organization_id)
        if not roles.may_assign(team.get(acting_user_id), role):
            raise forbidden("You may not give this role")
        user_id = await conn.fetchval(
            """SELECT u.id FROM users u JOIN actors a ON a.id = u.actor_id
                WHERE lower(a.username) = lower($1) AND a.domain IS NULL AND NOT u.disabled""",
            (username or "").strip().removeprefix("@"),
        )
        if user_id is None:
            raise DomainError(f"Validation failed: no local user named {username!r}")
        if user_id in team:
            raise DomainError("Validation failed: already a member of this organization", 409)
        await conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, $3)",
            organization_id,
            user_id,
            role,
        )
        await audit.record(
            conn, organization_id, acting_user_id, "add_member", await _username(conn, user_id), {"role": role}
        )
    return int(user_id)


async def change_role(
    pool: asyncpg.Pool, organization_id: int, acting_user_id: int, user_id: int, new_role: str
) -> None:
    new_role = _check_role(new_role)
    async with pool.acquire() as conn, conn.transaction():
        team = await _lock_team(conn, organization_id)
        actor_role, current = team.get(acting_user_id), team.get(user_id)
        if current is None:
            raise not_found()
        if not roles.may_change(actor_role, current) or not roles.may_assign(actor_role, new_role):
            raise forbidden("You may not change this member's role")
        if current == new_role:
            return
        if current == roles.Role.OWNER and list(team.values()).count(roles.Role.OWNER) == 1:
            raise DomainError(LAST_OWNER)
        await conn.execute(
            "UPDATE organization_members SET role = $3 WHERE organization_id = $1 AND user_id = $2",
            organization_id,
            user_id,
            new_role,
        )
        details = {"from": current, "to": new_role}
        await audit.record(
            conn, organization_id, acting_user_id, "role_change", await _username(conn, user_id), details
        )


async def remove_member(pool: asyncpg.Pool, organization_id: int, acting_user_id: int, user_id: int) -> None:
    """Remove a member, or leave when `user_id` is the acting user. Their tokens for the organization
    stop working at once (core.oauth.find_token checks the membership on every use)."""
    async with pool.acquire() as conn, conn.transaction():
        team = await _lock_team(conn, organization_id)
        current = team.get(user_id)
        if current is None or acting_user_id not in team:
            raise not_found()
        leaving = user_id == acting_user_id
        if not leaving and not roles.may_change(team[acting_user_id], current):
            raise forbidden("You may not remove this member")
        if current == roles.Role.OWNER and list(team.values()).count(roles.Role.OWNER) == 1:
            raise DomainError(LAST_OWNER)
        target = await _username(conn, user_id)
        await conn.execute(
            "DELETE FROM organization_members WHERE organization_id = $1 AND user_id = $2", organization_id, user_id
        )
        await audit.record(
            conn, organization_id, acting_user_id, "remove_member", target, {"role": current, "left": leaving}
        )


# ---- invitations -------------------------------------------------------------------------------
async def create_invitation(
    pool: asyncpg.Pool,
    organization_id: int,
    acting_user_id: int,
    role: str,
    lifetime_seconds: int = INVITATION_LIFETIME,
) -> NewInvitation:
    role = _check_role(role)
    if not MIN_LIFETIME <= lifetime_seconds <= MAX_LIFETIME:
        raise DomainError(f"Validation failed: expires_in must be between {MIN_LIFETIME} and {MAX_LIFETIME} seconds")
    token = secrets.token_urlsafe(32)
    async with pool.acquire() as conn, conn.transaction():
        team = await _lock_team(conn, organization_id)
        if not roles.may_assign(team.get(acting_user_id), role):
            raise forbidden("You may not invite members with this role")
        row = await conn.fetchrow(
            """INSERT INTO organization_invitations (organization_id, token_hash, role, created_by_user_id, expires_at)
               VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING id, expires_at""",
            organization_id,
            hash_token(token),
            role,
            acting_user_id,
            lifetime_seconds,
        )
        details = {"role": role, "expires_at": row["expires_at"]}
        await audit.record(conn, organization_id, acting_user_id, "invite", f"invitation {row['id']}", details)
    return NewInvitation(row["id"], token, role, row["expires_at"])


async def open_invitations(conn: Executor, organization_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM organization_invitations
            WHERE organization_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
            ORDER BY id DESC""",
        organization_id,
    )


async def revoke_invitation(pool: asyncpg.Pool, organization_id: int, acting_user_id: int, invitation_id: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        team = await _lock_team(conn, organization_id)
        row = await conn.fetchrow(
            "SELECT * FROM organization_invitations WHERE id = $1 AND organization_id = $2 FOR UPDATE",
            invitation_id,
            organization_id,
        )
        if row is None:  # another organization's invitation is not found here either
            raise not_found()
        if not roles.may_assign(team.get(acting_user_id), row["role"]):
            raise forbidden("You may not revoke this invitation")
        await conn.execute("UPDATE organization_invitations SET revoked_at = now() WHERE id = $1", invitation_id)
        await audit.record(conn, organization_id, acting_user_id, "revoke_invitation", f"invitation {invitation_id}")


async def find_invitation(conn: Executor, token: str) -> asyncpg.Record | None:
    """An invitation by its token, with its organization and state (open, accepted, revoked, expired)."""
    if not token or len(token) > 200:
        return None
    return await conn.fetchrow(
        """SELECT i.*, a.username AS organization_username, a.display_name AS organization_display_name,
                  CASE WHEN i.accepted_at IS NOT NULL THEN 'accepted'
                       WHEN i.revoked_at IS NOT NULL THEN 'revoked'
                       WHEN i.expires_at <= now() THEN 'expired'
                       ELSE 'open' END AS state
             FROM organization_invitations i JOIN actors a ON a.id = i.organization_id
            WHERE i.token_hash = $1 AND a.suspended_at IS NULL""",
        hash_token(token),
    )


async def accept_invitation(pool: asyncpg.Pool, token: str, user_id: int) -> tuple[int, str]:
    """Join the organization with the invitation's role; (organization id, role). Single use: the
    row is locked and marked in the same transaction as the membership it creates."""
    found = await find_invitation(pool, token)
    if found is None:
        raise not_found()
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT *, expires_at <= now() AS expired FROM organization_invitations WHERE id = $1 FOR UPDATE",
            found["id"],
        )
        if row["accepted_at"] is not None:
            raise DomainError("This invitation has already been used", 410)
        if row["revoked_at"] is not None:
            raise DomainError("This invitation has been revoked", 410)
        if row["expired"]:
            raise DomainError("This invitation has expired", 410)
        organization_id = row["organization_id"]
        team = await _lock_team(conn, organization_id)
        if user_id in team:
            raise DomainError("Validation failed: you are already a member of this organization", 409)
        await conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, $3)",
            organization_id,
            user_id,
            row["role"],
        )
        await conn.execute(
            "UPDATE organization_invitations SET accepted_at = now(), accepted_by_user_id = $2 WHERE id = $1",
            row["id"],
            user_id,
        )
        details = {"role": row["role"], "invitation_id": row["id"]}
        await audit.record(conn, organization_id, user_id, "accept_invitation", await _username(conn, user_id), details)
    return int(organization_id), str(row["role"])
