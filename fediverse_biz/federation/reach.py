"""Which remote servers have something of a local actor's (table actor_reach, migration 0014).

Account deletion must reach every server that stored the account or any of its posts, and its followers
are not all of them: a hall relays members' posts to its own audience, a mention or a reply goes to
people who do not follow, a boost makes the booster's followers fetch the post, and a server may have
only looked the account up. So each local actor keeps the set of remote inboxes (shared ones when the
receiver has one) that were ever:
- sent anything of the actor's: `record()` from outbox.deliver, one statement per fan-out, and for a
  local hall's relay also on behalf of the member whose activity it wraps (group_relay.announce);
- or whose server fetched the actor document or one of its posts with a signed GET: `note_fetch()` on
  those endpoints. The signature is verified after the response has been sent (the fetcher's key may
  have to be fetched first), only the first time a process sees that keyId fetch that actor within
  an hour, and only a verified key's owner counts — an unsigned or forged fetch records nothing.
core/account_deletion.py sends Delete(actor) to this set as well as to the follow graph.

Writes are cheap by design: a known inbox is rewritten (last_seen_at) at most once a day.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import asyncpg
from starlette.background import BackgroundTask, BackgroundTasks
from starlette.requests import Request
from starlette.responses import Response

from fediverse_biz.ttl_cache import TtlCache

__all__ = ["note_fetch", "record", "signature_key_id"]

log = logging.getLogger(__name__)

# keyId (draft-cavage `Signature`) or keyid (RFC 9421 `Signature-Input`): only to skip repeats cheaply;
# the verification proper parses the headers strictly.
_KEY_ID: Final = re.compile(r'keyid="([^"]{1,2048})"', re.IGNORECASE)
_SEEN_TTL: Final = 3600.0
_SEEN_MAX: Final = 50_000

# Pairs seen within the day are filtered out by a read of the primary key, not left to ON CONFLICT: a
# conflicting row is locked (and so written) even when the update's WHERE is false, and nearly every
# fan-out of an active account goes to inboxes it reached the day before.
_RECORD = """
INSERT INTO actor_reach AS r (actor_id, inbox)
SELECT a, i FROM unnest($1::bigint[]) a CROSS JOIN unnest($2::text[]) i
 WHERE NOT EXISTS (SELECT 1 FROM actor_reach k
                    WHERE k.actor_id = a AND k.inbox = i AND k.last_seen_at > now() - interval '1 day')
ON CONFLICT (actor_id, inbox) DO UPDATE SET last_seen_at = now()
"""


async def record(conn: asyncpg.Connection | asyncpg.Pool, actor_ids: Iterable[int], inboxes: Iterable[str]) -> None:
    """Note that each of `inboxes` received (or fetched) something of each local actor in `actor_ids`."""
    ids = sorted(set(actor_ids))
    wanted = sorted({i for i in inboxes if i})
    if ids and wanted:
        await conn.execute(_RECORD, ids, wanted)


def signature_key_id(headers: Mapping[str, str]) -> str | None:
    """The keyId a request claims to be signed with, unverified; None for an unsigned request."""
    for name in ("signature", "signature-input"):
        value = headers.get(name)
        if value:
            found = _KEY_ID.search(value)
            if found:
                return found.group(1)
    return None


def _seen(request: Request) -> TtlCache[tuple[str, str], bool]:
    """(actor uri, keyId) pairs this app verified or is verifying, per process (on the app's state, so
    several apps in one process — the tests' live servers — keep apart)."""
    state = request.app.state
    seen: TtlCache[tuple[str, str], bool] | None = getattr(state, "reach_seen_fetchers", None)
    if seen is None:
        seen = TtlCache(ttl=_SEEN_TTL, max_entries=_SEEN_MAX)
        state.reach_seen_fetchers = seen
    return seen


def note_fetch(request: Request, response: Response, actor: Mapping[str, Any]) -> Response:
    """`response` to a GET of the local `actor` or of one of its posts; when the GET is signed by a key
    not seen lately, the fetcher's server is recorded after the response has been sent."""
    if actor["domain"] is not None or response.status_code != 200:
        return response
    key_id = signature_key_id(request.headers)
    if key_id is None:
        return response
    seen, key = _seen(request), (str(actor["uri"]), key_id)
    if seen.get(key):
        return response
    seen.put(key, True)
    task = BackgroundTask(_record_fetch, request, int(actor["id"]), key)
    if response.background is None:
        response.background = task
    else:
        response.background = BackgroundTasks([response.background, task])
    return response


async def _record_fetch(request: Request, actor_id: int, key: tuple[str, str]) -> None:
    # Imported here: outbox imports this module, and signed_requests -> remote_actors -> business ->
    # outbox would be a cycle at import time.
    from fediverse_biz.federation import signed_requests

    try:
        owner = await signed_requests.signing_actor(request, b"")
    except signed_requests.NotVerified as exc:
        _seen(request).discard(key)  # a forged keyId must not hide the real fetcher
        log.debug("fetch of %s with keyId %s not recorded: %s", key[0], key[1], exc)
        return
    inbox = owner["shared_inbox_url"] or owner["inbox_url"]
    if owner["domain"] is None or not inbox:
        return
    try:
        await record(request.app.state.pool, [actor_id], [inbox])
    except Exception:  # after the response: nothing to answer, and the next fetch tries again
        _seen(request).discard(key)
        log.warning("recording that %s fetched %s failed", inbox, key[0], exc_info=True)
