"""Remote actors: resolve them by URI or handle, cache them in `actors`, find the keys that sign to us.

Trust rules (FEDERATION.md, "Security"):
- a document is believed only for the URL it was fetched from (fetch_ap_object: AP content type, 2xx,
  `id` == final URL) and only if that URL is on the host we asked (redirects may canonicalise a path,
  never move an actor to another host);
- a handle is believed only after Mastodon's WebFinger round trip (ResolveAccountService,
  FetchRemoteActorService#check_webfinger!): the JRD's self link is the actor, and the actor's
  preferredUsername@host leads back to it;
- a key is believed only if its actor lists it (security.md "bi-directional claim").
Our own URLs are never fetched over the network ("if it's not in the database it can't be
authentic", Pleroma's contain_local_fetch).

Actor rows are cached for a day (Mastodon's `possibly_stale?` is the same day); a stale row whose
refresh fails is still returned, since yesterday's inbox URL and key beat no answer at all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

import aiohttp
import asyncpg

from fediverse_biz.activitypub.actors import ACTOR_TYPES, InvalidActor, RemoteActorFields, actor_from_ap, authority
from fediverse_biz.activitypub.signatures import sign_request
from fediverse_biz.activitypub.webfinger import AcctResource, InvalidResource, activitypub_self_link, parse_acct
from fediverse_biz.business.organizations import store_remote_profile
from fediverse_biz.business.verified_links import queue_link_checks
from fediverse_biz.config import Settings
from fediverse_biz.core import domain_blocks
from fediverse_biz.core.statuses import MentionResolver
from fediverse_biz.federation import directory_sources
from fediverse_biz.net.fetch import (
    AP_ACCEPT,
    AP_CONTENT_TYPES,
    FetchError,
    IdMismatch,
    Signer,
    fetch_ap_object,
    fetch_json,
)
from fediverse_biz.text.content import MentionRef

__all__ = [
    "STALE_AFTER",
    "RemoteActorError",
    "instance_signer",
    "load_instance_signer",
    "public_key_for",
    "resolve_actor",
    "resolve_handle",
]

log = logging.getLogger(__name__)

STALE_AFTER: Final = timedelta(days=1)
JRD_ACCEPT: Final = "application/jrd+json, application/json"


class RemoteActorError(Exception):
    """An actor could not be resolved or failed a trust check; `status` is the peer's HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


async def load_instance_signer(pool: asyncpg.Pool) -> Signer | None:
    """The instance actor's signer, or None before `init` has made the instance actor."""
    row = await pool.fetchrow("SELECT key_id, private_key_pem FROM actors WHERE is_instance_actor")
    return instance_signer(row) if row is not None and row["private_key_pem"] else None


