"""Door 3, write side: the inbox (docs/architecture.md, "An incoming activity").

`POST /inbox` (shared) and the personal inboxes `/users/{name}/inbox`, `/c/{name}/inbox`, `/actor/inbox`
all take the same path; which inbox a peer chose changes nothing (Mastodon treats them alike too). The
door is fast and stores nothing from bad input. Checks run in this order, cheapest and least trusting
first, so garbage never makes us fetch a key and nothing is written before the last check passes:

1. Content-Type AS2 or JSON (415); body at most 1 MB, read incrementally (413); a JSON object whose
   every string is storable text, no NUL (fediverse_biz/storable.py, the API's rule too) (400).
2. `id` and `actor` present (400). An actor on a suspended domain is answered 202 and dropped, as
   Mastodon does, so the peer does not retry for days (the door reads the list of suspended domains at
   most once a second: domain_blocks.SuspendedDomains); a Delete of an actor we never knew is dropped
   the same way without a key fetch (the key is gone with the actor: Mastodon's
   `skip_unknown_actor_activity`).
3. HTTP signature, draft-cavage or RFC 9421, against the key the keyId names (fetched through the
   SSRF-safe client, signed by the instance actor for authorized-fetch peers); on a signature that does
   not verify the key is fetched once more (rotation) and checked again. Anything else that fails -> 401.
4. Origin (FEDERATION.md, "Security"): the key's owner is the activity's actor (401, Fedify CVE-2025-54888),
   the activity id is on the actor's host (401: the sender cannot vouch for an id elsewhere — we chose
   401 over 400 because it is a failure of authentication, not of syntax), and an Update carries only
   the sender's own objects (403: authenticated, but not theirs). A suspended actor is dropped (202).
5. Schema (schemas/activitystreams, 400).
6. Dedupe on the activity id and store it with its "inbox" job in one transaction -> 202. A replay is
   answered 202 too and enqueues nothing: each activity is processed once. An Update is deduplicated on
   its id and a digest of its object (_object_digest): a peer that sends a newer version of an object
   under an id it already used (Mastodon does, for two edits or profile changes within one second) is
   heard, and the handlers keep whichever version has the newer `updated`. The same statement checks
   the sender's and its domain's suspension again, exactly: the door's earlier checks read copies up to
   seconds old, kept to spare a query per delivery (domain_blocks.SuspendedDomains,
   signed_requests.KeyCache).

Activities forwarded by a third party (LD-signed, signed by another key) are not accepted: the key
owner must be the actor, so such deliveries get 401 and peers deliver them directly instead.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any, Final

import asyncpg
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz import jsonio, storable
from fediverse_biz.activitypub.activities import actor_id, as_list, http_uri, object_id, types
from fediverse_biz.activitypub.actors import ACTOR_TYPES, authority
from fediverse_biz.activitypub.notes import NOTE_TYPES
from fediverse_biz.activitypub.validation import SchemaError, validate_activity
from fediverse_biz.core import domain_blocks
from fediverse_biz.federation import signed_requests
from fediverse_biz.jobs import queue
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

__all__ = ["INBOX_JOB", "MAX_INBOX_BYTES", "receive", "routes"]

log = logging.getLogger(__name__)

MAX_INBOX_BYTES: Final = 1024 * 1024  # Mastodon's MAX_JSON_SIZE, and its cap on fetched bodies (app/lib/request.rb)
INBOX_JOB: Final = "inbox"
# Mastodon delivers application/activity+json (ActivityPub::DeliveryWorker::HEADERS); ld+json (any profile)
# and plain json are accepted too.
ACCEPTED_CONTENT_TYPES: Final = frozenset({"application/activity+json", "application/ld+json", "application/json"})


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _accepted() -> Response:
    return Response(status_code=202)


async def _read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it passes the cap (Content-Length first, then while streaming,
    so a chunked 100 MB body costs us 1 MB of memory at most)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_INBOX_BYTES:
        raise _Refused(413, "request body too large")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > MAX_INBOX_BYTES:
            raise _Refused(413, "request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> dict[str, Any]:
    # orjson refuses what JSON does not allow and jsonb would refuse later anyway — NaN and Infinity
    # literals, numbers that overflow a double, lone surrogates — and parses several times faster.
    try:
        doc = jsonio.loads(body)
    except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise _Refused(400, f"malformed JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise _Refused(400, "an activity must be a JSON object")
    try:
        storable.check_tree(doc)  # a NUL (`\u0000`): orjson takes it, PostgreSQL's jsonb would not
    except storable.UnstorableText as exc:
        raise _Refused(400, f"activity cannot be stored: {exc}") from None
    return doc


async def _inbox_owner_exists(request: Request) -> bool:
    """Personal inboxes belong to a local actor: a POST to one that does not exist is a 404."""
    pool: asyncpg.Pool = services(request).pool
    params = request.path_params
    if "username" in params:
        kind = "Group" if request.url.path.startswith("/c/") else None
        return bool(
            await pool.fetchval(
                """SELECT 1 FROM actors WHERE lower(username) = lower($1) AND domain IS NULL AND NOT is_instance_actor
                      AND (($2::text IS NULL AND actor_type <> 'Group') OR actor_type = $2)""",
                params["username"],
                kind,
            )
        )
    return True


async def _verified_owner(request: Request, body: bytes) -> asyncpg.Record:
    """The actor row whose key signed this request; raises _Refused(401)."""
    try:
        return await signed_requests.signing_actor(request, body)
    except signed_requests.NotVerified as exc:
        raise _Refused(401, str(exc)) from None


def _check_authorship(doc: Mapping[str, Any], actor_uri: str) -> None:
    """An Update replaces an object with the embedded one, so it must be the sender's own (FEDERATION.md, "Security"):
    an actor only itself, a post only one on its host and attributed to it."""
    if "Update" not in types(doc):
        return
    obj = doc.get("object")
    if not isinstance(obj, Mapping):
        return  # a bare URI is fetched from its origin by the handler, never trusted from here
    obj_id = object_id(obj) or ""
    if types(obj) & set(ACTOR_TYPES):
        if obj_id != actor_uri:
            raise _Refused(403, "an actor may only update itself")
    elif types(obj) & set(NOTE_TYPES):
        authors = {object_id(a) for a in as_list(obj.get("attributedTo"))}
        if authority(obj_id) != authority(actor_uri) or actor_uri not in authors:
            raise _Refused(403, "only the author may update a post")


def _object_digest(doc: Mapping[str, Any]) -> str:
    """What, besides its id, tells one stored activity from another: '' for all but an Update; for an
    Update, a SHA-256 of its object as canonical JSON (sorted keys), so that the same version delivered
    again is a replay and another version under the same id is a new delivery (migration 0015)."""
    if "Update" not in types(doc):
        return ""
    return hashlib.sha256(orjson.dumps(doc.get("object"), option=orjson.OPT_SORT_KEYS)).hexdigest()


# The door's checks of the sender's suspension and its domain's read copies up to seconds old
# (signed_requests.KeyCache, domain_blocks.SuspendedDomains); the insert asks again, exactly.
_STORE: Final = f"""INSERT INTO inbox_activities (activity_id, activity_type, actor_uri, payload, object_digest)
   SELECT $1, $2, $3, $4::text::jsonb, $6
    WHERE NOT EXISTS (SELECT 1 FROM actors WHERE uri = $3 AND suspended_at IS NOT NULL)
      AND NOT {domain_blocks.suspended_sql("$5::text")}
   ON CONFLICT (activity_id, object_digest) DO NOTHING RETURNING id"""


async def _store(
    pool: asyncpg.Pool, wakeups: queue.Wakeups, doc: dict[str, Any], body: bytes, activity_id: str, actor_uri: str
) -> None:
    kind = next((t for t in as_list(doc.get("type")) if isinstance(t, str)), "")
    try:
        await queue.insert_and_enqueue(
            pool,
            _STORE,
            activity_id,
            kind[:256],
            actor_uri,
            body.decode(),  # the parsed body is valid UTF-8; storing it as sent saves re-encoding it
            authority(actor_uri),
            _object_digest(doc),
            kind=INBOX_JOB,
            payload_key="inbox_activity_id",
            wakeups=wakeups,  # one NOTIFY per burst, not one per delivery
        )
    except (asyncpg.DataError, UnicodeEncodeError) as exc:
        # The net under _parse's checks (storable, orjson's refusal of lone surrogates): anything else
        # PostgreSQL's jsonb would still refuse is the sender's problem, not a 500.
        raise _Refused(400, f"activity cannot be stored: {exc.__class__.__name__}") from None


async def receive(request: Request) -> Response:
    """POST to any of our inboxes."""
    try:
        return await _receive(request)
    except _Refused as refused:
        log.info("inbox refused %s: %d %s", request.url.path, refused.status, refused)
        return _error(refused.status, str(refused))


async def _receive(request: Request) -> Response:
    pool: asyncpg.Pool = services(request).pool
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_CONTENT_TYPES:
        raise _Refused(415, "Content-Type must be application/activity+json or application/ld+json")
    body = await _read_body(request)
    doc = _parse(body)
    if not await _inbox_owner_exists(request):
        raise _Refused(404, "no such inbox")
    activity_id, actor_uri = http_uri(doc.get("id")), http_uri(actor_id(doc))
    if activity_id is None or actor_uri is None:
        raise _Refused(400, "an activity needs an http(s) id and actor")
    if await services(request).suspended_domains.covers(authority(actor_uri)):
        return _accepted()  # nothing stored; 202 so the peer stops retrying
    if "Delete" in types(doc) and object_id(doc.get("object")) == actor_uri:
        if not await pool.fetchval("SELECT 1 FROM actors WHERE uri = $1", actor_uri):
            return _accepted()  # an account we never knew is gone: nothing to do, no key to fetch

    owner = await _verified_owner(request, body)
    if owner["uri"] != actor_uri:
        raise _Refused(401, "the signing key does not belong to the activity's actor")
    if owner["domain"] is None:
        raise _Refused(401, "activities of local actors are never accepted from the network")
    if authority(activity_id) != authority(actor_uri):
        raise _Refused(401, "the activity id is not on the actor's host")
    if owner["suspended_at"] is not None:
        return _accepted()
    try:
        validate_activity(doc)
    except SchemaError as exc:
        raise _Refused(400, str(exc)) from None
    _check_authorship(doc, actor_uri)
    await _store(pool, services(request).job_wakeups, doc, body, activity_id, actor_uri)
    return _accepted()


routes: list[BaseRoute] = [
    Route("/inbox", receive, methods=["POST"]),
    Route("/users/{username}/inbox", receive, methods=["POST"]),
    Route("/c/{username}/inbox", receive, methods=["POST"]),
    Route("/actor/inbox", receive, methods=["POST"]),
]
