"""The audit log: who on the team did what on behalf of the organization.

Rows are written by the team operations themselves (business/teams.py, business/approvals.py) in
their own transaction, and by the client API after an action it took while acting as the
organization (api/acting.py). Owners and managers read it (roles.Permission.AUDIT).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import asyncpg

from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.db.executor import Executor

# What is recorded; a name outside this set is a programming error, caught by `record`.
ACTIONS = frozenset(
    {
        # posts
        "post",
        "edit",
        "delete",
        "boost",
        "unboost",
        "approve",
        "reject",
        # the organization's relationships and profile
        "follow",
        "unfollow",
        "block",
        "unblock",
        "mute",
        "unmute",
        "profile_update",
        # the team
        "invite",
        "revoke_invitation",
        "accept_invitation",
        "add_member",
        "role_change",
        "remove_member",
        # contributors on other servers (business/remote_contributors.py)
        "add_remote_contributor",
        "remove_remote_contributor",
        # Communities (halls): a hall's log, kept under the hall's actor id
        # (business/communities.py, business/hall_moderation.py)
        "hall_create",
        "hall_edit",
        "hall_add_moderator",
        "hall_remove_moderator",
        "hall_approve_join",
        "hall_reject_join",
        "hall_ban",
        "hall_unban",
        "hall_remove_post",
        "hall_pin",
        "hall_unpin",
    }
)


async def record(
    conn: Executor,
    organization_id: int,
    user_id: int,
    action: str,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> int:
    """Append one entry; the acting user's name is copied so the entry outlives the account."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry_id = await conn.fetchval(
        """INSERT INTO organization_audit_log (organization_id, user_id, username, action, target, details)
           SELECT $1, u.id, a.username, $3::text, $4::text, $5::jsonb
             FROM users u JOIN actors a ON a.id = u.actor_id WHERE u.id = $2
           RETURNING id""",
        organization_id,
        user_id,
        action,
        target,
        # Round-trip through JSON so datetimes and other values become text; the pool's codec encodes.
        json.loads(json.dumps(dict(details or {}), default=str)),
    )
    if entry_id is None:
        raise ValueError(f"no user {user_id} to record {action!r} for")
    return int(entry_id)


async def entries(
    conn: Executor, organization_id: int, page: Page, *, action: str | None = None
) -> list[asyncpg.Record]:
    """A page of the log, newest first, with the acting user's current account id when it still exists."""
    where, args, order = keyset(page, "l.id", 4)
    rows = await conn.fetch(
        f"""SELECT l.*, u.actor_id AS user_actor_id FROM organization_audit_log l
              LEFT JOIN users u ON u.id = l.user_id
             WHERE l.organization_id = $1 AND ($3::text IS NULL OR l.action = $3) {where}
             ORDER BY {order} LIMIT $2""",
        organization_id,
        page.limit,
        action,
        *args,
    )
    return newest_first(list(rows), page)
