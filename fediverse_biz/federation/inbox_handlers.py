"""The "inbox" job: apply an accepted activity's side effects, one handler per activity type.

The door (inbox.py) has verified the signature, that the key's owner is the actor and that the activity id
lives on the actor's host; handlers check the rest against what the activity is about (federation.md
§6.1): an embedded activity or object must be the sender's own, Update/Delete touch only the author's
objects, Accept only counts from the follow's target, Move needs the target's alsoKnownAs.

Outcomes: a handler returns (done), raises Ignored (logged, recorded in inbox_activities.error, done) or
RetryableError (a peer did not answer; the job queue retries with backoff). Effects are exactly-once
(_inbound.Inbound.effects). Types without a handler — EmojiReact, QuoteRequest, Dislike, anything new —
are accepted and marked processed with no effect.

Status handlers live in _inbox_statuses.py; this module keeps the social graph and the table.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import asyncpg

from fediverse_biz.activitypub import activities
from fediverse_biz.activitypub.activities import actor_id, as_list, http_uri, object_id, parse_datetime, types
from fediverse_biz.activitypub.actors import ACTOR_TYPES, InvalidActor, actor_from_ap
from fediverse_biz.business.organizations import store_remote_profile
from fediverse_biz.business.verified_links import queue_link_checks
from fediverse_biz.core import events, follows, notifications, remote_statuses
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.sanitize import sanitize_plain
from fediverse_biz.federation import _inbox_statuses as posts
from fediverse_biz.federation import group_relay, outbox
from fediverse_biz.federation._inbound import AlreadyProcessed, Ignored, Inbound, Prefetched, first_type
from fediverse_biz.federation.batched_reads import BatchedReads
from fediverse_biz.federation.inbox import INBOX_JOB
from fediverse_biz.federation.jobs import Job
from fediverse_biz.federation.worker import Handler, WorkerContext

__all__ = ["HANDLERS", "Ignored", "Inbound", "inbox_handlers", "process_inbox_activity"]

log = logging.getLogger(__name__)

ActivityHandler = Callable[[Inbound], Awaitable[None]]
MAX_REPORT_TARGETS: Final = 100
MAX_REPORT_COMMENT: Final = 5000  # Mastodon caps local report comments at 1000 and remote ones not at all


# ---- the social graph -----------------------------------------------------------------------------
async def handle_follow(act: Inbound) -> None:
    target = await act.local_actor(object_id(act.doc.get("object")))
    if target is None:
        raise Ignored("Follow of no local account")
    follower = act.actor
    async with act.effects() as conn:
        if await conn.fetchval(
            "SELECT 1 FROM blocks WHERE actor_id = $1 AND target_actor_id = $2", target["id"], follower["id"]
        ):
            # Mastodon answers a blocked follower with Reject (Follow#perform), so its UI stops waiting.
            digest = hashlib.sha256(act.activity_id.encode()).hexdigest()[:16]
            reject = activities.reject(f"{target['uri']}#rejects/follows/{digest}", target["uri"], act.doc)
            await outbox.send_to_actor(conn, target, follower, reject)
            return
        if target["actor_type"] == "Group" and not target["locked"]:
            # FEP-1b12: a Group SHOULD auto-accept: joining an open hall is following it. A hall
            # with approval membership is `locked` (business/communities.py), so its Follow is held below
            # for a moderator, and a banned member's Follow met the hall's block above and got Reject.
            await follows.accept_follow(conn, follower, target, act.activity_id)
            return
        following = await conn.fetchval(
            "SELECT 1 FROM follows WHERE actor_id = $1 AND target_actor_id = $2", follower["id"], target["id"]
        )
        if target["locked"] and not following:
            # §6.1 rule 9 (Pixelfed CVE-2025-30741): a locked account's follower waits for its owner.
            await conn.execute(
                """INSERT INTO follow_requests (actor_id, target_actor_id, uri) VALUES ($1, $2, $3)
                   ON CONFLICT (actor_id, target_actor_id) DO UPDATE SET uri = EXCLUDED.uri""",
                follower["id"],
                target["id"],
                act.activity_id,
            )
            await notifications.notify(conn, target["id"], follower["id"], "follow_request")
            return
        # Unlocked, or already following (a re-sent Follow gets a fresh Accept, as on Mastodon).
        await follows.accept_follow(conn, follower, target, act.activity_id)


def _follow_reference(follow: Any, target_uri: str) -> tuple[str | None, str | None]:
    """(our Follow's id, our follower's uri) from an Accept/Reject object: our Follow's id, or the Follow
    embedded, whose `object` must be the accepting actor (only the target may accept)."""
    if not isinstance(follow, Mapping):
        return http_uri(follow), None
    if "Follow" not in types(follow):
        raise Ignored("Accept/Reject of something other than a Follow")
    if object_id(follow.get("object")) not in (None, target_uri):
        raise Ignored("the accepting actor is not the follow's target")
    return object_id(follow), actor_id(follow)


async def handle_accept(act: Inbound) -> None:
    follow_uri, follower_uri = _follow_reference(act.doc.get("object"), act.actor_uri)
    async with act.effects() as conn:
        requests = await conn.fetch(
            """DELETE FROM follow_requests r USING actors a
                WHERE r.target_actor_id = $1 AND a.id = r.actor_id AND a.domain IS NULL
                  AND (r.uri = $2 OR a.uri = $3)
               RETURNING r.*""",
            act.actor["id"],
            follow_uri,
            follower_uri,
        )
        for request in requests:
            follower = await conn.fetchrow("SELECT * FROM actors WHERE id = $1", request["actor_id"])
            await follows.accept_follow(
                conn, follower, act.actor, request["uri"], request["show_reblogs"], request["notify"]
            )


async def _our_followers_of_sender(
    conn: asyncpg.Connection, act: Inbound, follow_uri: str | None, follower_uri: str | None
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT a.* FROM actors a
            WHERE a.domain IS NULL AND (a.uri = $3
               OR EXISTS (SELECT 1 FROM follow_requests r WHERE r.actor_id = a.id AND r.target_actor_id = $1
                                                          AND r.uri = $2)
               OR EXISTS (SELECT 1 FROM follows f WHERE f.actor_id = a.id AND f.target_actor_id = $1
                                                  AND f.uri = $2))""",
        act.actor["id"],
        follow_uri,
        follower_uri,
    )


