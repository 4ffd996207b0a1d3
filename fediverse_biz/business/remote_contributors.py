"""Contributors on other servers: accounts an organization accepts to send it posts for review.

A team member is a local user (business/teams.py). A freelancer or a partner on another server has no
login here, so an organization may accept their remote account instead: its direct messages to the
organization marked #submission become held posts of the organization (business/submissions.py),
reviewed in the same queue as the local contributors' posts. The organization also fixes the audience
it publishes that contributor's submissions to (`visibility`): a submission never chooses it.

Owners and managers accept and remove them — the rule for inviting a local contributor
(roles.may_assign(role, "contributor")) — and both are written to the audit log in the same transaction.
"""

from __future__ import annotations

import asyncpg

from fediverse_biz.business import audit, roles
from fediverse_biz.core.errors import DomainError, forbidden, not_found
from fediverse_biz.db.executor import Executor

VISIBILITIES = ("public", "unlisted", "private")  # direct would make the organization whisper to strangers


def handle(actor: asyncpg.Record) -> str:
    """`@name@host`, how the audit log and the published attribution name a remote account."""
    return f"@{actor['username']}@{actor['domain']}"


async def contributors(conn: Executor, organization_id: int) -> list[asyncpg.Record]:
    """The accepted remote accounts, oldest first: the actor's row with `visibility` and `accepted_at`."""
    return await conn.fetch(
        """SELECT a.*, c.visibility, c.created_at AS accepted_at FROM organization_remote_contributors c
             JOIN actors a ON a.id = c.actor_id
            WHERE c.organization_id = $1 ORDER BY c.created_at, a.id""",
        organization_id,
    )


async def contributor(conn: Executor, organization_id: int, actor_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT a.*, c.visibility, c.created_at AS accepted_at FROM organization_remote_contributors c
             JOIN actors a ON a.id = c.actor_id
            WHERE c.organization_id = $1 AND c.actor_id = $2""",
        organization_id,
        actor_id,
    )


async def accepted_by(conn: Executor, organization_uri: str, actor_id: int) -> asyncpg.Record | None:
    """The local, live organization with this URI, with `visibility`, if it accepts `actor_id` as a
    remote contributor; None otherwise (then the sender's message is an ordinary one)."""
    return await conn.fetchrow(
        """SELECT o.*, c.visibility FROM organization_remote_contributors c JOIN actors o ON o.id = c.organization_id
            WHERE o.uri = $1 AND c.actor_id = $2 AND o.domain IS NULL AND o.actor_type = 'Organization'
              AND o.suspended_at IS NULL""",
        organization_uri,
        actor_id,
    )


async def _acting_role(conn: asyncpg.Connection, organization_id: int, user_id: int) -> str | None:
    # FOR SHARE: waits for a role change in progress (business/teams.py locks the rows FOR UPDATE), so a
    # manager demoted at this moment cannot still accept someone.
    role: str | None = await conn.fetchval(
        "SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2 FOR SHARE",
        organization_id,
        user_id,
    )
    return role


def _check_visibility(text: str | None) -> str:
    value = (text or "public").strip().lower()
    if value not in VISIBILITIES:
        raise DomainError(f"Validation failed: visibility must be one of {', '.join(VISIBILITIES)}")
    return value


async def add(
    pool: asyncpg.Pool, organization_id: int, acting_user_id: int, actor: asyncpg.Record, visibility: str | None = None
) -> None:
    """Accept a remote account (already resolved: api/teams.py does the WebFinger or actor fetch)."""
    chosen = _check_visibility(visibility)
    if actor["domain"] is None:
        raise DomainError("Validation failed: this is a local account; add it as a member of the team instead")
    if actor["actor_type"] == "Group" or actor["is_instance_actor"] or actor["suspended_at"] is not None:
        raise DomainError("Validation failed: only a person's account can contribute")
    async with pool.acquire() as conn, conn.transaction():
        if not roles.may_assign(await _acting_role(conn, organization_id, acting_user_id), roles.Role.CONTRIBUTOR):
            raise forbidden("You may not accept contributors")
        added = await conn.fetchval(
            """INSERT INTO organization_remote_contributors (organization_id, actor_id, visibility, added_by_user_id)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING actor_id""",
            organization_id,
            actor["id"],
            chosen,
            acting_user_id,
        )
        if added is None:
            raise DomainError("Validation failed: already a contributor of this organization", 409)
        details = {"uri": actor["uri"], "visibility": chosen}
        await audit.record(conn, organization_id, acting_user_id, "add_remote_contributor", handle(actor), details)


async def remove(pool: asyncpg.Pool, organization_id: int, acting_user_id: int, actor_id: int) -> None:
    """Stop accepting a remote account. Its later messages are ordinary ones; what it already submitted
    stays in the queue for the reviewers to decide."""
    async with pool.acquire() as conn, conn.transaction():
        if not roles.may_assign(await _acting_role(conn, organization_id, acting_user_id), roles.Role.CONTRIBUTOR):
            raise forbidden("You may not remove contributors")
        removed = await conn.fetchrow(
            """DELETE FROM organization_remote_contributors c USING actors a
                WHERE c.organization_id = $1 AND c.actor_id = $2 AND a.id = c.actor_id
               RETURNING a.username, a.domain, a.uri, c.visibility""",
            organization_id,
            actor_id,
        )
        if removed is None:
            raise not_found()
        details = {"uri": removed["uri"], "visibility": removed["visibility"]}
        await audit.record(conn, organization_id, acting_user_id, "remove_remote_contributor", handle(removed), details)
