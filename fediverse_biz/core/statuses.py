"""Statuses written by local members: create, edit, delete — each one transaction.

A create writes the status, its mentions, tags and media links, the home-feed rows of local
readers, notifications, and one delivery job per remote inbox, then commits (docs/architecture.md,
"A local post fans out").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from fediverse_biz.core import cards, distribution, events, hooks, polls
from fediverse_biz.core.errors import DomainError, forbidden, not_found
from fediverse_biz.core.hydrate import StatusBundle, load_status
from fediverse_biz.core.visibility import can_see
from fediverse_biz.text.content import (
    MentionRef,
    ResolvedMention,
    extract_hashtags,
    extract_mentions,
    render_status_html,
)
from fediverse_biz.urls import LocalUrls

MAX_CHARACTERS = 5000
MAX_MEDIA = 4
MAX_SPOILER = 1000
URL_WEIGHT = 23  # every link counts as 23 characters, as on Mastodon and Twitter
VISIBILITIES = ("public", "unlisted", "private", "direct")
_URL_RE = re.compile(r"https?://\S+")
_REMOTE_MENTION_RE = re.compile(r"(@[\w.]+)@[\w.-]+(?::\d+)?")

MentionResolver = Callable[[MentionRef], Awaitable[asyncpg.Record | None]]
# Extension hook (business/offers.py): runs inside create's/edit's transaction once the status row and its
# parts are written, before anything is published, so what it adds (statuses.extra, its own rows) commits,
# federates and rolls back together with the status. Called with the connection and the status id.
StatusHook = Callable[[asyncpg.Connection, int], Awaitable[None]]


StatusError = DomainError


@dataclass
class Draft:
    text: str = ""
    visibility: str = "public"
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    in_reply_to_id: int | None = None
    media_ids: Sequence[int] = ()
    title: str | None = None  # makes the status an Article
    extra: dict[str, Any] = field(default_factory=dict)
    poll: polls.PollDraft | None = None


def text_length(text: str) -> int:
    """Mastodon's count: a URL weighs 23, a remote mention counts only its @username part."""
    text = _URL_RE.sub("x" * URL_WEIGHT, text)
    return len(_REMOTE_MENTION_RE.sub(r"\1", text))


def validate(draft: Draft) -> None:
    if draft.visibility not in VISIBILITIES:
        raise StatusError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if text_length(draft.text) > MAX_CHARACTERS:
        raise StatusError(f"Validation failed: Text character limit of {MAX_CHARACTERS} exceeded")
    if len(draft.spoiler_text) > MAX_SPOILER:
        raise StatusError(f"Validation failed: content warning longer than {MAX_SPOILER} characters")
    if len(draft.media_ids) > MAX_MEDIA:
        raise StatusError(f"Validation failed: at most {MAX_MEDIA} media attachments")
    if "\x00" in draft.text or "\x00" in draft.spoiler_text:
        raise StatusError("Validation failed: text contains a NUL character")
    if not draft.text.strip() and not draft.media_ids:
        raise StatusError("Validation failed: Text can't be blank")
    if draft.poll is not None:
        if draft.media_ids:  # Mastodon's PostStatusService#validate_media!
            raise StatusError("Validation failed: Cannot attach files to a poll")
        polls.validate(draft.poll)
    if draft.language is not None and not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?", draft.language):
        raise StatusError(f"Validation failed: unknown language {draft.language!r}")


async def resolve_mentions(
    pool: asyncpg.Pool, text: str, local_domain: str, resolver: MentionResolver | None
) -> list[asyncpg.Record]:
    """The actors a text mentions that we know or can find; unknown handles stay plain text.

    Runs before the transaction: resolving a remote handle may need a WebFinger request.
    """
    found: list[asyncpg.Record] = []
    for ref in extract_mentions(text, local_domain=local_domain)[:50]:
        row = await pool.fetchrow(
            """SELECT * FROM actors WHERE lower(username) = lower($1)
                 AND coalesce(domain, '') = coalesce($2, '') AND suspended_at IS NULL
                 AND NOT is_instance_actor""",
            ref.username,
            ref.domain,
        )
        if row is None and ref.domain is not None and resolver is not None:
            row = await resolver(ref)
        if row is not None and all(row["id"] != f["id"] for f in found):
            found.append(row)
    return found


def _render(text: str, mentions: Sequence[asyncpg.Record], urls: LocalUrls, local_domain: str) -> str:
    mapping = {
        (m["username"].lower(), m["domain"]): ResolvedMention(m["username"], m["domain"], m["url"] or m["uri"])
        for m in mentions
    }
    return render_status_html(text, mentions=mapping, tag_url=urls.tag, local_domain=local_domain)


async def _upsert_tags(conn: asyncpg.Connection, names: Sequence[str]) -> list[int]:
    if not names:
        return []
    await conn.execute(
        "INSERT INTO tags (name) SELECT unnest($1::text[]) ON CONFLICT (lower(name)) DO NOTHING", list(names)
    )
    rows = await conn.fetch("SELECT id FROM tags WHERE lower(name) = ANY($1::text[])", [n.lower() for n in names])
    return [r["id"] for r in rows]


