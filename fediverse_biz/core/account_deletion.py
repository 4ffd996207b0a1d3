"""Deleting a local account (a person, or an organization by one of its owners) for good.

One transaction, so nothing half-done survives a failure:
1. Delete(actor) is queued for every server that may hold the account or any of its posts — before
   what that is computed from is removed: the inboxes of everyone who follows the account, everyone it
   follows (halls and groups included), both sides of pending follow requests, the actors its posts
   mention or reply to and the groups it posted in, and every inbox that was ever sent anything of the
   account's or whose server fetched it (core/reach.py: deliveries of every kind, halls' relays,
   boosted posts fetched by the boosters' followers, lookups); shared inboxes first. Each local hall the
   account belonged to or posted in announces the Delete to its audience
   (group_relay.relay_account_deletion), as a hall of another server does when it receives it. Workers
   sign it with the account's key, which is kept for that.
2. Everything the account owns goes: statuses and boosts (each leaving a tombstone, so its URI answers
   410 and a late copy is not stored again), favourites, bookmarks, pins, follows both ways, requests,
   blocks, mutes, notifications, home feed, markers, media, tokens and codes, the company profile and
   the team of an organization, the record of where it reached; for a person also the login itself
   (users row).
3. The actor row stays as a suspended, emptied tombstone (Mastodon keeps the account row too): the
   name can never be registered again, so nobody inherits the old followers' trust, the actor URI and
   WebFinger answer 410, and the API no longer finds the account.

Media files are removed after the commit; a crash in between leaves unreferenced files, never a row
pointing at a missing file.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from fediverse_biz.activitypub import activities
from fediverse_biz.core import hooks, outbound
from fediverse_biz.core.errors import DomainError, forbidden, not_found
from fediverse_biz.core.remote_statuses import remove_actor_statuses
from fediverse_biz.urls import LocalUrls


@dataclass(frozen=True)
class Deleted:
    actor_id: int
    deliveries: int  # Delete(actor) jobs queued
    statuses: int  # statuses (posts and boosts) removed


# Whoever may have stored the account: followers, followees, both ends of pending requests, the actors
# its posts mention or reply to and the groups they were posted in (also for posts older than the
# record below), and every inbox that was sent or fetched anything of it (actor_reach).
_AUDIENCE = """
    SELECT coalesce(a.shared_inbox_url, a.inbox_url) AS inbox FROM actors a
     WHERE a.domain IS NOT NULL AND a.inbox_url IS NOT NULL AND a.id IN (
           SELECT actor_id FROM follows WHERE target_actor_id = $1
           UNION SELECT target_actor_id FROM follows WHERE actor_id = $1
           UNION SELECT actor_id FROM follow_requests WHERE target_actor_id = $1
           UNION SELECT target_actor_id FROM follow_requests WHERE actor_id = $1
           UNION SELECT m.actor_id FROM statuses s JOIN status_mentions m ON m.status_id = s.id WHERE s.actor_id = $1
           UNION SELECT in_reply_to_actor_id FROM statuses WHERE actor_id = $1 AND in_reply_to_actor_id IS NOT NULL
           UNION SELECT community_id FROM statuses WHERE actor_id = $1 AND community_id IS NOT NULL)
    UNION SELECT inbox FROM actor_reach WHERE actor_id = $1"""

# (table, condition on the account $1) for everything removed outright.
_OWNED = (
    ("follows", "actor_id = $1 OR target_actor_id = $1"),
    ("follow_requests", "actor_id = $1 OR target_actor_id = $1"),
    ("blocks", "actor_id = $1 OR target_actor_id = $1"),
    ("mutes", "actor_id = $1 OR target_actor_id = $1"),
    ("bookmarks", "actor_id = $1"),
    ("pinned_statuses", "actor_id = $1"),
    ("home_feed", "actor_id = $1"),
    ("notifications", "actor_id = $1 OR from_actor_id = $1"),
    ("markers", "actor_id = $1"),
    ("idempotency_keys", "actor_id = $1"),
    ("oauth_tokens", "actor_id = $1"),
    ("oauth_codes", "actor_id = $1"),
    ("organization_profiles", "actor_id = $1"),
    ("organization_invitations", "organization_id = $1"),
    ("organization_members", "organization_id = $1"),
    ("organization_remote_contributors", "organization_id = $1"),  # the team's members on other servers
    ("organization_audit_log", "organization_id = $1"),
    ("actor_reach", "actor_id = $1"),  # after the Delete was queued to it: which servers saw the account
)


async def _check_may_delete(conn: asyncpg.Connection, actor: asyncpg.Record, user_id: int) -> bool:
    """True when `user_id` deletes their own person account, False for an organization they own;
    DomainError otherwise."""
    own = await conn.fetchval("SELECT actor_id FROM users WHERE id = $1", user_id)
    if own == actor["id"]:
        orphaned = await conn.fetch(
            """SELECT a.username FROM organization_members m JOIN actors a ON a.id = m.organization_id
                WHERE m.user_id = $1 AND m.role = 'owner' AND a.suspended_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM organization_members o WHERE o.organization_id = m.organization_id
                                     AND o.role = 'owner' AND o.user_id <> $1)
                ORDER BY a.username""",
            user_id,
        )
        if orphaned:
            names = ", ".join(r["username"] for r in orphaned)
            raise DomainError(f"You are the only owner of {names}: add another owner or delete it first", 422)
        return True
    role = await conn.fetchval(
        "SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2", actor["id"], user_id
    )
    if role != "owner":
        raise forbidden("Only an owner may delete this organization")
    return False


async def delete_account(
    pool: asyncpg.Pool, urls: LocalUrls, actor_id: int, user_id: int, *, media_root: Path
) -> Deleted:
    async with pool.acquire() as conn, conn.transaction():
        actor = await conn.fetchrow(
            """SELECT * FROM actors WHERE id = $1 AND domain IS NULL AND NOT is_instance_actor
                 AND suspended_at IS NULL FOR UPDATE""",
            actor_id,
        )
        if actor is None:
            raise not_found()
        is_person = await _check_may_delete(conn, actor, user_id)
        inboxes = [r["inbox"] for r in await conn.fetch(_AUDIENCE, actor_id)]
        deletion = activities.delete_actor(actor["uri"])
        deliveries = await outbound.deliver(conn, actor, deletion, inboxes)
        await hooks.account_deleted(conn, actor, deletion)
        removed = await remove_actor_statuses(conn, actor_id)
        files = await conn.fetch(
            "DELETE FROM media_attachments WHERE actor_id = $1 RETURNING file_path, preview_path", actor_id
        )
        for table, condition in _OWNED:
            await conn.execute(f"DELETE FROM {table} WHERE {condition}", actor_id)
        if is_person:
            # The login goes too; its memberships, codes and tokens cascade with it.
            await conn.execute("DELETE FROM users WHERE id = $1", user_id)
        await conn.execute(
            """UPDATE actors SET suspended_at = now(), display_name = '', note = '', note_source = '',
                      fields = '[]', avatar_url = NULL, header_url = NULL, discoverable = false,
                      indexable = false, also_known_as = '[]',
                      extra = jsonb_build_object('deleted_at', now()), updated_at = now()
                WHERE id = $1""",
            actor_id,
        )
    paths = [p for row in files for p in (row["file_path"], row["preview_path"]) if p]
    await asyncio.to_thread(_remove_files, media_root, paths, f"accounts/{actor_id}")
    return Deleted(actor_id=actor_id, deliveries=deliveries, statuses=removed)


def _remove_files(root: Path, relatives: list[str], profile_dir: str) -> None:
    """Best effort, inside the media directory only: a left-over file is harmless, an error here
    must not turn a committed deletion into a failed request."""
    base = root.resolve()
    for relative in [*relatives, profile_dir]:
        path = (base / relative).resolve()
        if not path.is_relative_to(base) or path == base:
            continue
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError:
            pass
