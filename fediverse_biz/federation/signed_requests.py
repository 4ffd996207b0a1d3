"""Who signed this request? Verifying HTTP Signatures on requests that reach us (inbox POSTs, and
GETs of objects that only some actors may read), with the key refetched once on failure.

Any failure — a bad or missing signature, a key that cannot be fetched, an unforeseen error in the
lookup — is "not verified", never a 500.
"""

from __future__ import annotations

import logging

import asyncpg
from starlette.requests import Request

from fediverse_biz.activitypub.signatures import BadSignature, SignatureError, verify_request
from fediverse_biz.federation.remote_actors import instance_signer, public_key_for
from fediverse_biz.services import services
from fediverse_biz.ttl_cache import TtlCache

log = logging.getLogger(__name__)


class NotVerified(Exception):
    """The request carries no signature we could verify; the message says why."""


class KeyCache(TtlCache[str, tuple[str, asyncpg.Record]]):
    """keyId -> (public key PEM, owner's actor row), as found at most `ttl` seconds ago, per process.

    Every delivery asked the database for its key (one of the inbox door's three queries,
    docs/benchmarks.md); a busy peer signs thousands of requests with one key. Staleness is bounded and
    harmless: a key that no longer verifies is refetched at once (the retry below, which bypasses and
    refills this cache), and the owner's suspension is checked again, in the database, by the inbox's
    store statement and by the inbox job before it applies anything (federation/inbox.py,
    federation/inbound/dispatch.py)."""

    def __init__(self, *, ttl: float = 10.0, max_entries: int = 10_000) -> None:
        super().__init__(ttl=ttl, max_entries=max_entries)


async def signing_actor(request: Request, body: bytes) -> asyncpg.Record:
    """The actor row whose key signed this request; raises NotVerified."""
    state = services(request)
    signer = instance_signer(state.instance_actor)
    owners: list[asyncpg.Record] = []

    # ASGI `raw_path` is the path as sent, still percent-encoded, which is what the peer signed.
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.decode("latin-1").split("?", 1)[0]
    query = request.scope.get("query_string", b"").decode("latin-1")
    settings = state.settings
    keys = state.signing_keys

    async def verify(*, refresh: bool) -> None:
        """Verify with the keys from the cache (or, with `refresh`, refetched), noting whose key it was."""

        async def lookup(key_id: str) -> str | None:
            found = None if refresh else keys.get(key_id)
            if found is None:
                found = await public_key_for(state.pool, state.http, key_id, refresh=refresh, signer=signer)
                if found is None:
                    return None
                keys.put(key_id, found)
            owners.append(found[1])
            return found[0]

        await verify_request(
            request.method,
            path,
            query,
            request.headers,
            body,
            lookup,
            authority=settings.domain,
            scheme=settings.scheme,
        )

    try:
        try:
            await verify(refresh=False)
        except BadSignature:
            # The cached key may be stale (rotation through Update): refetch once, as Mastodon's
            # signature_verification.rb does with `refresh!` on a possibly stale account.
            owners.clear()
            await verify(refresh=True)
    except SignatureError as exc:
        raise NotVerified(str(exc)) from None
    except Exception:  # a key fetch or lookup that broke in an unforeseen way is still "not verified"
        log.exception("verifying a signature failed unexpectedly")
        raise NotVerified("signature could not be verified") from None
    if not owners:
        raise NotVerified("signature could not be verified")
    return owners[-1]
