"""Inbox handlers for posts: Create, Update and Delete of a status, Like, Announce, Add/Remove (featured).

The rules are Mastodon's (app/lib/activitypub/activity/*.rb) and FEDERATION.md's ("Security"):
- an embedded object is believed only when it comes from the sender's own origin; any other is fetched
  from its id (fetch_ap_object: id == final URL), and a bare URI is always fetched;
- a post is stored only with attributedTo == the activity's actor, and only if it concerns someone here
  (Create#related_to_local_activity?): its author is followed locally, it addresses or mentions a local
  account, or it replies to a local post or to a post of someone followed here. The rest is spam we
  need not keep;
- Update and Delete apply only to the author's own statuses, checked against the stored author;
- a reply's missing parent is fetched once, up to MAX_ANCESTORS levels, best effort.
The table that routes activities here is `HANDLERS` in inbound/dispatch.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import asyncpg

from fediverse_biz.activitypub.activities import http_uri, object_id, types
from fediverse_biz.activitypub.actors import authority
from fediverse_biz.activitypub.notes import NOTE_TYPES, ParsedNote, note_from_ap
from fediverse_biz.activitypub.validation import SchemaError, validate_object
from fediverse_biz.business import offers, remote_contributors, submissions
from fediverse_biz.core import remote_statuses, statuses
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.visibility import can_see
from fediverse_biz.federation.inbound import votes
from fediverse_biz.federation.inbound.context import Ignored, Inbound, addressed
from fediverse_biz.jobs.contract import RetryableError

log = logging.getLogger(__name__)

MAX_ANCESTORS: Final = 3  # parents fetched for one reply: enough context, bounded work per activity
_POST_TYPES: Final = frozenset(NOTE_TYPES)


async def _authentic_post(act: Inbound, obj: Any) -> dict[str, Any] | None:
    """The post an activity is about, believable: embedded from the sender's origin, else fetched.
    None when the object is not a post (a Create of a ChatMessage, an Update of something else)."""
    if isinstance(obj, Mapping):
        if not types(obj) & _POST_TYPES:
            return None
        uri = http_uri(object_id(obj))
        if uri is not None and authority(uri) == authority(act.actor_uri):
            return dict(obj)
    else:
        uri = http_uri(obj)
    if uri is None:
        raise Ignored("the object has no http(s) id")
    doc = await act.fetch_object(uri)
    try:
        validate_object(doc)
    except SchemaError as exc:
        raise Ignored(f"fetched {uri}: {exc}") from None
    return doc


def _parse(doc: Mapping[str, Any], author: Mapping[str, Any] | None) -> ParsedNote:
    try:
        return note_from_ap(doc, actor_followers_url=author["followers_url"] if author else None)
    except ValueError as exc:
        raise Ignored(f"unusable post: {exc}") from None


def known_sql(uri: str) -> str:
    """SQL: whether a status or a tombstone has the id `uri` (an SQL expression)."""
    return f"(EXISTS (SELECT 1 FROM statuses WHERE uri = {uri}) OR EXISTS (SELECT 1 FROM tombstones WHERE uri = {uri}))"


def followed_sql(actor_id: str) -> str:
    """SQL: whether a local account follows the actor `actor_id` (an SQL expression)."""
    return f"""EXISTS (SELECT 1 FROM follows f JOIN actors l ON l.id = f.actor_id AND l.domain IS NULL
                        WHERE f.target_actor_id = {actor_id})"""


async def _known_or_tombstoned(pool: asyncpg.Pool, uri: str) -> bool:
    return bool(await pool.fetchval(f"SELECT {known_sql('$1')}", uri))


async def _followed_locally(pool: asyncpg.Pool, actor_id: int) -> bool:
    return bool(await pool.fetchval(f"SELECT {followed_sql('$1')}", actor_id))


async def _known_and_followed(act: Inbound, uri: str) -> tuple[bool, bool]:
    """_known_or_tombstoned(uri) and _followed_locally(sender) in one round trip: every Create asks both.
    Usually answered already, with the activity (Inbound.prefetched), when `uri` is its embedded object's."""
    facts = act.prefetched
    if facts is not None and facts.object_uri == uri:
        return facts.object_known, facts.sender_followed
    row = await act.pool.fetchrow(
        f"SELECT {known_sql('$1')} AS known, {followed_sql('$2')} AS followed", uri, act.actor["id"]
    )
    return bool(row["known"]), bool(row["followed"])


