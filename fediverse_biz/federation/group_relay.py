"""The FEP-1b12 relay: a local hall re-announces what its members send it (FEDERATION.md, "Communities";
https://codeberg.org/fediverse/fep/src/branch/main/fep/1b12/fep-1b12.md).

A hall "receives" an activity in two ways, both inside the transaction that applies it:
- from its inbox, after the inbox handler stored it (hook in inbound/context.py, `Inbound.effects`);
- from a local member, when it is sent out (federation/outbox.py's status hooks, and the `activity_sent`
  hook of core/outbound.py for likes; `register` below).
`relay()` then decides, for Create, Update, Delete, Like and Undo(Like):
1. Which hall: a local Group the activity or its object addresses (`to`/`cc`/`audience`, or a Mention),
   else the hall of the post it concerns (a reply in a hall thread, a like, an edit), else — for a Delete,
   whose post is gone — the hall that announced that post (community_announces).
2. Whether to accept: posts, edits and likes only from members in good standing (following the hall, not
   banned); deletes and undos from anyone not banned, and a Delete only for an object on the sender's own
   host (the inbox already checked authorship). A refused Create gets a Reject (FEP-1b12: the group MAY).
3. Relay: wrap the activity UNCHANGED in an Announce by the hall ("preserved exactly as it was
   received", so FEP-8b32 proofs still verify), to Public and the hall's followers, delivered to the
   remote followers' (shared) inboxes and logged in the hall's outbox. A new thread (a Create without
   inReplyTo) is ALSO boosted plainly — Announce of the object — because Mastodon does not understand
   Announce(Create) (Lemmy does the same for posts, not comments:
https://github.com/LemmyNet/lemmy/issues/2224). The boost is a
   local status by the hall, so the hall's local members get the thread in their home feeds by the
   ordinary fan-out (core/distribution.py).
Re-running is harmless: one community_announces row per (hall, activity id), so nothing is relayed twice.
A member's account deletion, Delete(actor), concerns no post and is relayed apart, before the member's
posts and follows go (relay_account_deletion, called by the inbox's Delete handlers and by
core/account_deletion.py): every hall it belongs to or posted in announces it to its audience.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import asyncpg

from fediverse_biz.activitypub import activities, notes
from fediverse_biz.activitypub.activities import as_list, object_id, types
from fediverse_biz.activitypub.actors import authority
from fediverse_biz.business import hall_announces
from fediverse_biz.core import distribution, outbound
from fediverse_biz.core.hooks import Hooks
from fediverse_biz.core.hydrate import StatusBundle, load_status
from fediverse_biz.urls import LocalUrls

__all__ = [
    "addressed",
    "assign_community",
    "group_inboxes",
    "relay",
    "relay_account_deletion",
]

log = logging.getLogger(__name__)

_MEMBERS_ONLY: Final = frozenset({"Create", "Update", "Like"})
_HALL_SQL: Final = """SELECT a.* FROM actors a JOIN communities c ON c.actor_id = a.id
                       WHERE a.domain IS NULL AND a.suspended_at IS NULL AND """


def addressed(activity: Mapping[str, Any]) -> set[str]:
    """Every actor URI an activity or its embedded object addresses or mentions."""
    uris: set[str] = set()
    obj = activity.get("object")
    for doc in (activity, obj) if isinstance(obj, Mapping) else (activity,):
        for key in ("to", "cc", "bto", "bcc", "audience"):
            uris.update(u for u in map(object_id, as_list(doc.get(key))) if u)
        for tag in as_list(doc.get("tag")):
            if "Mention" in types(tag) and isinstance(tag.get("href"), str):
                uris.add(tag["href"])
    return uris


async def _hall_addressed(conn: asyncpg.Connection, uris: set[str]) -> asyncpg.Record | None:
    if not uris:
        return None
    return await conn.fetchrow(
        _HALL_SQL + "(a.uri = ANY($1::text[]) OR a.url = ANY($1::text[])) ORDER BY a.id LIMIT 1", sorted(uris)
    )


async def _hall_by_id(conn: asyncpg.Connection, actor_id: int | None) -> asyncpg.Record | None:
    if actor_id is None:
        return None
    return await conn.fetchrow(_HALL_SQL + "a.id = $1", actor_id)


async def in_good_standing(conn: asyncpg.Connection, hall_id: int, actor_id: int) -> bool:
    """A member: follows the hall (joining is following) and is not banned."""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM follows WHERE actor_id = $2 AND target_actor_id = $1)
                  AND NOT EXISTS (SELECT 1 FROM community_bans WHERE community_id = $1 AND actor_id = $2)""",
            hall_id,
            actor_id,
        )
    )


