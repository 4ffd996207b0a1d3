"""Account profiles: finding the accounts a client may show, and members editing their own profile.

Local profiles keep Mastodon's limits (app/models/account.rb, app/models/account/field.rb): a display
name of 30 characters, a note of 500 (links count 23, as in statuses), at most 4 fields whose name
and value hold 255 characters each. The note and field values are stored twice: what the member
typed (`note_source`, field `source`) and the HTML peers and clients show, rendered like a status
(mentions of known accounts, hashtags, links; field links carry rel="me" for link verification).
An edit is one transaction that also queues Update(actor) for every follower's server.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from fediverse_biz.activitypub.actors import actor_to_ap
from fediverse_biz.config import Settings
from fediverse_biz.core import hooks, media, outbound
from fediverse_biz.core.errors import DomainError, forbidden, not_found
from fediverse_biz.core.statuses import resolve_mentions, text_length
from fediverse_biz.db.executor import Executor
from fediverse_biz.text.content import ResolvedMention, render_status_html
from fediverse_biz.text.sanitize import sanitize_plain
from fediverse_biz.urls import LocalUrls

MAX_DISPLAY_NAME = 30
MAX_NOTE = 500
MAX_FIELDS = 4
MAX_FIELD_NAME = 255
MAX_FIELD_VALUE = 255
MAX_HANDLE = 300  # longer than any real user@domain handle
PRIVACY_CHOICES = ("public", "unlisted", "private")  # source[privacy], as Mastodon accepts it
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
# Organization team roles that may edit the company's public profile.
PROFILE_EDITORS = ("owner", "manager")
_VISIBLE = "suspended_at IS NULL AND NOT is_instance_actor"
_FIELD_REL = ' rel="nofollow noopener noreferrer"'
# Columns that appear in the actor document: a change to any of them is sent to followers' servers.
_PUBLISHED = ("display_name", "note", "fields", "locked", "bot", "discoverable", "indexable")
_PUBLISHED_MEDIA = ("avatar_url", "header_url")


def _invalid(message: str) -> DomainError:
    return DomainError(f"Validation failed: {message}", 422)


# ---- finding accounts --------------------------------------------------------------------------
async def visible_account(conn: Executor, account_id: int | None) -> asyncpg.Record | None:
    """An account clients may see: not suspended, not the instance actor."""
    if account_id is None:
        return None
    return await conn.fetchrow(f"SELECT * FROM actors WHERE id = $1 AND {_VISIBLE}", account_id)


async def visible_accounts(conn: Executor, account_ids: Sequence[int]) -> list[asyncpg.Record]:
    """Visible accounts among `account_ids`, in that order, each once."""
    wanted = list(dict.fromkeys(account_ids))
    rows = await conn.fetch(f"SELECT * FROM actors WHERE id = ANY($1::bigint[]) AND {_VISIBLE}", wanted)
    by_id = {r["id"]: r for r in rows}
    return [by_id[i] for i in wanted if i in by_id]


def split_acct(acct: str, local_domains: Collection[str]) -> tuple[str, str | None]:
    """`name`, `@name`, `name@domain`, `acct:name@domain` -> (name, domain or None when it is ours)."""
    acct = acct.strip().removeprefix("acct:").lstrip("@")
    username, _, domain = acct.partition("@")
    domain = domain.strip().lower()
    return username.strip(), (None if not domain or domain in local_domains else domain)


async def lookup(conn: Executor, username: str, domain: str | None) -> asyncpg.Record | None:
    """A known account by handle; never asks the network (Mastodon's lookup uses skip_webfinger)."""
    if not username or len(username) > MAX_HANDLE:
        return None
    return await conn.fetchrow(
        f"""SELECT * FROM actors WHERE lower(username) = lower($1) AND coalesce(domain, '') = coalesce($2, '')
              AND {_VISIBLE}""",
        username,
        domain,
    )


# ---- editing a local profile -------------------------------------------------------------------
@dataclass(frozen=True)
class ProfileChanges:
    """What update_credentials asked for; None leaves a value as it is.

    `privacy` and `sensitive` (source[privacy], source[sensitive]) are validated but not stored: no
    column holds posting defaults yet, and CredentialAccount reports public / not sensitive.
    """

    display_name: str | None = None
    note: str | None = None
    fields: Sequence[tuple[str, str]] | None = None
    locked: bool | None = None
    bot: bool | None = None
    discoverable: bool | None = None
    indexable: bool | None = None
    avatar_url: str | None = None
    header_url: str | None = None
    language: str | None = None
    privacy: str | None = None
    sensitive: bool | None = None


def _multiline_text(text: str) -> str:
    """A note as typed, minus what cannot be stored or shown: control characters other than line
    breaks and tabs, lone surrogates (PostgreSQL refuses them), and bidi overrides that flip text."""
    return "".join(
        ch
        for ch in text
        if ch in "\n\r\t"
        or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in "\u202a\u202b\u202c\u202d\u202e")
    )


