"""The Poll entity (https://docs.joinmastodon.org/entities/Poll/, schemas/mastodon/poll.schema.json), from
a status's `extra["poll"]` (core/polls.py) and the viewer's own votes.

As Mastodon's Poll#loaded_options: with `hide_totals`, each option's votes_count is null until the poll
ends, for everyone. `voted` is true for the poll's author too (Poll#voted?); `voted` and `own_votes` are
there only for a user token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fediverse_biz.core import polls


def _iso(value: datetime | None) -> str | None:
    # entities.iso's format; entities imports this module, so it cannot import entities.
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def poll_entity(
    status_id: int,
    author_id: int,
    poll: Mapping[str, Any],
    viewer_id: int | None,
    own_votes: Sequence[int] | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    expired = polls.expired(poll, now)
    show_totals = expired or not poll.get("hide_totals")
    counts = [max(int(o.get("votes_count") or 0), 0) for o in poll["options"]]
    voters = poll.get("voters_count")
    entity: dict[str, Any] = {
        "id": str(status_id),
        "expires_at": _iso(polls.expires_at(poll)),
        "expired": expired,
        "multiple": bool(poll.get("multiple")),
        "votes_count": sum(counts),
        # A remote single-choice Question may not say how many voted: one vote each, as Mastodon counts.
        "voters_count": voters if isinstance(voters, int) else (None if poll.get("multiple") else sum(counts)),
        "options": [
            {"title": str(o.get("title", "")), "votes_count": n if show_totals else None}
            for o, n in zip(poll["options"], counts, strict=True)
        ],
        "emojis": [],
    }
    if viewer_id is not None:
        entity["voted"] = viewer_id == author_id or own_votes is not None
        entity["own_votes"] = list(own_votes or [])
    return entity
