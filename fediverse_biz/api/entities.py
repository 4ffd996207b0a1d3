"""Mastodon API entities, serialized in one place (schemas/mastodon/ describes them).

Formats clients break without (mastodon-client-api.md §2.9): ids are strings, datetimes are
`YYYY-MM-DDThh:mm:ss.sssZ`, avatar/header are never null, `acct` is `username` for local
accounts and `username@domain` for remote ones. Counters and viewer flags are loaded in batches
(one query per kind per page), never per status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias

import asyncpg

from ..core.hydrate import StatusBundle, load_actors
from ..core.urls import LocalUrls
from . import _offer_entity

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool
Row = Mapping[str, Any]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def acct(actor: Row) -> str:
    return actor["username"] if actor["domain"] is None else f"{actor['username']}@{actor['domain']}"


async def account_stats(conn: Conn, ids: Sequence[int]) -> dict[int, asyncpg.Record]:
    if not ids:
        return {}
    rows = await conn.fetch(
        """SELECT a.id,
                  greatest((SELECT count(*) FROM follows WHERE target_actor_id = a.id),
                           coalesce((a.extra->>'followers_count')::bigint, 0)) AS followers_count,
                  greatest((SELECT count(*) FROM follows WHERE actor_id = a.id),
                           coalesce((a.extra->>'following_count')::bigint, 0)) AS following_count,
                  greatest((SELECT count(*) FROM statuses s WHERE s.actor_id = a.id AND s.reblog_of_id IS NULL
                              AND s.approval_state = 'published'),
                           coalesce((a.extra->>'statuses_count')::bigint, 0)) AS statuses_count,
                  (SELECT max(published_at) FROM statuses s WHERE s.actor_id = a.id
                      AND s.approval_state = 'published') AS last_status_at
             FROM actors a WHERE a.id = ANY($1::bigint[])""",
        list(set(ids)),
    )
    return {r["id"]: r for r in rows}


def account_entity(actor: Row, stats: Row | None, urls: LocalUrls) -> dict[str, Any]:
    avatar = actor["avatar_url"] or urls.static("default-avatar.png")
    header = actor["header_url"] or urls.static("default-header.png")
    last = stats["last_status_at"] if stats else None
    return {
        "id": str(actor["id"]),
        "username": actor["username"],
        "acct": acct(actor),
        "display_name": actor["display_name"] or "",
        "locked": actor["locked"],
        "bot": actor["bot"] or actor["actor_type"] in ("Service", "Application"),
        "discoverable": actor["discoverable"],
        "indexable": actor["indexable"],
        "group": actor["actor_type"] == "Group",
        "created_at": iso(actor["created_at"].replace(hour=0, minute=0, second=0, microsecond=0)),
        "note": actor["note"] or "",
        "url": actor["url"] or actor["uri"],
        "uri": actor["uri"],
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": int(stats["followers_count"]) if stats else 0,
        "following_count": int(stats["following_count"]) if stats else 0,
        "statuses_count": int(stats["statuses_count"]) if stats else 0,
        "last_status_at": last.date().isoformat() if last else None,
        "hide_collections": False,
        "noindex": not actor["indexable"],
        "emojis": [],
        "roles": [],
        "memorial": False,
        "fields": [
            {"name": f.get("name", ""), "value": f.get("value", ""), "verified_at": f.get("verified_at")}
            for f in (actor["fields"] or [])
        ],
        # An extension other clients ignore: what kind of actor this is (Person, Organization, Group…).
        "fediverse_biz": {"actor_type": actor["actor_type"]},
    }


async def accounts(conn: Conn, actors: Sequence[Row], urls: LocalUrls) -> list[dict[str, Any]]:
    stats = await account_stats(conn, [a["id"] for a in actors])
    return [account_entity(a, stats.get(a["id"]), urls) for a in actors]


async def account(conn: Conn, actor: Row, urls: LocalUrls) -> dict[str, Any]:
    return (await accounts(conn, [actor], urls))[0]


async def credential_account(conn: Conn, actor: Row, urls: LocalUrls, user: Row | None) -> dict[str, Any]:
    from ..core.content import html_to_text

    entity = await account(conn, actor, urls)
    pending = await conn.fetchval("SELECT count(*) FROM follow_requests WHERE target_actor_id = $1", actor["id"])
    entity["source"] = {
        "privacy": "public",
        "sensitive": False,
        "language": user["locale"] if user else None,
        "note": actor["note_source"] or html_to_text(actor["note"] or ""),
        "fields": [
            {
                "name": f.get("name", ""),
                "value": f.get("source", f.get("value", "")),
                "verified_at": f.get("verified_at"),
            }
            for f in (actor["fields"] or [])
        ],
        "follow_requests_count": int(pending),
        "hide_collections": False,
        "discoverable": actor["discoverable"],
        "indexable": actor["indexable"],
    }
    entity["role"] = {
        "id": "0",
        "name": (user["role"] if user else "") or "",
        "color": "",
        "permissions": "0",
        "highlighted": False,
    }
    return entity


def media_entity(media: Row, urls: LocalUrls) -> dict[str, Any]:
    url = urls.media(media["file_path"]) if media["file_path"] else media["remote_url"]
    preview = urls.media(media["preview_path"]) if media["preview_path"] else (media["preview_remote_url"] or url)
    return {
        "id": str(media["id"]),
        "type": media["media_type"],
        "url": url,
        "preview_url": preview,
        "remote_url": media["remote_url"],
        "preview_remote_url": media["preview_remote_url"],
        "text_url": None,
        "meta": media["meta"] or {},
        "description": media["description"] or None,
        "blurhash": media["blurhash"],
    }


async def _viewer_flags(conn: Conn, viewer_id: int | None, ids: list[int]) -> dict[str, set[int]]:
    if viewer_id is None or not ids:
        return {"favourited": set(), "reblogged": set(), "bookmarked": set(), "pinned": set()}
    rows = await conn.fetch(
        """SELECT 'favourited' AS kind, status_id FROM favourites WHERE actor_id = $1 AND status_id = ANY($2::bigint[])
           UNION ALL
           SELECT 'reblogged', reblog_of_id FROM statuses WHERE actor_id = $1 AND reblog_of_id = ANY($2::bigint[])
           UNION ALL
           SELECT 'bookmarked', status_id FROM bookmarks WHERE actor_id = $1 AND status_id = ANY($2::bigint[])
           UNION ALL
           SELECT 'pinned', status_id FROM pinned_statuses WHERE actor_id = $1 AND status_id = ANY($2::bigint[])""",
        viewer_id,
        ids,
    )
    flags: dict[str, set[int]] = {"favourited": set(), "reblogged": set(), "bookmarked": set(), "pinned": set()}
    for r in rows:
        flags[r["kind"]].add(r["status_id"])
    return flags


async def statuses(
    conn: Conn, bundles: Sequence[StatusBundle], urls: LocalUrls, viewer_id: int | None, *, with_source: bool = False
) -> list[dict[str, Any]]:
    """Status entities for bundles, in the given order."""
    everything = [b for b in bundles] + [b.reblog for b in bundles if b.reblog is not None]
    ids = [b.id for b in everything]
    actors = {b.author["id"]: b.author for b in everything}
    for b in everything:
        for m in b.mentions:
            actors.setdefault(m["id"], m)
    stats = await account_stats(conn, list({b.author["id"] for b in everything}))
    flags = await _viewer_flags(conn, viewer_id, ids)
    apps = {}
    app_ids = [b.status["application_id"] for b in everything if b.status["application_id"]]
    if app_ids:
        apps = {
            r["id"]: r
            for r in await conn.fetch("SELECT id, name, website FROM oauth_apps WHERE id = ANY($1::bigint[])", app_ids)
        }

    def one(b: StatusBundle) -> dict[str, Any]:
        s = b.status
        app = apps.get(s["application_id"]) if s["application_id"] else None
        entity: dict[str, Any] = {
            "id": str(s["id"]),
            "uri": s["uri"],
            "url": s["url"] or s["uri"],
            "created_at": iso(s["published_at"]),
            "edited_at": iso(s["edited_at"]),
            "account": account_entity(b.author, stats.get(b.author["id"]), urls),
            "content": s["content"] or "",
            "text": s["source_text"] if with_source else None,
            "visibility": s["visibility"],
            "sensitive": s["sensitive"],
            "spoiler_text": s["spoiler_text"] or "",
            "media_attachments": [media_entity(m, urls) for m in b.media],
            "application": {"name": app["name"], "website": app["website"]} if app and s["local"] else None,
            "mentions": [
                {"id": str(m["id"]), "username": m["username"], "url": m["url"] or m["uri"], "acct": acct(m)}
                for m in b.mentions
            ],
            "tags": [{"name": t, "url": urls.tag(t)} for t in b.tags],
            "emojis": [],
            "reblogs_count": s["reblogs_count"],
            "favourites_count": s["favourites_count"],
            "replies_count": s["replies_count"],
            "in_reply_to_id": str(s["in_reply_to_id"]) if s["in_reply_to_id"] else None,
            "in_reply_to_account_id": str(s["in_reply_to_actor_id"]) if s["in_reply_to_actor_id"] else None,
            "reblog": None,
            "poll": None,
            "card": None,
            "language": s["language"],
            "filtered": [],
        }
        if viewer_id is not None:
            entity.update(
                favourited=b.id in flags["favourited"],
                reblogged=b.id in flags["reblogged"],
                muted=False,
                bookmarked=b.id in flags["bookmarked"],
                pinned=b.id in flags["pinned"] if b.author["id"] == viewer_id else None,
            )
            if entity["pinned"] is None:
                del entity["pinned"]
        if s["title"]:
            entity["fediverse_biz"] = {"title": s["title"]}
        offer = _offer_entity.extension(s["extra"], s["id"])  # issue 6: a job offer or opportunity
        if offer is not None:
            entity.setdefault("fediverse_biz", {})["offer"] = offer
        if s["approval_state"] != "published":
            entity.setdefault("fediverse_biz", {})["approval_state"] = s["approval_state"]
        return entity

    result = []
    for b in bundles:
        entity = one(b)
        if b.reblog is not None:
            entity["reblog"] = one(b.reblog)
            entity["content"] = ""
        result.append(entity)
    return result


async def accounts_by_id(conn: Conn, ids: Sequence[int], urls: LocalUrls) -> list[dict[str, Any]]:
    actors = await load_actors(conn, ids)
    return await accounts(conn, [actors[i] for i in ids if i in actors], urls)
