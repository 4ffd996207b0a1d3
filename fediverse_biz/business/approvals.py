"""Posts held for review: the queue, approval and rejection.

A contributor's post is written with approval_state 'pending' (core.statuses.create with
hold_for_approval) and nothing else happens: no feed row, notification, streaming event or
delivery. core.visibility leaves every non-published post out of every read path, so the only
ways to a held post are the ones here, for its author and the organization's owners and managers.

Approval publishes the post as it reads then, at the approval time: the status gets a new id from
next_id() — ids are what timelines sort and page by, so the post takes its place among the posts of
that moment instead of surfacing days deep in followers' feeds — and with it a new URI (the old one
never left this server). Every row that references the status moves to the new id; the list of those
tables is read from PostgreSQL's catalog, so a table added later is carried along without a change
here. Then core.statuses.publish does what a direct post does: feeds, notifications, streaming and
one delivery job per remote inbox, all in the approval's transaction.

Rejection keeps the post (visible to the same few people), stores the reason, and tells the author
with a `moderation_warning` notification (a Mastodon type, so every client shows it; the reason is
its text).

A held post may also be a remote contributor's submission (business/submissions.py): the same row, with
no member as its writer and a row in organization_submissions naming the remote author, which the
rekeying carries along like any other reference. Its review is the same; a rejection is answered with a
direct message from the organization (reject's `urls`), since the author has no notifications here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from fediverse_biz.business import audit, roles, submissions
from fediverse_biz.business.teams import member_role
from fediverse_biz.core import notifications, statuses
from fediverse_biz.core.errors import DomainError, forbidden, not_found
from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.db.executor import Executor
from fediverse_biz.urls import LocalUrls

MAX_REASON = 1000
# Every single-column foreign key that points at statuses(id), with quoted identifiers.
_REFERENCES = """SELECT c.conrelid::regclass::text AS tbl, quote_ident(a.attname) AS col
                   FROM pg_constraint c
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                  WHERE c.contype = 'f' AND c.confrelid = 'statuses'::regclass AND cardinality(c.conkey) = 1
                  ORDER BY 1, 2"""


def version(status: Mapping[str, Any]) -> str:
    """Which text of a held post a reviewer saw: it changes with every edit. Approving with a stale
    version is refused, so nobody publishes words they did not read."""
    moment = status["edited_at"] or status["created_at"]
    return str(int(moment.timestamp() * 1_000_000))


async def may_view_held(conn: Executor, status: Mapping[str, Any], user_id: int | None) -> bool:
    """A held or rejected post is visible to the user who wrote it and to the owners and managers of
    the organization it was written for — whichever account their token acts as."""
    if status["approval_state"] == "published" or user_id is None:
        return False
    if status["created_by_user_id"] == user_id:
        return True
    return roles.member_may(await member_role(conn, status["actor_id"], user_id), roles.Permission.REVIEW)


async def queue(conn: Executor, organization_id: int, user_id: int, page: Page, *, state: str = "pending") -> list[int]:
    """Ids of held (or rejected) posts, newest first: all of them for reviewers, one's own otherwise."""
    if state not in ("pending", "rejected"):
        raise DomainError("Validation failed: state must be pending or rejected")
    role = await member_role(conn, organization_id, user_id)
    if role is None:
        raise not_found()
    everyone = roles.member_may(role, roles.Permission.REVIEW)
    where, args, order = keyset(page, "s.id", 6)
    rows = await conn.fetch(
        f"""SELECT s.id FROM statuses s
             WHERE s.actor_id = $1 AND s.approval_state = $3 AND ($4 OR s.created_by_user_id = $5) {where}
             ORDER BY {order} LIMIT $2""",
        organization_id,
        page.limit,
        state,
        everyone,
        user_id,
        *args,
    )
    return newest_first([r["id"] for r in rows], page)


async def waiting(conn: Executor, organization_id: int, user_id: int) -> int | None:
    """How many posts wait for review, for someone who reviews this organization's posts; None for others
    (the count is the reviewers' business: a contributor sees their own held posts, not the queue)."""
    if not roles.member_may(await member_role(conn, organization_id, user_id), roles.Permission.REVIEW):
        return None
    count = await conn.fetchval(
        "SELECT count(*) FROM statuses WHERE actor_id = $1 AND approval_state = 'pending'", organization_id
    )
    return int(count)


async def _held(conn: asyncpg.Connection, organization_id: int, status_id: int, user_id: int) -> asyncpg.Record:
    role = await member_role(conn, organization_id, user_id)
    if role is None:
        raise not_found()
    if not roles.member_may(role, roles.Permission.REVIEW):
        raise forbidden("Only an owner or a manager of this organization may review posts")
    row = await conn.fetchrow(
        "SELECT * FROM statuses WHERE id = $1 AND actor_id = $2 AND local FOR UPDATE", status_id, organization_id
    )
    if row is None:
        raise not_found()
    if row["approval_state"] != "pending":
        raise DomainError(f"This post is not awaiting review (it is {row['approval_state']})", 409)
    return row


