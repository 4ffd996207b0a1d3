"""`poll[...]` of POST and PUT /api/v1/statuses (https://docs.joinmastodon.org/methods/statuses/#create):
`poll[options][]`, `poll[expires_in]`, `poll[multiple]`, `poll[hide_totals]`, as a form or as JSON.
The limits themselves are core.polls' (the ones the instance document advertises)."""

from __future__ import annotations

from typing import Any

from fediverse_biz.api.errors import ApiError
from fediverse_biz.api.params import Params
from fediverse_biz.core.polls import MAX_EXPIRATION, MAX_OPTIONS, PollDraft

# Parsing stops here: a body with thousands of options is refused without building them all.
_MAX_READ_OPTIONS = MAX_OPTIONS * 4


def poll_draft(params: Params) -> PollDraft | None:
    """The poll a status is posted or edited with; None when the request has none."""
    raw: Any = params.raw.get("poll")
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, dict):
        raise ApiError(422, "Validation failed: poll must be an object with options and expires_in")
    poll = Params(raw, {})
    values = raw.get("options")
    if isinstance(values, list) and len(values) > _MAX_READ_OPTIONS:
        raise ApiError(422, f"Validation failed: Poll can't contain more than {MAX_OPTIONS} items")
    if isinstance(values, list) and not all(isinstance(v, str) for v in values):
        raise ApiError(422, "Validation failed: poll[options] must be strings")
    expires_in = poll.get_int("expires_in")
    if expires_in is None:
        raise ApiError(422, "Validation failed: poll[expires_in] is required")
    return PollDraft(
        options=poll.get_list("options"),
        # Bounded before it becomes a time: core.polls names the real limit in its message.
        expires_in=max(min(expires_in, MAX_EXPIRATION + 1), -1),
        multiple=poll.get_bool("multiple", False),
        hide_totals=poll.get_bool("hide_totals", False),
    )
