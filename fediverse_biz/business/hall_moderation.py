"""Moderating a hall: moderators, members and join requests, bans, removing and pinning posts.

Only the hall's listed moderators (or an instance admin) may act (communities.require_moderator); every
action is one transaction that also writes the hall's audit log and queues what peers must learn:
- moderators change with Add/Remove on the `attributedTo` collection, announced by the hall (FEP-1b12:
  "moderation activities MUST come from a listed moderator and be announced by the group");
- a join request (a Follow held because membership is by approval) is answered with Accept or Reject;
- a ban is a Block from the hall (the member stops following; a new Follow is rejected by the inbox's
  block rule; their posts are refused by the relay, federation/group_relay.py); an unban is Undo(Block);
- removing a post is an Announce of a Delete by the moderator (Lemmy's mod removal: Delete with the
  reason in `summary`), and the hall's own copy goes: a peer's post is deleted here, a post written here
  only leaves the hall (its author keeps it);
- pinning puts a post in the hall's `featured` collection and sends Add/Remove, as Mastodon does for pins.
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg

from fediverse_biz.activitypub import activities
from fediverse_biz.activitypub.context import CONTEXT, PUBLIC
from fediverse_biz.business import audit, hall_announces
from fediverse_biz.business._hall_values import storable
from fediverse_biz.business.communities import Acting, Hall, moderators, require_moderator
from fediverse_biz.core import events, follows, outbound, statuses
from fediverse_biz.core.errors import DomainError, not_found
from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.urls import LocalUrls

__all__ = [
    "MAX_PINNED",
    "add_moderator",
    "ban",
    "decide_join",
    "join_requests",
    "members",
    "pin",
    "remove_moderator",
    "remove_post",
    "unban",
]

MAX_PINNED: Final = 5  # Mastodon's max_pinned_statuses; a hall's featured list stays short too
MAX_REASON: Final = 1000


def _reason(text: str | None) -> str:
    reason = (text or "").strip()
    if len(reason) > MAX_REASON:
        raise DomainError(f"Validation failed: reason is too long (maximum is {MAX_REASON} characters)", 422)
    if not storable(reason):
        raise DomainError("Validation failed: reason contains a NUL character or an unpaired surrogate", 422)
    return reason


async def _actor(conn: asyncpg.Connection, actor_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM actors WHERE id = $1 AND NOT is_instance_actor", actor_id)
    if row is None:
        raise not_found()
    return row


async def _announce_moderation(conn: asyncpg.Connection, hall: Hall, by: Acting, kind: str, **fields: Any) -> None:
    """An activity by the acting moderator (a local account, on the hall's host), announced by the hall."""
    moderator = await conn.fetchval("SELECT uri FROM actors WHERE id = $1", by.actor_id)
    number = await conn.fetchval("SELECT next_id()")
    inner: dict[str, Any] = {
        "@context": CONTEXT,
        "id": f"{hall.actor['uri']}/activities/{kind.lower()}/{number}",
        "type": kind,
        "actor": moderator,
        "to": [PUBLIC],
        "cc": [hall.actor["uri"]],
        "audience": hall.actor["uri"],
        **fields,
    }
    await hall_announces.announce(conn, hall.actor, inner, object_uri=fields.get("object"), status_id=None)


# ---- moderators ----------------------------------------------------------------------------------
async def add_moderator(pool: asyncpg.Pool, hall_id: int, by: Acting, actor_id: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        hall = await require_moderator(conn, hall_id, by, lock=True)
        target = await _actor(conn, actor_id)
        if target["domain"] is not None or target["actor_type"] not in ("Person", "Organization"):
            raise DomainError("Validation failed: moderators are people or organizations of this server", 422)
        if target["suspended_at"] is not None:
            raise not_found()
        added = await conn.fetchval(
            """INSERT INTO community_moderators (community_id, actor_id, added_by_user_id) VALUES ($1, $2, $3)
               ON CONFLICT DO NOTHING RETURNING actor_id""",
            hall_id,
            actor_id,
            by.user_id,
        )
        if added is None:
            return
        await audit.record(conn, hall_id, by.user_id, "hall_add_moderator", target["uri"])
        await _announce_moderation(
            conn, hall, by, "Add", object=target["uri"], target=f"{hall.actor['uri']}/moderators"
        )


async def remove_moderator(pool: asyncpg.Pool, hall_id: int, by: Acting, actor_id: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        hall = await require_moderator(conn, hall_id, by, lock=True)
        current = [m["id"] for m in await moderators(conn, hall_id)]
        if actor_id not in current:
            raise not_found()
        if len(current) == 1:
            raise DomainError("Validation failed: a hall keeps at least one moderator", 422)
        uri = await conn.fetchval("SELECT uri FROM actors WHERE id = $1", actor_id)
        await conn.execute(
            "DELETE FROM community_moderators WHERE community_id = $1 AND actor_id = $2", hall_id, actor_id
        )
        await audit.record(conn, hall_id, by.user_id, "hall_remove_moderator", uri)
        await _announce_moderation(conn, hall, by, "Remove", object=uri, target=f"{hall.actor['uri']}/moderators")


# ---- members and join requests -------------------------------------------------------------------
async def members(conn: asyncpg.Connection | asyncpg.Pool, hall_id: int, page: Page) -> list[asyncpg.Record]:
    """A page of members (actor rows with `follow_id`, the cursor), newest first."""
    where, args, order = keyset(page, "f.id", 3)
    rows = await conn.fetch(
        f"""SELECT a.*, f.id AS follow_id FROM follows f JOIN actors a ON a.id = f.actor_id
             WHERE f.target_actor_id = $1 AND a.suspended_at IS NULL {where} ORDER BY {order} LIMIT $2""",
        hall_id,
        page.limit,
        *args,
    )
    return newest_first(list(rows), page)


async def join_requests(conn: asyncpg.Connection | asyncpg.Pool, hall_id: int) -> list[asyncpg.Record]:
    """Held Follows of an approval-membership hall, oldest first (actor rows with `request_id`)."""
    return list(
        await conn.fetch(
            """SELECT a.*, r.id AS request_id FROM follow_requests r JOIN actors a ON a.id = r.actor_id
                WHERE r.target_actor_id = $1 AND a.suspended_at IS NULL ORDER BY r.id LIMIT 200""",
            hall_id,
        )
    )


async def decide_join(pool: asyncpg.Pool, hall_id: int, by: Acting, requester_id: int, *, approve: bool) -> None:
    """Accept or reject a held join request; the requester's server gets Accept or Reject (Follow)."""
    async with pool.acquire() as conn, conn.transaction():
        hall = await require_moderator(conn, hall_id, by, lock=True)
        request = await conn.fetchrow(
            "DELETE FROM follow_requests WHERE actor_id = $1 AND target_actor_id = $2 RETURNING *",
            requester_id,
            hall_id,
        )
        if request is None:
            raise not_found()
        requester = await _actor(conn, requester_id)
        if approve:
            await follows.accept_follow(
                conn, requester, hall.actor, request["uri"], request["show_reblogs"], request["notify"]
            )
        else:
            await conn.execute(
                "DELETE FROM notifications WHERE actor_id = $1 AND from_actor_id = $2 AND type = 'follow_request'",
                hall_id,
                requester_id,
            )
            if requester["domain"] is not None and request["uri"]:
                inner = activities.follow(request["uri"], requester["uri"], hall.actor["uri"])
                reject = activities.reject(
                    f"{hall.actor['uri']}#rejects/follows/{request['id']}", hall.actor["uri"], inner
                )
                await outbound.send_to_actor(conn, hall.actor, requester, reject)
        action = "hall_approve_join" if approve else "hall_reject_join"
        await audit.record(conn, hall_id, by.user_id, action, requester["uri"])


# ---- bans ----------------------------------------------------------------------------------------
async def ban(pool: asyncpg.Pool, hall_id: int, by: Acting, target_id: int, reason: str = "") -> None:
    reason = _reason(reason)
    async with pool.acquire() as conn, conn.transaction():
        hall = await require_moderator(conn, hall_id, by, lock=True)
        target = await _actor(conn, target_id)
        if target_id == hall_id or target_id in [m["id"] for m in await moderators(conn, hall_id)]:
            raise DomainError("Validation failed: a moderator cannot be banned; remove them as moderator first", 422)
        await conn.execute(
            """INSERT INTO community_bans (community_id, actor_id, reason, banned_by_user_id) VALUES ($1, $2, $3, $4)
               ON CONFLICT (community_id, actor_id) DO UPDATE SET reason = EXCLUDED.reason""",
            hall_id,
            target_id,
            reason,
            by.user_id,
        )
        await follows._drop_follow(conn, target, hall.actor, federate=False)  # the member leaves the hall
        block_id = await conn.fetchval(
            """INSERT INTO blocks (actor_id, target_actor_id) VALUES ($1, $2)
               ON CONFLICT (actor_id, target_actor_id) DO NOTHING RETURNING id""",
            hall_id,
            target_id,
        )
        if block_id is not None:
            uri = f"{hall.actor['uri']}#blocks/{block_id}"
            await conn.execute("UPDATE blocks SET uri = $2 WHERE id = $1", block_id, uri)
            await outbound.send_to_actor(
                conn, hall.actor, target, activities.block(uri, hall.actor["uri"], target["uri"])
            )
        await audit.record(conn, hall_id, by.user_id, "hall_ban", target["uri"], {"reason": reason} if reason else None)


async def unban(pool: asyncpg.Pool, hall_id: int, by: Acting, target_id: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        hall = await require_moderator(conn, hall_id, by, lock=True)
        target = await _actor(conn, target_id)
        banned = await conn.fetchval(
            "DELETE FROM community_bans WHERE community_id = $1 AND actor_id = $2 RETURNING actor_id",
            hall_id,
            target_id,
        )
        if banned is None:
            raise not_found()
        block = await conn.fetchrow(
            "DELETE FROM blocks WHERE actor_id = $1 AND target_actor_id = $2 RETURNING *", hall_id, target_id
        )
        if block is not None and block["uri"]:
            inner = activities.block(block["uri"], hall.actor["uri"], target["uri"])
            undo = activities.undo(f"{block['uri']}/undo", hall.actor["uri"], inner)
            await outbound.send_to_actor(conn, hall.actor, target, undo)
        await audit.record(conn, hall_id, by.user_id, "hall_unban", target["uri"])


# ---- posts ---------------------------------------------------------------------------------------
async def _hall_post(conn: asyncpg.Connection, hall_id: int, status_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM statuses WHERE id = $1 AND community_id = $2 AND reblog_of_id IS NULL FOR UPDATE",
        status_id,
        hall_id,
    )
    if row is None:
        raise not_found()
    return row


async def remove_post(
    pool: asyncpg.Pool, urls: LocalUrls, hall_id: int, by: Acting, status_id: int, reason: str = ""
) -> None:
    """Remove a post from the hall: Announce(Delete) to the hall's followers, then the hall's copy goes."""
    reason = _reason(reason)
    async with pool.acquire() as conn, conn.transaction():
        hall = await require_moderator(conn, hall_id, by, lock=True)
        post = await _hall_post(conn, hall_id, status_id)
        extra = {"summary": reason} if reason else {}
        await _announce_moderation(conn, hall, by, "Delete", object=post["uri"], **extra)
        if post["local"]:
            boosts = await conn.fetch(
                "DELETE FROM statuses WHERE reblog_of_id = $1 AND actor_id = $2 RETURNING id", status_id, hall_id
            )
            await conn.execute(
                """UPDATE statuses SET community_id = NULL, reblogs_count = greatest(reblogs_count - $2, 0)
                    WHERE id = $1""",
                status_id,
                len(boosts),
            )
            for boost in boosts:
                await events.status_deleted(conn, boost["id"])
        else:
            await statuses.remove(conn, urls, status_id, federate=False)
        await conn.execute("DELETE FROM pinned_statuses WHERE actor_id = $1 AND status_id = $2", hall_id, status_id)
        await audit.record(
            conn, hall_id, by.user_id, "hall_remove_post", post["uri"], {"reason": reason} if reason else None
        )


async def pin(pool: asyncpg.Pool, hall_id: int, by: Acting, status_id: int, *, on: bool) -> None:
    """Pin (or unpin) a hall post to the hall's featured collection; followers get Add/Remove."""
    async with pool.acquire() as conn, conn.transaction():
        hall = await require_moderator(conn, hall_id, by, lock=True)
        post = await _hall_post(conn, hall_id, status_id)
        if on:
            if post["visibility"] not in ("public", "unlisted"):
                raise DomainError("Validation failed: only public posts can be pinned to a hall", 422)
            count = await conn.fetchval("SELECT count(*) FROM pinned_statuses WHERE actor_id = $1", hall_id)
            if count >= MAX_PINNED:
                raise DomainError(f"Validation failed: a hall pins at most {MAX_PINNED} posts", 422)
            pin_id = await conn.fetchval(
                """INSERT INTO pinned_statuses (actor_id, status_id) VALUES ($1, $2) ON CONFLICT DO NOTHING
                   RETURNING id""",
                hall_id,
                status_id,
            )
        else:
            pin_id = await conn.fetchval(
                "DELETE FROM pinned_statuses WHERE actor_id = $1 AND status_id = $2 RETURNING id", hall_id, status_id
            )
        if pin_id is None:
            return
        uri, featured = hall.actor["uri"], hall.actor["featured_url"]
        builder = activities.add if on else activities.remove
        activity = builder(
            f"{uri}#featured/{'add' if on else 'remove'}/{pin_id}", uri, post["uri"], featured, to=[PUBLIC]
        )
        await outbound.deliver(conn, hall.actor, activity, await outbound.follower_inboxes(conn, hall_id))
        await audit.record(conn, hall_id, by.user_id, "hall_pin" if on else "hall_unpin", post["uri"])
