"""A hall's Announce: how a local hall passes an activity to its audience (FEP-1b12,
https://codeberg.org/fediverse/fep/src/branch/main/fep/1b12/fep-1b12.md).

The activity is wrapped unchanged, so signatures and proofs inside it still verify; the Announce is
logged in the hall's outbox (community_announces, one row per hall and activity, so nothing goes out
twice) and delivered to the hall's remote followers. Used for members' activities the hall relays
(federation/group_relay.py) and for the hall's own moderation activities (business/hall_moderation.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import asyncpg

from fediverse_biz.activitypub import activities
from fediverse_biz.activitypub.activities import object_id, types
from fediverse_biz.activitypub.context import CONTEXT, PUBLIC
from fediverse_biz.core import outbound

RELAYED_TYPES: Final = ("Create", "Update", "Delete", "Like", "Undo")


def relayed_kind(activity: Mapping[str, Any]) -> str | None:
    """Which of the relayed kinds `activity` is, if any."""
    return next((t for t in RELAYED_TYPES if t in types(activity)), None)


async def announce(
    conn: asyncpg.Connection,
    hall: Mapping[str, Any],
    activity: Mapping[str, Any],
    *,
    object_uri: str | None,
    status_id: int | None,
    member: int | None = None,
) -> bool:
    """Wrap `activity` unchanged in an Announce by the hall, log it in the hall's outbox and queue it for
    every remote follower. False if this hall already announced that activity. `member`: the local actor whose
    activity it is; the hall's audience then has something of theirs (core/reach.py)."""
    activity_uri = object_id(activity)
    if activity_uri is None:
        return False
    row_id = int(await conn.fetchval("SELECT next_id()"))
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "id": f"{hall['uri']}/activities/announce/{row_id}",
        "type": "Announce",
        "actor": hall["uri"],
        "published": activities.format_datetime(await conn.fetchval("SELECT now()")),
        "to": [PUBLIC],
        "cc": [hall["followers_url"]],
        "audience": hall["uri"],
        "object": dict(activity),
    }
    inserted = await conn.fetchval(
        """INSERT INTO community_announces (id, community_id, activity_uri, activity_type, object_uri, status_id,
                                            announce)
           VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)
           ON CONFLICT (community_id, activity_uri) DO NOTHING RETURNING id""",
        row_id,
        hall["id"],
        activity_uri,
        relayed_kind(activity) or "Announce",
        object_uri,
        status_id,
        json.dumps(doc),
    )
    if inserted is None:
        return False
    await outbound.deliver(conn, hall, doc, await outbound.follower_inboxes(conn, hall["id"]), on_behalf_of=member)
    return True