def clean_fields(fields: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """One-line names and values, empty pairs dropped (Mastodon ignores them); limits enforced."""
    cleaned = []
    for name, value in fields:
        name, value = sanitize_plain(name, 10 * MAX_FIELD_NAME), sanitize_plain(value, 10 * MAX_FIELD_VALUE)
        if name or value:
            cleaned.append((name, value))
    if len(cleaned) > MAX_FIELDS:
        raise _invalid(f"Fields is too long (maximum is {MAX_FIELDS} fields)")
    for name, value in cleaned:
        if len(name) > MAX_FIELD_NAME:
            raise _invalid(f"Field name is too long (maximum is {MAX_FIELD_NAME} characters)")
        if len(value) > MAX_FIELD_VALUE:
            raise _invalid(f"Field value is too long (maximum is {MAX_FIELD_VALUE} characters)")
    return cleaned


def check_changes(changes: ProfileChanges) -> tuple[str | None, str | None, list[tuple[str, str]] | None]:
    """The cleaned display name, note and fields (None: unchanged); DomainError(422) for invalid input."""
    display_name = note = None
    if changes.display_name is not None:
        display_name = sanitize_plain(changes.display_name, 10 * MAX_DISPLAY_NAME)
        if len(display_name) > MAX_DISPLAY_NAME:
            raise _invalid(f"Display name is too long (maximum is {MAX_DISPLAY_NAME} characters)")
    if changes.note is not None:
        note = _multiline_text(changes.note).strip()
        if text_length(note) > MAX_NOTE:
            raise _invalid(f"Note is too long (maximum is {MAX_NOTE} characters)")
    fields = clean_fields(changes.fields) if changes.fields is not None else None
    if changes.language is not None and changes.language and not LANGUAGE_RE.match(changes.language):
        raise _invalid(f"Language {changes.language!r} is not an ISO 639 language code")
    if changes.privacy is not None and changes.privacy not in PRIVACY_CHOICES:
        raise _invalid(f"Privacy must be one of {', '.join(PRIVACY_CHOICES)}")
    return display_name, note, fields


def _renderer(mentioned: Sequence[asyncpg.Record], urls: LocalUrls, local_domain: str) -> Callable[[str], str]:
    mapping = {
        (m["username"].lower(), m["domain"]): ResolvedMention(m["username"], m["domain"], m["url"] or m["uri"])
        for m in mentioned
    }

    def render(text: str) -> str:
        return render_status_html(text, mentions=mapping, tag_url=urls.tag, local_domain=local_domain)

    return render


def _field_html(html: str) -> str:
    # A one-line value renders as one paragraph; fields carry the inline HTML alone, as on Mastodon,
    # and links get rel="me" so the linked page can confirm the profile (Mastodon link verification).
    html = html.removeprefix("<p>").removesuffix("</p>")
    return html.replace(_FIELD_REL, ' rel="me nofollow noopener noreferrer"')


async def _check_may_edit(conn: asyncpg.Connection, actor: Mapping[str, Any], user_id: int) -> None:
    own = await conn.fetchval("SELECT 1 FROM users WHERE id = $1 AND actor_id = $2", user_id, actor["id"])
    if own:
        return
    role = await conn.fetchval(
        "SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2", actor["id"], user_id
    )
    if role not in PROFILE_EDITORS:
        raise forbidden("Only the owner or a manager of this organization may edit its profile")


async def update_profile(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    local_domain: str,
    actor_id: int,
    user_id: int,
    changes: ProfileChanges,
) -> asyncpg.Record:
    """Apply `changes` to the local actor `actor_id` for `user_id` (the member, or a team member of the
    organization); returns the updated row. Followers' servers get Update(actor) if anything shown changed."""
    display_name, note, fields = check_changes(changes)
    typed = "\n".join([note or "", *(value for _, value in fields or [])])
    mentioned = await resolve_mentions(pool, typed, local_domain, None) if typed.strip() else []
    render = _renderer(mentioned, urls, local_domain)
    columns: dict[str, Any] = {}
    if display_name is not None:
        columns["display_name"] = display_name
    if note is not None:
        columns["note_source"] = note
        columns["note"] = render(note)
    if fields is not None:
        columns["fields"] = [
            {"name": name, "value": _field_html(render(value)), "source": value, "verified_at": None}
            for name, value in fields
        ]
    for flag in ("locked", "bot", "discoverable", "indexable", "avatar_url", "header_url"):
        if getattr(changes, flag) is not None:
            columns[flag] = getattr(changes, flag)
    async with pool.acquire() as conn, conn.transaction():
        before = await conn.fetchrow("SELECT * FROM actors WHERE id = $1 AND domain IS NULL FOR UPDATE", actor_id)
        if before is None or before["is_instance_actor"]:
            raise not_found()
        await _check_may_edit(conn, before, user_id)
        after = before
        if columns:
            assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(columns, start=2))
            after = await conn.fetchrow(
                f"UPDATE actors SET {assignments}, updated_at = now() WHERE id = $1 RETURNING *",
                actor_id,
                *columns.values(),
            )
        if changes.language:
            await conn.execute("UPDATE users SET locale = $2 WHERE id = $1", user_id, changes.language)
        if fields and after["fields"] != before["fields"]:
            # New field values are unverified: their rel="me" links are checked again.
            await hooks.profile_links_changed(conn, actor_id)
        await _publish_if_changed(conn, urls, before, after)
    return after