async def _relevant(act: Inbound, parsed: ParsedNote, *, followed: bool) -> bool:
    """Mastodon's Create#related_to_local_activity?, without relays; plus a reply in the thread
    of a local hall, which the hall relays (federation/group_relay.py) even when the reply does not name it.
    `followed`: whether a local account follows the sender (_known_and_followed)."""
    if followed:
        return True
    audience = [*parsed.mentions, *parsed.to, *parsed.cc, *addressed(act.doc)]
    return bool(
        await act.pool.fetchval(
            """SELECT EXISTS (SELECT 1 FROM actors WHERE domain IS NULL AND NOT is_instance_actor
                                AND (uri = ANY($1::text[]) OR url = ANY($1::text[])))
                   OR EXISTS (SELECT 1 FROM statuses s JOIN actors a ON a.id = s.actor_id
                               WHERE s.uri = $2 AND (a.domain IS NULL OR EXISTS (
                                   SELECT 1 FROM follows f JOIN actors l ON l.id = f.actor_id AND l.domain IS NULL
                                    WHERE f.target_actor_id = s.actor_id)
                                   OR EXISTS (SELECT 1 FROM communities c WHERE c.actor_id = s.community_id)))""",
            audience,
            parsed.in_reply_to,
        )
    )


async def post_with_author(act: Inbound, obj: Any) -> tuple[ParsedNote, asyncpg.Record]:
    """A post we lack (a URI, or an embedded copy: re-fetched unless from the sender's origin) with its
    author, who must live on the post's host (the door's rule for activity ids, applied to objects)."""
    doc = await _authentic_post(act, obj)
    if doc is None:
        raise Ignored("the object is not a post")
    attributed_to = _parse(doc, None).attributed_to
    if authority(attributed_to) != authority(str(doc["id"])):
        raise Ignored(f"{doc['id']} claims an author on another host, {attributed_to}")
    author = act.actor if attributed_to == act.actor_uri else await act.resolve_actor(attributed_to)
    return _parse(doc, author), author


async def fetch_ancestors(act: Inbound, parent_uri: str | None) -> list[tuple[ParsedNote, asyncpg.Record]]:
    """The missing parents of a reply, oldest first; stops quietly at the first one it cannot get
    (the reply then keeps in_reply_to_uri, and the parent adopts it if it ever arrives)."""
    chain: list[tuple[ParsedNote, asyncpg.Record]] = []
    uri = parent_uri
    while uri and len(chain) < MAX_ANCESTORS and not act.is_local(uri):
        if await _known_or_tombstoned(act.pool, uri) or any(p.uri == uri for p, _ in chain):
            break
        try:
            parsed, author = await post_with_author(act, uri)
        except (Ignored, RetryableError) as exc:
            log.info("parent %s not fetched: %s", uri, exc)
            break
        chain.append((parsed, author))
        uri = parsed.in_reply_to
    return chain[::-1]