async def _attach_media(conn: asyncpg.Connection, author_id: int, status_id: int, media_ids: Sequence[int]) -> None:
    if not media_ids:  # an edit to no media detaches what was there (as Mastodon's UpdateStatusService)
        await conn.execute("UPDATE media_attachments SET status_id = NULL WHERE status_id = $1", status_id)
        return
    rows = await conn.fetch(
        """SELECT id FROM media_attachments
            WHERE id = ANY($1::bigint[]) AND actor_id = $2 AND (status_id IS NULL OR status_id = $3)""",
        list(media_ids),
        author_id,
        status_id,
    )
    if len(rows) != len(set(media_ids)):
        raise StatusError("Validation failed: media not found, not yours, or already attached")
    await conn.execute("UPDATE media_attachments SET status_id = NULL WHERE status_id = $1", status_id)
    await conn.execute(
        """UPDATE media_attachments m SET status_id = $1, position = x.pos
             FROM unnest($2::bigint[]) WITH ORDINALITY AS x(id, pos) WHERE m.id = x.id""",
        status_id,
        list(media_ids),
    )


async def _write_parts(
    conn: asyncpg.Connection, status_id: int, mentions: Sequence[asyncpg.Record], tag_names: Sequence[str]
) -> None:
    await conn.execute("DELETE FROM status_mentions WHERE status_id = $1", status_id)
    await conn.execute("DELETE FROM status_tags WHERE status_id = $1", status_id)
    if mentions:
        await conn.execute(
            "INSERT INTO status_mentions (status_id, actor_id) SELECT $1, unnest($2::bigint[])",
            status_id,
            [m["id"] for m in mentions],
        )
    tag_ids = await _upsert_tags(conn, tag_names[:100])
    if tag_ids:
        await conn.execute(
            "INSERT INTO status_tags (status_id, tag_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
            status_id,
            tag_ids,
        )


async def create(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    local_domain: str,
    author: asyncpg.Record,
    draft: Draft,
    *,
    resolver: MentionResolver | None = None,
    idempotency_key: str | None = None,
    application_id: int | None = None,
    created_by_user_id: int | None = None,
    hold_for_approval: bool = False,
    after_write: StatusHook | None = None,
) -> int:
    """Create a local status and everything that follows from it; returns its id."""
    validate(draft)
    if idempotency_key:
        existing = await pool.fetchval(
            "SELECT status_id FROM idempotency_keys WHERE actor_id = $1 AND key = $2", author["id"], idempotency_key
        )
        if existing is not None:
            return int(existing)
    mentions = await resolve_mentions(pool, draft.text, local_domain, resolver)
    async with pool.acquire() as conn, conn.transaction():
        parent = None
        if draft.in_reply_to_id is not None:
            parent = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1", draft.in_reply_to_id)
            if parent is None or parent["reblog_of_id"] is not None or not await can_see(conn, parent, author["id"]):
                raise not_found()
        status_id = int(await conn.fetchval("SELECT next_id()"))
        uri = urls.status(author["uri"], status_id)
        extra = draft.extra
        if draft.poll is not None:
            extra = {**extra, "poll": polls.new_poll(draft.poll, await conn.fetchval("SELECT now()"))}
        conversation = (parent["conversation_uri"] or parent["uri"]) if parent else f"{urls.base}/contexts/{status_id}"
        await conn.execute(
            """INSERT INTO statuses (id, uri, url, actor_id, local, object_type, visibility, content, source_text,
                                     spoiler_text, sensitive, language, title, in_reply_to_id, in_reply_to_uri,
                                     in_reply_to_actor_id, conversation_uri, application_id, created_by_user_id,
                                     approval_state, extra)
               VALUES ($1, $2, $3, $4, true, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                       $19, $20)""",
            status_id,
            uri,
            urls.status_page(author["username"], status_id),
            author["id"],
            "Article" if draft.title else "Note",
            draft.visibility,
            _render(draft.text, mentions, urls, local_domain),
            draft.text,
            draft.spoiler_text,
            draft.sensitive or bool(draft.spoiler_text),
            draft.language,
            draft.title,
            parent["id"] if parent else None,
            parent["uri"] if parent else None,
            parent["actor_id"] if parent else None,
            conversation,
            application_id,
            created_by_user_id,
            "pending" if hold_for_approval else "published",
            extra,
        )
        if "poll" in extra:
            await polls.schedule_close(conn, status_id, extra["poll"])
        await _write_parts(conn, status_id, mentions, extract_hashtags(draft.text))
        await _attach_media(conn, author["id"], status_id, draft.media_ids)
        if idempotency_key:
            await conn.execute(
                "INSERT INTO idempotency_keys (actor_id, key, status_id) VALUES ($1, $2, $3)",
                author["id"],
                idempotency_key,
                status_id,
            )
        if after_write is not None:
            await after_write(conn, status_id)
        if not hold_for_approval:
            await publish(conn, urls, status_id)
    return status_id


