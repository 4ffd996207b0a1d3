"""Statuses as ActivityStreams objects: render ours (`status_to_ap`, `announce_to_ap`) and read
theirs (`note_from_ap`). Pure: no I/O, no database; rows are read through `Mapping` access.

Rendering follows Mastodon's ActivityPub::NoteSerializer and ActivityPub::TagManager#to/#cc;
reading follows ActivityPub::Activity::Create and ActivityPub::Parser::StatusParser /
MediaAttachmentParser, with the shapes GoToSocial, Pleroma, Misskey and Lemmy send.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any, Protocol
from urllib.parse import urlsplit

from fediverse_biz.activitypub import offers, polls
from fediverse_biz.activitypub.activities import (
    announce,
    as_list,
    format_datetime,
    http_uri,
    object_id,
    parse_datetime,
    types,
    url_to_href,
)
from fediverse_biz.activitypub.context import PUBLIC
from fediverse_biz.text.sanitize import sanitize_plain, sanitize_remote_html
from fediverse_biz.urls import LocalUrls

__all__ = [
    "PUBLIC",
    "SELF_REPLIES_IN_NOTE",
    "NoteSource",
    "ParsedNote",
    "addressing",
    "announce_to_ap",
    "note_from_ap",
    "replies_collection",
    "replies_page_uri",
    "replies_uri",
    "status_to_ap",
]

# Caps on what one remote object may make us store. Mastodon keeps every tag; a 1 MB payload can
# carry ~20k of them, and each becomes a row and a lookup, so we keep the first ones only.
MAX_MENTIONS = 100
MAX_HASHTAGS = 100
MAX_ATTACHMENTS = 16  # MediaAttachment::ACTIVITYPUB_STATUS_ATTACHMENT_MAX
MAX_DESCRIPTION = 1500  # MediaAttachment::MAX_DESCRIPTION_LENGTH
MAX_HASHTAG_LENGTH = 100
MAX_POLL_OPTIONS = 20
MAX_TITLE = 1000
MAX_SPOILER = 1000
NOTE_TYPES = ("Note", "Question", "Article", "Page")  # Create::SUPPORTED_TYPES + storable converted types
_TITLED_TYPES = frozenset({"Article", "Page"})
# TagManager#public_collection?: the full IRI and the two compact forms some servers send.
_PUBLIC_FORMS = frozenset({PUBLIC, "as:Public", "Public"})
_ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Organization"})
_MEDIA_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}", re.IGNORECASE)
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8}){0,4}", re.IGNORECASE)
_HASHTAG_RE = re.compile(r"[\w\u00b7\u30fb\u200c]+")  # Tag::HASHTAG_NAME_RE's characters
_BLURHASH_RE = re.compile(r"[0-9A-Za-z#$%*+,\-.:;=?@\[\]^_{|}~]+")  # base83
SELF_REPLIES_IN_NOTE = 5  # NoteSerializer#replies: `object.self_replies(5)`
_B83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


class NoteSource(Protocol):
    """What rendering needs: core.hydrate.StatusBundle fits, and so do plain dicts in tests."""

    @property
    def status(self) -> Mapping[str, Any]: ...
    @property
    def author(self) -> Mapping[str, Any]: ...
    @property
    def mentions(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def media(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def reblog(self) -> NoteSource | None: ...


# ---- rendering --------------------------------------------------------------------------------
def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _followers_of(actor: Mapping[str, Any]) -> str:
    return str(actor["followers_url"] or f"{actor['uri']}/followers")


def addressing(bundle: NoteSource, followers_url: str) -> tuple[list[str], list[str]]:
    """(to, cc) by TagManager#to/#cc: a mentioned Group also gets its followers collection, so a
    post that mentions a community reaches the community's members."""
    mentioned: list[str] = []
    for actor in bundle.mentions:
        mentioned.append(str(actor["uri"]))
        if actor["actor_type"] == "Group" and actor["followers_url"]:
            mentioned.append(str(actor["followers_url"]))
    visibility = bundle.status["visibility"]
    if visibility == "public":
        return [PUBLIC], _unique([followers_url, *mentioned])
    if visibility == "unlisted":
        return [followers_url], _unique([PUBLIC, *mentioned])
    if visibility == "private":
        return [followers_url], _unique(mentioned)
    if visibility == "direct":
        return _unique(mentioned), []
    raise ValueError(f"unknown visibility {visibility!r}")