# ---- the handlers ---------------------------------------------------------------------------------
async def handle_create(act: Inbound) -> None:
    doc = await _authentic_post(act, act.doc.get("object"))
    if doc is None:
        return  # not a kind of post we store
    if await votes.handle_vote(act, doc):
        return  # a vote on one of our polls is counted (or refused), never stored as a reply
    parsed = _parse(doc, act.actor)
    if parsed.attributed_to != act.actor_uri:
        raise Ignored("attributedTo is not the activity's actor")
    known, followed = await _known_and_followed(act, parsed.uri)
    if known:
        return  # a re-delivery, or a Create that arrived after its Delete
    if await _submitted(act, parsed):
        return
    if not await _relevant(act, parsed, followed=followed):
        raise Ignored("nobody here follows, is addressed by or is replied to by this post")
    ancestors = await fetch_ancestors(act, parsed.in_reply_to)
    async with act.effects() as conn:
        for ancestor, author in ancestors:
            await remote_statuses.store_remote_note(conn, ancestor, author, act.urls, index=offers.index_remote)
        await remote_statuses.store_remote_note(conn, parsed, act.actor, act.urls, index=offers.index_remote)


async def _submitted(act: Inbound, parsed: ParsedNote) -> bool:
    """A remote contributor's submission to a local organization (business/submissions.py) is held for
    the organization's reviewers instead of being stored as a direct message; True when it was (or had
    been) queued. A post of that shape from anyone the organization does not accept is an ordinary one."""
    organization_uri = submissions.target(parsed, act.doc)
    if organization_uri is None:
        return False
    organization = await remote_contributors.accepted_by(act.pool, organization_uri, act.actor["id"])
    if organization is None:
        return False
    try:
        await submissions.submit(
            act.pool, act.urls, act.ctx.settings.domain, organization, act.actor, parsed, act.activity_id
        )
    except submissions.NotAccepted:
        return False  # removed a moment ago: what it sends now is an ordinary message
    except DomainError as exc:
        # Nothing to publish but the addressing, or too long: the team still reads it, as a message.
        log.info("%s is no usable submission, kept as a direct message: %s", parsed.uri, exc)
        return False
    return True


async def update_post(act: Inbound, obj: Any) -> None:
    """Update of a Note/Article/Page/Question: an edit by its author of a post we have."""
    doc = await _authentic_post(act, obj)
    if doc is None:
        return
    parsed = _parse(doc, act.actor)
    if parsed.attributed_to != act.actor_uri:
        raise Ignored("only the author may update a post")
    async with act.effects() as conn:
        status = await conn.fetchrow(
            "SELECT * FROM statuses WHERE uri = $1 AND reblog_of_id IS NULL FOR UPDATE", parsed.uri
        )
        if status is None:
            raise Ignored("Update of a post we do not have")
        if status["actor_id"] != act.actor["id"]:
            raise Ignored("only the author may update a post")  # CVE-2024-37903: check the stored author
        await remote_statuses.update_remote_note(conn, status, parsed, act.urls, index=offers.index_remote)


async def delete_post(act: Inbound, uri: str) -> None:
    """Delete of a status (Tombstone or bare URI) or of a boost (the Announce id), by its author only."""
    async with act.effects() as conn:
        status = await conn.fetchrow("SELECT * FROM statuses WHERE uri = $1 FOR UPDATE", uri)
        if status is None:
            await submissions.withdraw(conn, act.urls, uri, act.actor["id"])
            if authority(uri) == authority(act.actor_uri) and not act.is_local(uri):
                # The Delete overtook its Create: remember it so the Create is ignored (delete_arrived_first?).
                await conn.execute(
                    "INSERT INTO tombstones (uri, actor_id) VALUES ($1, $2) ON CONFLICT (uri) DO NOTHING",
                    uri,
                    act.actor["id"],
                )
            return
        if status["actor_id"] != act.actor["id"]:
            raise Ignored("only the author may delete a status")
        if status["reblog_of_id"] is not None:
            await remote_statuses.record_remote_unannounce(conn, act.actor, announce_uri=uri)
            return
        try:
            await statuses.remove(conn, act.urls, status["id"], federate=False)
        except DomainError as exc:
            raise Ignored(f"status {uri} vanished: {exc}") from None


