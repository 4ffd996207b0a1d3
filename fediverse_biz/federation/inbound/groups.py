"""A followed group's Announce of an activity: FEP-1b12's "Announce flow" as a receiver (Lemmy's
Announce(Create(Page)), Friendica's and our own halls'). Every Announce comes in through `handle_announce` below.

Trust (FEDERATION.md, "Receiving a group's Announces"; same-origin is the unit of trust,
https://codeberg.org/fediverse/fep/src/branch/main/fep/fe34/fep-fe34.md). The door verified that
the group signed the Announce; the group can vouch only for what lives on its own origin:
- An inner activity embedded with its id and actor on the group's host is believed as embedded (a Lemmy
  community relaying its own users). One from any other host is only a claim: its post is re-fetched from
  the post's origin (fetch_ap_object: id == final URL), and a Delete counts only if the post's origin
  answers 404/410 or a Tombstone. A bare inner URI is fetched from its origin, and is then authentic.
- Always: the inner activity's id lives on its actor's host, and a post is attributed to the inner actor —
  a forged inner activity (actor ≠ object author) is dropped.
- Like and Undo(Like) only change counters, and are applied only when authentic.
- A Delete by the group itself, or by an actor on the group's host (a moderator; FEP-1b12: "same-server
  admin actions SHOULD be accepted"), removes a post only if the post belongs to that group here.
- A member's account deletion (Delete(actor) by that actor) removes the account, its posts and its
  profile by the same rule as a post's Delete: believed as embedded only for an account on the group's
  host, otherwise only if the actor's origin answers 404/410 or a Tombstone. No other Delete of an
  actor is applied: a group cannot delete accounts of other servers.
Effects: a new thread is stored with the group as its community and the group's boost of it is recorded,
so the group's followers here see it in their home timelines, attributed to its author, with a boost-like
entry by the group (the same boost the group's plain Announce(object) would make; whichever comes first
counts once). Replies are stored in the thread. Only groups somebody here follows are listened to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import asyncpg

from fediverse_biz.activitypub.activities import actor_id, http_uri, object_id, types
from fediverse_biz.activitypub.actors import authority
from fediverse_biz.activitypub.notes import NOTE_TYPES, ParsedNote, note_from_ap
from fediverse_biz.activitypub.validation import SchemaError, validate_activity, validate_object
from fediverse_biz.business import offers
from fediverse_biz.core import remote_statuses, statuses
from fediverse_biz.core.errors import DomainError
from fediverse_biz.federation import group_relay
from fediverse_biz.federation.inbound import posts
from fediverse_biz.federation.inbound.context import Ignored, Inbound
from fediverse_biz.jobs.contract import RetryableError
from fediverse_biz.net.fetch import FetchError, fetch_ap_object

__all__ = ["handle_group_announce"]

_GONE: Final = (404, 410)
Handler = Callable[[Inbound, Mapping[str, Any], str, str], Awaitable[None]]


async def handle_group_announce(act: Inbound) -> None:
    group = act.actor
    if group["actor_type"] != "Group":
        raise Ignored("Announce of an activity by an actor that is not a group")
    if not await act.pool.fetchval(
        """SELECT 1 FROM follows f JOIN actors a ON a.id = f.actor_id AND a.domain IS NULL
            WHERE f.target_actor_id = $1 LIMIT 1""",
        group["id"],
    ):
        raise Ignored("Announce by a group nobody here follows")
    obj = act.doc.get("object")
    if isinstance(obj, Mapping) and types(obj) & set(NOTE_TYPES):
        await _plain_boost(act, obj)
        return
    if not isinstance(obj, Mapping):
        uri = http_uri(obj)
        if uri is None:
            raise Ignored("Announce without an object")
        if act.is_local(uri) or await act.pool.fetchval("SELECT 1 FROM statuses WHERE uri = $1", uri):
            await _plain_boost(act, uri)
            return
    inner, trusted_host = await _inner(act)
    if types(inner) & set(NOTE_TYPES):  # a bare URI that named a post, not an activity
        await _plain_boost(act, inner)
        return
    kind = next((t for t in _HANDLERS if t in types(inner)), None)
    if kind is None:
        raise Ignored(f"group Announce of {sorted(types(inner))}: not relayed here")
    inner_actor, inner_id = http_uri(actor_id(inner)), http_uri(object_id(inner))
    if inner_actor is None or inner_id is None:
        raise Ignored("the announced activity has no http(s) id or actor")
    if authority(inner_id) != authority(inner_actor):
        raise Ignored("the announced activity's id is not on its actor's host")  # the door's rule, inside
    await _HANDLERS[kind](act, inner, inner_actor, trusted_host)


async def _inner(act: Inbound) -> tuple[dict[str, Any], str]:
    """The announced activity and the host whose word backs its embedded parts: the group's own for an
    embedded activity, the activity's origin for one fetched by its id."""
    obj = act.doc.get("object")
    if isinstance(obj, Mapping):
        return dict(obj), authority(act.actor_uri)
    uri = http_uri(obj)
    if uri is None:
        raise Ignored("Announce without an object")
    doc = await act.fetch_object(uri)
    try:
        if types(doc) & set(NOTE_TYPES):
            validate_object(doc)
        else:
            validate_activity(doc)
    except SchemaError as exc:
        raise Ignored(f"fetched {uri}: {exc}") from None
    return doc, authority(uri)