async def handle_reject(act: Inbound) -> None:
    """Reject of our Follow: the request goes, and so does an accepted follow (Mastodon Reject#perform)."""
    follow_uri, follower_uri = _follow_reference(act.doc.get("object"), act.actor_uri)
    async with act.effects() as conn:
        for follower in await _our_followers_of_sender(conn, act, follow_uri, follower_uri):
            await follows._drop_follow(conn, follower, act.actor, federate=False)


async def handle_block(act: Inbound) -> None:
    """A peer's account blocks a local one: record it, and no follow survives in either direction."""
    target = await act.local_actor(object_id(act.doc.get("object")))
    if target is None:
        raise Ignored("Block of no local account")
    async with act.effects() as conn:
        await conn.execute(
            """INSERT INTO blocks (actor_id, target_actor_id, uri) VALUES ($1, $2, $3)
               ON CONFLICT (actor_id, target_actor_id) DO UPDATE SET uri = EXCLUDED.uri""",
            act.actor["id"],
            target["id"],
            act.activity_id,
        )
        await follows._drop_follow(conn, act.actor, target, federate=False)
        await follows._drop_follow(conn, target, act.actor, federate=False)


# ---- Undo -----------------------------------------------------------------------------------------
async def _undo_follow(act: Inbound, inner: Mapping[str, Any]) -> None:
    target = await act.local_actor(object_id(inner.get("object")))
    if target is None:
        raise Ignored("Undo of a Follow of no local account")
    async with act.effects() as conn:
        await follows._drop_follow(conn, act.actor, target, federate=False)


async def _undo_block(act: Inbound, inner: Mapping[str, Any]) -> None:
    target = await act.local_actor(object_id(inner.get("object")))
    if target is None:
        raise Ignored("Undo of a Block of no local account")
    async with act.effects() as conn:
        await conn.execute(
            "DELETE FROM blocks WHERE actor_id = $1 AND target_actor_id = $2", act.actor["id"], target["id"]
        )


async def _undo_accept(act: Inbound, inner: Mapping[str, Any]) -> None:
    """The followed account takes its Accept back: our follow becomes a request again (Mastodon's
    Undo#undo_accept, `revoke_request!`)."""
    follow_uri, follower_uri = _follow_reference(inner.get("object"), act.actor_uri)
    async with act.effects() as conn:
        rows = await conn.fetch(
            """SELECT a.*, f.uri AS follow_uri, f.show_reblogs, f.notify AS notify_posts
                 FROM follows f JOIN actors a ON a.id = f.actor_id AND a.domain IS NULL
                WHERE f.target_actor_id = $1 AND (f.uri = $2 OR a.uri = $3)""",
            act.actor["id"],
            follow_uri,
            follower_uri,
        )
        for row in rows:
            await follows._drop_follow(conn, row, act.actor, federate=False)
            await conn.execute(
                """INSERT INTO follow_requests (actor_id, target_actor_id, uri, show_reblogs, notify)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (actor_id, target_actor_id) DO NOTHING""",
                row["id"],
                act.actor["id"],
                row["follow_uri"],
                row["show_reblogs"],
                row["notify_posts"],
            )


