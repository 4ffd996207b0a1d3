"""Data export: everything an account has here, as a JSON archive and as Mastodon's CSV files.

- `archive`: the profile (with the company profile of an organization), every own status of every
  visibility — followers-only, direct, held and rejected ones too: it is the owner's data — with its
  media, tags and mentions, the URLs of all media files, followers and following.
- `following_csv`: Mastodon's "follows" export, `Account address,Show boosts,Notify on new posts,
  Languages` (app/models/export.rb `to_following_accounts_csv`), which Mastodon's import reads back.
- `followers_csv`: one column, `Account address`.

Addresses are `user@domain`, ours included (Mastodon writes `username@LOCAL_DOMAIN` for local
accounts), so a file imported elsewhere still names the right accounts. The archive is built in
memory: a business account's history is megabytes, not gigabytes.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg

from fediverse_biz.core.errors import not_found
from fediverse_biz.db.executor import Executor
from fediverse_biz.urls import LocalUrls

ARCHIVE_VERSION: Final = 1
FOLLOWING_HEADER: Final = ("Account address", "Show boosts", "Notify on new posts", "Languages")
FOLLOWERS_HEADER: Final = ("Account address",)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def address(actor: Mapping[str, Any], local_domain: str) -> str:
    return f"{actor['username']}@{actor['domain'] or local_domain}"


async def _actor(conn: Executor, actor_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM actors WHERE id = $1 AND domain IS NULL", actor_id)
    if row is None:
        raise not_found()
    return row


def _profile(actor: asyncpg.Record, company: Mapping[str, Any] | None, urls: LocalUrls, domain: str) -> dict[str, Any]:
    return {
        "id": str(actor["id"]),
        "username": actor["username"],
        "acct": address(actor, domain),
        "actor_type": actor["actor_type"],
        "display_name": actor["display_name"],
        "note": actor["note"],
        "note_source": actor["note_source"],
        "fields": [
            {key: f.get(key) for key in ("name", "value", "source", "verified_at")}
            for f in (actor["fields"] or [])
            if isinstance(f, dict)
        ],
        "avatar": actor["avatar_url"],
        "header": actor["header_url"],
        "locked": actor["locked"],
        "discoverable": actor["discoverable"],
        "indexable": actor["indexable"],
        "bot": actor["bot"],
        "uri": actor["uri"],
        "url": actor["url"] or urls.profile_page(actor["username"], actor["actor_type"]),
        "created_at": _iso(actor["created_at"]),
        "company": company,
    }


def _media_entry(media: Mapping[str, Any], urls: LocalUrls) -> dict[str, Any]:
    return {
        "id": str(media["id"]),
        "type": media["media_type"],
        "url": urls.media(media["file_path"]) if media["file_path"] else media["remote_url"],
        "preview_url": urls.media(media["preview_path"]) if media["preview_path"] else None,
        "description": media["description"] or None,
        "blurhash": media["blurhash"],
    }


async def _statuses(conn: Executor, actor_id: int, urls: LocalUrls, domain: str) -> tuple[list[Any], list[Any]]:
    rows = await conn.fetch(
        """SELECT s.*, r.uri AS reblog_uri FROM statuses s LEFT JOIN statuses r ON r.id = s.reblog_of_id
            WHERE s.actor_id = $1 ORDER BY s.id""",
        actor_id,
    )
    ids = [r["id"] for r in rows]
    tags: dict[int, list[str]] = defaultdict(list)
    for t in await conn.fetch(
        """SELECT st.status_id, t.name FROM status_tags st JOIN tags t ON t.id = st.tag_id
            WHERE st.status_id = ANY($1::bigint[]) ORDER BY t.name""",
        ids,
    ):
        tags[t["status_id"]].append(t["name"])
    mentions: dict[int, list[str]] = defaultdict(list)
    for m in await conn.fetch(
        """SELECT m.status_id, a.username, a.domain FROM status_mentions m JOIN actors a ON a.id = m.actor_id
            WHERE m.status_id = ANY($1::bigint[]) ORDER BY a.id""",
        ids,
    ):
        mentions[m["status_id"]].append(address(m, domain))
    all_media = await conn.fetch("SELECT * FROM media_attachments WHERE actor_id = $1 ORDER BY position, id", actor_id)
    media: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for m in all_media:
        if m["status_id"] is not None:
            media[m["status_id"]].append(_media_entry(m, urls))
    statuses = [
        {
            "id": str(s["id"]),
            "uri": s["uri"],
            "url": s["url"],
            "created_at": _iso(s["published_at"]),
            "edited_at": _iso(s["edited_at"]),
            "visibility": s["visibility"],
            "approval_state": s["approval_state"],
            "content": s["content"],
            "text": s["source_text"],
            "spoiler_text": s["spoiler_text"],
            "sensitive": s["sensitive"],
            "language": s["language"],
            "title": s["title"],
            "in_reply_to": s["in_reply_to_uri"],
            "reblog_of": s["reblog_uri"],
            "tags": tags.get(s["id"], []),
            "mentions": mentions.get(s["id"], []),
            "media_attachments": media.get(s["id"], []),
        }
        for s in rows
    ]
    return statuses, [_media_entry(m, urls) for m in all_media]


async def _graph(conn: Executor, actor_id: int, *, followers: bool) -> list[asyncpg.Record]:
    # follows.actor_id follows follows.target_actor_id
    mine, theirs = ("target_actor_id", "actor_id") if followers else ("actor_id", "target_actor_id")
    return list(
        await conn.fetch(
            f"""SELECT a.username, a.domain, a.uri, f.show_reblogs, f.notify FROM follows f
                  JOIN actors a ON a.id = f.{theirs}
                 WHERE f.{mine} = $1 AND a.suspended_at IS NULL ORDER BY f.id""",
            actor_id,
        )
    )


async def archive(
    conn: Executor, actor_id: int, urls: LocalUrls, local_domain: str, *, company: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The whole archive of a local account. `company`: the organization's structured profile, as the
    caller (the door, which may read business/) has it."""
    actor = await _actor(conn, actor_id)
    statuses, media = await _statuses(conn, actor_id, urls, local_domain)
    profile_media = [u for u in (actor["avatar_url"], actor["header_url"]) if u]
    return {
        "version": ARCHIVE_VERSION,
        "exported_at": _iso(datetime.now(UTC)),
        "profile": _profile(actor, company, urls, local_domain),
        "statuses": statuses,
        "media": [*profile_media, *(m["url"] for m in media if m["url"])],
        "followers": [
            {"acct": address(r, local_domain), "uri": r["uri"]} for r in await _graph(conn, actor_id, followers=True)
        ],
        "following": [
            {
                "acct": address(r, local_domain),
                "uri": r["uri"],
                "show_reblogs": r["show_reblogs"],
                "notify": r["notify"],
            }
            for r in await _graph(conn, actor_id, followers=False)
        ],
    }


def _csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    # Mastodon's files end lines with \n (Ruby's CSV default), not csv's \r\n.
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


async def following_csv(conn: Executor, actor_id: int, local_domain: str) -> str:
    await _actor(conn, actor_id)
    rows = [
        (address(r, local_domain), str(r["show_reblogs"]).lower(), str(r["notify"]).lower(), "")
        for r in await _graph(conn, actor_id, followers=False)
    ]
    return _csv(FOLLOWING_HEADER, rows)


async def followers_csv(conn: Executor, actor_id: int, local_domain: str) -> str:
    await _actor(conn, actor_id)
    return _csv(FOLLOWERS_HEADER, [(address(r, local_domain),) for r in await _graph(conn, actor_id, followers=True)])
