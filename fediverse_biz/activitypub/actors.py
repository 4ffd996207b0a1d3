"""Actor documents: render our actors (`actor_to_ap`) and read peers' actors (`actor_from_ap`).

Pure: rows in, JSON out, JSON in, column values out. Who may fetch what, and storing the result, is
`federation/remote_actors.py`. The field list follows Mastodon's "Profile federation"
(https://docs.joinmastodon.org/spec/activitypub/); parsing follows Mastodon's
`ActivityPub::ProcessAccountService` (`set_immediate_attributes!`, `set_fetchable_attributes!`),
including its hard limits for federated content (`Account::DISPLAY_NAME_LENGTH_HARD_LIMIT` and friends).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from fediverse_biz.activitypub.context import CONTEXT
from fediverse_biz.activitypub.organizations import organization_to_ap
from fediverse_biz.activitypub.validation import SchemaError, validate_actor
from fediverse_biz.text.sanitize import sanitize_plain, sanitize_remote_html
from fediverse_biz.urls import LocalUrls

__all__ = ["ACTOR_TYPES", "InvalidActor", "RemoteActorFields", "actor_from_ap", "actor_to_ap", "authority"]

ACTOR_TYPES: Final = ("Person", "Organization", "Group", "Application", "Service")
BOT_TYPES: Final = ("Application", "Service")  # Mastodon's Account::AUTOMATED_ACTOR_TYPES

# Mastodon's hard limits for federated content (app/models/account.rb): long enough for any honest
# profile, short enough that one actor cannot fill a page or a table row.
MAX_DISPLAY_NAME: Final = 2048  # DISPLAY_NAME_LENGTH_HARD_LIMIT
MAX_NOTE: Final = 20 * 1024  # NOTE_LENGTH_HARD_LIMIT, 20.kilobytes (cut before sanitising)
MAX_ALSO_KNOWN_AS: Final = 256  # ALSO_KNOWN_AS_HARD_LIMIT
MAX_FIELDS: Final = 50  # profile fields kept from a remote actor
MAX_FIELD_NAME: Final = 255
MAX_FIELD_VALUE: Final = 2048
MAX_URL: Final = 2048


class InvalidActor(ValueError):
    """A peer's actor document we cannot store; the message names the problem."""


@dataclass(frozen=True)
class RemoteActorFields:
    """The `actors` columns we fill from a remote actor document."""

    uri: str
    username: str
    domain: str
    actor_type: str
    inbox_url: str
    key_id: str
    public_key_pem: str
    display_name: str = ""
    note: str = ""
    avatar_url: str | None = None
    header_url: str | None = None
    fields: list[dict[str, str]] = field(default_factory=list)
    locked: bool = False
    discoverable: bool = False
    indexable: bool = False
    bot: bool = False
    url: str | None = None
    shared_inbox_url: str | None = None
    outbox_url: str | None = None
    followers_url: str | None = None
    following_url: str | None = None
    featured_url: str | None = None
    also_known_as: list[str] = field(default_factory=list)
    moved_to: str | None = None
    published: datetime | None = None


# ---- rendering our own actors ------------------------------------------------------------------