def _acct_host(actor: Mapping[str, Any], urls: LocalUrls) -> str:
    return str(actor["domain"] or urlsplit(urls.base).netloc)


def _tags(bundle: NoteSource, urls: LocalUrls) -> list[dict[str, Any]]:
    # NoteSerializer#virtual_tags: mentions first, then hashtags. Unlike Mastodon ("@user" for local
    # accounts) we always send the full "@user@host", which every peer understands.
    tags: list[dict[str, Any]] = [
        {"type": "Mention", "href": m["uri"], "name": f"@{m['username']}@{_acct_host(m, urls)}"}
        for m in bundle.mentions
    ]
    tags += [{"type": "Hashtag", "href": urls.tag(name), "name": f"#{name}"} for name in bundle.tags]
    return tags


def _attachment(media: Mapping[str, Any], urls: LocalUrls) -> dict[str, Any] | None:
    # NoteSerializer::MediaAttachmentSerializer: Document, mediaType, absolute url, name, blurhash,
    # focalPoint [x, y], width/height of the original.
    url = urls.media(media["file_path"]) if media["file_path"] else media["remote_url"]
    if not url:
        return None
    meta = media["meta"] if isinstance(media["meta"], Mapping) else {}
    doc: dict[str, Any] = {
        "type": "Document",
        "mediaType": media["content_type"],
        "url": url,
        "name": media["description"] or None,
        "blurhash": media["blurhash"],
    }
    focus = meta.get("focus")
    if isinstance(focus, Mapping) and "x" in focus and "y" in focus:
        doc["focalPoint"] = [focus["x"], focus["y"]]
    original = meta.get("original")
    if isinstance(original, Mapping):
        for key in ("width", "height"):
            if original.get(key):
                doc[key] = original[key]
    return doc


# Keys an extension may not replace: they carry identity and audience.
_PROTECTED = frozenset({"id", "type", "attributedTo", "to", "cc"})


