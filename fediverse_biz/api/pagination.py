"""Mastodon's keyset pagination: max_id / since_id / min_id / limit in, a `Link` header out.

Contract (https://docs.joinmastodon.org/api/guidelines/, "Paginating with the Link header", and what
clients parse):
- max_id: strictly older. since_id: strictly newer, newest page first. min_id: strictly newer, the page
  *immediately after* the cursor (fetched ascending), still returned newest first.
- `Link: <...?max_id=OLDEST>; rel="next", <...?min_id=NEWEST>; rel="prev"`: next first (toot matches
  `<([^>]+)>; rel="next"` at the start of the header), min_id in prev (Tusky), boundary items excluded,
  the caller's other query parameters kept, no header for an empty page.
- A cursor that is not an id (core.ids: ASCII digits, no leading zero, within bigint; 0 is allowed) is
  refused with 400 `{"error": "max_id must be an id"}` rather than read as some other number or left to
  overflow in SQL; an empty one counts as absent. limit is clamped.

The SQL side is core.paging (one implementation for core and doors); typical use in a handler:

    page = page_params(request)                       # or page_params(params) for merged body params
    ids = await timelines.home(pool, viewer.actor_id, page)   # keyset(...) + newest_first(...) inside
    return paginated(request, await render(ids), ids, page)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlencode

from starlette.requests import HTTPConnection

from fediverse_biz.api.errors import ApiError
from fediverse_biz.core.ids import parse_cursor
from fediverse_biz.core.paging import Page, keyset, newest_first
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

_CURSORS = ("max_id", "since_id", "min_id")
__all__ = ["PageParams", "keyset", "link_header", "newest_first", "page_params", "paginated"]


class _HasGet(Protocol):
    def get(self, name: str, /) -> str | None: ...


# The page window is core's Page; the door only reads it from requests and writes the Link header.
PageParams = Page


def page_params(source: _HasGet | HTTPConnection, default: int = 20, maximum: int = 40) -> Page:
    """Read the cursors from a Params object or, for a request/connection, from its query string."""
    getter: _HasGet = source.query_params if isinstance(source, HTTPConnection) else source
    return Page(
        max_id=_cursor(getter, "max_id"),
        since_id=_cursor(getter, "since_id"),
        min_id=_cursor(getter, "min_id"),
        limit=_limit(getter.get("limit"), default, maximum),
    )


def _cursor(getter: _HasGet, name: str) -> int | None:
    text = getter.get(name)
    if not text:  # `max_id=` from a client that fills in its URL template regardless
        return None
    value = parse_cursor(text)
    if value is None:
        raise ApiError(400, f"{name} must be an id")
    return value


def _limit(text: str | None, default: int, maximum: int) -> int:
    text = (text or "").strip()
    try:
        value = abs(int(text))  # Mastodon: params[:limit].to_i.abs, capped at the maximum
    except ValueError:
        return default
    return min(value, maximum) if value > 0 else default


def link_header(
    connection: HTTPConnection,
    item_ids: Sequence[int],
    page: PageParams,
    *,
    id_of_next: int | None = None,
    id_of_prev: int | None = None,
) -> str | None:
    """The Link header for a page whose items (newest first) have `item_ids`.

    Endpoints ordered by something other than the entity id (favourites, bookmarks, blocks...) pass
    the join-row ids of the last and first items as `id_of_next` / `id_of_prev`, as Mastodon does.
    """
    if not item_ids:
        return None
    next_id = id_of_next if id_of_next is not None else item_ids[-1]
    prev_id = id_of_prev if id_of_prev is not None else item_ids[0]
    next_url = _page_url(connection, "max_id", next_id)
    prev_url = _page_url(connection, "min_id", prev_id)
    return f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'


def _page_url(connection: HTTPConnection, cursor: str, value: int) -> str:
    kept = [(k, v) for k, v in connection.query_params.multi_items() if k not in _CURSORS]
    query = urlencode([*kept, (cursor, str(value))])
    return f"{_base_url(connection)}{connection.url.path}?{query}"


def _base_url(connection: HTTPConnection) -> str:
    # The configured public URL, not the Host the proxy forwarded: clients follow it verbatim.
    if "app" not in connection.scope:  # a bare request, outside any application
        return f"{connection.url.scheme}://{connection.url.netloc}"
    return str(services(connection).settings.base_url)


def paginated(
    connection: HTTPConnection,
    items: list[Any],
    ids: Sequence[int],
    page: PageParams,
    *,
    id_of_next: int | None = None,
    id_of_prev: int | None = None,
) -> JSONResponse:
    link = link_header(connection, ids, page, id_of_next=id_of_next, id_of_prev=id_of_prev)
    return JSONResponse(items, headers={"Link": link} if link else None)