async def _banned(conn: asyncpg.Connection, hall_id: int, actor_id: int) -> bool:
    return bool(
        await conn.fetchval("SELECT 1 FROM community_bans WHERE community_id = $1 AND actor_id = $2", hall_id, actor_id)
    )


@dataclass
class _Target:
    kind: str
    hall: asyncpg.Record
    status: asyncpg.Record | None  # the post concerned; None once deleted
    object_uri: str | None


def _object_uri(kind: str, activity: Mapping[str, Any]) -> str | None:
    obj = activity.get("object")
    if kind == "Undo":  # only Undo(Like) is relayed: the liked post is the inner Like's object
        return object_id(obj.get("object")) if isinstance(obj, Mapping) and "Like" in types(obj) else None
    return object_id(obj)


async def _may_concern_a_hall(conn: asyncpg.Connection, kind: str, activity: Mapping[str, Any], uri: str) -> bool:
    """Whether any of the places _target looks for a hall holds one, in one round trip. Nearly every
    activity concerns no hall, and for those the three lookups of _target would be three statements in
    the transaction of every inbox Create (docs/benchmarks.md); only when this says yes do they run."""
    uris = sorted(addressed(activity)) if kind in ("Create", "Update") else []
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM actors a JOIN communities c ON c.actor_id = a.id
                               WHERE a.domain IS NULL AND (a.uri = ANY($1::text[]) OR a.url = ANY($1::text[])))
                   OR EXISTS (SELECT 1 FROM statuses s WHERE s.uri = $2 AND s.reblog_of_id IS NULL
                                 AND (s.community_id IS NOT NULL
                                      OR ($3 AND EXISTS (SELECT 1 FROM statuses p WHERE p.id = s.in_reply_to_id
                                                           AND p.community_id IS NOT NULL))))
                   OR EXISTS (SELECT 1 FROM community_announces WHERE object_uri = $2)""",
            uris,
            uri,
            kind == "Create",
        )
    )


def _surely_no_hall(kind: str, activity: Mapping[str, Any], local_authority: str | None) -> bool:
    """Whether a peer's Create is sure to concern no hall here, without asking the database: its post
    names nobody on this server and replies to nothing. Then none of the places _target looks can hold
    a hall: a hall is named by its (local) URI or URL; the post was not stored before this transaction
    (a known one returns before its effects), so it has no hall of its own and no hall announced it;
    and without a parent it is in no hall's thread. Nearly every Create a server receives is such a post."""
    if kind != "Create" or local_authority is None:
        return False
    obj = activity.get("object")
    if not isinstance(obj, Mapping) or obj.get("inReplyTo"):
        return False
    return all(authority(uri) != local_authority for uri in addressed(activity))


async def _target(
    conn: asyncpg.Connection, activity: Mapping[str, Any], local_authority: str | None
) -> _Target | None:
    kind = hall_announces.relayed_kind(activity)
    if kind is None:
        return None
    uri = _object_uri(kind, activity)
    if uri is None:
        return None
    if _surely_no_hall(kind, activity, local_authority) or not await _may_concern_a_hall(conn, kind, activity, uri):
        return None
    status = await conn.fetchrow("SELECT * FROM statuses WHERE uri = $1 AND reblog_of_id IS NULL", uri)
    hall = None
    if kind in ("Create", "Update"):
        hall = await _hall_addressed(conn, addressed(activity))
    if hall is None and status is not None:
        hall = await _hall_by_id(conn, status["community_id"])
        if hall is None and kind == "Create" and status["in_reply_to_id"] is not None:
            # A reply in a hall's thread belongs to the hall even when it does not name it (Mastodon apps
            # do not add the group to a reply; Lemmy adds `audience`).
            parent = await conn.fetchval("SELECT community_id FROM statuses WHERE id = $1", status["in_reply_to_id"])
            hall = await _hall_by_id(conn, parent)
    if hall is None:
        hall_id = await conn.fetchval(
            "SELECT community_id FROM community_announces WHERE object_uri = $1 ORDER BY id LIMIT 1", uri
        )
        hall = await _hall_by_id(conn, hall_id)
    return _Target(kind, hall, status, uri) if hall is not None else None


