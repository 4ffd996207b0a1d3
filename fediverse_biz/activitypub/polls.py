"""Polls as ActivityStreams: our poll's `Question` properties, and a vote (pure, like notes.py, which
reads remote Questions: `note_from_ap(...).poll`).

Mastodon's shapes (https://docs.joinmastodon.org/spec/activitypub/#Question and
ActivityPub::NoteSerializer, ActivityPub::VoteSerializer in its source): a single-choice poll lists its
options in `oneOf`, a multiple-choice one in `anyOf`, each a `Note` with a `name` and its votes in
`replies.totalItems`; `endTime` is the end, `closed` is set once it is over, and `votersCount` (toot:) how
many voted. A vote is a `Create` of a `Note` whose `name` is the option and `inReplyTo` the Question,
addressed to the poll's author only, one Note per chosen option.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fediverse_biz.activitypub.activities import activity, format_datetime, parse_datetime


def question_properties(poll: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """What a status with `poll` (core/polls.py's shape) adds to its Note to make it a Question."""
    end = parse_datetime(poll.get("expires_at"))
    over = bool(poll.get("closed")) or (end is not None and end <= (now or datetime.now(UTC)))
    # With hide_totals, Mastodon's Poll#loaded_options hides the counts from its own serializer too until
    # the end; peers get 0 rather than a null that some of them reject.
    hidden = bool(poll.get("hide_totals")) and not over
    options = [
        {
            "type": "Note",
            "name": str(o.get("title", "")),
            "replies": {"type": "Collection", "totalItems": 0 if hidden else int(o.get("votes_count") or 0)},
        }
        for o in poll.get("options", [])
    ]
    doc: dict[str, Any] = {"anyOf" if poll.get("multiple") else "oneOf": options}
    if end is not None:
        doc["endTime"] = format_datetime(end)
        if over:
            doc["closed"] = format_datetime(end)
    voters = poll.get("voters_count")
    doc["votersCount"] = 0 if hidden or not isinstance(voters, int) else voters
    return doc


def vote_create(
    *, voter_uri: str, vote_id: int, question_uri: str, author_uri: str, option: str
) -> dict[str, Any]:
    """One vote for one option: Create(Note), to the poll's author only (never the voter's followers)."""
    note_id = f"{voter_uri}#votes/{vote_id}"
    note = {
        "id": note_id,
        "type": "Note",
        "name": option,
        "attributedTo": voter_uri,
        "inReplyTo": question_uri,
        "to": [author_uri],
    }
    return activity("Create", id=f"{note_id}/activity", actor=voter_uri, object=note, to=[author_uri])
