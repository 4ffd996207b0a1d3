"""Keyset paging over time-sortable ids, with Mastodon's max_id / since_id / min_id semantics.

- max_id: strictly older than; since_id: strictly newer than, newest first;
- min_id: strictly newer than, but the page *adjacent* to it (oldest first in SQL, then reversed),
  which is what clients use to fetch "what is new since I last looked" without gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None
    limit: int = 20

    @property
    def ascending(self) -> bool:
        return self.min_id is not None


def keyset(page: Page, column: str, first_param: int) -> tuple[str, list[object], str]:
    """SQL `AND …` conditions, their arguments (numbered from `first_param`), and the ORDER BY."""
    where: list[str] = []
    args: list[object] = []
    n = first_param
    if page.max_id is not None:
        where.append(f"{column} < ${n}")
        args.append(page.max_id)
        n += 1
    lower = page.min_id if page.min_id is not None else page.since_id
    if page.min_id is not None and page.since_id is not None:
        lower = max(page.min_id, page.since_id)
    if lower is not None:
        where.append(f"{column} > ${n}")
        args.append(lower)
    sql = "".join(f" AND {w}" for w in where)
    return sql, args, f"{column} {'ASC' if page.ascending else 'DESC'}"


def newest_first(rows: list[T], page: Page) -> list[T]:
    return list(reversed(rows)) if page.ascending else rows