async def handle_like(act: Inbound) -> None:
    uri = object_id(act.doc.get("object"))
    status = await act.pool.fetchrow("SELECT * FROM statuses WHERE uri = $1 AND reblog_of_id IS NULL", uri)
    if status is None:
        raise Ignored("Like of a status we do not have")
    if not await can_see(act.pool, status, act.actor["id"]):
        raise Ignored("Like of a status the actor cannot see")
    async with act.effects() as conn:
        await remote_statuses.record_remote_like(conn, act.actor, status, act.activity_id)


def is_boost(act: Inbound) -> bool:
    """Whether an Announce is a plain boost of a post by a person or an organization. A Group's Announce
    (FEP-1b12: Lemmy's Announce(Create(Page))) and an Announce of an activity are the hall relay's, in
    inbound/groups.py, which also takes a group's plain boosts so that the two forms of one post,
    processed at once by two workers, store it once."""
    obj = act.doc.get("object")
    if act.actor["actor_type"] == "Group":
        return False
    return not (isinstance(obj, Mapping) and types(obj) and not types(obj) & _POST_TYPES)


async def handle_boost(act: Inbound) -> None:
    obj = act.doc.get("object")
    uri = http_uri(object_id(obj))
    if uri is None:
        raise Ignored("Announce without an http(s) object")
    status = await act.pool.fetchrow("SELECT * FROM statuses WHERE uri = $1", uri)
    fetched: tuple[ParsedNote, asyncpg.Record] | None = None
    booster_followed = await _followed_locally(act.pool, act.actor["id"])
    if status is None:
        # Mastodon fetches the original only when someone here will see the boost; one fetch at most.
        if not booster_followed or await _known_or_tombstoned(act.pool, uri):
            raise Ignored("Announce of an unknown status by an actor nobody here follows")
        fetched = await post_with_author(act, obj)
    elif not booster_followed and not status["local"]:
        raise Ignored("Announce that concerns nobody here")
    async with act.effects() as conn:
        if fetched is not None:
            status_id = await remote_statuses.store_remote_note(
                conn, fetched[0], fetched[1], act.urls, index=offers.index_remote
            )
            status = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
        assert status is not None
        await act.record_announce(conn, status)


async def undo_like(act: Inbound, inner: Mapping[str, Any]) -> None:
    status_id = await act.pool.fetchval("SELECT id FROM statuses WHERE uri = $1", object_id(inner.get("object")))
    async with act.effects() as conn:
        await remote_statuses.record_remote_unlike(conn, act.actor, status_id=status_id, like_uri=object_id(inner))


async def undo_announce(act: Inbound, inner: Mapping[str, Any]) -> None:
    original_id = await act.pool.fetchval("SELECT id FROM statuses WHERE uri = $1", object_id(inner.get("object")))
    async with act.effects() as conn:
        await remote_statuses.record_remote_unannounce(
            conn, act.actor, announce_uri=object_id(inner), original_id=original_id
        )


async def _featured_status(act: Inbound) -> int:
    """Add/Remove: only the sender's own featured collection, only the sender's own statuses (Mastodon's
    Add#perform checks both)."""
    featured = act.actor["featured_url"]
    if not featured or object_id(act.doc.get("target")) != featured:
        raise Ignored("Add/Remove on a collection other than the actor's featured posts")
    status_id = await act.pool.fetchval(
        "SELECT id FROM statuses WHERE uri = $1 AND actor_id = $2 AND reblog_of_id IS NULL",
        object_id(act.doc.get("object")),
        act.actor["id"],
    )
    if status_id is None:
        raise Ignored("pin of a status we do not have, or not the actor's own")
    return int(status_id)


async def handle_add(act: Inbound) -> None:
    status_id = await _featured_status(act)
    async with act.effects() as conn:
        await conn.execute(
            "INSERT INTO pinned_statuses (actor_id, status_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            act.actor["id"],
            status_id,
        )


async def handle_remove(act: Inbound) -> None:
    status_id = await _featured_status(act)
    async with act.effects() as conn:
        await conn.execute(
            "DELETE FROM pinned_statuses WHERE actor_id = $1 AND status_id = $2", act.actor["id"], status_id
        )
