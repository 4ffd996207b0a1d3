"""Servers that fetched a local actor or post with a signed GET join the actor's reach (core/reach.py).

`note_fetch()` runs on the actor and object endpoints. The signature is verified after the response has
been sent (the fetcher's key may have to be fetched first), only the first time a process sees that keyId
fetch that actor within an hour, and only a verified key's owner counts: an unsigned or forged fetch
records nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Final

from starlette.background import BackgroundTask, BackgroundTasks
from starlette.requests import Request
from starlette.responses import Response

from fediverse_biz.core import reach
from fediverse_biz.federation import signed_requests
from fediverse_biz.services import services
from fediverse_biz.ttl_cache import TtlCache

__all__ = ["note_fetch", "signature_key_id"]

log = logging.getLogger(__name__)

# keyId (draft-cavage `Signature`) or keyid (RFC 9421 `Signature-Input`): only to skip repeats cheaply;
# the verification proper parses the headers strictly.
_KEY_ID: Final = re.compile(r'keyid="([^"]{1,2048})"', re.IGNORECASE)
_SEEN_TTL: Final = 3600.0
_SEEN_MAX: Final = 50_000

def signature_key_id(headers: Mapping[str, str]) -> str | None:
    """The keyId a request claims to be signed with, unverified; None for an unsigned request."""
    for name in ("signature", "signature-input"):
        value = headers.get(name)
        if value:
            found = _KEY_ID.search(value)
            if found:
                return found.group(1)
    return None


def seen_fetchers() -> TtlCache[tuple[str, str], bool]:
    """A new cache of the (actor uri, keyId) pairs an application verified or is verifying; one per
    application (services.py), so several in one process (the tests' live servers) keep apart."""
    return TtlCache(ttl=_SEEN_TTL, max_entries=_SEEN_MAX)


def _seen(request: Request) -> TtlCache[tuple[str, str], bool]:
    return services(request).fetchers_seen


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
        await reach.record(services(request).pool, [actor_id], [inbox])
    except Exception:  # after the response: nothing to answer, and the next fetch tries again
        _seen(request).discard(key)
        log.warning("recording that %s fetched %s failed", inbox, key[0], exc_info=True)
