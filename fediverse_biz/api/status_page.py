"""A page of statuses for the client API in two queries: the statuses rows, then everything else.

The client's pages (timelines, threads, bookmarks…) are the server's busiest read. core.hydrate's bundles
carry whole author rows for the ActivityPub renderers, and took four queries a page: decoding the ~35
columns of 40 authors alone was a tenth of a page's CPU, though the account entities they make are
nearly always in AccountEntities already. Here the second query brings, in the columns of
entities.PAGE_FACTS, the page facts (authors' versions and counters, apps, the viewer's flags) and the
statuses' parts (tags, mentioned accounts' names, whether there are media). Whole author rows are read
only for authors whose entity is not cached, media rows only for a page with media: a third query in
those cases, never one per status.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import asyncpg

from fediverse_biz.api import status_filters
from fediverse_biz.api.entities import PAGE_FACTS, PageFacts, assemble, fact_arguments, fact_select
from fediverse_biz.core.hydrate import bundle_statuses, load_actors, load_media, load_status_rows
from fediverse_biz.services import AccountEntityCache
from fediverse_biz.urls import LocalUrls

# The parts of the statuses ($4, boosted originals included), after the facts: mentions as the columns a
# Mention entity shows (entities.assemble reads id, username, domain, url and uri of the row).
_PARTS = "\nUNION ALL\n".join([
    fact_select("tag", "FROM status_tags st JOIN tags t ON t.id = st.tag_id WHERE st.status_id = ANY($4::bigint[])",
                status_id="st.status_id", name="t.name"),
    fact_select("mention",
                "FROM status_mentions sm JOIN actors a ON a.id = sm.actor_id WHERE sm.status_id = ANY($4::bigint[])",
                status_id="sm.status_id", id="a.id", username="a.username", domain="a.domain", url="a.url",
                uri="a.uri"),
    fact_select("media", "FROM media_attachments WHERE status_id = ANY($4::bigint[])", status_id="status_id", id="id"),
])
PAGE_SQL = f"{PAGE_FACTS}\nUNION ALL\n{_PARTS}"


async def render_page(
    conn: asyncpg.Connection,
    ids: Sequence[int],
    urls: LocalUrls,
    viewer_id: int | None,
    known_accounts: AccountEntityCache | None,
    *,
    with_source: bool = False,
    filter_context: str | None = None,
) -> list[dict[str, Any]]:
    """Status entities for `ids`, in that order; ids that no longer exist are left out. For a viewer, with
    their filters' results, less what a hide filter takes out of `filter_context` (api/status_filters.py)."""
    all_rows = await load_status_rows(conn, ids)
    if not all_rows:
        return []
    arguments = fact_arguments(all_rows.values(), viewer_id)
    author_ids, all_ids = arguments[0], arguments[3]
    rows = await conn.fetch(PAGE_SQL, *arguments)
    facts = PageFacts()
    tags: dict[int, list[str]] = defaultdict(list)
    mentions: dict[int, list[asyncpg.Record]] = defaultdict(list)
    has_media = False
    for r in rows:
        if facts.add(r):
            continue
        kind = r["kind"]
        if kind == "tag":
            tags[r["status_id"]].append(r["name"])
        elif kind == "mention":
            mentions[r["status_id"]].append(r)
        else:
            has_media = True
    for names in tags.values():
        names.sort()
    for mentioned in mentions.values():
        mentioned.sort(key=lambda m: m["id"])  # as hydrate orders them

    # Account entities from the cache where it has this version of the author, found before any await so a
    # clear() by another request cannot take them away; whole rows are read only for the others.
    accounts: dict[int, dict[str, Any]] = {}
    unknown = []
    for author_id, row in facts.stats.items():
        entity = known_accounts.cached(row, row) if known_accounts is not None else None
        if entity is None:
            unknown.append(author_id)
        else:
            accounts[author_id] = entity
    authors: dict[int, asyncpg.Record] = {i: facts.stats[i] for i in accounts}  # standing in for the rows
    if unknown:
        authors.update(await load_actors(conn, unknown))
    if len(authors) < len(author_ids):  # deleted since the statuses were read: their statuses go too
        all_rows = {i: r for i, r in all_rows.items() if r["actor_id"] in authors}
    media = await load_media(conn, all_ids) if has_media else {}

    bundles = bundle_statuses(ids, all_rows, authors, (mentions, tags, media), reply_authors=False)
    ordered = [bundles[i] for i in ids if i in bundles]
    rendered = assemble(ordered, facts, urls, viewer_id, with_source=with_source, known_accounts=known_accounts,
                        accounts=accounts)
    if viewer_id is None:
        return rendered
    return await status_filters.apply(conn, ordered, rendered, viewer_id, filter_context)