async def _undo_by_uri(act: Inbound, uri: str) -> None:
    """Undo naming only the undone activity's id (Pleroma does this): whatever of the sender's has that id."""
    async with act.effects() as conn:
        targets = await conn.fetch(
            """SELECT a.* FROM actors a WHERE a.domain IS NULL AND a.id IN (
                   SELECT target_actor_id FROM follows WHERE actor_id = $1 AND uri = $2
                   UNION SELECT target_actor_id FROM follow_requests WHERE actor_id = $1 AND uri = $2)""",
            act.actor["id"],
            uri,
        )
        for target in targets:
            await follows._drop_follow(conn, act.actor, target, federate=False)
        await remote_statuses.record_remote_unlike(conn, act.actor, like_uri=uri)
        await remote_statuses.record_remote_unannounce(conn, act.actor, announce_uri=uri)
        await conn.execute("DELETE FROM blocks WHERE actor_id = $1 AND uri = $2", act.actor["id"], uri)


_UNDO: Final[dict[str, Callable[[Inbound, Mapping[str, Any]], Awaitable[None]]]] = {
    "Follow": _undo_follow,
    "Like": posts.undo_like,
    "Announce": posts.undo_announce,
    "Block": _undo_block,
    "Accept": _undo_accept,
}


async def handle_undo(act: Inbound) -> None:
    inner = act.doc.get("object")
    if not isinstance(inner, Mapping):
        uri = http_uri(inner)
        if uri is None:
            raise Ignored("Undo without an object")
        await _undo_by_uri(act, uri)
        return
    # The undone activity must be the sender's own; every lookup below is also limited to its rows.
    if actor_id(inner) not in (None, act.actor_uri):
        raise Ignored("an actor may only undo its own activities")
    kind = first_type(inner, _UNDO)
    if kind is not None:
        await _UNDO[kind](act, inner)


# ---- profiles: Update, Delete, Move ---------------------------------------------------------------
async def _update_actor(act: Inbound, doc: Mapping[str, Any]) -> None:
    """An actor's new profile (and possibly a rotated key), from the document it signed itself.

    Newer `updated` wins, as for posts: a document older than the last one applied from an Update is
    ignored, so two profile Updates delivered out of order leave the newer profile. Documents without
    `updated` (Mastodon's) are applied as they come."""
    if object_id(doc) != act.actor_uri:
        raise Ignored("an actor may only update itself")
    try:
        f = actor_from_ap(doc)
    except InvalidActor as exc:
        raise Ignored(f"invalid actor in Update: {exc}") from None
    updated = parse_datetime(doc.get("updated"))
    async with act.effects() as conn:
        applied = await conn.execute(
            """UPDATE actors SET actor_type = $2, display_name = $3, note = $4, avatar_url = $5, header_url = $6,
                      fields = fields_keeping_verification(fields, $7::text::jsonb),
                      locked = $8, discoverable = $9, indexable = $10, bot = $11,
                      url = $12, inbox_url = $13, shared_inbox_url = $14, outbox_url = $15, followers_url = $16,
                      following_url = $17, featured_url = $18, key_id = $19, public_key_pem = $20,
                      also_known_as = $21::text::jsonb,
                      moved_to_actor_id = (SELECT id FROM actors WHERE uri = $22 AND uri <> $23),
                      document_updated_at = coalesce($24, document_updated_at),
                      updated_at = now(), fetched_at = now()
                WHERE id = $1 AND domain IS NOT NULL
                  AND ($24::timestamptz IS NULL OR document_updated_at IS NULL OR document_updated_at <= $24)""",
            act.actor["id"], f.actor_type, f.display_name, f.note, f.avatar_url, f.header_url,
            json.dumps(f.fields), f.locked, f.discoverable, f.indexable, f.bot, f.url, f.inbox_url,
            f.shared_inbox_url, f.outbox_url, f.followers_url, f.following_url, f.featured_url, f.key_id,
            f.public_key_pem, json.dumps(f.also_known_as), f.moved_to, f.uri, updated,
        )
        if applied == "UPDATE 0":  # rolls the transaction back; the job records why
            raise Ignored("an older profile than the one applied last (newer `updated` wins)")
        # The company profile an Organization states in its new document.
        await store_remote_profile(conn, act.actor["id"], doc)
        await queue_link_checks(conn, act.actor["id"])  # rel="me" links: checked by a job, not here


