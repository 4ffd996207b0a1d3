"""The viewer's filters on rendered statuses: `filtered` results as Mastodon returns them, and the
statuses that a `hide` filter takes out of the context being read.

As in Mastodon's StatusRelationshipsPresenter, `filtered` lists the matches of every unexpired filter,
whatever its contexts (the Filter entity names them, and clients decide where to warn); a boost and what
it boosts carry the same results. Beyond Mastodon, which leaves `hide` to clients, a status that a hide
filter for the context being read matches is left out here, so that every client, however simple,
honours it: timelines (home and lists "home", public and hashtags "public", an account's "account"),
threads ("thread"), notifications and streams.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fediverse_biz.api.entities import iso
from fediverse_biz.core import filters
from fediverse_biz.core.hydrate import StatusBundle
from fediverse_biz.db.executor import Executor
from fediverse_biz.text.content import html_to_text


def keyword_entity(keyword: filters.Keyword) -> dict[str, Any]:
    return {"id": str(keyword.id), "keyword": keyword.keyword, "whole_word": keyword.whole_word}


def filter_entity(found: filters.Filter) -> dict[str, Any]:
    """The v2 Filter entity (https://docs.joinmastodon.org/entities/Filter/)."""
    return {
        "id": str(found.id),
        "title": found.title,
        "context": found.context,
        "expires_at": iso(found.expires_at),
        "filter_action": found.action,
        "keywords": [keyword_entity(k) for k in found.keywords],
        "statuses": [{"id": str(i), "status_id": str(s)} for i, s in found.statuses.items()],
    }


def result_entity(match: filters.Match) -> dict[str, Any]:
    """The FilterResult entity (https://docs.joinmastodon.org/entities/FilterResult/)."""
    return {
        "filter": filter_entity(match.filter),
        "keyword_matches": match.keyword_matches,
        "status_matches": match.status_matches,
    }


def _searchable(bundle: StatusBundle) -> str:
    """What keywords are looked for in: Mastodon's Status#searchable_text, less polls we do not have."""
    s = bundle.status
    parts = [s["spoiler_text"] or "", html_to_text(s["content"] or "")]
    parts += [m["description"] or "" for m in bundle.media]
    return "\n\n".join(p for p in parts if p)


async def apply(
    conn: Executor,
    bundles: Sequence[StatusBundle],
    rendered: list[dict[str, Any]],
    viewer_id: int,
    context: str | None,
) -> list[dict[str, Any]]:
    """`rendered` (the entities of `bundles`, in order) with the viewer's filter results added, less the
    statuses hidden in `context`. Entities with results are copies: rendered ones stay untouched."""
    active = await filters.active_anywhere(conn, viewer_id)
    if not active:
        return rendered
    proper = [b.reblog or b for b in bundles]
    found = filters.matches(active, {p.id: _searchable(p) for p in proper})
    result = []
    for original, entity in zip(proper, rendered, strict=True):
        hits = found.get(original.id)
        if not hits:
            result.append(entity)
            continue
        if context is not None and any(h.filter.action == "hide" and context in h.filter.context for h in hits):
            continue
        results = [result_entity(h) for h in hits]
        copy = {**entity, "filtered": results}
        if copy.get("reblog"):
            copy["reblog"] = {**copy["reblog"], "filtered": results}
        result.append(copy)
    return result