def status_to_ap(
    bundle: NoteSource,
    urls: LocalUrls,
    *,
    extra_properties: Mapping[str, Any] | None = None,
    self_replies: Sequence[tuple[int, str]] | None = None,
) -> dict[str, Any]:
    """Our status as a Note (or an Article with `name`), without `@context` (callers wrap it).

    `self_replies`: (id, uri) of the author's first public or unlisted replies to it, oldest first (at
    most SELF_REPLIES_IN_NOTE; federation/replies.py reads them). Given, a local status carries its
    `replies` collection (replies_collection); a caller that did not read them leaves it out rather than
    send a first page that would skip the author's replies.

    `extra_properties` is the extension hook: business data from status["extra"] (e.g. schema.org
    JobPosting terms) is rendered by its owner and merged in here, after the core keys. It may add
    or replace properties but not `id`, `type`, `attributedTo`, `to` or `cc` (ValueError).
    """
    status, author = bundle.status, bundle.author
    if bundle.reblog is not None:
        raise ValueError("a boost renders as an Announce (announce_to_ap), not as a Note")
    extra = status.get("extra")  # a local status's poll makes it a Question (activitypub/polls.py)
    poll = extra.get("poll") if isinstance(extra, Mapping) and status.get("local") else None
    kind = "Article" if status["object_type"] == "Article" else "Question" if isinstance(poll, Mapping) else "Note"
    to, cc = list(status["ap_to"] or []), list(status["ap_cc"] or [])
    if not to and not cc:
        to, cc = addressing(bundle, _followers_of(author))
    # FEP-1b12, Lemmy: a post to a group names the group in `audience` and in `cc`, even a
    # reply that does not mention it (federation/group_relay.py assign_community sets extra["audience"]).
    audience = _audience(status)
    if audience and audience not in to and audience not in cc:
        cc = [*cc, audience]
    url = status["url"] or (urls.status_page(author["username"], status["id"]) if status["local"] else status["uri"])
    doc: dict[str, Any] = {"id": status["uri"], "type": kind}
    if kind == "Article":
        doc["name"] = status["title"] or ""
    doc |= {
        "summary": status["spoiler_text"] or None,  # NoteSerializer#summary: spoiler_text.presence
        "inReplyTo": status["in_reply_to_uri"] or None,
        "published": format_datetime(status["published_at"]),
        "url": url,
        "attributedTo": author["uri"],
        "to": to,
        "cc": cc,
        "sensitive": bool(status["sensitive"]),
    }
    if audience:
        doc["audience"] = audience
    conversation = status["conversation_uri"]
    if conversation:
        # Mastodon sends both: ostatus `conversation` (any URI) and `context` (only http(s) ones).
        doc["conversation"] = conversation
        if conversation.startswith(("https://", "http://")):
            doc["context"] = conversation
    doc["content"] = status["content"]
    if status["language"]:
        doc["contentMap"] = {status["language"]: status["content"]}
    if status["edited_at"]:
        # To the microsecond: receivers keep the newer of two Updates by `updated` (Mastodon's
        # already_updated_more_recently?), and two edits can fall within one second.
        doc["updated"] = format_datetime(status["edited_at"], precise=True)
    doc["attachment"] = [a for a in (_attachment(m, urls) for m in bundle.media) if a is not None]
    doc["tag"] = _tags(bundle, urls)
    if kind == "Question" and isinstance(poll, Mapping):
        doc.update(polls.question_properties(poll))
    if self_replies is not None and status["local"]:
        doc["replies"] = replies_collection(status["uri"], self_replies)
    if extra_properties is None:
        # A job offer or opportunity (statuses.extra["offer"]) carries its structure on
        # every rendering — deliveries, fetches of the object, outbox pages (activitypub/offers.py).
        extra_properties = offers.status_properties(bundle)
    if extra_properties:
        clash = _PROTECTED & extra_properties.keys()
        if clash:
            raise ValueError(f"extra_properties may not replace {sorted(clash)}")
        doc.update(extra_properties)
    return doc


def replies_uri(status_uri: str) -> str:
    """The `replies` collection of one of our statuses (Mastodon's TagManager#replies_uri_for)."""
    return f"{status_uri}/replies"


def replies_page_uri(status_uri: str, *, min_id: int | None = None, only_other_accounts: bool = False) -> str:
    """A page of it: the author's own replies after `min_id`, or everyone else's (Mastodon's two kinds
    of page, app/controllers/activitypub/replies_controller.rb)."""
    query = "page=true"
    if min_id is not None:
        query += f"&min_id={min_id}"
    if only_other_accounts:
        query += "&only_other_accounts=true"
    return f"{replies_uri(status_uri)}?{query}"


def replies_collection(status_uri: str, self_replies: Sequence[tuple[int, str]]) -> dict[str, Any]:
    """A Note's `replies` as Mastodon's NoteSerializer#replies writes it: a `Collection` whose first page
    is inline and holds the author's own first replies (a thread's continuation, which Mastodon fetches
    with the post), and whose `next` goes on with the author's replies, or to the other accounts'."""
    collection = replies_uri(status_uri)
    last_id = self_replies[-1][0] if self_replies else None
    if last_id is not None:
        following = replies_page_uri(status_uri, min_id=last_id)
    else:
        following = replies_page_uri(status_uri, only_other_accounts=True)
    return {
        "id": collection,
        "type": "Collection",
        "first": {
            "type": "CollectionPage",
            "next": following,
            "partOf": collection,
            "items": [reply_uri for _, reply_uri in self_replies],
        },
    }


def _audience(status: Mapping[str, Any]) -> str | None:
    """The group a status was posted to (FEP-1b12 `audience`), kept in extra["audience"]."""
    try:
        extra = status["extra"]
    except (KeyError, IndexError):
        return None
    value = extra.get("audience") if isinstance(extra, Mapping) else None
    return http_uri(value)


