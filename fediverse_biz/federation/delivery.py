"""The 'deliver' job: sign one activity with its local actor's key and POST it to one inbox.

Outcomes follow Mastodon's DeliveryWorker (`app/workers/activitypub/delivery_worker.rb`,
`response_error_unsalvageable?`): 2xx is done; 501 and any 4xx
except 401, 408 and 429 are final (the peer means "never"); everything else — other 3xx/5xx, 401, 408,
429, refused connections, timeouts — is retried with backoff, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from fediverse_biz import jsonio
from fediverse_biz.activitypub.signatures import sign_request
from fediverse_biz.core import outbound
from fediverse_biz.jobs import hosts
from fediverse_biz.jobs.contract import Handler, PermanentError, RetryableError, WorkerContext
from fediverse_biz.jobs.queue import Job
from fediverse_biz.net import fetch
from fediverse_biz.ttl_cache import TtlCache

log = logging.getLogger(__name__)

AP_CONTENT_TYPE = "application/activity+json"
_RETRYABLE_4XX = frozenset({401, 408, 429})  # Mastodon's `response_error_unsalvageable?` exceptions


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> timedelta | None:
    """Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    # ASCII digits only ('²'.isdigit() is true and int() refuses it); more than nine digits is no delay
    # a peer means, and would overflow timedelta.
    if value.isascii() and value.isdigit():
        return timedelta(seconds=int(value)) if len(value) <= 9 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(when - (now or datetime.now(UTC)), timedelta(0))


# The signing key of each local actor, for a few seconds: a post to 500 hosts is 500 jobs signed with the
# same key, and reading it for each would be a query per delivery. Short enough that a deleted account stops
# signing within seconds (its queued deliveries then fail permanently).
_keys: TtlCache[int, tuple[str, str]] = TtlCache(ttl=10.0, max_entries=1024)


async def _signing_key(ctx: WorkerContext, actor_id: int, inbox: str) -> tuple[str, str]:
    cached = _keys.get(actor_id)
    if cached is not None:
        return cached
    key = await ctx.pool.fetchrow(
        "SELECT key_id, private_key_pem FROM actors WHERE id = $1 AND domain IS NULL", actor_id
    )
    if key is None or not key["private_key_pem"]:
        _keys.discard(actor_id)
        raise PermanentError(f"actor {actor_id} is gone; cannot sign delivery to {inbox}")
    _keys.put(actor_id, (key["key_id"], key["private_key_pem"]))
    return key["key_id"], key["private_key_pem"]


async def _body(ctx: WorkerContext, job: Job) -> bytes:
    """The activity to send, serialised: carried by the job, or shared by its fan-out's jobs."""
    if "activity" in job.payload:
        return jsonio.dumpb(job.payload["activity"])
    body = await ctx.bodies.get(int(job.payload["body_id"]))
    if body is None:
        raise PermanentError(f"the body of delivery job {job.id} is gone")
    return body


async def deliver(ctx: WorkerContext, job: Job) -> None:
    inbox = str(job.payload["inbox"])
    host = job.host or hosts.host_of(inbox)
    key_id, private_key_pem = await _signing_key(ctx, int(job.payload["actor_id"]), inbox)
    body = await _body(ctx, job)  # the Digest signs exactly these bytes

    async def signer(method: str, url: str, headers: dict[str, str], data: bytes | None) -> dict[str, str]:
        # In a thread: an RSA-2048 signature is ~0.22 ms of OpenSSL, which releases the GIL, so a fan-out's
        # signatures run on the other core while the event loop sends the requests already signed.
        return await asyncio.to_thread(
            sign_request, method, url, key_id=key_id, private_key_pem=private_key_pem, body=data, headers=headers
        )

    try:
        response = await fetch.request(
            ctx.http, "POST", inbox, headers={"Content-Type": AP_CONTENT_TYPE}, body=body, signer=signer
        )
        status, headers = response.status, response.headers
    except fetch.BlockedAddress as exc:
        raise PermanentError(f"refusing to deliver to {inbox}: {exc}") from exc
    except fetch.FetchError as exc:
        if exc.status is None:  # refused, reset, timed out, DNS: the host is not answering
            await hosts.record_failure(ctx.pool, host)
            raise RetryableError(f"POST {inbox}: {exc}") from exc
        status, headers = exc.status, {}  # it answered, but e.g. with an oversized body
    await _judge(ctx, host, inbox, status, headers)


async def _judge(ctx: WorkerContext, host: str, inbox: str, status: int, headers: Mapping[str, str]) -> None:
    if 200 <= status < 300:
        hosts.note_success(host)  # written with the job's settlement (hosts.flush_successes)
        log.debug("delivered to %s: HTTP %d", inbox, status)
        return
    if status == 501 or (400 <= status < 500 and status not in _RETRYABLE_4XX):
        hosts.note_success(host)  # it answered deliberately: the host is up
        raise PermanentError(f"POST {inbox}: HTTP {status}, not retried")
    await hosts.record_failure(ctx.pool, host)
    raise RetryableError(f"POST {inbox}: HTTP {status}", retry_after=parse_retry_after(headers.get("Retry-After")))


def handlers() -> dict[str, Handler]:
    return {outbound.DELIVER: deliver}
