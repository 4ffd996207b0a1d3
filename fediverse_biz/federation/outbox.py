"""Turning a local action into delivery jobs: who must receive it, and one job per distinct inbox.

Called inside the domain operation's transaction, so the jobs exist if and only if the action
committed. Audience rules (Mastodon's, see federation.md §2.2):
- followers are reached through their shared inbox when they have one (one request per server);
- mentioned actors always receive the activity, and are the *only* recipients of a direct post;
- followers-only and direct posts never go to anyone else — not to relays, not to the parent's
  author unless mentioned;
- suspended domains receive nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from ..activitypub import activities, notes
from ..core.hydrate import StatusBundle
from ..core.urls import LocalUrls
from . import jobs, reach, replies

DELIVER = "deliver"


async def deliver(
    conn: asyncpg.Connection,
    actor: Mapping[str, Any],
    activity: dict[str, Any],
    inboxes: Iterable[str],
    *,
    on_behalf_of: int | None = None,
) -> int:
    """Queue `activity`, signed later by `actor`, for each distinct remote inbox; returns the count.
    The inboxes join the actor's reach (and that of `on_behalf_of`, the local member whose activity a
    hall relays), which an account deletion reaches again (federation/reach.py)."""
    wanted = sorted({i for i in inboxes if i})
    if not wanted:
        return 0
    hosts = {i: urlsplit(i).netloc.lower() for i in wanted}
    blocked = {
        r["domain"]
        for r in await conn.fetch(
            "SELECT domain FROM domain_blocks WHERE severity = 'suspend' AND domain = ANY($1::text[])",
            list({h.split(":")[0] for h in hosts.values()} | set(hosts.values())),
        )
    }
    payloads = [
        ({"inbox": inbox, "activity": activity, "actor_id": actor["id"]}, host)
        for inbox, host in hosts.items()
        if host not in blocked and host.split(":")[0] not in blocked
    ]
    if not payloads:
        return 0
    reached = [actor["id"]] if on_behalf_of is None else [actor["id"], on_behalf_of]
    await reach.record(conn, reached, [payload["inbox"] for payload, _ in payloads])
    return await jobs.enqueue_many(conn, DELIVER, payloads)


async def follower_inboxes(conn: asyncpg.Connection, actor_id: int) -> list[str]:
    rows = await conn.fetch(
        """SELECT DISTINCT coalesce(a.shared_inbox_url, a.inbox_url) AS inbox
             FROM follows f JOIN actors a ON a.id = f.actor_id
            WHERE f.target_actor_id = $1 AND a.domain IS NOT NULL AND a.inbox_url IS NOT NULL""",
        actor_id,
    )
    return [r["inbox"] for r in rows]


def _remote_inbox(actor: Mapping[str, Any] | None) -> str | None:
    if actor is None or actor["domain"] is None:
        return None
    inbox: str | None = actor["shared_inbox_url"] or actor["inbox_url"]
    return inbox


async def status_inboxes(conn: asyncpg.Connection, bundle: StatusBundle) -> list[str]:
    """Everyone who must receive this status's Create/Update/Delete."""
    inboxes = [i for i in (_remote_inbox(m) for m in bundle.mentions) if i]
    if bundle.status["visibility"] != "direct":
        inboxes += await follower_inboxes(conn, bundle.author["id"])
    # FEP-1b12: a post in a remote group's thread also goes to the group, which relays it.
    from . import group_relay

    inboxes += await group_relay.group_inboxes(conn, bundle)
    return inboxes


async def publish_status(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> int:
    # FEP-1b12, federation/group_relay.py: a post to a group carries it in `audience`
    # (set before rendering), and a local hall relays its members' posts (after).
    from . import group_relay

    await group_relay.assign_community(conn, bundle)
    note = notes.status_to_ap(bundle, urls, self_replies=())  # a new post has no replies yet
    activity = activities.create(note, bundle.author["uri"])
    sent = await deliver(conn, bundle.author, activity, await status_inboxes(conn, bundle))
    await group_relay.relay(conn, activity, bundle.author)
    return sent


async def publish_update(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> int:
    own_replies = (await replies.self_replies(conn, [bundle.id]))[bundle.id]
    note = notes.status_to_ap(bundle, urls, self_replies=own_replies)
    # Every Update gets an id of its own (activities.py): two edits in one second are two activities.
    serial = await conn.fetchval("SELECT next_id()")
    activity = activities.update_note(note, bundle.author["uri"], bundle.status["edited_at"], serial=serial)
    sent = await deliver(conn, bundle.author, activity, await status_inboxes(conn, bundle))
    from . import group_relay  # edits in a local hall are relayed (FEP-1b12)

    await group_relay.relay(conn, activity, bundle.author)
    return sent


async def publish_delete(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> int:
    """Must run before the status row is deleted: the audience is computed from it."""
    to, cc = notes.addressing(bundle, bundle.author["followers_url"])
    activity = activities.delete_note(bundle.status["uri"], bundle.author["uri"], to, cc)
    sent = await deliver(conn, bundle.author, activity, await status_inboxes(conn, bundle))
    from . import group_relay  # deletes in a local hall are relayed (FEP-1b12)

    await group_relay.relay(conn, activity, bundle.author)
    return sent


async def publish_announce(conn: asyncpg.Connection, urls: LocalUrls, boost: StatusBundle) -> int:
    assert boost.reblog is not None
    activity = notes.announce_to_ap(boost, urls)
    inboxes = await follower_inboxes(conn, boost.author["id"])
    original_author = _remote_inbox(boost.reblog.author)
    if original_author:
        inboxes.append(original_author)
    return await deliver(conn, boost.author, activity, inboxes)


async def publish_undo_announce(conn: asyncpg.Connection, urls: LocalUrls, boost: StatusBundle) -> int:
    assert boost.reblog is not None
    inner = {k: v for k, v in notes.announce_to_ap(boost, urls).items() if k != "@context"}
    activity = activities.undo(inner["id"] + "/undo", boost.author["uri"], inner)
    inboxes = await follower_inboxes(conn, boost.author["id"])
    original_author = _remote_inbox(boost.reblog.author)
    if original_author:
        inboxes.append(original_author)
    return await deliver(conn, boost.author, activity, inboxes)


async def send_to_actor(
    conn: asyncpg.Connection, actor: Mapping[str, Any], target: Mapping[str, Any], activity: dict[str, Any]
) -> int:
    """Follow/Accept/Reject/Like/Block and their Undo go to one actor's own inbox."""
    if {"Like", "Undo"} & activities.types(activity) and actor["domain"] is None:
        from . import group_relay  # a member's like of a post in a local hall is relayed

        await group_relay.relay(conn, activity, actor)
    if target["domain"] is None or not target["inbox_url"]:
        return 0
    return await deliver(conn, actor, activity, [target["inbox_url"]])


async def publish_actor_update(conn: asyncpg.Connection, actor: Mapping[str, Any], document: dict[str, Any]) -> int:
    # An id of its own for every profile Update (activities.py), and the time of the change in the
    # document, so receivers keep the newer of two that arrive out of order.
    change = await conn.fetchrow("SELECT next_id() AS serial, now() AS at")
    activity = activities.update_actor(document, serial=change["serial"], updated_at=change["at"])
    return await deliver(conn, actor, activity, await follower_inboxes(conn, actor["id"]))