def announce_to_ap(bundle: NoteSource, urls: LocalUrls) -> dict[str, Any]:
    """A boost as an Announce document (with @context). Its id is the boost's stored uri
    ("<actor>/statuses/<id>/activity"); TagManager#cc puts the original author first."""
    original = bundle.reblog
    if original is None:
        raise ValueError("not a boost")
    status, author = bundle.status, bundle.author
    followers, original_author = _followers_of(author), str(original.author["uri"])
    visibility = status["visibility"]
    if visibility == "public":
        to, cc = [PUBLIC], [original_author, followers]
    elif visibility == "unlisted":
        to, cc = [followers], [original_author, PUBLIC]
    elif visibility == "private":
        to, cc = [followers], [original_author]
    else:
        raise ValueError(f"a boost cannot have visibility {visibility!r}")
    return announce(
        status["uri"], author["uri"], original.status["uri"], to=to, cc=cc, published=status["published_at"]
    )


# ---- reading ----------------------------------------------------------------------------------
@dataclass
class ParsedNote:
    uri: str
    type: str
    attributed_to: str
    content: str  # sanitised HTML
    spoiler_text: str
    sensitive: bool
    language: str | None
    published: datetime | None  # aware; None when absent or unparseable (callers use "now")
    updated: datetime | None
    url: str | None
    in_reply_to: str | None
    conversation: str | None
    to: list[str]
    cc: list[str]
    visibility: str  # public | unlisted | private | direct
    mentions: list[str] = field(default_factory=list)  # actor uris (Mention hrefs)
    hashtags: list[str] = field(default_factory=list)  # names without '#', first spelling kept
    attachments: list[dict[str, Any]] = field(default_factory=list)
    title: str | None = None  # Article/Page `name`
    quote_uri: str | None = None
    poll: dict[str, Any] | None = None  # Question only
    # Extension hook: the object as received, for extension parsers of properties this module does not
    # read (activitypub/offers.py: JobPosting, FEP-0837). Read-only; never stored as is.
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _first_text(obj: Mapping[str, Any], key: str) -> tuple[str | None, str | None]:
    """`key` if a non-empty string, else the first value of `keyMap`: (text, language or None)."""
    value = obj.get(key)
    if isinstance(value, str) and value:
        return value, None
    language_map = obj.get(f"{key}Map")
    if isinstance(language_map, Mapping):
        for language, text in language_map.items():
            if isinstance(text, str) and text:
                return text, language
    return None, None


def _attributed_to(value: Any) -> str | None:
    # A string, an object, or an array (PeerTube: [{type: Person}, {type: Group}]): the first actor
    # that is not the group, else the first entry.
    entries = as_list(value)
    preferred = [e for e in entries if types(e) & _ACTOR_TYPES]
    for entry in preferred + [e for e in entries if isinstance(e, str)] + entries:
        uri = http_uri(object_id(entry))
        if uri:
            return uri
    return None


def _plain_text_html(text: str) -> str:
    # Misskey's MFM source, shown as plain text: blank lines split paragraphs, newlines become <br>.
    paragraphs = re.split(r"\n{2,}", text.replace("\r\n", "\n").strip())
    return "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs if p)


def _blurhash(value: Any) -> str | None:
    # MediaAttachmentParser#supported_blurhash?: base83, length matching its header, <= 5 components.
    if not isinstance(value, str) or len(value) < 6 or not _BLURHASH_RE.fullmatch(value):
        return None
    size = _B83.index(value[0])
    x, y = size % 9 + 1, size // 9 + 1
    return value if x <= 5 and y <= 5 and len(value) == 4 + 2 * x * y else None