def register(hooks: Hooks) -> None:
    hooks.activity_sent.append(_relay_member_like)
    hooks.account_deleted.append(_relay_local_account_deletion)


async def _relay_member_like(
    conn: asyncpg.Connection, sender: Mapping[str, Any], target: Mapping[str, Any], activity: Mapping[str, Any]
) -> None:
    """A local member's Like (or its Undo) of a post in a local hall is relayed to the hall's audience."""
    if {"Like", "Undo"} & types(activity) and sender["domain"] is None:
        await relay(conn, activity, sender)


async def _relay_local_account_deletion(
    conn: asyncpg.Connection, actor: Mapping[str, Any], deletion: Mapping[str, Any]
) -> None:
    await relay_account_deletion(conn, deletion, actor)


async def relay(
    conn: asyncpg.Connection,
    activity: Mapping[str, Any],
    sender: Mapping[str, Any],
    *,
    received_by: str | None = None,
) -> bool:
    """Relay `activity` (exactly as received, or as we sent it) through the local hall it concerns.
    `sender` is the activity's verified actor. Returns whether the hall announced it. `received_by`:
    our authority (host[:port]), when a peer's activity comes from the inbox — a Create that names
    nobody here and replies to nothing is then answered without a query (_surely_no_hall)."""
    target = await _target(conn, activity, received_by)
    if target is None or sender["id"] == target.hall["id"]:
        return False
    kind, hall = target.kind, target.hall
    if kind in _MEMBERS_ONLY:
        if not await in_good_standing(conn, hall["id"], sender["id"]):
            log.info("hall %s refuses %s %s from non-member %s", hall["uri"], kind, activity.get("id"), sender["uri"])
            if kind == "Create":
                await _reject(conn, hall, sender, activity)
            return False
    elif await _banned(conn, hall["id"], sender["id"]):
        return False
    if kind == "Delete" and authority(target.object_uri or "") != authority(str(sender["uri"])):
        return False  # only a post's own server can vouch for its deletion (FEDERATION.md, "Security")
    if kind == "Create" and target.status is None:
        return False  # not a kind of post we store (the inbox ignored it)
    if target.status is not None and target.status["visibility"] not in ("public", "unlisted"):
        return False  # the hall announces to Public: followers-only and direct posts are never relayed
    if kind == "Create":
        assert target.status is not None
        await conn.execute("UPDATE statuses SET community_id = $2 WHERE id = $1", target.status["id"], hall["id"])
    status_id = target.status["id"] if target.status is not None else None
    member = sender["id"] if sender["domain"] is None else None  # whose reach the hall's audience joins
    announced = await hall_announces.announce(
        conn, hall, activity, object_uri=target.object_uri, status_id=status_id, member=member
    )
    if not announced:
        return False
    if kind == "Create" and target.status is not None and target.status["in_reply_to_uri"] is None:
        await _boost(conn, hall, target.status["id"])
    return True


async def relay_account_deletion(
    conn: asyncpg.Connection, activity: Mapping[str, Any], member: Mapping[str, Any]
) -> int:
    """A member's account is deleted (`activity`: its Delete(actor), as received or as we send it): every
    local hall it belongs to or has posts in announces the Delete to the hall's audience, which got those
    posts from the hall and not from the member's server. Call it before the member's follows and posts
    are removed: they say which halls. Relayed for banned members too: it only takes data away.
    Returns how many halls announced it."""
    halls = await conn.fetch(
        _HALL_SQL
        + """a.id <> $1 AND a.id IN (SELECT target_actor_id FROM follows WHERE actor_id = $1
                                     UNION SELECT community_id FROM statuses
                                            WHERE actor_id = $1 AND community_id IS NOT NULL)
             ORDER BY a.id""",
        member["id"],
    )
    local_member = member["id"] if member["domain"] is None else None
    announced = 0
    for hall in halls:
        uri = str(member["uri"])
        if await hall_announces.announce(conn, hall, activity, object_uri=uri, status_id=None, member=local_member):
            announced += 1
    return announced