async def handle_update(act: Inbound) -> None:
    obj = act.doc.get("object")
    if isinstance(obj, Mapping) and types(obj) & set(ACTOR_TYPES):
        await _update_actor(act, obj)
    else:
        await posts.update_post(act, obj)


async def handle_delete(act: Inbound) -> None:
    target = object_id(act.doc.get("object"))
    if target is None:
        raise Ignored("Delete without an object")
    if target != act.actor_uri:
        await posts.delete_post(act, target)
        return
    # The account deleted itself. The row stays, marked suspended: its key still identifies late
    # deliveries (dropped at the door), and a re-created account under the same URI is not silently
    # merged with the old graph. Its posts, boosts, favourites, follows and profile go now — after the
    # halls it was in have relayed the Delete to their audiences, who got its posts from them.
    async with act.effects() as conn:
        await group_relay.relay_account_deletion(conn, act.doc, act.actor)
        await remote_statuses.remove_remote_account(conn, act.actor["id"])


async def handle_move(act: Inbound) -> None:
    """Account migration: local followers of the old account follow the new one (and leave the old one),
    only when the new account, fetched fresh, names the old one in alsoKnownAs (§6.1 rule 8)."""
    source = act.actor
    if object_id(act.doc.get("object")) != act.actor_uri:
        raise Ignored("an actor may only move itself")
    target_uri = http_uri(object_id(act.doc.get("target")))
    if target_uri is None or target_uri == act.actor_uri:
        raise Ignored("Move without a usable target")
    target = await act.resolve_actor(target_uri, refresh=True)
    if act.actor_uri not in (target["also_known_as"] or []):
        raise Ignored(f"{target_uri} does not list {act.actor_uri} in alsoKnownAs")
    await act.pool.execute("UPDATE actors SET moved_to_actor_id = $2 WHERE id = $1", source["id"], target["id"])
    # Not one transaction: follows.follow/unfollow each are one. A re-run picks up whoever still follows
    # the old account, so an interrupted migration finishes without doubling anything.
    followers = await act.pool.fetch(
        """SELECT a.*, f.show_reblogs, f.notify AS notify_posts FROM follows f
             JOIN actors a ON a.id = f.actor_id AND a.domain IS NULL AND a.suspended_at IS NULL
            WHERE f.target_actor_id = $1 ORDER BY a.id""",
        source["id"],
    )
    for follower in followers:
        try:
            await follows.follow(
                act.pool, follower, target, reblogs=follower["show_reblogs"], notify=follower["notify_posts"]
            )
        except DomainError as exc:  # one of them blocks the other: only leave the old account
            log.info("move of %s: %s cannot follow %s: %s", act.actor_uri, follower["uri"], target_uri, exc)
        await follows.unfollow(act.pool, follower, source)


# ---- moderation ----------------------------------------------------------------------------------
async def handle_flag(act: Inbound) -> None:
    """A report about local accounts (and their posts), usually from a peer's instance actor. Staff are
    notified (admin.report), as Mastodon does for reports that arrive from other servers."""
    uris = [u for u in (object_id(o) for o in as_list(act.doc.get("object"))) if u][:MAX_REPORT_TARGETS]
    content = act.doc.get("content")
    comment = sanitize_plain(content, MAX_REPORT_COMMENT) if isinstance(content, str) else ""
    async with act.effects() as conn:
        accounts = await conn.fetch(
            """SELECT id FROM actors WHERE uri = ANY($1::text[]) AND domain IS NULL AND NOT is_instance_actor
                ORDER BY id""",
            uris,
        )
        reported = await conn.fetch(
            """SELECT id, actor_id FROM statuses WHERE uri = ANY($1::text[]) AND local AND reblog_of_id IS NULL
                ORDER BY id""",
            uris,
        )
        targets = list(dict.fromkeys([r["id"] for r in accounts] + [r["actor_id"] for r in reported]))
        if not targets:
            raise Ignored("Flag of nothing local")
        staff = await conn.fetch(
            "SELECT actor_id FROM users WHERE role IN ('admin', 'moderator') AND NOT disabled ORDER BY actor_id"
        )
        for target_id in targets:
            report_id = await conn.fetchval(
                """INSERT INTO reports (reporter_actor_id, target_actor_id, status_ids, comment, uri)
                   VALUES ($1, $2, $3, $4, $5) RETURNING id""",
                act.actor["id"],
                target_id,
                [r["id"] for r in reported if r["actor_id"] == target_id],
                comment,
                act.activity_id,
            )
            for member in staff:
                notification_id = await conn.fetchval(
                    """INSERT INTO notifications (actor_id, from_actor_id, type, extra)
                       VALUES ($1, $2, 'admin.report', $3::text::jsonb) RETURNING id""",
                    member["actor_id"],
                    act.actor["id"],
                    json.dumps({"report_id": str(report_id)}),
                )
                await events.notification_created(conn, notification_id, member["actor_id"])