def _dimension(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 100_000 else None


def _focus(value: Any) -> dict[str, float] | None:
    items = as_list(value)
    if len(items) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        return None
    x, y = (max(-1.0, min(1.0, float(v))) for v in items)
    return {"x": x, "y": y}


def _media_kind(media_type: str | None, kinds: set[str]) -> str:
    major = (media_type or "").split("/", 1)[0].lower()
    if major in ("image", "video", "audio"):
        return major
    for kind in ("Image", "Video", "Audio"):
        if kind in kinds:
            return kind.lower()
    return "unknown"


def _attachments(value: Any) -> tuple[list[dict[str, Any]], bool]:
    """Media from `attachment` (Create#process_attachments): entries without an http(s) `url` are
    skipped (a `javascript:` url, a Lemmy `Link` with only `href`). Also whether any is sensitive
    (Misskey marks attachments, not notes)."""
    found: list[dict[str, Any]] = []
    sensitive = False
    for item in as_list(value):
        if len(found) >= MAX_ATTACHMENTS:
            break
        if not isinstance(item, Mapping):
            continue
        href, link_type = url_to_href(item.get("url"))
        url = http_uri(href)
        if url is None:
            continue
        media_type = item.get("mediaType") if isinstance(item.get("mediaType"), str) else link_type
        media_type = media_type if media_type and _MEDIA_TYPE_RE.fullmatch(media_type) else None
        description, _ = _first_text(item, "summary")
        if not description:
            description, _ = _first_text(item, "name")
        found.append(
            {
                "url": url,
                "media_type": media_type,
                "type": _media_kind(media_type, types(item)),
                "description": (description or "").strip()[:MAX_DESCRIPTION] or None,
                "blurhash": _blurhash(item.get("blurhash")),
                "width": _dimension(item.get("width")),
                "height": _dimension(item.get("height")),
                "focus": _focus(item.get("focalPoint")),
            }
        )
        sensitive = sensitive or item.get("sensitive") is True
    return found, sensitive


def _tags_of(value: Any) -> tuple[list[str], list[str]]:
    """(Mention hrefs, Hashtag names) from `tag`, deduplicated and capped (Create#process_tags)."""
    mentions: dict[str, None] = {}
    hashtags: dict[str, str] = {}
    for tag in as_list(value):
        if len(mentions) >= MAX_MENTIONS and len(hashtags) >= MAX_HASHTAGS:
            break
        kinds = types(tag)
        if "Mention" in kinds and len(mentions) < MAX_MENTIONS:
            href = http_uri(tag.get("href"))
            if href:
                mentions[href] = None
        elif "Hashtag" in kinds and len(hashtags) < MAX_HASHTAGS:
            name = tag.get("name")
            name = name.removeprefix("#") if isinstance(name, str) else ""
            if (
                len(name) <= MAX_HASHTAG_LENGTH
                and _HASHTAG_RE.fullmatch(name)
                and any(c.isalpha() for c in name)  # Tag::HASHTAG_NAME_RE needs a letter
            ):
                hashtags.setdefault(name.lower(), name)
    return list(mentions), list(hashtags.values())


def _poll(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    # ActivityPub::Parser::PollParser: oneOf (single choice) or anyOf (multiple), each a Note with a
    # `name` and `replies.totalItems` votes; endTime (or `closed` when over); votersCount.
    multiple = bool(as_list(obj.get("anyOf")))
    options = []
    for option in as_list(obj.get("anyOf") if multiple else obj.get("oneOf"))[:MAX_POLL_OPTIONS]:
        if not isinstance(option, Mapping) or not isinstance(option.get("name"), str):
            continue
        replies = option.get("replies")
        votes = replies.get("totalItems") if isinstance(replies, Mapping) else None
        options.append({"title": sanitize_plain(option["name"], 200), "votes_count": _dimension(votes) or 0})
    if not options:
        return None
    closed = parse_datetime(obj.get("closed"))
    expires_at = parse_datetime(obj.get("endTime")) or closed
    voters = obj.get("votersCount")
    return {
        "multiple": multiple,
        "options": options,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "closed": closed is not None,
        "voters_count": voters if isinstance(voters, int) and not isinstance(voters, bool) and voters >= 0 else None,
        "hide_totals": False,  # not federated: a peer's Question shows what it sends
    }


def _visibility(to: list[str], cc: list[str], followers_url: str | None) -> str:
    # StatusParser#visibility ("limited" is not stored here: it becomes direct).
    if any(a in _PUBLIC_FORMS for a in to):
        return "public"
    if any(a in _PUBLIC_FORMS for a in cc):
        return "unlisted"
    if followers_url and (followers_url in to or followers_url in cc):
        return "private"
    return "direct"


def _language(obj: Mapping[str, Any], content_language: str | None) -> str | None:
    language = content_language
    content_map = obj.get("contentMap")
    if language is None and isinstance(content_map, Mapping) and len(content_map) == 1:
        language = next(iter(content_map))
    if language is None:  # Lemmy: "language": {"identifier": "fr", "name": "Français"}
        lemmy = obj.get("language")
        language = lemmy.get("identifier") if isinstance(lemmy, Mapping) else None
    if not isinstance(language, str) or language == "und" or not _LANGUAGE_RE.fullmatch(language):
        return None
    return language


def note_from_ap(obj: Mapping[str, Any], *, actor_followers_url: str | None) -> ParsedNote:
    """Read a remote Note/Question/Article/Page into plain values; ValueError says what is unusable.

    `actor_followers_url` is the author's followers collection, needed to tell followers-only
    posts from direct ones. Origin checks (id host vs. actor host) are the inbox's job.
    """
    if not isinstance(obj, Mapping):
        raise ValueError("object is not a JSON object")
    uri = http_uri(obj.get("id"))
    if uri is None:
        raise ValueError("object has no http(s) id")
    kind = next((t for t in NOTE_TYPES if t in types(obj)), None)
    if kind is None:
        raise ValueError(f"unsupported object type {obj.get('type')!r}")
    attributed_to = _attributed_to(obj.get("attributedTo"))
    if attributed_to is None:
        raise ValueError("object has no usable attributedTo")
    if obj.get("content") is not None and not isinstance(obj.get("content"), str):
        raise ValueError("content is not a string")

    # StatusParser#text: content, else the first contentMap value; Misskey's MFM source as a last resort.
    html, content_language = _first_text(obj, "content")
    if html is None and isinstance(obj.get("_misskey_content"), str):
        html = _plain_text_html(obj["_misskey_content"])
    content = sanitize_remote_html(html or "")
    title = None
    if kind in _TITLED_TYPES:
        name, _ = _first_text(obj, "name")
        title = sanitize_plain(name, MAX_TITLE) if name else None
        if title:  # Mastodon links the name; we keep it as a bold first paragraph and separately
            content = f"<p><strong>{escape(title, quote=False)}</strong></p>{content}"
    summary, _ = _first_text(obj, "summary")

    to = _unique([a for a in map(object_id, as_list(obj.get("to"))) if a])
    cc = _unique([a for a in map(object_id, as_list(obj.get("cc"))) if a])
    mentions, hashtags = _tags_of(obj.get("tag"))
    attachments, attachment_sensitive = _attachments(obj.get("attachment"))
    url = http_uri(url_to_href(obj.get("url"), "text/html")[0])
    if url and urlsplit(url).hostname != urlsplit(attributed_to).hostname:
        url = None  # Create#object_url: a permalink on another host is not trusted
    conversation = obj.get("conversation")
    if not isinstance(conversation, str) or not conversation:
        conversation = object_id(obj.get("context"))
    quote = (object_id(obj.get(k)) for k in ("quote", "quoteUri", "_misskey_quote", "quoteUrl"))
    return ParsedNote(
        uri=uri,
        type=kind,
        attributed_to=attributed_to,
        content=content,
        spoiler_text=sanitize_plain(summary, MAX_SPOILER) if summary else "",
        sensitive=obj.get("sensitive") is True or attachment_sensitive,
        language=_language(obj, content_language),
        published=parse_datetime(obj.get("published")),
        updated=parse_datetime(obj.get("updated")),
        url=url,
        in_reply_to=http_uri(object_id(obj.get("inReplyTo"))),
        conversation=conversation,
        to=to,
        cc=cc,
        visibility=_visibility(to, cc, actor_followers_url),
        mentions=mentions,
        hashtags=hashtags,
        attachments=attachments,
        title=title,
        quote_uri=next((q for q in map(http_uri, quote) if q), None),
        poll=_poll(obj) if kind == "Question" else None,
        raw=obj,
    )
