"""Loading statuses with everything needed to show or federate them, in a fixed number of queries.

A page of 40 statuses costs three or four queries whatever its size (statuses along with the originals
of boosts; tags, mentions and media ids; authors and mentioned actors; media rows if any) — never one
query per status. Both the client API and the ActivityPub renderers take a StatusBundle, so the two
views of a status cannot drift apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import asyncpg

from fediverse_biz.db.executor import Executor


@dataclass
class StatusBundle:
    status: asyncpg.Record  # statuses row
    author: asyncpg.Record  # actors row
    mentions: list[asyncpg.Record] = field(default_factory=list)  # actors rows
    tags: list[str] = field(default_factory=list)
    media: list[asyncpg.Record] = field(default_factory=list)  # media_attachments rows, in order
    reblog: StatusBundle | None = None
    in_reply_to_author: asyncpg.Record | None = None

    @property
    def id(self) -> int:
        return int(self.status["id"])


async def load_actors(conn: Executor, ids: Iterable[int]) -> dict[int, asyncpg.Record]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    # row_version (the row's xmin) changes with every update of the row: renderers may key caches on it.
    rows = await conn.fetch("SELECT *, xmin AS row_version FROM actors WHERE id = ANY($1::bigint[])", wanted)
    return {r["id"]: r for r in rows}


async def load_status_rows(conn: Executor, ids: Sequence[int]) -> dict[int, asyncpg.Record]:
    """The statuses rows of `ids` and of the originals they boost, by id (missing ids are absent)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    # The originals of boosts come in the same query as the statuses asked for: one round trip fewer on
    # every page with a boost (a round trip costs ~30 µs of CPU). A status both asked for and boosted
    # comes twice, from the same snapshot: the dict keeps one.
    fetched = await conn.fetch(
        """SELECT * FROM statuses WHERE id = ANY($1::bigint[])
           UNION ALL
           SELECT o.* FROM statuses s JOIN statuses o ON o.id = s.reblog_of_id WHERE s.id = ANY($1::bigint[])""",
        wanted,
    )
    return {r["id"]: r for r in fetched}


def bundle_statuses(
    ids: Iterable[int],
    all_rows: Mapping[int, asyncpg.Record],
    actors: Mapping[int, asyncpg.Record],
    parts: tuple[Mapping[int, list[asyncpg.Record]], Mapping[int, list[str]], Mapping[int, list[asyncpg.Record]]],
    *,
    reply_authors: bool = True,
) -> dict[int, StatusBundle]:
    """Bundles for those of `ids` that exist, each boost carrying its original's; a boost whose original
    is gone goes with it. `actors` holds every author (and, with `reply_authors`, the authors replied to);
    `parts` are the mentions, tags and media by status id."""
    mentions, tags, media = parts

    def bundle(row: asyncpg.Record) -> StatusBundle:
        status_id, reply_actor = row["id"], row["in_reply_to_actor_id"] if reply_authors else None
        return StatusBundle(
            status=row,
            author=actors[row["actor_id"]],
            mentions=mentions.get(status_id, []),
            tags=tags.get(status_id, []),
            media=media.get(status_id, []),
            in_reply_to_author=actors.get(reply_actor) if reply_actor else None,
        )

    result: dict[int, StatusBundle] = {}
    for status_id in ids:
        row = all_rows.get(status_id)
        if row is None:
            continue
        b = bundle(row)
        if row["reblog_of_id"] is not None:
            original = all_rows.get(row["reblog_of_id"])
            if original is None:
                continue
            b.reblog = bundle(original)
        result[status_id] = b
    return result


async def load_media(conn: Executor, status_ids: Sequence[int]) -> dict[int, list[asyncpg.Record]]:
    """The media_attachments rows of these statuses, in each one's order."""
    media: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for m in await conn.fetch(
        "SELECT * FROM media_attachments WHERE status_id = ANY($1::bigint[]) ORDER BY position, id", status_ids
    ):
        media[m["status_id"]].append(m)
    return media


async def load_statuses(conn: Executor, ids: Sequence[int]) -> dict[int, StatusBundle]:
    """Bundles for the given ids (missing ids are simply absent); boosts carry their original."""
    all_rows = await load_status_rows(conn, ids)
    if not all_rows:
        return {}
    all_ids = list(all_rows)

    # Tags, mentions and media ids in one query; the mentioned actors come with the authors, and the media
    # rows are read only when the page has any: three or four round trips fewer than a query per part.
    part_rows = await conn.fetch(
        """SELECT 1 AS kind, st.status_id, t.name, NULL::bigint AS ref
             FROM status_tags st JOIN tags t ON t.id = st.tag_id WHERE st.status_id = ANY($1::bigint[])
           UNION ALL
           SELECT 2, status_id, NULL, actor_id FROM status_mentions WHERE status_id = ANY($1::bigint[])
           UNION ALL
           SELECT 3, status_id, NULL, id FROM media_attachments WHERE status_id = ANY($1::bigint[])""",
        all_ids,
    )
    tags: dict[int, list[str]] = defaultdict(list)
    mentioned: dict[int, list[int]] = defaultdict(list)
    has_media = False
    for p in part_rows:
        kind = p["kind"]
        if kind == 1:
            tags[p["status_id"]].append(p["name"])
        elif kind == 2:
            mentioned[p["status_id"]].append(p["ref"])
        else:
            has_media = True
    for names in tags.values():
        names.sort()
    actor_ids = {r["actor_id"] for r in all_rows.values()}
    actor_ids |= {r["in_reply_to_actor_id"] for r in all_rows.values() if r["in_reply_to_actor_id"]}
    actor_ids.update(a for ids_ in mentioned.values() for a in ids_)
    actors = await load_actors(conn, actor_ids)
    mentions: dict[int, list[asyncpg.Record]] = {
        status_id: [actors[a] for a in sorted(ids_) if a in actors] for status_id, ids_ in mentioned.items()
    }
    media = await load_media(conn, all_ids) if has_media else {}
    return bundle_statuses(sorted(set(ids)), all_rows, actors, (mentions, tags, media))


async def load_status(conn: Executor, status_id: int) -> StatusBundle | None:
    return (await load_statuses(conn, [status_id])).get(status_id)


# The counters an account entity shows, over `actors a LEFT JOIN actor_stats st`. Kept by triggers
# (migration 0008); a remote actor's own figures win when they are larger, since we only know the part of
# its graph and posts that reached us.
ACCOUNT_STATS: Final = {
    "followers_count": "greatest(coalesce(st.followers_count, 0), coalesce((a.extra->>'followers_count')::bigint, 0))",
    "following_count": "greatest(coalesce(st.following_count, 0), coalesce((a.extra->>'following_count')::bigint, 0))",
    "statuses_count": "greatest(coalesce(st.statuses_count, 0), coalesce((a.extra->>'statuses_count')::bigint, 0))",
    "last_status_at": "st.last_status_at",
}
_STATS_COLUMNS = ", ".join(f"{expr} AS {name}" for name, expr in ACCOUNT_STATS.items())


async def account_stats(conn: Executor, ids: Sequence[int]) -> dict[int, asyncpg.Record]:
    if not ids:
        return {}
    rows = await conn.fetch(
        f"""SELECT a.id, {_STATS_COLUMNS}
              FROM actors a LEFT JOIN actor_stats st ON st.actor_id = a.id
             WHERE a.id = ANY($1::bigint[])""",
        list(set(ids)),
    )
    return {r["id"]: r for r in rows}
