"""Submissions: a remote contributor's post for an organization, held for the organization's reviewers.

The convention (FEDERATION.md, "Submissions from remote contributors"): a `Create` of a post that is
direct (no Public, no followers collection), addressed to exactly one actor, which it mentions, and
that carries the hashtag #submission — what a Mastodon user writes as
`@acme@biz.example #submission …` with "mentioned people only". It is a submission only when that actor
is a local organization that accepts the sender (business/remote_contributors.py); from anyone else it
is an ordinary direct message.

A submission becomes a held post of the organization — the same row and state machine as a local
contributor's (business/approvals.py), so it waits in the same queue, API and page — plus a row in
organization_submissions naming the remote author and the object it came from (one per object id, so
a redelivery under any activity id queues nothing twice). Its text is the post's, as plain text, without
the leading and trailing mentions of the organization and #submission tags, and with the attribution
"Contributed by @name@host" at the end: a mention, so the published post reaches the author and their
server tells them. Its audience is the one the organization chose when it accepted the contributor.
On rejection the organization answers the author with a direct message giving the reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from fediverse_biz.activitypub.activities import as_list, object_id
from fediverse_biz.activitypub.notes import ParsedNote
from fediverse_biz.business import remote_contributors
from fediverse_biz.core import statuses
from fediverse_biz.core.errors import DomainError
from fediverse_biz.db.executor import Executor
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import LocalUrls

log = logging.getLogger(__name__)

MARKER = "submission"
ATTRIBUTION = "Contributed by {handle}"
_SUBMITTED_TYPES = frozenset({"Note", "Article", "Page"})  # not a Question: a poll's votes would not carry over
_MARKER_IN_TEXT = re.compile(rf"(?<![\w#/])#{MARKER}(?!\w)", re.IGNORECASE)
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")  # what core.statuses.validate accepts
_HOST = r"@[\w-]+(?:\.[\w-]+)*(?::\d{1,5})?"


class NotAccepted(Exception):
    """The sender stopped being a contributor of the organization while its post was being queued."""


# ---- recognising one ------------------------------------------------------------------------------
def _addressees(doc: Any) -> set[str]:
    if not isinstance(doc, Mapping):
        return set()
    return {a for key in ("to", "cc", "bto", "bcc", "audience") for a in map(object_id, as_list(doc.get(key))) if a}


def has_marker(parsed: ParsedNote) -> bool:
    """The #submission hashtag: as a `Hashtag` tag (Mastodon and we send one in direct posts too) or, for
    a server that tags nothing, in the text."""
    if MARKER in {h.casefold() for h in parsed.hashtags}:
        return True
    return bool(_MARKER_IN_TEXT.search(html_to_text(parsed.content)))


def target(parsed: ParsedNote, activity: Any) -> str | None:
    """The URI of the actor a post is submitted to, judged by its shape alone, or None. Whether that actor
    is a local organization accepting the sender is asked afterwards (remote_contributors.accepted_by)."""
    if parsed.visibility != "direct" or parsed.type not in _SUBMITTED_TYPES:
        return None
    addressed = _addressees(parsed.raw) | set(parsed.to) | set(parsed.cc) | _addressees(activity)
    if len(addressed) != 1 or set(parsed.mentions) != addressed or not has_marker(parsed):
        return None
    return next(iter(addressed))


def submission_text(content_html: str, organization_username: str, author_handle: str) -> str:
    """The held post's text: the submission as plain text, without its addressing (leading and trailing
    mentions of the organization, #submission tags), then the attribution. Raises DomainError if nothing
    is left to publish."""
    addressing = rf"(?:@{re.escape(organization_username)}(?:{_HOST})?|#{MARKER})"
    text = html_to_text(content_html)
    text = re.sub(rf"^(?:\s*{addressing}(?![\w@]))+", "", text, flags=re.IGNORECASE)
    text = re.sub(rf"(?:(?<![\w@#/]){addressing}\s*)+$", "", text, flags=re.IGNORECASE)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if not text:
        raise DomainError("Validation failed: the submission has no text")
    return f"{text}\n\n{ATTRIBUTION.format(handle=author_handle)}"


# ---- queueing, withdrawing -------------------------------------------------------------------------
async def submit(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    local_domain: str,
    organization: asyncpg.Record,
    author: asyncpg.Record,
    parsed: ParsedNote,
    activity_uri: str,
) -> int | None:
    """Hold the post for the organization's reviewers; the held status's id, or None when this object
    is queued already. `organization` is remote_contributors.accepted_by's row (it carries `visibility`).
    Raises NotAccepted if the author was removed meanwhile, DomainError if the post cannot be published
    (no text, too long)."""
    if await pool.fetchval("SELECT 1 FROM organization_submissions WHERE object_uri = $1", parsed.uri):
        return None
    text = submission_text(parsed.content, organization["username"], remote_contributors.handle(author))
    language = parsed.language if parsed.language and _LANGUAGE.fullmatch(parsed.language) else None
    draft = statuses.Draft(
        text=text,
        visibility=organization["visibility"],  # the organization's choice, whatever the post's own addressing
        spoiler_text=parsed.spoiler_text,
        sensitive=parsed.sensitive,
        language=language,
    )

    async def record(conn: asyncpg.Connection, status_id: int) -> None:
        # Locks the acceptance against a removal committing meanwhile: queued only while accepted.
        accepted = await conn.fetchval(
            """SELECT 1 FROM organization_remote_contributors WHERE organization_id = $1 AND actor_id = $2
                  FOR SHARE""",
            organization["id"],
            author["id"],
        )
        if not accepted:
            raise NotAccepted(author["uri"])
        await conn.execute(
            """INSERT INTO organization_submissions (status_id, organization_id, actor_id, object_uri, object_url,
                                                     activity_uri)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            status_id,
            organization["id"],
            author["id"],
            parsed.uri,
            parsed.url,
            activity_uri,
        )

    try:
        return await statuses.create(
            pool, urls, local_domain, organization, draft, hold_for_approval=True, after_write=record
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "organization_submissions_object_uri_key":
            raise
        return None  # the same object, delivered twice at once: the other delivery queued it


async def withdraw(conn: asyncpg.Connection, urls: LocalUrls, object_uri: str, actor_id: int) -> bool:
    """The author deleted the post they submitted: a submission not yet published goes with it (a
    published one is the organization's post now, for the organization to keep or delete)."""
    row = await conn.fetchrow(
        """SELECT st.id FROM organization_submissions s JOIN statuses st ON st.id = s.status_id
            WHERE s.object_uri = $1 AND s.actor_id = $2 AND st.approval_state <> 'published'
              FOR UPDATE OF st""",
        object_uri,
        actor_id,
    )
    if row is None:
        return False
    await statuses.remove(conn, urls, row["id"], federate=False)  # held posts never left this server
    return True


# ---- reading -------------------------------------------------------------------------------------
async def of_statuses(conn: Executor, status_ids: list[int]) -> dict[int, asyncpg.Record]:
    """The submission behind each of these statuses that came from a remote contributor, with the
    author's actor row columns `username`, `domain` and `actor_id`."""
    rows = await conn.fetch(
        """SELECT s.*, a.username, a.domain FROM organization_submissions s JOIN actors a ON a.id = s.actor_id
            WHERE s.status_id = ANY($1::bigint[])""",
        status_ids,
    )
    return {r["status_id"]: r for r in rows}


async def author_handle(conn: Executor, status_id: int) -> str | None:
    """`@name@host` of the remote author of a held (or published) submission, else None."""
    row = (await of_statuses(conn, [status_id])).get(status_id)
    return remote_contributors.handle(row) if row is not None else None


# ---- the answer to a rejection ---------------------------------------------------------------------
async def answer_rejection(pool: asyncpg.Pool, urls: LocalUrls, status: asyncpg.Record, reviewer_id: int) -> int | None:
    """A direct message from the organization telling the remote author why their submission was not
    published (a local contributor gets a notification instead). Best effort, after the rejection
    committed: the rejection stands if the message cannot be written. Returns the message's id."""
    submission = (await of_statuses(pool, [status["id"]])).get(status["id"])
    if submission is None:
        return None
    author = await pool.fetchrow("SELECT * FROM actors WHERE id = $1 AND suspended_at IS NULL", submission["actor_id"])
    organization = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", status["actor_id"])
    if author is None or organization is None:
        return None
    link = submission["object_url"] or submission["object_uri"]
    # The reason is for the author alone: a handle in it must not become a mention, which would address
    # the message to that account too. A word joiner after "@" breaks the mention and is invisible.
    reason = str(status["rejection_reason"]).replace("@", "@\u2060")
    text = f"{remote_contributors.handle(author)} Your submission was not published: {reason}\n\n{link}"
    draft = statuses.Draft(text=text, visibility="direct")
    try:
        return await statuses.create(
            pool, urls, urlsplit(urls.base).netloc, organization, draft, created_by_user_id=reviewer_id
        )
    except DomainError as exc:
        log.warning("could not tell %s why submission %s was rejected: %s", author["uri"], status["id"], exc)
        return None