def actor_to_ap(row: Mapping[str, Any], urls: LocalUrls, *, moved_to: str | None = None) -> dict[str, Any]:
    """The ActivityPub document of a local actor row (Person, Organization, Group, or the instance actor).

    `moved_to` is the URI of the account this one moved to (the row only holds its id). Property order
    is Mastodon's, which makes side-by-side comparison with a Mastodon actor easy.
    """
    uri = row["uri"]
    instance = bool(row["is_instance_actor"])
    doc: dict[str, Any] = {"@context": CONTEXT, "id": uri, "type": row["actor_type"]}
    if not instance:
        # Mastodon's instance actor has no social graph; peers must not try to follow it.
        doc["following"] = row["following_url"]
        doc["followers"] = row["followers_url"]
    doc["inbox"] = row["inbox_url"]
    doc["outbox"] = row["outbox_url"]
    if not instance:
        doc["featured"] = row["featured_url"]
    doc["preferredUsername"] = row["username"]
    doc["name"] = row["display_name"]
    doc["summary"] = row["note"]
    doc["url"] = row["url"]
    doc["manuallyApprovesFollowers"] = bool(row["locked"])
    doc["discoverable"] = bool(row["discoverable"])
    doc["indexable"] = bool(row["indexable"])
    # Mastodon publishes the sign-up day only (`account.created_at.midnight`), not the exact time.
    doc["published"] = _day(row["created_at"])
    doc["memorial"] = False
    doc["publicKey"] = {"id": row["key_id"], "owner": uri, "publicKeyPem": row["public_key_pem"]}
    doc["tag"] = []
    # Profile fields in Mastodon's exact PropertyValue form: Mastodon reads no other shape
    # (https://docs.joinmastodon.org/spec/activitypub/, "Profile metadata").
    doc["attachment"] = [
        {"type": "PropertyValue", "name": f.get("name", ""), "value": f.get("value", "")}
        for f in _json_list(row["fields"])
        if isinstance(f, Mapping)
    ]
    doc["endpoints"] = {"sharedInbox": row["shared_inbox_url"]}
    for prop, column in (("icon", "avatar_url"), ("image", "header_url")):
        if row[column]:
            doc[prop] = _image(row[column], urls)
    aliases = [a for a in _json_list(row["also_known_as"]) if isinstance(a, str)]
    if aliases:
        doc["alsoKnownAs"] = aliases
    if moved_to:
        doc["movedTo"] = moved_to
    if row["actor_type"] == "Organization":
        # The company profile as schema.org properties. business/organizations.py keeps a
        # render-ready copy in extra["organization"], so every caller of actor_to_ap shows it.
        extra = row.get("extra")
        doc.update(organization_to_ap(extra.get("organization") if isinstance(extra, Mapping) else None))
    if row["actor_type"] == "Group" and not instance:
        # FEP-1b12 "Moderation"; Lemmy's community document, tests/fixtures/federation/lemmy/
        # Group.json: the moderators are the `attributedTo` collection, and every member may post.
        doc["attributedTo"] = f"{uri}/moderators"
        doc["postingRestrictedToMods"] = False
    return doc