async def _lock(conn: asyncpg.Connection, uri: str) -> None:
    """One post's two forms (the wrapped Create and the plain boost) may be processed at once by two
    workers: a transaction-scoped lock on the post's URI lets the second see what the first stored."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", uri)


async def _announced_by_group(act: Inbound, conn: asyncpg.Connection, status: asyncpg.Record) -> None:
    """The post is the group's (unless already another's), and a thread gets the group's boost-like entry,
    which fans out to the group's followers here. A comment gets none (Lemmy boosts posts only)."""
    await conn.execute(
        "UPDATE statuses SET community_id = $2 WHERE id = $1 AND community_id IS NULL", status["id"], act.actor["id"]
    )
    if status["in_reply_to_uri"] is None:
        await act.record_announce(conn, status)


async def _plain_boost(act: Inbound, obj: Any) -> None:
    """Announce(object) by a group: Lemmy's and our halls' second form, for Mastodon-style followers."""
    uri = http_uri(object_id(obj)) or ""
    fetched = None
    if not act.is_local(uri) and not await act.pool.fetchval("SELECT 1 FROM statuses WHERE uri = $1", uri):
        if await act.pool.fetchval("SELECT 1 FROM tombstones WHERE uri = $1", uri):
            raise Ignored("Announce of a deleted post")
        fetched = await posts.post_with_author(act, obj)  # embedded only from the group's origin
    async with act.effects() as conn:
        await _lock(conn, uri)
        status = await conn.fetchrow("SELECT * FROM statuses WHERE uri = $1 AND reblog_of_id IS NULL", uri)
        if status is None and fetched is not None:
            status_id = await remote_statuses.store_remote_note(
                conn, fetched[0], fetched[1], act.urls, index=offers.index_remote
            )
            status = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
        if status is None:
            raise Ignored("Announce of a post we do not have")
        await _announced_by_group(act, conn, status)


def _authentic(inner: Mapping[str, Any], trusted_host: str) -> bool:
    return authority(object_id(inner) or "") == trusted_host and authority(actor_id(inner) or "") == trusted_host


async def _post_doc(act: Inbound, obj: Any, trusted_host: str) -> dict[str, Any]:
    """The post an inner Create/Update carries: as embedded only when its id is on the trusted host,
    otherwise fetched from its own origin."""
    if isinstance(obj, Mapping):
        if not types(obj) & set(NOTE_TYPES):
            raise Ignored("the announced activity's object is not a post")
        uri = http_uri(object_id(obj))
        if uri is not None and authority(uri) == trusted_host:
            return dict(obj)
    else:
        uri = http_uri(obj)
    if uri is None:
        raise Ignored("the announced post has no http(s) id")
    doc = await act.fetch_object(uri)  # never our own URLs: those are found in the database first
    try:
        validate_object(doc)
    except SchemaError as exc:
        raise Ignored(f"fetched {uri}: {exc}") from None
    return doc


