"""ActivityPub activities: builders for what we send and small readers for what arrives. No I/O.

Every builder returns a complete document with our `@context`. Embedded objects lose their own
`@context` (one context per document, as Mastodon serialises). The caller chooses the `id`; these
are the ones we use, Mastodon's own patterns (app/serializers/activitypub/*_serializer.rb):

    Create            <status uri>/activity                   (TagManager#activity_uri_for)
    Update (status)   <status uri>#updates/<serial>           (UpdateNoteSerializer has <edited_at unix>)
    Delete (status)   <status uri>#delete                     (DeleteNoteSerializer)
    Announce          <actor>/statuses/<boost id>/activity    (the boost's stored uri, TagManager#uri_for)
    Undo Announce     <actor>#announces/<boost id>/undo       (UndoAnnounceSerializer)
    Follow            <actor>#follows/<follow id>             (FollowSerializer)
    Undo Follow       <actor>#follows/<follow id>/undo        (UndoFollowSerializer)
    Accept Follow     <target>#accepts/follows/<follow id>    (AcceptFollowSerializer)
    Reject Follow     <target>#rejects/follows/<follow id>    (RejectFollowSerializer)
    Like              <actor>#likes/<favourite id>            (LikeSerializer)
    Undo Like         <actor>#likes/<favourite id>/undo       (UndoLikeSerializer)
    Block             <actor>#blocks/<block id>               (BlockSerializer)
    Undo Block        <actor>#blocks/<block id>/undo          (UndoBlockSerializer)
    Update (actor)    <actor>#updates/<serial>                (UpdateActorSerializer has <updated_at unix>)
    Delete (actor)    <actor>#delete                          (DeleteActorSerializer)
    Move              <actor>#moves/<move id>                 (MoveSerializer)
    Flag              <instance actor>#flags/<report id>      (Mastodon sends none; we always send an id)
    Add / Remove      <actor>#featured/add/<pin id>, <actor>#featured/remove/<pin id>  (Mastodon: none)

`create`, `update_note`, `delete_note`, `update_actor` and `delete_actor` derive their ids this way
themselves, since the object's id fixes them.

An Update's id ends in a `serial` the caller draws for that one activity (federation/outbox.py takes the
database's `next_id()`), not in Mastodon's whole seconds: two edits within one second would otherwise
be two activities under one id, and receivers that drop a repeated id (Fedify's inbox idempotence)
would never see the second. A retried delivery re-sends the stored job body, so a re-sent activity
keeps its id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fediverse_biz.activitypub.context import CONTEXT, PUBLIC

__all__ = [
    "accept",
    "activity",
    "actor_id",
    "add",
    "announce",
    "as_list",
    "block",
    "create",
    "delete_actor",
    "delete_note",
    "flag",
    "follow",
    "format_datetime",
    "http_uri",
    "like",
    "move",
    "object_id",
    "parse_datetime",
    "reject",
    "remove",
    "types",
    "undo",
    "update_actor",
    "update_note",
    "url_to_href",
]


# ---- reading ----------------------------------------------------------------------------------
def as_list(value: Any) -> list[Any]:
    """JSON-LD lets any property be one value or an array (JsonLdHelper#as_array); absent -> []."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def object_id(value: Any) -> str | None:
    """A reference given as a string or as an embedded object with an `id` (JsonLdHelper#value_or_id)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        ref = value.get("id")
        return ref if isinstance(ref, str) and ref else None
    return None


def actor_id(doc: Any) -> str | None:
    """The `actor` of an activity; an array (seen from a few implementations) yields its first entry."""
    if not isinstance(doc, Mapping):
        return None
    actors = as_list(doc.get("actor"))
    return object_id(actors[0]) if actors else None


def types(doc: Any) -> set[str]:
    """The `type` of a document as a set: it may be a string or an array of strings."""
    if not isinstance(doc, Mapping):
        return set()
    return {t for t in as_list(doc.get("type")) if isinstance(t, str)}


def http_uri(value: Any) -> str | None:
    """`value` if it is an absolute http(s) URL with a host, else None (Mastodon rejects other schemes)."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def url_to_href(value: Any, preferred_type: str | None = None) -> tuple[str | None, str | None]:
    """JsonLdHelper#url_to_href: a string, a Link, or an array of either -> (href, its mediaType)."""
    items = as_list(value)
    if not items:
        return None, None
    chosen = items[0]
    if preferred_type and not isinstance(chosen, str):
        links = [i for i in items if isinstance(i, Mapping)]
        chosen = next((i for i in links if (i.get("mediaType") or i.get("mimeType")) == preferred_type), chosen)
    if isinstance(chosen, str):
        return chosen, None
    if isinstance(chosen, Mapping):
        href = chosen.get("href", chosen.get("url"))
        media_type = chosen.get("mediaType")
        return (href if isinstance(href, str) else None), (media_type if isinstance(media_type, str) else None)
    return None, None


def parse_datetime(value: Any) -> datetime | None:
    """An ISO 8601 `published`/`updated` as an aware datetime (naive means UTC); None if unusable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---- building ---------------------------------------------------------------------------------
def format_datetime(value: datetime, *, precise: bool = False) -> str:
    """Mastodon's `Time#iso8601` in UTC: second precision with a 'Z' ("2024-01-01T12:00:00Z").

    `precise` keeps the microseconds ("2024-01-01T12:00:00.123456Z"), as Lemmy and Pleroma write every
    time (Lemmy's crates/apub/apub/assets/lemmy/objects/group.json), which Mastodon's `Time.parse` reads
    too: an `updated` compared to order edits must tell two edits within one second apart."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # our timestamps are timestamptz; naive means UTC
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if precise else "%Y-%m-%dT%H:%M:%SZ")


def _embedded(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if k != "@context"}
    return value


def activity(
    kind: str,
    *,
    id: str,
    actor: str,
    object: Any,
    to: list[str] | None = None,
    cc: list[str] | None = None,
    published: datetime | str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete activity document. Keys in Mastodon's order; `to`/`cc`/`published` only when given;
    `extra` keys (e.g. `target`, `content`) are appended after `object`."""
    doc: dict[str, Any] = {"@context": CONTEXT, "id": id, "type": kind, "actor": actor}
    if published is not None:
        doc["published"] = format_datetime(published) if isinstance(published, datetime) else published
    if to is not None:
        doc["to"] = list(to)
    if cc is not None:
        doc["cc"] = list(cc)
    doc["object"] = _embedded(object)
    if extra:
        doc.update(extra)
    return doc


def create(note: Mapping[str, Any], actor_uri: str) -> dict[str, Any]:
    """Create of one of our objects; addressing and `published` copied from the object, as Mastodon's
    ActivityPresenter.from_status does."""
    return activity(
        "Create",
        id=f"{note['id']}/activity",
        actor=actor_uri,
        object=note,
        to=as_list(note.get("to")),
        cc=as_list(note.get("cc")),
        published=note.get("published"),
    )


def update_note(note: Mapping[str, Any], actor_uri: str, updated_at: datetime, *, serial: int | str) -> dict[str, Any]:
    """An edit: the whole new object, addressed like the original (Mastodon 3.5+ treats an Update with
    `updated` set as an edit). `serial` is unique to this activity (module docstring)."""
    return activity(
        "Update",
        id=f"{note['id']}#updates/{serial}",
        actor=actor_uri,
        object=note,
        to=as_list(note.get("to")),
        cc=as_list(note.get("cc")),
        published=updated_at,
    )


def delete_note(status_uri: str, actor_uri: str, to: list[str], cc: list[str]) -> dict[str, Any]:
    """Delete of a status with a Tombstone object. Mastodon always addresses it to Public; we address it
    to the status's own audience so a followers-only post's uri does not go further than the post did."""
    tombstone = {"id": status_uri, "type": "Tombstone", "atomUri": status_uri}
    return activity("Delete", id=f"{status_uri}#delete", actor=actor_uri, object=tombstone, to=to, cc=cc)


def update_actor(
    actor_doc: Mapping[str, Any], *, serial: int | str, updated_at: datetime | None = None
) -> dict[str, Any]:
    """Profile refresh, to Public (UpdateActorSerializer). `serial` is unique to this activity (module
    docstring). With `updated_at`, the embedded document says when it changed (`updated`, to the
    microsecond), so a receiver can keep the newer of two profile Updates that arrive out of order;
    Mastodon's actor documents carry no `updated`, Lemmy's do."""
    uri = str(actor_doc["id"])
    doc = dict(actor_doc)
    if updated_at is not None:
        doc["updated"] = format_datetime(updated_at, precise=True)
    return activity("Update", id=f"{uri}#updates/{serial}", actor=uri, object=doc, to=[PUBLIC])


def delete_actor(actor_uri: str) -> dict[str, Any]:
    """Account deletion: the object is the actor's own uri (DeleteActorSerializer)."""
    return activity("Delete", id=f"{actor_uri}#delete", actor=actor_uri, object=actor_uri, to=[PUBLIC])


def follow(id: str, actor: str, target: str) -> dict[str, Any]:
    return activity("Follow", id=id, actor=actor, object=target)


def _follow_object(follow_activity: Mapping[str, Any] | str) -> dict[str, Any] | str:
    # Mastodon embeds the Follow as FollowSerializer renders it (id, type, actor, object); some
    # peers (e.g. older Pleroma) only match Accepts that carry the Follow's id, so keep the id.
    if isinstance(follow_activity, str):
        return follow_activity
    return {
        "id": follow_activity.get("id"),
        "type": "Follow",
        "actor": actor_id(follow_activity),
        "object": object_id(follow_activity.get("object")),
    }


def accept(id: str, actor: str, follow_activity: Mapping[str, Any] | str) -> dict[str, Any]:
    return activity("Accept", id=id, actor=actor, object=_follow_object(follow_activity))


def reject(id: str, actor: str, follow_activity: Mapping[str, Any] | str) -> dict[str, Any]:
    return activity("Reject", id=id, actor=actor, object=_follow_object(follow_activity))


def undo(
    id: str, actor: str, inner: Mapping[str, Any], *, to: list[str] | None = None, cc: list[str] | None = None
) -> dict[str, Any]:
    """Undo with the undone activity embedded (peers match on its id, type and object)."""
    return activity("Undo", id=id, actor=actor, object=inner, to=to, cc=cc)


def like(id: str, actor: str, status_uri: str) -> dict[str, Any]:
    return activity("Like", id=id, actor=actor, object=status_uri)


def announce(
    id: str,
    actor: str,
    object_uri: str,
    *,
    to: list[str],
    cc: list[str],
    published: datetime | str | None = None,
) -> dict[str, Any]:
    """A boost; notes.announce_to_ap computes the addressing from a stored boost."""
    return activity("Announce", id=id, actor=actor, object=object_uri, to=to, cc=cc, published=published)


def block(id: str, actor: str, target: str) -> dict[str, Any]:
    """Mastodon sends Block server-to-server (though the AP spec says SHOULD NOT), addressed to the
    blocked account (docs' spec/activitypub.md example); we do the same."""
    return activity("Block", id=id, actor=actor, object=target, to=[target])


def flag(id: str, actor: str, target_uris: list[str], content: str) -> dict[str, Any]:
    """A report, sent by the *instance actor* (FlagSerializer): object = [account uri, status uris...],
    addressed to the reported account (the first target) as in Mastodon's documented example."""
    to = target_uris[:1] or None
    return activity("Flag", id=id, actor=actor, object=list(target_uris), to=to, extra={"content": content})


def move(id: str, actor: str, target: str, *, to: list[str] | None = None) -> dict[str, Any]:
    """Account migration: object is the moving actor itself, target the new account, which must list
    the old one in `alsoKnownAs` (MoveSerializer). Mastodon addresses it to the followers collection."""
    return activity("Move", id=id, actor=actor, object=actor, to=to, extra={"target": target})


def add(id: str, actor: str, object_uri: str, target_collection: str, *, to: list[str] | None = None) -> dict[str, Any]:
    """Pin: Add a status to the `featured` collection (AddSerializer; Mastodon re-syncs the collection)."""
    return activity("Add", id=id, actor=actor, object=object_uri, to=to, extra={"target": target_collection})


def remove(
    id: str, actor: str, object_uri: str, target_collection: str, *, to: list[str] | None = None
) -> dict[str, Any]:
    """Unpin (RemoveSerializer)."""
    return activity("Remove", id=id, actor=actor, object=object_uri, to=to, extra={"target": target_collection})