def _day(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT00:00:00Z")


def _image(location: str, urls: LocalUrls) -> dict[str, Any]:
    url = location if location.startswith(("http://", "https://")) else urls.media(location)
    image: dict[str, Any] = {"type": "Image", "url": url}
    media_type, _ = mimetypes.guess_type(urlsplit(url).path)
    if media_type and media_type.startswith("image/"):
        image["mediaType"] = media_type
    return image


def _json_list(value: Any) -> list[Any]:
    # The pool decodes jsonb (db/pool.py); anything but a list is treated as empty, never an error.
    return value if isinstance(value, list) else []


# ---- reading peers' actors ---------------------------------------------------------------------


def actor_from_ap(doc: Mapping[str, Any]) -> RemoteActorFields:
    """Column values for a remote actor document; raises InvalidActor.

    The document must already be authentic for its `id` (fetched from there: fetch_ap_object).
    Everything displayable is cleaned here: names to plain text, HTML through Mastodon's allow-list,
    links to http(s) URLs only.
    """
    try:
        validate_actor(doc)
    except SchemaError as exc:
        raise InvalidActor(str(exc)) from None
    uri: str = doc["id"]
    actor_type = next((t for t in _as_list(doc.get("type")) if t in ACTOR_TYPES), None)
    if actor_type is None:  # validation guarantees one, but the column CHECK must never see junk
        raise InvalidActor(f"{uri}: not an actor type we support")
    username = doc.get("preferredUsername")
    # Mastodon refuses actors without preferredUsername (FetchRemoteActorService): no handle, no WebFinger.
    if not isinstance(username, str) or not username or any(c.isspace() or c in "@/" for c in username):
        raise InvalidActor(f"{uri}: missing or unusable preferredUsername")
    if not username.isprintable():
        raise InvalidActor(f"{uri}: preferredUsername has control characters")
    key_id, key_pem = _owned_key(doc, uri)
    endpoints = doc.get("endpoints")
    shared_inbox = endpoints.get("sharedInbox") if isinstance(endpoints, Mapping) else doc.get("sharedInbox")
    return RemoteActorFields(
        uri=uri,
        username=username,
        domain=authority(uri),
        actor_type=actor_type,
        inbox_url=doc["inbox"],
        key_id=key_id,
        public_key_pem=key_pem,
        display_name=sanitize_plain(_text(doc.get("name")), MAX_DISPLAY_NAME),
        # Cut before sanitising: the sanitiser closes whatever the cut left open.
        note=sanitize_remote_html(_text(doc.get("summary"))[:MAX_NOTE]),
        avatar_url=_image_url(doc.get("icon")),
        header_url=_image_url(doc.get("image")),
        fields=_profile_fields(doc.get("attachment")),
        locked=doc.get("manuallyApprovesFollowers") is True,
        # Both are opt-in: absent means no (Mastodon: `@json['discoverable'] || false`).
        discoverable=doc.get("discoverable") is True,
        indexable=doc.get("indexable") is True,
        bot=actor_type in BOT_TYPES,
        url=_profile_url(doc.get("url"), uri),
        shared_inbox_url=_http_url(shared_inbox),
        outbox_url=_reference(doc.get("outbox")),
        followers_url=_reference(doc.get("followers")),
        following_url=_reference(doc.get("following")),
        featured_url=_reference(doc.get("featured")),
        also_known_as=[u for u in (_reference(a) for a in _as_list(doc.get("alsoKnownAs"))) if u][:MAX_ALSO_KNOWN_AS],
        moved_to=_reference(doc.get("movedTo")),
        published=_timestamp(doc.get("published")),
    )


def authority(url: str) -> str:
    """`host[:port]` of a URL, lower-case, default ports dropped: what we store as an actor's domain.

    The port is kept when present because two servers on one host (our tests, and development
    setups) are two domains; in production actor ids carry no port and this is the bare host.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)):
        return host
    return f"{host}:{port}"


def _owned_key(doc: Mapping[str, Any], uri: str) -> tuple[str, str]:
    """The actor's own key: the publicKey entry whose owner is this actor.

    A key owned by someone else would let this document vouch for signatures it has no right to
    (security.md: the owner must be the same document). The key id must also be on the actor's host,
    or a peer could make our key_id lookup find it for another server's keyId.
    """
    keys = [k for k in _as_list(doc.get("publicKey")) if isinstance(k, Mapping) and k.get("owner") == uri]
    if not keys:
        raise InvalidActor(f"{uri}: no publicKey owned by the actor")
    # Several keys (rotation, or RSA + Ed25519 peers): prefer the conventional "#main-key".
    key = next((k for k in keys if str(k.get("id", "")).endswith("#main-key")), keys[0])
    key_id, pem = key.get("id"), key.get("publicKeyPem")
    if not isinstance(key_id, str) or not isinstance(pem, str) or not pem.strip():
        raise InvalidActor(f"{uri}: publicKey lacks an id or a PEM")
    if authority(key_id) != authority(uri) or urlsplit(key_id).scheme != urlsplit(uri).scheme:
        raise InvalidActor(f"{uri}: publicKey id {key_id!r} is on another origin")
    return key_id, pem


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _http_url(value: Any) -> str | None:
    """`value` if it is an absolute http(s) URL we may store and later hand to a browser, else None.

    Drops javascript:, data: and every other scheme, credentials and whitespace/control characters.
    """
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URL:
        return None
    if any(c.isspace() or not c.isprintable() for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return value


def _reference(value: Any) -> str | None:
    """A URI given as a string or as an embedded object with an `id` (collections, alsoKnownAs)."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return _http_url(value)


def _link_href(value: Any, prefer_media_type: str | None = None) -> str | None:
    """The URL of a `url` value: a string, a Link object ({href}), or a list of either."""
    candidates: list[tuple[str, Any]] = []
    for item in _as_list(value):
        if isinstance(item, str):
            candidates.append(("", item))
        elif isinstance(item, Mapping):
            candidates.append((str(item.get("mediaType", "")), item.get("href")))
    if prefer_media_type:
        # Mastodon's url_to_href(value, 'text/html'): the link of that type first, else the first link.
        candidates.sort(key=lambda c: not c[0].startswith(prefer_media_type))
    return next((u for u in (_http_url(c[1]) for c in candidates) if u), None)


def _image_url(value: Any) -> str | None:
    """`icon`/`image`: an Image object (url: string, Link or list), a list of them, or a bare URL."""
    for item in _as_list(value):
        url = _link_href(item.get("url")) if isinstance(item, Mapping) else _http_url(item)
        if url:
            return url
    return None


def _profile_url(value: Any, uri: str) -> str:
    """The HTML profile link, only if it is on the actor's own host (Mastodon `mismatching_origin?`),
    otherwise the actor URI itself, as Mastodon does (`url || @uri`)."""
    url = _link_href(value, "text/html")
    if url is None or urlsplit(url).hostname != urlsplit(uri).hostname:
        return uri
    return url


def _profile_fields(value: Any) -> list[dict[str, str]]:
    """PropertyValue attachments -> [{name, value}], Mastodon's `property_values` with cleaned text."""
    fields: list[dict[str, str]] = []
    for item in _as_list(value):
        if not isinstance(item, Mapping) or item.get("type") != "PropertyValue":
            continue
        name = sanitize_plain(_text(item.get("name")), MAX_FIELD_NAME)
        if not name:
            continue
        fields.append({"name": name, "value": sanitize_remote_html(_text(item.get("value"))[:MAX_FIELD_VALUE])})
        if len(fields) == MAX_FIELDS:
            break
    return fields


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
