"""What an inbox handler works with: the stored activity, its verified sender, and safe ways to reach out.

Exactly-once effects: a handler writes inside `effects()`, whose transaction first marks the activity
processed (`processed_at`, row-locked). A second run of the same job — a lease that ran out, a worker
killed after commit — finds it marked and stops before writing anything, so re-running never doubles
a favourite, a boost or a report. Network work (fetching an object, an actor) happens before, outside any
transaction: a running job holds no database connection while it waits on a peer (worker.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from fediverse_biz.activitypub.activities import as_list, object_id, parse_datetime
from fediverse_biz.activitypub.actors import authority
from fediverse_biz.core import domain_blocks, remote_statuses
from fediverse_biz.federation import group_relay
from fediverse_biz.federation.remote_actors import RemoteActorError, instance_signer
from fediverse_biz.federation.remote_actors import resolve_actor as _resolve_actor
from fediverse_biz.jobs.contract import RetryableError, WorkerContext
from fediverse_biz.net.fetch import BlockedAddress, ContentTypeError, FetchError, IdMismatch, Signer, TooLarge
from fediverse_biz.net.fetch import fetch_ap_object as _fetch_ap_object
from fediverse_biz.urls import LocalUrls

__all__ = ["AlreadyProcessed", "Ignored", "Inbound", "Prefetched", "addressed", "first_type"]

_PERMANENT_FETCH_ERRORS = (BlockedAddress, ContentTypeError, IdMismatch, TooLarge)


class Ignored(Exception):
    """The activity can never apply (unknown or foreign object, not relevant to anyone here): the job logs
    the reason, records it in inbox_activities.error and is done."""


class AlreadyProcessed(Exception):
    """Another run of this job already applied the activity."""


def addressed(doc: Mapping[str, Any]) -> list[str]:
    """Everyone an object or activity is addressed to, in every addressing property."""
    return [a for key in ("to", "cc", "bto", "bcc", "audience") for a in map(object_id, as_list(doc.get(key))) if a]


def _transient(status: int | None) -> bool:
    # No answer at all, a server error, a timeout or a rate limit may pass; any other 4xx will not.
    return status is None or status >= 500 or status in (408, 429)


@dataclass(frozen=True, slots=True)
class Prefetched:
    """Facts read with the activity (dispatch.process_inbox_activity), as of just before the handler."""

    object_uri: str | None  # the id of the activity's embedded object, if it has one
    object_known: bool  # a status or a tombstone has that id
    sender_followed: bool  # a local account follows the sender


@dataclass
class Inbound:
    ctx: WorkerContext
    record_id: int
    doc: dict[str, Any]
    actor: asyncpg.Record  # the sender, whose key signed the delivery
    prefetched: Prefetched | None = None
    _signer: Signer | None = field(default=None, repr=False)
    marked: bool = field(default=False, init=False)  # effects() committed, with processed_at set

    @property
    def pool(self) -> asyncpg.Pool:
        return self.ctx.pool

    @property
    def urls(self) -> LocalUrls:
        return self.ctx.urls

    @property
    def actor_uri(self) -> str:
        return str(self.actor["uri"])

    @property
    def activity_id(self) -> str:
        return str(self.doc["id"])

    @asynccontextmanager
    async def effects(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction for the activity's side effects, which also marks it processed; raises
        AlreadyProcessed (before the body runs) if a previous run got there first."""
        async with self.pool.acquire() as conn, conn.transaction():
            # synchronous_commit off for this transaction only: the job that runs it is deleted later by a
            # synchronous commit, which flushes these effects too; a crash before that reruns the job
            # (docs/jobs.md). It saved ~12 % of the inbox's processing time (docs/benchmarks.md).
            claimed = await conn.fetchval(
                """UPDATE inbox_activities SET processed_at = now(), error = NULL
                    WHERE id = $1 AND processed_at IS NULL
                RETURNING id, set_config('synchronous_commit', 'off', true)""",
                self.record_id,
            )
            if claimed is None:
                raise AlreadyProcessed(str(self.record_id))
            yield conn
            # FEP-1b12: a local hall relays what it just received, in this same transaction,
            # so the Announce exists if and only if the activity was applied (federation/group_relay.py).
            await group_relay.relay(conn, self.doc, self.actor, received_by=authority(self.urls.base))
        self.marked = True

    async def record_announce(self, conn: asyncpg.Connection, original: asyncpg.Record) -> int | None:
        """This activity (an Announce) as the sender's boost of `original`, with its addressing and date."""
        return await remote_statuses.record_remote_announce(
            conn,
            self.actor,
            original,
            self.activity_id,
            to=[a for a in map(object_id, as_list(self.doc.get("to"))) if a],
            cc=[a for a in map(object_id, as_list(self.doc.get("cc"))) if a],
            published=parse_datetime(self.doc.get("published")),
        )

    def is_local(self, uri: str) -> bool:
        return authority(uri) == authority(self.urls.base)

    async def local_actor(self, uri: str | None) -> asyncpg.Record | None:
        """A local account (never the instance actor, never a suspended one) by its URI."""
        if uri is None:
            return None
        return await self.pool.fetchrow(
            """SELECT * FROM actors
                WHERE uri = $1 AND domain IS NULL AND NOT is_instance_actor AND suspended_at IS NULL""",
            uri,
        )

    async def signer(self) -> Signer | None:
        """Our GETs are signed by the instance actor: authorized-fetch peers refuse unsigned ones."""
        if self._signer is None:
            row = await self.pool.fetchrow("SELECT key_id, private_key_pem FROM actors WHERE is_instance_actor")
            if row is not None and row["private_key_pem"]:
                self._signer = instance_signer(row)
        return self._signer

    async def fetch_object(self, uri: str) -> dict[str, Any]:
        """An object fetched from its origin (id == final URL, AP content type: fetch_ap_object).

        Our own URLs are never fetched ("if it's not in the database it can't be authentic", Pleroma's
        contain_local_fetch), nor suspended domains. Raises RetryableError while the peer may still answer,
        Ignored when it will not.
        """
        if self.is_local(uri):
            raise Ignored(f"{uri} is one of our URLs and not in our database")
        if await domain_blocks.suspended(self.pool, authority(uri)):
            raise Ignored(f"{authority(uri)} is suspended here")
        try:
            return await _fetch_ap_object(self.ctx.http, uri, signer=await self.signer())
        except _PERMANENT_FETCH_ERRORS as exc:
            raise Ignored(f"fetching {uri}: {exc}") from exc
        except FetchError as exc:
            if _transient(exc.status):
                raise RetryableError(f"fetching {uri}: {exc}") from exc
            raise Ignored(f"fetching {uri}: {exc}") from exc

    async def resolve_actor(self, uri: str, *, refresh: bool = False) -> asyncpg.Record:
        """An actor row (cached, or fetched from its origin); suspended actors count as unknown."""
        try:
            row = await _resolve_actor(self.pool, self.ctx.http, uri, signer=await self.signer(), refresh=refresh)
        except RemoteActorError as exc:
            # Only a failed fetch may pass; an invalid document or a refused domain stays so.
            cause = exc.__cause__
            if isinstance(cause, FetchError) and not isinstance(cause, _PERMANENT_FETCH_ERRORS):
                if _transient(cause.status):
                    raise RetryableError(f"resolving {uri}: {exc}") from exc
            raise Ignored(f"resolving {uri}: {exc}") from exc
        if row["suspended_at"] is not None:
            raise Ignored(f"{uri} is suspended")
        return row


def first_type(doc: Mapping[str, Any], known: Mapping[str, Any]) -> str | None:
    """The first of a document's types that `known` has a handler for (`type` may be a list)."""
    value = doc.get("type")
    for kind in value if isinstance(value, list) else [value]:
        if isinstance(kind, str) and kind in known:
            return kind
    return None
