"""Statuses that arrive from peers: store, edit, like, boost and their undoing, inside the caller's transaction.

The inbox (federation/inbound/dispatch.py) has already decided that the sender may do this (signature,
origin, authorship, relevance); these functions only write rows, keep counters in step with the rows
they count, and fan out like a local post does (core/distribution.py; docs/architecture.md, "An incoming
activity"). Every function
is idempotent on the activity's id or the natural key, so a re-delivered or re-run activity changes
nothing the second time.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.activitypub.notes import ParsedNote
from fediverse_biz.core import cards, distribution, events, notifications, polls
from fediverse_biz.core.hydrate import StatusBundle, load_status
from fediverse_biz.urls import LocalUrls

Row = Mapping[str, Any]
# TagManager#public_collection?: the full IRI and the two compact forms some servers send.
_PUBLIC_FORMS = frozenset({PUBLIC, "as:Public", "Public"})


def _not_in_future(moment: datetime | None) -> datetime:
    """`published` as the status's time, never later than now: ids sort by it (id_at), and a peer with a
    fast clock must not pin its posts to the top of every timeline."""
    now = datetime.now(UTC)
    return now if moment is None or moment > now else moment


def boost_visibility(to: Sequence[str], cc: Sequence[str]) -> str:
    """An Announce's visibility from its addressing (Mastodon's Announce#visibility_from_audience):
    Public in `to` -> public, in `cc` -> unlisted, otherwise followers-only. A boost is never direct."""
    if any(a in _PUBLIC_FORMS for a in to):
        return "public"
    if any(a in _PUBLIC_FORMS for a in cc):
        return "unlisted"
    return "private"


# ---- parts of a status ----------------------------------------------------------------------------
async def _mentioned_actors(conn: asyncpg.Connection, parsed: ParsedNote, urls: LocalUrls) -> list[asyncpg.Record]:
    """Actors we know among the Mention hrefs. Local ones are also found by profile URL (`/@name`), which
    some servers put in href (Mastodon's TagManager#uri_to_actor accepts both). A direct post also
    "mentions" the local actors it is addressed to without a Mention tag (Mastodon's silent mentions),
    or they could not see a message sent to them."""
    profile_prefix = f"{urls.base}/@"
    names = [h.removeprefix(profile_prefix).lower() for h in parsed.mentions if h.startswith(profile_prefix)]
    addressed = [*parsed.to, *parsed.cc] if parsed.visibility == "direct" else []
    if not parsed.mentions and not addressed:
        return []
    return await conn.fetch(
        """SELECT * FROM actors
            WHERE NOT is_instance_actor
              AND (uri = ANY($1::text[])
                   OR (domain IS NULL AND (lower(username) = ANY($2::text[]) OR uri = ANY($3::text[]))))
            ORDER BY id""",
        parsed.mentions,
        names,
        addressed,
    )


async def _write_parts(
    conn: asyncpg.Connection, status_id: int, parsed: ParsedNote, urls: LocalUrls, *, fresh: bool = False
) -> list[asyncpg.Record]:
    """Mentions, hashtags (replacing any previous ones: an edit may change both; a `fresh` status has
    none to replace). Returns the mentioned actors' rows, in id order."""
    if not fresh:
        await conn.execute("DELETE FROM status_mentions WHERE status_id = $1", status_id)
        await conn.execute("DELETE FROM status_tags WHERE status_id = $1", status_id)
    mentioned = await _mentioned_actors(conn, parsed, urls)
    if mentioned:
        await conn.execute(
            "INSERT INTO status_mentions (status_id, actor_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
            status_id,
            [r["id"] for r in mentioned],
        )
    if parsed.hashtags:
        await conn.execute(
            "INSERT INTO tags (name) SELECT unnest($1::text[]) ON CONFLICT (lower(name)) DO NOTHING", parsed.hashtags
        )
        await conn.execute(
            """INSERT INTO status_tags (status_id, tag_id)
               SELECT $1, id FROM tags WHERE lower(name) = ANY($2::text[]) ON CONFLICT DO NOTHING""",
            status_id,
            [name.lower() for name in parsed.hashtags],
        )
    return list(mentioned)


async def _write_media(
    conn: asyncpg.Connection, author_id: int, status_id: int, parsed: ParsedNote, *, fresh: bool = False
) -> list[int]:
    """Remote media rows (not copied: `remote_url`), replacing any previous ones (a `fresh` status has
    none); returns their ids in order."""
    if not fresh:
        await conn.execute("DELETE FROM media_attachments WHERE status_id = $1 AND file_path IS NULL", status_id)
    ids: list[int] = []
    for position, media in enumerate(parsed.attachments):
        meta: dict[str, Any] = {}
        if media.get("width") and media.get("height"):
            meta["original"] = {"width": media["width"], "height": media["height"]}
        if media.get("focus"):
            meta["focus"] = media["focus"]
        media_id = await conn.fetchval(
            """INSERT INTO media_attachments (actor_id, status_id, position, media_type, content_type, remote_url,
                                              description, blurhash, meta)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id""",
            author_id,
            status_id,
            position,
            media["type"],
            media["media_type"],
            media["url"],
            media["description"] or "",
            media["blurhash"],
            meta,
        )
        ids.append(int(media_id))
    return ids


def _extra(parsed: ParsedNote) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if parsed.poll is not None:
        extra["poll"] = parsed.poll
    if parsed.quote_uri:
        extra["quote_uri"] = parsed.quote_uri
    return extra


def _json_text(value: Any) -> str:
    # Sent as text and cast in SQL, so the statement works on any connection, codec or not (jobs/queue.py does too).
    return json.dumps(value)


# ---- create and edit ------------------------------------------------------------------------------
# Structured extensions of a post (business/offers.py indexes job offers) are written by the caller's
# indexer inside the same transaction; core does not import business/ (docs/architecture.md, "Layers").
NoteIndexer = Callable[[asyncpg.Connection, int, ParsedNote, bool], Awaitable[None]]


async def store_remote_note(
    conn: asyncpg.Connection, parsed: ParsedNote, author: Row, urls: LocalUrls, *, index: NoteIndexer | None = None
) -> int:
    """Store a peer's Note/Article/Page/Question and fan it out; returns its id (the existing one if known).

    The id comes from `published` (id_at), so a post fetched late still sorts where it was written. A reply
    links to its parent when we have it; otherwise `in_reply_to_uri` is kept and the parent, when it
    arrives, adopts its orphans (below).
    """
    parent = None
    if parsed.in_reply_to:
        parent = await conn.fetchrow(
            "SELECT id, uri, actor_id, conversation_uri FROM statuses WHERE uri = $1 AND reblog_of_id IS NULL",
            parsed.in_reply_to,
        )
    published = _not_in_future(parsed.published)
    edited = parsed.updated if parsed.updated is not None and parsed.updated > published else None
    conversation = parsed.conversation or ((parent["conversation_uri"] or parent["uri"]) if parent else None)
    # Replies that arrived before this status (their in_reply_to_uri names it) now link to it, in the same
    # statement: the UPDATE cannot see the row being inserted (one snapshot), so it never adopts itself.
    status = await conn.fetchrow(
        """WITH ins AS (
               INSERT INTO statuses (id, uri, url, actor_id, local, object_type, visibility, content, spoiler_text,
                                     sensitive, language, title, in_reply_to_id, in_reply_to_uri,
                                     in_reply_to_actor_id, conversation_uri, published_at, edited_at, ap_to, ap_cc,
                                     extra)
               VALUES (id_at($15), $1, $2, $3, false, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                       $17, $18, $19)
               ON CONFLICT (uri) DO NOTHING
               RETURNING *),
           adopted AS (
               UPDATE statuses o SET in_reply_to_id = ins.id, in_reply_to_actor_id = ins.actor_id
                 FROM ins WHERE o.in_reply_to_uri = ins.uri AND o.in_reply_to_id IS NULL
               RETURNING o.id)
           SELECT ins.*, (SELECT count(*) FROM adopted) AS adopted_replies FROM ins""",
        parsed.uri,
        parsed.url,
        author["id"],
        parsed.type,
        parsed.visibility,
        parsed.content,
        parsed.spoiler_text,
        parsed.sensitive,
        parsed.language,
        parsed.title,
        parent["id"] if parent else None,
        parsed.in_reply_to,
        parent["actor_id"] if parent else None,
        conversation,
        published,
        edited,
        parsed.to,
        parsed.cc,
        _extra(parsed),
    )
    if status is None:  # we have it already (a re-delivery, or fetched as someone's parent meanwhile)
        return int(await conn.fetchval("SELECT id FROM statuses WHERE uri = $1", parsed.uri))
    status_id = int(status["id"])
    mentioned = await _write_parts(conn, status_id, parsed, urls, fresh=True)
    await _write_media(conn, author["id"], status_id, parsed, fresh=True)
    if parsed.poll is not None and not polls.expired(parsed.poll):
        # Our members who vote on it hear when it ends (core/polls.py close).
        await polls.schedule_close(conn, status_id, parsed.poll)
    if index is not None:
        await index(conn, status_id, parsed, False)
    if parent is not None:
        await conn.execute("UPDATE statuses SET replies_count = replies_count + 1 WHERE id = $1", parent["id"])
    if status["adopted_replies"]:  # a row may change once per statement, hence this second one (rarely run)
        await conn.execute(
            "UPDATE statuses SET replies_count = replies_count + $2 WHERE id = $1", status_id, status["adopted_replies"]
        )
    # Fan-out reads the status row, its author and its mentions, all in hand: re-reading the whole
    # bundle (load_status, five queries then) was a quarter of the statements of an inbox Create.
    bundle = StatusBundle(status=status, author=author, mentions=mentioned)
    await distribution.distribute(conn, bundle)
    await cards.queue_card(conn, urls, bundle, fresh=True)
    return status_id


async def update_remote_note(
    conn: asyncpg.Connection, status: Row, parsed: ParsedNote, urls: LocalUrls, *, index: NoteIndexer | None = None
) -> bool:
    """Apply an author's edit, keeping every version in status_edits; returns whether anything changed.

    Mastodon 3.5+ treats an Update as an edit when it carries `updated` and what we hold was not edited
    more recently (ActivityPub::ProcessStatusUpdateService#already_updated_more_recently?). A first edit
    made within the second of publishing carries `updated` == `published` (second precision), so the
    published time is not compared. Without `updated`, or with the `updated` of the edit we hold, only a
    poll's counts are refreshed (Mastodon's poll-only update). Visibility never changes on edit.
    """
    stale = status["edited_at"] is not None and parsed.updated is not None and status["edited_at"] > parsed.updated
    # An edited poll's count updates carry the edit's `updated` again: the same time is no new edit.
    counts_only = parsed.poll is not None and parsed.updated is not None and status["edited_at"] == parsed.updated
    if parsed.updated is None or stale or counts_only:
        if parsed.poll is not None and status["object_type"] == "Question":
            await polls.forget_votes_if_options_changed(conn, status, parsed.poll)
            await conn.execute(
                "UPDATE statuses SET extra = extra || jsonb_build_object('poll', $2::text::jsonb) WHERE id = $1",
                status["id"],
                _json_text(parsed.poll),
            )
        return False
    status_id = status["id"]
    if not await conn.fetchval("SELECT 1 FROM status_edits WHERE status_id = $1", status_id):
        old_media = await conn.fetch(
            "SELECT id FROM media_attachments WHERE status_id = $1 ORDER BY position, id", status_id
        )
        await conn.execute(  # the first edit also records the original version, as statuses.edit does
            """INSERT INTO status_edits (status_id, content, spoiler_text, sensitive, media_ids, created_at)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            status_id,
            status["content"],
            status["spoiler_text"],
            status["sensitive"],
            [r["id"] for r in old_media],
            status["published_at"],
        )
    await polls.forget_votes_if_options_changed(conn, status, parsed.poll)
    await conn.execute(
        """UPDATE statuses SET content = $2, spoiler_text = $3, sensitive = $4, language = $5, title = $6,
                               edited_at = $7, extra = (extra - 'poll' - 'quote_uri') || $8::text::jsonb
            WHERE id = $1""",
        status_id,
        parsed.content,
        parsed.spoiler_text,
        parsed.sensitive,
        parsed.language,
        parsed.title,
        parsed.updated,
        _json_text(_extra(parsed)),
    )
    await _write_parts(conn, status_id, parsed, urls)
    if index is not None:
        await index(conn, status_id, parsed, True)
    media_ids = await _write_media(conn, status["actor_id"], status_id, parsed)
    await conn.execute(
        """INSERT INTO status_edits (status_id, content, spoiler_text, sensitive, media_ids, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        status_id,
        parsed.content,
        parsed.spoiler_text,
        parsed.sensitive,
        media_ids,
        parsed.updated,
    )
    bundle = await load_status(conn, status_id)
    assert bundle is not None
    await distribution.announce_edit(conn, bundle)
    await cards.queue_card(conn, urls, bundle)
    return True


# ---- favourites -----------------------------------------------------------------------------------
async def record_remote_like(conn: asyncpg.Connection, actor: Row, status: Row, like_uri: str | None) -> bool:
    """A peer's favourite: one row per (actor, status), the counter, and a notification for a local author."""
    favourite_id = await conn.fetchval(
        """INSERT INTO favourites (actor_id, status_id, uri) VALUES ($1, $2, $3)
           ON CONFLICT (actor_id, status_id) DO NOTHING RETURNING id""",
        actor["id"],
        status["id"],
        like_uri,
    )
    if favourite_id is None:
        return False
    await conn.execute("UPDATE statuses SET favourites_count = favourites_count + 1 WHERE id = $1", status["id"])
    await notifications.notify(conn, status["actor_id"], actor["id"], "favourite", status["id"])
    return True


async def record_remote_unlike(
    conn: asyncpg.Connection, actor: Row, *, status_id: int | None = None, like_uri: str | None = None
) -> bool:
    """Undo(Like), found by the liked status or by the Like's own id; only the liker's own rows go."""
    rows = await conn.fetch(
        "DELETE FROM favourites WHERE actor_id = $1 AND (status_id = $2 OR uri = $3) RETURNING status_id",
        actor["id"],
        status_id,
        like_uri,
    )
    for row in rows:
        await conn.execute(
            "UPDATE statuses SET favourites_count = greatest(favourites_count - 1, 0) WHERE id = $1", row["status_id"]
        )
    return bool(rows)


# ---- boosts ---------------------------------------------------------------------------------------
async def record_remote_announce(
    conn: asyncpg.Connection,
    booster: Row,
    original: Row,
    announce_uri: str,
    *,
    to: Sequence[str],
    cc: Sequence[str],
    published: datetime | None = None,
) -> int | None:
    """A peer's boost, stored as a status with reblog_of_id (uri = the Announce id) and fanned out to the
    booster's local followers; returns its id, or None when the original may not be boosted.

    Only public and unlisted posts can be boosted by others; an author may boost their own followers-only
    post, which stays followers-only (Mastodon's Status#reblog validation).
    """
    if original["reblog_of_id"] is not None:
        return None
    own = original["actor_id"] == booster["id"]
    if original["visibility"] not in ("public", "unlisted") and not (own and original["visibility"] == "private"):
        return None
    existing = await conn.fetchval(
        "SELECT id FROM statuses WHERE uri = $1 OR (reblog_of_id = $2 AND actor_id = $3)",
        announce_uri,
        original["id"],
        booster["id"],
    )
    if existing is not None:
        return int(existing)
    visibility = "private" if original["visibility"] == "private" else boost_visibility(to, cc)
    moment = _not_in_future(published)
    boost_id = int(await conn.fetchval("SELECT id_at($1)", moment))
    await conn.execute(
        """INSERT INTO statuses (id, uri, url, actor_id, local, object_type, visibility, reblog_of_id,
                                 published_at, ap_to, ap_cc)
           VALUES ($1, $2, $3, $4, false, 'Announce', $5, $6, $7, $8, $9)""",
        boost_id,
        announce_uri,
        original["url"],
        booster["id"],
        visibility,
        original["id"],
        moment,
        list(to),
        list(cc),
    )
    await conn.execute("UPDATE statuses SET reblogs_count = reblogs_count + 1 WHERE id = $1", original["id"])
    bundle = await load_status(conn, boost_id)
    assert bundle is not None
    await distribution.distribute(conn, bundle)
    return boost_id


async def record_remote_unannounce(
    conn: asyncpg.Connection, booster: Row, *, announce_uri: str | None = None, original_id: int | None = None
) -> bool:
    """Undo(Announce) or Delete of the Announce: only the booster's own boost goes."""
    rows = await conn.fetch(
        """DELETE FROM statuses WHERE actor_id = $1 AND reblog_of_id IS NOT NULL
              AND (uri = $2 OR reblog_of_id = $3)
           RETURNING id, reblog_of_id""",
        booster["id"],
        announce_uri,
        original_id,
    )
    for row in rows:
        await conn.execute(
            "UPDATE statuses SET reblogs_count = greatest(reblogs_count - 1, 0) WHERE id = $1", row["reblog_of_id"]
        )
        await events.status_deleted(conn, row["id"])
    return bool(rows)


# ---- an actor's whole output ----------------------------------------------------------------------
async def remove_actor_statuses(conn: asyncpg.Connection, actor_id: int) -> int:
    """Delete everything a remote actor posted, boosted and favourited (its account was deleted), leaving
    tombstones so a late copy is not stored again and fixing the counters on other people's statuses."""
    await conn.execute(
        """INSERT INTO tombstones (uri, actor_id)
           SELECT uri, actor_id FROM statuses WHERE actor_id = $1 AND reblog_of_id IS NULL
           ON CONFLICT (uri) DO NOTHING""",
        actor_id,
    )
    for column, source in (("replies_count", "in_reply_to_id"), ("reblogs_count", "reblog_of_id")):
        await conn.execute(
            f"""UPDATE statuses p SET {column} = greatest(p.{column} - c.n, 0)
                  FROM (SELECT {source} AS id, count(*) AS n FROM statuses
                         WHERE actor_id = $1 AND {source} IS NOT NULL GROUP BY 1) c
                 WHERE p.id = c.id AND p.actor_id <> $1""",
            actor_id,
        )
    await conn.execute(
        """UPDATE statuses p SET favourites_count = greatest(p.favourites_count - 1, 0)
             FROM favourites f WHERE f.actor_id = $1 AND f.status_id = p.id""",
        actor_id,
    )
    await conn.execute("DELETE FROM favourites WHERE actor_id = $1", actor_id)
    # Boosts first: they reference the posts, and each deleted row is announced to streaming clients.
    removed = await conn.fetch(
        "DELETE FROM statuses WHERE actor_id = $1 AND reblog_of_id IS NOT NULL RETURNING id", actor_id
    )
    removed += await conn.fetch("DELETE FROM statuses WHERE actor_id = $1 RETURNING id", actor_id)
    for row in removed:
        await events.status_deleted(conn, row["id"])
    return len(removed)


# What a remote account that deleted itself leaves behind here, removed outright: (table, condition on $1).
# Reports about it stay (moderation records); blocks and mutes go, there is nobody left to block.
_REMOTE_ACCOUNT_ROWS = (
    ("follows", "actor_id = $1 OR target_actor_id = $1"),
    ("follow_requests", "actor_id = $1 OR target_actor_id = $1"),
    ("blocks", "actor_id = $1 OR target_actor_id = $1"),
    ("mutes", "actor_id = $1 OR target_actor_id = $1"),
    ("pinned_statuses", "actor_id = $1"),
    ("notifications", "from_actor_id = $1"),
    ("organization_profiles", "actor_id = $1"),
)


async def remove_remote_account(conn: asyncpg.Connection, actor_id: int) -> int:
    """A remote account deleted itself (its own signed Delete, or one its origin confirmed): its posts,
    boosts and favourites (remove_actor_statuses), its follows, notifications from it and its company
    profile go, and the row stays suspended and emptied — out of the directory and of search, its key kept
    so late deliveries are recognised and dropped at the door. Returns how many statuses were removed."""
    removed = await remove_actor_statuses(conn, actor_id)
    for table, condition in _REMOTE_ACCOUNT_ROWS:
        await conn.execute(f"DELETE FROM {table} WHERE {condition}", actor_id)
    await conn.execute(
        """UPDATE actors SET suspended_at = coalesce(suspended_at, now()), display_name = '', note = '',
                  fields = '[]', avatar_url = NULL, header_url = NULL, discoverable = false, indexable = false,
                  also_known_as = '[]', extra = jsonb_build_object('deleted_at', now()), updated_at = now()
            WHERE id = $1 AND domain IS NOT NULL""",
        actor_id,
    )
    return removed