async def _authored_post(
    act: Inbound, inner: Mapping[str, Any], author_uri: str, trusted_host: str
) -> tuple[ParsedNote, asyncpg.Record] | None:
    """(post, author) of an inner Create/Update, or None for one of our own posts (relayed back to us)."""
    obj = inner.get("object")
    if act.is_local(object_id(obj) or ""):
        return None
    doc = await _post_doc(act, obj, trusted_host)
    try:
        claimed = note_from_ap(doc, actor_followers_url=None).attributed_to
    except ValueError as exc:
        raise Ignored(f"unusable post: {exc}") from None
    if claimed != author_uri:
        raise Ignored("forged: the announced activity's actor is not the post's author")
    if authority(str(doc["id"])) != authority(author_uri):
        raise Ignored("the announced post is not on its author's host")
    author = await act.resolve_actor(author_uri)
    return note_from_ap(doc, actor_followers_url=author["followers_url"]), author


async def _create(act: Inbound, inner: Mapping[str, Any], author_uri: str, trusted_host: str) -> None:
    found = await _authored_post(act, inner, author_uri, trusted_host)
    uri = found[0].uri if found else object_id(inner.get("object")) or ""
    ancestors = await posts.fetch_ancestors(act, found[0].in_reply_to) if found else []
    async with act.effects() as conn:
        await _lock(conn, uri)
        if found is None:
            status = await conn.fetchrow("SELECT * FROM statuses WHERE uri = $1 AND local", uri)
            if status is None:
                raise Ignored("the group announced a post of ours that we do not have")
        else:
            parsed, author = found
            if await conn.fetchval("SELECT 1 FROM tombstones WHERE uri = $1", parsed.uri):
                return  # deleted (or removed by moderators) before the group's Announce arrived
            for ancestor, ancestor_author in ancestors:
                await remote_statuses.store_remote_note(
                    conn, ancestor, ancestor_author, act.urls, index=offers.index_remote
                )
            status_id = await remote_statuses.store_remote_note(
                conn, parsed, author, act.urls, index=offers.index_remote
            )
            status = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
        await _announced_by_group(act, conn, status)


async def _update(act: Inbound, inner: Mapping[str, Any], author_uri: str, trusted_host: str) -> None:
    found = await _authored_post(act, inner, author_uri, trusted_host)
    if found is None:
        raise Ignored("the group announced an edit of one of our posts")
    parsed, author = found
    async with act.effects() as conn:
        status = await conn.fetchrow(
            "SELECT * FROM statuses WHERE uri = $1 AND reblog_of_id IS NULL FOR UPDATE", parsed.uri
        )
        if status is None or status["actor_id"] != author["id"]:
            raise Ignored("Update of a post we do not have, or not the author's")
        await remote_statuses.update_remote_note(conn, status, parsed, act.urls, index=offers.index_remote)


async def _gone_at_origin(act: Inbound, uri: str) -> bool:
    """Whether the post's (or account's) own server says it is deleted: 404/410, or a Tombstone (Lemmy,
    Pleroma)."""
    try:
        doc = await fetch_ap_object(act.ctx.http, uri, signer=await act.signer())
    except FetchError as exc:
        if exc.status in _GONE:
            return True
        if exc.status is None or exc.status >= 500:
            raise RetryableError(f"checking {uri}: {exc}") from exc
        return False
    return "Tombstone" in types(doc)


async def _delete(act: Inbound, inner: Mapping[str, Any], deleter_uri: str, trusted_host: str) -> None:
    group = act.actor
    target = http_uri(object_id(inner.get("object")))
    if target is None:
        raise Ignored("Delete without an object")
    if target == deleter_uri:
        await _delete_account(act, inner, target, trusted_host)
        return
    status = await act.pool.fetchrow("SELECT * FROM statuses WHERE uri = $1 AND reblog_of_id IS NULL", target)
    if status is None:
        raise Ignored("Delete of a post we do not have")
    author_uri = await act.pool.fetchval("SELECT uri FROM actors WHERE id = $1", status["actor_id"])
    if author_uri != deleter_uri:
        group_host = authority(group["uri"])
        if deleter_uri == group["uri"] or (
            _authentic(inner, trusted_host) and trusted_host == group_host and authority(deleter_uri) == group_host
        ):
            await _remove_from_group(act, status)
            return
        raise Ignored("only the author or the group's moderators may delete a post")
    if status["local"]:
        raise Ignored("a post of ours is deleted only here")
    confirmed = _authentic(inner, trusted_host) and authority(target) == trusted_host
    if not confirmed and not await _gone_at_origin(act, target):
        raise Ignored(f"{target} still exists at its origin: the relayed Delete is not believed")
    async with act.effects() as conn:
        try:
            await statuses.remove(conn, act.urls, status["id"], federate=False)
        except DomainError as exc:
            raise Ignored(f"status {target} vanished: {exc}") from None