# ---- the table and the job ----------------------------------------------------------------------
HANDLERS: Final[dict[str, ActivityHandler]] = {
    "Create": posts.handle_create,
    "Update": handle_update,
    "Delete": handle_delete,
    "Follow": handle_follow,
    "Accept": handle_accept,
    "Reject": handle_reject,
    "Undo": handle_undo,
    "Like": posts.handle_like,
    "Announce": posts.handle_announce,
    "Block": handle_block,
    "Flag": handle_flag,
    "Move": handle_move,
    "Add": posts.handle_add,
    "Remove": posts.handle_remove,
}


async def _mark_processed(pool: asyncpg.Pool, record_id: int, error: str | None) -> None:
    await pool.execute(
        "UPDATE inbox_activities SET processed_at = now(), error = $2 WHERE id = $1 AND processed_at IS NULL",
        record_id,
        error,
    )


# The activity and its sender's row in one round trip: the row is the sender's actors row, with the
# activity's columns added under names no actors column has (inbox_*). A sender we do not know leaves the
# actor's columns NULL. The same round trip answers the two questions every Create asks first (Prefetched):
# these were three of the seven statements of an inbox Create (docs/benchmarks.md).
_ACTIVITY_AND_SENDER = f"""
SELECT i.id AS inbox_id, i.payload AS inbox_payload, i.processed_at AS inbox_processed_at,
       i.activity_id AS inbox_activity_id, i.activity_type AS inbox_activity_type,
       i.payload->'object'->>'id' AS inbox_object_uri,
       {posts.known_sql("(i.payload->'object'->>'id')")} AS inbox_object_known,
       {posts.followed_sql("a.id")} AS inbox_sender_followed,
       a.*
  FROM inbox_activities i LEFT JOIN actors a ON a.uri = i.actor_uri
 WHERE i.id = ANY($1::bigint[])
"""


def _activities(ctx: WorkerContext) -> BatchedReads:
    """The reads of the jobs a claim started together, as one query (batched_reads.py)."""
    reader = ctx.batched_reads.get(INBOX_JOB)
    if reader is None:
        reader = ctx.batched_reads[INBOX_JOB] = BatchedReads(ctx.pool, _ACTIVITY_AND_SENDER, key="inbox_id")
    return reader


async def process_inbox_activity(ctx: WorkerContext, job: Job) -> None:
    """Job kind "inbox": payload {"inbox_activity_id": id}."""
    row = await _activities(ctx).get(job.payload["inbox_activity_id"])
    if row is None or row["inbox_processed_at"] is not None:
        return
    record_id, activity_id, activity_type = row["inbox_id"], row["inbox_activity_id"], row["inbox_activity_type"]
    doc = row["inbox_payload"]
    if isinstance(doc, str):  # a connection without our jsonb codec (db/pool.py)
        doc = json.loads(doc)
    actor = row if row["id"] is not None else None
    inbound = None
    try:
        if actor is None or actor["suspended_at"] is not None:
            raise Ignored("the sender is gone or suspended")
        kind = first_type(doc, HANDLERS)
        if kind is not None:
            facts = Prefetched(row["inbox_object_uri"], row["inbox_object_known"], row["inbox_sender_followed"])
            inbound = Inbound(ctx, record_id, doc, actor, prefetched=facts)
            await HANDLERS[kind](inbound)
    except AlreadyProcessed:
        return
    except Ignored as exc:
        log.info("inbox activity %s (%s) ignored: %s", activity_id, activity_type, exc)
        await _mark_processed(ctx.pool, record_id, str(exc)[:2000])
        return
    except Exception as exc:  # RetryableError or a bug: keep the reason next to the activity, then retry
        await ctx.pool.execute(
            "UPDATE inbox_activities SET error = $2 WHERE id = $1", record_id, f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    if inbound is None or not inbound.marked:  # effects() marks the activity in its own transaction
        await _mark_processed(ctx.pool, record_id, None)


def inbox_handlers() -> dict[str, Handler]:
    """Merge into the worker's registry (delivery.handlers()): {"inbox": process_inbox_activity}."""
    return {INBOX_JOB: process_inbox_activity}