async def publish(conn: asyncpg.Connection, urls: LocalUrls, status_id: int) -> StatusBundle:
    """Everything that happens when a local status becomes visible: counters, feeds, notifications,
    streaming events and deliveries. Also used when a held status is approved."""
    bundle = await load_status(conn, status_id)
    assert bundle is not None
    if bundle.status["in_reply_to_id"] is not None:
        await conn.execute(
            "UPDATE statuses SET replies_count = replies_count + 1 WHERE id = $1", bundle.status["in_reply_to_id"]
        )
    await distribution.distribute(conn, bundle)
    await cards.queue_card(conn, urls, bundle, fresh=True)  # fetched by a worker, never while the author waits
    await hooks.status_published(conn, urls, bundle)
    return bundle


async def _owned_status(conn: asyncpg.Connection, status_id: int, actor_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM statuses WHERE id = $1 FOR UPDATE", status_id)
    if row is None or row["reblog_of_id"] is not None:
        raise not_found()
    if row["actor_id"] != actor_id:
        if await can_see(conn, row, actor_id):
            raise forbidden()
        raise not_found()
    return row


async def edit(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    local_domain: str,
    author: asyncpg.Record,
    status_id: int,
    draft: Draft,
    *,
    resolver: MentionResolver | None = None,
    after_write: StatusHook | None = None,
) -> None:
    """Edit text, warning, sensitivity, language or media, keeping every version for the history."""
    async with pool.acquire() as conn:
        current = await conn.fetchrow("SELECT visibility FROM statuses WHERE id = $1", status_id)
    if current is not None:
        draft.visibility = current["visibility"]  # visibility cannot change on edit (as on Mastodon)
    validate(draft)
    mentions = await resolve_mentions(pool, draft.text, local_domain, resolver)
    async with pool.acquire() as conn, conn.transaction():
        row = await _owned_status(conn, status_id, author["id"])
        old_media = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM media_attachments WHERE status_id = $1 ORDER BY position, id", status_id
            )
        ]
        if not await conn.fetchval("SELECT 1 FROM status_edits WHERE status_id = $1", status_id):
            await conn.execute(  # the first edit also records the original version
                """INSERT INTO status_edits (status_id, content, spoiler_text, sensitive, media_ids, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                status_id,
                row["content"],
                row["spoiler_text"],
                row["sensitive"],
                old_media,
                row["published_at"],
            )
        content = _render(draft.text, mentions, urls, local_domain)
        await conn.execute(
            """UPDATE statuses SET content = $2, source_text = $3, spoiler_text = $4, sensitive = $5,
                                   language = coalesce($6, language), edited_at = now()
               WHERE id = $1""",
            status_id,
            content,
            draft.text,
            draft.spoiler_text,
            draft.sensitive or bool(draft.spoiler_text),
            draft.language,
        )
        await _write_parts(conn, status_id, mentions, extract_hashtags(draft.text))
        await _attach_media(conn, author["id"], status_id, draft.media_ids)
        await polls.replace_on_edit(conn, row, draft.poll, await conn.fetchval("SELECT now()"))
        await conn.execute(
            """INSERT INTO status_edits (status_id, content, spoiler_text, sensitive, media_ids)
               VALUES ($1, $2, $3, $4, $5)""",
            status_id,
            content,
            draft.spoiler_text,
            draft.sensitive or bool(draft.spoiler_text),
            list(draft.media_ids),
        )
        if after_write is not None:
            await after_write(conn, status_id)
        if row["approval_state"] == "published":
            bundle = await load_status(conn, status_id)
            assert bundle is not None
            await distribution.announce_edit(conn, bundle)
            await cards.queue_card(conn, urls, bundle)  # the link may have changed
            await hooks.status_edited(conn, urls, bundle)


async def delete(pool: asyncpg.Pool, urls: LocalUrls, actor: asyncpg.Record, status_id: int) -> StatusBundle:
    """Delete one of the actor's own statuses, leave a tombstone, and tell everyone who received it
    (moderation and the inbox remove others' statuses through `remove`). Returns the bundle as it was,
    for "delete and redraft"."""
    async with pool.acquire() as conn, conn.transaction():
        await _owned_status(conn, status_id, actor["id"])
        return await remove(conn, urls, status_id, federate=True)


async def remove(conn: asyncpg.Connection, urls: LocalUrls, status_id: int, *, federate: bool) -> StatusBundle:
    """The deletion itself, inside the caller's transaction (also used by moderation and the inbox)."""
    bundle = await load_status(conn, status_id)
    if bundle is None:
        raise not_found()
    status = bundle.status
    if federate and status["local"] and status["approval_state"] == "published":
        await hooks.status_deleting(conn, urls, bundle)
    await conn.execute(
        "INSERT INTO tombstones (uri, actor_id) VALUES ($1, $2) ON CONFLICT (uri) DO NOTHING",
        status["uri"],
        status["actor_id"],
    )
    if status["in_reply_to_id"] is not None and status["approval_state"] == "published":
        await conn.execute(
            "UPDATE statuses SET replies_count = greatest(replies_count - 1, 0) WHERE id = $1", status["in_reply_to_id"]
        )
    await conn.execute("DELETE FROM statuses WHERE id = $1", status_id)
    await events.status_deleted(conn, status_id)
    return bundle