def instance_signer(instance_actor: Mapping[str, Any]) -> Signer:
    """A fetch Signer that signs every GET as the instance actor: peers in authorized-fetch mode refuse
    unsigned GETs; Mastodon signs its own with its instance actor too."""
    key_id: str = instance_actor["key_id"]
    private_key_pem: str = instance_actor["private_key_pem"]

    def sign(method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
        return sign_request(method, url, key_id=key_id, private_key_pem=private_key_pem, body=body, headers=headers)

    return sign


# ---- by URI ------------------------------------------------------------------------------------


async def resolve_actor(
    pool: asyncpg.Pool,
    http: aiohttp.ClientSession,
    uri: str,
    *,
    signer: Signer | None = None,
    refresh: bool = False,
) -> asyncpg.Record:
    """The `actors` row for an actor URI: from the cache when fresh, else fetched, checked and upserted.

    Local actors are returned as they are, never fetched. Raises RemoteActorError.
    """
    row = await pool.fetchrow("SELECT * FROM actors WHERE uri = $1", uri)
    if row is not None and (row["domain"] is None or (not refresh and _is_fresh(row))):
        return row
    if row is None and await _is_our_origin(pool, uri):
        raise RemoteActorError(f"{uri} is one of our URLs and names no actor", status=404)
    await _check_domain_allowed(pool, authority(uri))
    try:
        doc = await fetch_ap_object(http, uri, signer=signer)
    except FetchError as exc:
        if row is not None and not refresh:
            log.info("refreshing actor %s failed, keeping the cached copy: %s", uri, exc)
            return row
        raise RemoteActorError(f"could not fetch actor {uri}: {exc}", status=exc.status) from exc
    return await _store(pool, uri, doc)


def _is_fresh(row: asyncpg.Record) -> bool:
    fetched_at: datetime | None = row["fetched_at"]
    return fetched_at is not None and datetime.now(UTC) - fetched_at < STALE_AFTER


async def _is_our_origin(pool: asyncpg.Pool, url: str) -> bool:
    # The instance actor's URI carries our scheme://host[:port], whatever the settings object says.
    ours = await pool.fetchval("SELECT uri FROM actors WHERE is_instance_actor")
    return ours is not None and authority(ours) == authority(url)


async def _check_domain_allowed(pool: asyncpg.Pool, domain: str) -> None:
    """Suspended domains, and their subdomains, are never fetched (Mastodon `domain_not_allowed?`)."""
    if await domain_blocks.suspended(pool, domain):
        raise RemoteActorError(f"{domain} is blocked on this server", status=403)


async def _store(pool: asyncpg.Pool, requested: str, doc: Mapping[str, Any]) -> asyncpg.Record:
    """Check that a fetched document may speak for `requested`, parse it and upsert it."""
    if authority(str(doc.get("id"))) != authority(requested):
        # fetch_ap_object already tied the id to the final URL; a redirect must not change the host.
        raise RemoteActorError(f"{requested} redirected to an actor on another host, {doc.get('id')!r}")
    try:
        fields = actor_from_ap(doc)
    except InvalidActor as exc:
        raise RemoteActorError(f"invalid actor document at {requested}: {exc}") from None
    row = await _upsert(pool, fields)
    # An Organization's schema.org company profile, parsed into organization_profiles.
    await store_remote_profile(pool, row["id"], doc)
    # Its links are checked by a job, never here (verified_links.py).
    await queue_link_checks(pool, row["id"])
    # A server we federate with: its public directory is pulled (directory_sources.py).
    await directory_sources.met(pool, row["uri"])
    return row


async def _upsert(pool: asyncpg.Pool, f: RemoteActorFields) -> asyncpg.Record:
    try:
        row = await pool.fetchrow(
            """INSERT INTO actors (username, domain, actor_type, display_name, note, avatar_url, header_url,
                                   fields, locked, discoverable, indexable, bot, uri, url, inbox_url,
                                   shared_inbox_url, outbox_url, followers_url, following_url, featured_url,
                                   key_id, public_key_pem, also_known_as, moved_to_actor_id, extra,
                                   created_at, fetched_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                       $21, $22, $23, (SELECT id FROM actors WHERE uri = $24 AND uri <> $13), $25,
                       coalesce($26, now()), now())
               ON CONFLICT (uri) DO UPDATE SET
                   username = EXCLUDED.username, actor_type = EXCLUDED.actor_type,
                   display_name = EXCLUDED.display_name, note = EXCLUDED.note,
                   avatar_url = EXCLUDED.avatar_url, header_url = EXCLUDED.header_url,
                   fields = fields_keeping_verification(actors.fields, EXCLUDED.fields),
                   locked = EXCLUDED.locked, discoverable = EXCLUDED.discoverable,
                   indexable = EXCLUDED.indexable, bot = EXCLUDED.bot, url = EXCLUDED.url,
                   inbox_url = EXCLUDED.inbox_url, shared_inbox_url = EXCLUDED.shared_inbox_url,
                   outbox_url = EXCLUDED.outbox_url, followers_url = EXCLUDED.followers_url,
                   following_url = EXCLUDED.following_url, featured_url = EXCLUDED.featured_url,
                   key_id = EXCLUDED.key_id, public_key_pem = EXCLUDED.public_key_pem,
                   also_known_as = EXCLUDED.also_known_as, moved_to_actor_id = EXCLUDED.moved_to_actor_id,
                   extra = (actors.extra - 'moved_to') || EXCLUDED.extra,
                   created_at = coalesce($26, actors.created_at), updated_at = now(), fetched_at = now()
               WHERE actors.domain IS NOT NULL
               RETURNING *""",
            f.username,
            f.domain,
            f.actor_type,
            f.display_name,
            f.note,
            f.avatar_url,
            f.header_url,
            f.fields,
            f.locked,
            f.discoverable,
            f.indexable,
            f.bot,
            f.uri,
            f.url,
            f.inbox_url,
            f.shared_inbox_url,
            f.outbox_url,
            f.followers_url,
            f.following_url,
            f.featured_url,
            f.key_id,
            f.public_key_pem,
            f.also_known_as,
            f.moved_to,
            # movedTo is kept by URI until the target is known; the column links it once it is.
            {"moved_to": f.moved_to} if f.moved_to else {},
            # Mastodon: `@account.created_at = @json['published'] if @json['published'].present?`
            f.published,
        )
    except asyncpg.UniqueViolationError as exc:
        # Another row holds username@domain under a different URI (an account deleted and re-created on
        # a server whose ids are not names). Not resolved automatically yet: say so plainly.
        raise RemoteActorError(f"{f.username}@{f.domain} already belongs to another actor than {f.uri}") from exc
    if row is None:
        raise RemoteActorError(f"{f.uri} is a local actor and cannot be overwritten from the network")
    return row


# ---- by handle ---------------------------------------------------------------------------------


async def resolve_handle(
    pool: asyncpg.Pool,
    http: aiohttp.ClientSession,
    handle: str,
    *,
    signer: Signer | None = None,
    scheme: str = "https",
    refresh: bool = False,
) -> asyncpg.Record:
    """The actor for `user@domain` (also `@user@domain`, `acct:user@domain`), via WebFinger.

    `scheme` is the one used for the WebFinger request. Real peers are https; callers pass
    `settings.scheme` when `settings.is_local_development`, so servers on 127.0.0.1:port (tests,
    a laptop) reach each other over http.

    The actor's handle is stored as preferredUsername@host-of-its-id; for a peer whose handles live on
    another domain than its actors (acct:x@example.com -> https://ap.example.com/users/x) the round
    trip still passes, but the row carries the actor's host.
    """
    try:
        acct = parse_acct(handle)
    except InvalidResource as exc:
        raise RemoteActorError(str(exc), status=400) from None
    row = await pool.fetchrow(
        "SELECT * FROM actors WHERE lower(username) = lower($1) AND domain = $2", acct.username, acct.domain
    )
    if row is not None and not refresh and _is_fresh(row):
        return row
    if await _is_our_origin(pool, f"{scheme}://{acct.domain}/"):
        local = await pool.fetchrow(
            "SELECT * FROM actors WHERE lower(username) = lower($1) AND domain IS NULL", acct.username
        )
        if local is None:
            raise RemoteActorError(f"no local account {acct.username}", status=404)
        return local
    await _check_domain_allowed(pool, acct.domain)
    confirmed, actor_url = await _webfinger(http, acct, scheme)
    actor = await resolve_actor(pool, http, actor_url, signer=signer, refresh=refresh)
    # Mastodon: "Webfinger response for … does not loop back to …" unless the self link is the actor's id.
    if actor["uri"] != actor_url:
        raise RemoteActorError(f"WebFinger for {handle} names {actor_url}, whose id is {actor['uri']}")
    if not _same_acct(AcctResource(actor["username"], actor["domain"]), confirmed):
        # The actor's own handle differs from the one asked for: it must lead back to the same actor.
        _, loop_url = await _webfinger(http, AcctResource(actor["username"], actor["domain"]), scheme)
        if loop_url != actor["uri"]:
            raise RemoteActorError(f"WebFinger for {actor['username']}@{actor['domain']} does not lead back to it")
    return actor


async def _webfinger(http: aiohttp.ClientSession, acct: AcctResource, scheme: str) -> tuple[AcctResource, str]:
    """(the handle the JRD confirms, the actor URL it links). Follows one subject redirect, as Mastodon."""
    subject, href = await _webfinger_once(http, acct, scheme)
    if not _same_acct(subject, acct):
        # The canonical handle is another one: ask its domain, which must agree with itself.
        again, href = await _webfinger_once(http, subject, scheme)
        if not _same_acct(again, subject):
            raise RemoteActorError(f"too many WebFinger redirects for {acct.username}@{acct.domain}")
    return subject, href


async def _webfinger_once(http: aiohttp.ClientSession, acct: AcctResource, scheme: str) -> tuple[AcctResource, str]:
    resource = quote(f"acct:{acct.username}@{acct.domain}", safe=":@")
    url = f"{scheme}://{acct.domain}/.well-known/webfinger?resource={resource}"
    try:
        # Content type is not checked, like Mastodon: the path is the host's own, and the answer is only a
        # pointer whose target is verified on its own.
        jrd = await fetch_json(http, url, accept=JRD_ACCEPT, content_types=None)
    except FetchError as exc:
        raise RemoteActorError(f"WebFinger lookup {url} failed: {exc}", status=exc.status) from exc
    subject = jrd.get("subject")
    try:
        confirmed = parse_acct(subject) if isinstance(subject, str) else None
    except InvalidResource:
        confirmed = None
    if confirmed is None:
        raise RemoteActorError(f"WebFinger answer from {acct.domain} has no usable subject")
    href = activitypub_self_link(jrd)
    if href is None:
        raise RemoteActorError(f"{acct.username}@{acct.domain} has no ActivityPub actor")
    return confirmed, href


def _same_acct(a: AcctResource, b: AcctResource) -> bool:
    return a.username.casefold() == b.username.casefold() and a.domain.casefold() == b.domain.casefold()


# ---- keys --------------------------------------------------------------------------------------


async def public_key_for(
    pool: asyncpg.Pool,
    http: aiohttp.ClientSession,
    key_id: str,
    *,
    refresh: bool = False,
    signer: Signer | None = None,
) -> tuple[str, asyncpg.Record] | None:
    """(public key PEM, actor row) for a signature's keyId, or None if no actor vouches for that key.

    The cache is asked first (unless `refresh`, the verifier's one retry after a failed check, e.g. a
    rotated key). Otherwise the keyId URL (without fragment) is fetched. It may hold the actor itself
    (Mastodon's `actor#main-key`), a key document whose `owner` is the actor, or a stub whose `id` is
    the actor (GoToSocial's `/main-key`). Only a document served from its own id is believed; the other
    two are pointers, as in Mastodon's `fetch_resource(uri, false)`: the actor is fetched from its own
    id, on the key's host, and must list exactly this keyId.
    """
    if not refresh:
        row = await pool.fetchrow(
            """SELECT * FROM actors WHERE key_id = $1 AND public_key_pem IS NOT NULL
                ORDER BY domain IS NULL DESC, fetched_at DESC NULLS LAST LIMIT 1""",
            key_id,
        )
        if row is not None:
            return row["public_key_pem"], row
    url = key_id.split("#", 1)[0]
    if not url.startswith(("https://", "http://")) or await _is_our_origin(pool, url):
        return None
    try:
        actor = await _actor_for_key_url(pool, http, url, signer)
    except (FetchError, RemoteActorError) as exc:
        log.info("no key for keyId %s: %s", key_id, exc)
        return None
    if actor["key_id"] != key_id or not actor["public_key_pem"]:
        log.info("keyId %s is not the key of %s (%s)", key_id, actor["uri"], actor["key_id"])
        return None
    return actor["public_key_pem"], actor


async def _actor_for_key_url(
    pool: asyncpg.Pool, http: aiohttp.ClientSession, url: str, signer: Signer | None
) -> asyncpg.Record:
    await _check_domain_allowed(pool, authority(url))
    try:
        doc = await fetch_ap_object(http, url, signer=signer)
    except IdMismatch:
        # GoToSocial serves a stub actor at /main-key whose id is the actor
        # (https://github.com/superseriousbusiness/gotosocial/issues/1186). Read it once more as a mere
        # pointer; only the actor fetched from that id is believed.
        stub = await fetch_json(http, url, accept=AP_ACCEPT, signer=signer, content_types=AP_CONTENT_TYPES)
        owner = stub.get("id")
    else:
        if _is_actor(doc):
            return await _store(pool, url, doc)  # served from its own id: authentic as it is
        owner = doc.get("owner")  # a key document
    if not isinstance(owner, str) or authority(owner) != authority(url):
        raise RemoteActorError(f"key document {url} names no actor on its own host")
    return await resolve_actor(pool, http, owner, signer=signer, refresh=True)


def _is_actor(doc: Mapping[str, Any]) -> bool:
    types = doc.get("type")
    return any(t in ACTOR_TYPES for t in (types if isinstance(types, list) else [types])) and "inbox" in doc


def mention_resolver(
    pool: asyncpg.Pool, http: aiohttp.ClientSession, instance_actor: Mapping[str, Any], settings: Settings
) -> MentionResolver:
    """What a local post uses to look up `@user@domain` handles we have never seen (core.statuses.create):
    WebFinger, signed by the instance actor; a handle that cannot be found stays plain text. Both doors
    that post (the API and the composer page) use this one."""
    scheme = settings.scheme if settings.is_local_development else "https"

    async def resolve(ref: MentionRef) -> asyncpg.Record | None:
        try:
            return await resolve_handle(
                pool, http, f"{ref.username}@{ref.domain}", signer=instance_signer(instance_actor), scheme=scheme
            )
        except (RemoteActorError, ValueError) as exc:
            log.info("mention @%s@%s not resolved: %s", ref.username, ref.domain, exc)
            return None

    return resolve
