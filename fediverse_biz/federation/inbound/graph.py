"""Inbound activities of the social graph: Follow, Accept, Reject, Block and their Undo.

Who may do what is checked here against what the activity is about (FEDERATION.md, "Security"): an
Accept only counts from the follow's target, an Undo only for the sender's own activity.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import asyncpg

from fediverse_biz.activitypub import activities
from fediverse_biz.activitypub.activities import actor_id, http_uri, object_id, types
from fediverse_biz.core import follows, notifications, outbound, remote_statuses
from fediverse_biz.federation.inbound import posts
from fediverse_biz.federation.inbound.context import Ignored, Inbound, first_type

log = logging.getLogger(__name__)


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
            await outbound.send_to_actor(conn, target, follower, reject)
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
            # A locked account's follower waits for its owner: auto-following locked accounts leaked
            # followers-only posts (Pixelfed CVE-2025-30741, https://fokus.cool/2025/03/25/pixelfed-vulnerability.html).
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
