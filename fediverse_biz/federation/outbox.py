"""What a local status's activities are and who must receive them; registered on core's hooks.

Audience rules (Mastodon's; https://docs.joinmastodon.org/spec/activitypub/):
- followers are reached through their shared inbox when they have one (one request per server);
- mentioned actors always receive the activity, and are the *only* recipients of a direct post;
- followers-only and direct posts never go to anyone else — not to relays, not to the parent's
  author unless mentioned;
- suspended domains receive nothing (core/outbound.py filters every fan-out).
Each function runs inside the domain operation's transaction (core/hooks.py).
"""

from __future__ import annotations

import asyncpg

from fediverse_biz.activitypub import activities, notes
from fediverse_biz.core import outbound
from fediverse_biz.core.hooks import Hooks
from fediverse_biz.core.hydrate import StatusBundle
from fediverse_biz.federation import group_relay, replies
from fediverse_biz.urls import LocalUrls


def register(hooks: Hooks) -> None:
    hooks.status_published.append(publish_status)
    hooks.status_edited.append(publish_update)
    hooks.status_deleting.append(publish_delete)
    hooks.status_boosted.append(publish_announce)
    hooks.boost_withdrawn.append(publish_undo_announce)


async def status_inboxes(conn: asyncpg.Connection, bundle: StatusBundle) -> list[str]:
    """Everyone who must receive this status's Create/Update/Delete."""
    inboxes = [i for i in (outbound.remote_inbox(m) for m in bundle.mentions) if i]
    if bundle.status["visibility"] != "direct":
        inboxes += await outbound.follower_inboxes(conn, bundle.author["id"])
    # FEP-1b12: a post in a remote group's thread also goes to the group, which relays it.
    inboxes += await group_relay.group_inboxes(conn, bundle)
    return inboxes


async def publish_status(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> int:
    # FEP-1b12, federation/group_relay.py: a post to a group carries it in `audience`
    # (set before rendering), and a local hall relays its members' posts (after).
    await group_relay.assign_community(conn, bundle)
    note = notes.status_to_ap(bundle, urls, self_replies=())  # a new post has no replies yet
    activity = activities.create(note, bundle.author["uri"])
    sent = await outbound.deliver(conn, bundle.author, activity, await status_inboxes(conn, bundle))
    await group_relay.relay(conn, activity, bundle.author)
    return sent


async def publish_update(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> int:
    own_replies = (await replies.self_replies(conn, [bundle.id]))[bundle.id]
    note = notes.status_to_ap(bundle, urls, self_replies=own_replies)
    # Every Update gets an id of its own (activities.py): two edits in one second are two activities.
    serial = await conn.fetchval("SELECT next_id()")
    activity = activities.update_note(note, bundle.author["uri"], bundle.status["edited_at"], serial=serial)
    sent = await outbound.deliver(conn, bundle.author, activity, await status_inboxes(conn, bundle))
    # Edits in a local hall are relayed (FEP-1b12).
    await group_relay.relay(conn, activity, bundle.author)
    return sent


async def publish_delete(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> int:
    """Must run before the status row is deleted: the audience is computed from it."""
    to, cc = notes.addressing(bundle, bundle.author["followers_url"])
    activity = activities.delete_note(bundle.status["uri"], bundle.author["uri"], to, cc)
    sent = await outbound.deliver(conn, bundle.author, activity, await status_inboxes(conn, bundle))
    # Deletes in a local hall are relayed (FEP-1b12).
    await group_relay.relay(conn, activity, bundle.author)
    return sent


async def publish_announce(conn: asyncpg.Connection, urls: LocalUrls, boost: StatusBundle) -> int:
    assert boost.reblog is not None
    activity = notes.announce_to_ap(boost, urls)
    inboxes = await outbound.follower_inboxes(conn, boost.author["id"])
    original_author = outbound.remote_inbox(boost.reblog.author)
    if original_author:
        inboxes.append(original_author)
    return await outbound.deliver(conn, boost.author, activity, inboxes)


async def publish_undo_announce(conn: asyncpg.Connection, urls: LocalUrls, boost: StatusBundle) -> int:
    assert boost.reblog is not None
    inner = {k: v for k, v in notes.announce_to_ap(boost, urls).items() if k != "@context"}
    activity = activities.undo(inner["id"] + "/undo", boost.author["uri"], inner)
    inboxes = await outbound.follower_inboxes(conn, boost.author["id"])
    original_author = outbound.remote_inbox(boost.reblog.author)
    if original_author:
        inboxes.append(original_author)
    return await outbound.deliver(conn, boost.author, activity, inboxes)