async def _rekey(conn: asyncpg.Connection, urls: LocalUrls, row: asyncpg.Record, reviewer_id: int) -> int:
    """Give the held status a new id, URI and publication time; move every reference to it."""
    old_id = row["id"]
    new_id = int(await conn.fetchval("SELECT next_id()"))
    author = await conn.fetchrow("SELECT uri, username FROM actors WHERE id = $1", row["actor_id"])
    # A top-level post is its own conversation, named after its id. No reply to a held post exists to
    # carry the old name: nobody can see it to reply (core.visibility).
    old_context = f"{urls.base}/contexts/{old_id}"
    new_context = f"{urls.base}/contexts/{new_id}"
    # Versions written before publication are drafts, not public history: the post is published as it
    # reads now, never "edited".
    await conn.execute("DELETE FROM status_edits WHERE status_id = $1", old_id)
    await conn.execute(
        """INSERT INTO statuses
           SELECT (jsonb_populate_record(s, jsonb_build_object(
                       'id', $2::bigint, 'uri', $3::text, 'url', $4::text, 'published_at', now(),
                       'edited_at', NULL, 'approval_state', 'published', 'reviewed_by_user_id', $5::bigint,
                       'reviewed_at', now(),
                       'conversation_uri', CASE WHEN s.conversation_uri = $6 THEN $7 ELSE s.conversation_uri END
                   ))).*
             FROM statuses s WHERE s.id = $1""",
        old_id,
        new_id,
        urls.status(author["uri"], new_id),
        urls.status_page(author["username"], new_id),
        reviewer_id,
        old_context,
        new_context,
    )
    for ref in await conn.fetch(_REFERENCES):
        await conn.execute(f"UPDATE {ref['tbl']} SET {ref['col']} = $2 WHERE {ref['col']} = $1", old_id, new_id)
    await conn.execute("DELETE FROM statuses WHERE id = $1", old_id)
    return new_id


async def approve(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    organization_id: int,
    status_id: int,
    reviewer_id: int,
    *,
    seen_version: str | None = None,
) -> int:
    """Publish a held post and federate it; returns its new id."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _held(conn, organization_id, status_id, reviewer_id)
        if seen_version and seen_version != version(row):
            raise DomainError("This post was edited after you loaded it: review it again", 409)
        author_name = await _author_name(conn, row)  # before the post (and its submission row) moves
        new_id = await _rekey(conn, urls, row, reviewer_id)
        bundle = await statuses.publish(conn, urls, new_id)
        author_actor = await _author_actor(conn, row)
        if author_actor is not None:
            # "acme posted": tells the author the post is out and gives its new id.
            await notifications.notify(conn, author_actor, organization_id, "status", new_id)
        details = {"status_id": str(new_id), "held_id": str(status_id), "author": author_name}
        await audit.record(conn, organization_id, reviewer_id, "approve", bundle.status["uri"], details)
    return new_id


async def reject(
    pool: asyncpg.Pool,
    organization_id: int,
    status_id: int,
    reviewer_id: int,
    reason: str,
    *,
    urls: LocalUrls | None = None,
) -> asyncpg.Record:
    """Refuse a held post for good; the author is told why. Returns the updated row.

    With `urls`, a remote contributor's submission is answered by a direct message from the organization
    (submissions.answer_rejection); a local author is notified either way."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Validation failed: a reason is required")
    if len(reason) > MAX_REASON:
        raise DomainError(f"Validation failed: the reason must be at most {MAX_REASON} characters")
    async with pool.acquire() as conn, conn.transaction():
        row = await _held(conn, organization_id, status_id, reviewer_id)
        updated = await conn.fetchrow(
            """UPDATE statuses SET approval_state = 'rejected', reviewed_by_user_id = $2, reviewed_at = now(),
                                   rejection_reason = $3
                WHERE id = $1 RETURNING *""",
            status_id,
            reviewer_id,
            reason,
        )
        author_actor = await _author_actor(conn, row)
        if author_actor is not None:
            await _notify_rejection(conn, author_actor, organization_id, updated)
        details = {"status_id": str(status_id), "reason": reason, "author": await _author_name(conn, row)}
        await audit.record(conn, organization_id, reviewer_id, "reject", row["uri"], details)
    if urls is not None:
        await submissions.answer_rejection(pool, urls, updated, reviewer_id)
    return updated


async def _author_actor(conn: asyncpg.Connection, row: Mapping[str, Any]) -> int | None:
    """The personal account of the member who wrote the post: where they hear about its review."""
    if row["created_by_user_id"] is None:
        return None
    actor_id: int | None = await conn.fetchval("SELECT actor_id FROM users WHERE id = $1", row["created_by_user_id"])
    return actor_id


async def _author_name(conn: asyncpg.Connection, row: Mapping[str, Any]) -> str | None:
    """The member's username, or `@name@host` for a remote contributor's submission."""
    name: str | None = await conn.fetchval(
        "SELECT a.username FROM users u JOIN actors a ON a.id = u.actor_id WHERE u.id = $1", row["created_by_user_id"]
    )
    return name if name is not None else await submissions.author_handle(conn, row["id"])


async def _notify_rejection(
    conn: asyncpg.Connection, recipient_id: int, organization_id: int, status: Mapping[str, Any]
) -> None:
    # Mastodon's AccountWarning with action "none" is a plain message: clients show its text. The
    # post itself stays out of the notification (clients would expect a visible status there).
    warning = {
        "id": str(status["id"]),
        "action": "none",
        "text": status["rejection_reason"],
        "status_ids": [str(status["id"])],
        "appeal": None,
        "created_at": status["reviewed_at"].isoformat(),
        "fediverse_biz": {"kind": "post_rejected", "organization_id": str(organization_id)},
    }
    await notifications.notify(
        conn, recipient_id, organization_id, "moderation_warning", extra={"moderation_warning": warning}
    )
