"""A peer's vote on one of our polls: a Create(Note) with `name` = the option and `inReplyTo` = our
Question (Mastodon's ActivityPub::Activity::Create#poll_vote?).

Such a Note is a vote and nothing else: it is counted at most once per voter and option
(core.polls.record_remote_vote) or refused, and never stored or shown as a reply. Stricter than Mastodon,
which does not look at the addressing: a vote must be addressed to the poll's author only, since a
vote sent to the voter's followers or to the public would make the ballot public on other servers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fediverse_biz.activitypub.activities import http_uri, object_id
from fediverse_biz.core import polls
from fediverse_biz.core.visibility import can_see
from fediverse_biz.federation import polls as poll_federation
from fediverse_biz.federation.inbound.context import Ignored, Inbound, addressed


async def handle_vote(act: Inbound, doc: Mapping[str, Any]) -> bool:
    """True when `doc` (a Create's authentic object) is a vote on one of our polls, counted or refused
    (Ignored says why); False for any other post."""
    name = doc.get("name")
    question = http_uri(object_id(doc.get("inReplyTo")))
    if not isinstance(name, str) or question is None or not act.is_local(question):
        return False
    status = await act.pool.fetchrow(
        "SELECT * FROM statuses WHERE uri = $1 AND local AND reblog_of_id IS NULL", question
    )
    if status is None or polls.poll_of(status) is None:
        return False
    if object_id(doc.get("attributedTo")) != act.actor_uri:
        raise Ignored("a vote attributed to someone other than the activity's actor")
    author_uri = await act.pool.fetchval("SELECT uri FROM actors WHERE id = $1", status["actor_id"])
    if set(addressed(doc)) | set(addressed(act.doc)) != {author_uri}:
        raise Ignored("a vote must be addressed to the poll's author only")
    if not await can_see(act.pool, status, act.actor["id"]):
        raise Ignored("a vote on a poll the voter may not see")
    uri = http_uri(object_id(doc.get("id")))
    if uri is None:
        raise Ignored("a vote without an http(s) id")
    async with act.effects() as conn:
        if not await polls.record_remote_vote(conn, act.actor, status["id"], name, uri):
            # Raised inside: the transaction, and with it the processed mark, rolls back; dispatch records why.
            raise Ignored("the vote does not count: unknown option, poll ended, or already voted")
        await poll_federation.schedule_update(conn, status)
    return True