async def _delete_account(act: Inbound, inner: Mapping[str, Any], target: str, trusted_host: str) -> None:
    """A member's account deletion, Delete(actor) by the actor itself, relayed by its group: the group's
    audience got the member's posts from the group, not from the member's server. The group vouches only
    for accounts on its own host; for any other the account's origin must say it is gone (404/410 or a
    Tombstone), so a group can never delete another server's account. A Delete of an actor by anyone
    else never arrives here (`target == deleter_uri`), and is not an account deletion."""
    if act.is_local(target):
        raise Ignored("an account of ours is deleted only here")
    account = await act.pool.fetchrow("SELECT * FROM actors WHERE uri = $1 AND domain IS NOT NULL", target)
    if account is None:
        raise Ignored("Delete of an account we do not know")
    if account["suspended_at"] is not None:
        raise Ignored("the account is already gone here")
    confirmed = _authentic(inner, trusted_host) and authority(target) == trusted_host
    if not confirmed and not await _gone_at_origin(act, target):
        raise Ignored(f"{target} still exists at its origin: the relayed Delete is not believed")
    async with act.effects() as conn:
        # A hall here the member was in relays it on too, as for a Delete the member sent us directly.
        await group_relay.relay_account_deletion(conn, inner, account)
        await remote_statuses.remove_remote_account(conn, account["id"])


async def _remove_from_group(act: Inbound, status: asyncpg.Record) -> None:
    """A moderator's removal: the group's copy of the post goes. A copy from elsewhere is deleted here (as
    Lemmy shows a removed post to nobody); a post of ours only leaves the group and loses its boost."""
    if status["community_id"] != act.actor["id"]:
        raise Ignored("a group may only remove posts that belong to it")
    async with act.effects() as conn:
        if status["local"]:
            await conn.execute("UPDATE statuses SET community_id = NULL WHERE id = $1", status["id"])
            await remote_statuses.record_remote_unannounce(conn, act.actor, original_id=status["id"])
            return
        try:
            await statuses.remove(conn, act.urls, status["id"], federate=False)
        except DomainError as exc:
            raise Ignored(f"status {status['uri']} vanished: {exc}") from None


async def _like(act: Inbound, inner: Mapping[str, Any], liker_uri: str, trusted_host: str) -> None:
    if not _authentic(inner, trusted_host):
        raise Ignored("a relayed Like from another host is not believed")
    status = await act.pool.fetchrow(
        "SELECT * FROM statuses WHERE uri = $1 AND reblog_of_id IS NULL", object_id(inner.get("object"))
    )
    if status is None:
        raise Ignored("Like of a status we do not have")
    liker = await act.resolve_actor(liker_uri)
    async with act.effects() as conn:
        await remote_statuses.record_remote_like(conn, liker, status, object_id(inner))


async def _undo(act: Inbound, inner: Mapping[str, Any], actor_uri: str, trusted_host: str) -> None:
    like = inner.get("object")
    if not isinstance(like, Mapping) or "Like" not in types(like) or actor_id(like) not in (None, actor_uri):
        raise Ignored("only a relayed Undo of the actor's own Like is applied")
    if not _authentic(inner, trusted_host):
        raise Ignored("a relayed Undo from another host is not believed")
    liker = await act.resolve_actor(actor_uri)
    status_id = await act.pool.fetchval("SELECT id FROM statuses WHERE uri = $1", object_id(like.get("object")))
    async with act.effects() as conn:
        await remote_statuses.record_remote_unlike(conn, liker, status_id=status_id, like_uri=object_id(like))


_HANDLERS: Final[dict[str, Handler]] = {
    "Create": _create,
    "Update": _update,
    "Delete": _delete,
    "Like": _like,
    "Undo": _undo,
}


async def handle_announce(act: Inbound) -> None:
    """Every Announce: a plain boost goes to inbound/posts.py, a group's relay is unwrapped here."""
    if posts.is_boost(act):
        await posts.handle_boost(act)
    else:
        await handle_group_announce(act)