async def _boost(conn: asyncpg.Connection, hall: Mapping[str, Any], status_id: int) -> None:
    """The plain boost of a new thread: a local boost by the hall, fanned out to local members, and its
    Announce(object) to remote followers (what Mastodon, Pleroma and GoToSocial show)."""
    original = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    if original is None or original["visibility"] not in ("public", "unlisted"):
        return  # only public posts can be boosted by others (Mastodon's Status#reblog rule)
    if await conn.fetchval("SELECT 1 FROM statuses WHERE reblog_of_id = $1 AND actor_id = $2", status_id, hall["id"]):
        return
    boost_id = int(await conn.fetchval("SELECT next_id()"))
    await conn.execute(
        """INSERT INTO statuses (id, uri, url, actor_id, local, object_type, visibility, reblog_of_id, community_id)
           VALUES ($1, $2, $3, $4, true, 'Announce', 'public', $5, $4)""",
        boost_id,
        f"{hall['uri']}/statuses/{boost_id}/activity",  # interactions.reblog's pattern
        original["url"],
        hall["id"],
        status_id,
    )
    await conn.execute("UPDATE statuses SET reblogs_count = reblogs_count + 1 WHERE id = $1", status_id)
    bundle = await load_status(conn, boost_id)
    assert bundle is not None
    await distribution.distribute(conn, bundle)
    parts = urlsplit(str(hall["uri"]))
    doc = notes.announce_to_ap(bundle, LocalUrls(f"{parts.scheme}://{parts.netloc}"))
    await outbound.deliver(conn, hall, doc, await outbound.follower_inboxes(conn, hall["id"]))


async def _reject(
    conn: asyncpg.Connection, hall: Mapping[str, Any], sender: Mapping[str, Any], activity: Mapping[str, Any]
) -> None:
    """Tell a remote non-member (or a banned one) that the hall will not relay the post."""
    if sender["domain"] is None:
        return
    digest = hashlib.sha256(str(activity.get("id")).encode()).hexdigest()[:16]
    reject = activities.activity(
        "Reject",
        id=f"{hall['uri']}#rejects/{digest}",
        actor=hall["uri"],
        object=activity.get("id"),
        to=[sender["uri"]],
    )
    await outbound.send_to_actor(conn, hall, sender, reject)


# ---- posts written here to groups (outbox hooks) --------------------------------------------------
async def assign_community(conn: asyncpg.Connection, bundle: StatusBundle) -> None:
    """Before a local post is rendered: the group it is posted to — a Group it mentions, or the group of
    the thread it replies in — goes into `audience` (extra["audience"], rendered by notes.status_to_ap,
    with the group in `cc`: what Lemmy expects). A remote group's post is marked as the group's at once;
    a local hall's only when relay() accepts it. Updates `bundle.status` in place."""
    status = bundle.status
    if status["reblog_of_id"] is not None:
        return
    group = next((m for m in bundle.mentions if m["actor_type"] == "Group"), None)
    if group is None and status["in_reply_to_id"] is not None:
        group_id = await conn.fetchval("SELECT community_id FROM statuses WHERE id = $1", status["in_reply_to_id"])
        if group_id is not None:
            group = await conn.fetchrow("SELECT * FROM actors WHERE id = $1 AND actor_type = 'Group'", group_id)
    if group is None:
        return
    remote = group["domain"] is not None
    bundle.status = await conn.fetchrow(
        """UPDATE statuses SET extra = extra || jsonb_build_object('audience', $2::text),
                  community_id = CASE WHEN $3 THEN $4 ELSE community_id END
            WHERE id = $1 RETURNING *""",
        status["id"],
        group["uri"],
        remote,
        group["id"],
    )


async def group_inboxes(conn: asyncpg.Connection, bundle: StatusBundle) -> list[str]:
    """A post in a remote group's thread goes to the group too, mentioned or not, so it can relay it."""
    group_id = bundle.status["community_id"]
    if group_id is None or bundle.status["visibility"] == "direct":
        return []
    row = await conn.fetchrow(
        "SELECT shared_inbox_url, inbox_url FROM actors WHERE id = $1 AND domain IS NOT NULL", group_id
    )
    inbox = (row["shared_inbox_url"] or row["inbox_url"]) if row is not None else None
    return [inbox] if inbox else []
