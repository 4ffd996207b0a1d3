"""Inbound activities about accounts: Update (of an actor, or handed to inbound/posts.py for a post),
Delete, Move, and Flag (a report to this server's moderators).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from fediverse_biz.activitypub.activities import as_list, http_uri, object_id, parse_datetime, types
from fediverse_biz.activitypub.actors import ACTOR_TYPES, InvalidActor, actor_from_ap
from fediverse_biz.business.organizations import store_remote_profile
from fediverse_biz.business.verified_links import queue_link_checks
from fediverse_biz.core import follows, remote_statuses, reports
from fediverse_biz.core.errors import DomainError
from fediverse_biz.federation import group_relay
from fediverse_biz.federation.inbound import posts
from fediverse_biz.federation.inbound.context import Ignored, Inbound
from fediverse_biz.text.sanitize import sanitize_plain

log = logging.getLogger(__name__)

MAX_REPORT_TARGETS: Final = 100
MAX_REPORT_COMMENT: Final = 5000  # Mastodon caps local report comments at 1000 and remote ones not at all


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
    only when the new account, fetched fresh, names the old one in alsoKnownAs
    (https://docs.joinmastodon.org/spec/activitypub/, "Account migration")."""
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
            await reports.notify_staff(conn, act.actor["id"], report_id)