async def _publish_if_changed(
    conn: asyncpg.Connection, urls: LocalUrls, before: asyncpg.Record, after: asyncpg.Record
) -> None:
    """Followers' servers get Update(actor) when anything they show changed."""
    if any(before[c] != after[c] for c in (*_PUBLISHED, *_PUBLISHED_MEDIA)):
        moved_to = None
        if after["moved_to_actor_id"] is not None:
            moved_to = await conn.fetchval("SELECT uri FROM actors WHERE id = $1", after["moved_to_actor_id"])
        await outbound.publish_actor_update(conn, after, actor_to_ap(after, urls, moved_to=moved_to))


async def remove_image(
    pool: asyncpg.Pool, settings: Settings, urls: LocalUrls, actor_id: int, user_id: int, kind: str
) -> asyncpg.Record:
    """The avatar or header goes back to the default (https://docs.joinmastodon.org/methods/profile/): the
    column is cleared and the change federated in one transaction, then the file is removed (a failure
    there leaves a harmless file, never a profile pointing at a missing one). Returns the updated row."""
    column = {"avatar": "avatar_url", "header": "header_url"}[kind]
    async with pool.acquire() as conn, conn.transaction():
        before = await conn.fetchrow("SELECT * FROM actors WHERE id = $1 AND domain IS NULL FOR UPDATE", actor_id)
        if before is None or before["is_instance_actor"]:
            raise not_found()
        await _check_may_edit(conn, before, user_id)
        after = await conn.fetchrow(
            f"UPDATE actors SET {column} = NULL, updated_at = now() WHERE id = $1 RETURNING *", actor_id
        )
        await _publish_if_changed(conn, urls, before, after)
    ours = urls.media(f"accounts/{actor_id}/")
    old = before[column]
    if old and old.startswith(ours) and "/" not in old.removeprefix(ours) and ".." not in old:
        await media.remove_files(settings, [f"accounts/{actor_id}/{old.removeprefix(ours)}"])
    return after
