"""Record ids as they arrive in paths, query strings, forms and cookies: the one reading of them.

Every row id is a PostgreSQL bigint handed out positive (db/migrations/0001_foundation.sql), and the
server writes it as `str(id)`. So an id is exactly what that writes: 1 to 19 ASCII digits, no sign,
no spaces, no leading zero, at most 2**63 - 1. Anything else names no record — `str.isdigit()` would
let in '²' or '٣' (which `int()` then refuses or reads as another number), and a 19-digit value
above 2**63 - 1 would overflow the bigint in the query; either would end in a 500.

Leading zeros are refused rather than read past, so each record has one spelling in every URL (the
web pages are indexed by search engines; `007` and `7` would be the same page twice).

The doors decide what junk means for them: a path id that is not an id is "not found" (404), a
paging or filter parameter that is not one is the client's error (400).
"""

from __future__ import annotations

import re
from typing import Final

MAX_ID: Final = 2**63 - 1  # bigint
_ID_RE: Final = re.compile(r"[1-9][0-9]{0,18}")


def parse_id(text: object) -> int | None:
    """The id `text` spells, or None when it spells none (see the module's rule)."""
    if not isinstance(text, str) or not _ID_RE.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def parse_cursor(text: object) -> int | None:
    """A paging cursor (`max_id`, `since_id`, `min_id`): an id, or 0.

    0 is before every id, so `min_id=0` asks for the oldest page (ActivityPub outboxes link their
    `last` page that way, and clients use `since_id=0` for "everything")."""
    return 0 if text == "0" else parse_id(text)
