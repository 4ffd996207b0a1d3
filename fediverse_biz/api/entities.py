"""Mastodon API entities, serialized in one place (schemas/mastodon/ describes them).

Formats clients break without (https://docs.joinmastodon.org/api/datetime-format/ and
https://docs.joinmastodon.org/api/guidelines/): ids are strings, datetimes are
`YYYY-MM-DDThh:mm:ss.sssZ`, avatar/header are never null, `acct` is `username` for local
accounts and `username@domain` for remote ones. Counters and viewer flags are loaded in batches
(one query for all of a page's), never per status.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from fediverse_biz.api import _offer_entity
from fediverse_biz.api._poll_entity import poll_entity
from fediverse_biz.core import polls
from fediverse_biz.core.hydrate import ACCOUNT_STATS, StatusBundle, account_stats, load_actors
from fediverse_biz.db.executor import Executor
from fediverse_biz.services import AccountEntityCache
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import LocalUrls

Row = Mapping[str, Any]


_ZERO = timedelta(0)
# users.role's default (core.accounts.USER_ROLES): what CredentialAccount.role names for an account that
# holds no staff role on this server, an organization's included.
DEFAULT_ROLE = "member"


def iso(value: datetime | None) -> str | None:
    return None if value is None else _iso(value)


def _iso(value: datetime) -> str:
    # asyncpg hands out timestamptz in datetime.UTC itself: the identity test spares the utcoffset() call.
    if value.tzinfo is not UTC and value.utcoffset() != _ZERO:
        value = value.astimezone(UTC)
    # Date and time formatted apart, by C code, truncated to milliseconds as Mastodon shows them:
    # 0.65 µs, where isoformat(timespec="milliseconds") on the aware datetime took 1.1 µs (it formats the
    # offset we then cut off) and strftime 1.4 µs; a page formats about 50 of them.
    return f"{value.date().isoformat()}T{value.time().isoformat('milliseconds')}Z"


def _day_iso(value: datetime) -> str:
    """iso() of the day `value` falls on, at midnight: Mastodon shows accounts' created_at so."""
    if value.tzinfo is UTC:  # the usual case, without building the truncated datetime (0.25 µs, not 1 µs)
        return f"{value.date().isoformat()}T00:00:00.000Z"
    return _iso(value.replace(hour=0, minute=0, second=0, microsecond=0))


def acct(actor: Row) -> str:
    return actor["username"] if actor["domain"] is None else f"{actor['username']}@{actor['domain']}"




def account_entity(actor: Row, stats: Row | None, urls: LocalUrls) -> dict[str, Any]:
    # Each column is read once into a local: a Record lookup is a dict probe plus an index.
    username, domain, actor_type = actor["username"], actor["domain"], actor["actor_type"]
    indexable, fields = actor["indexable"], actor["fields"]
    avatar = actor["avatar_url"] or urls.static("default-avatar.png")
    header = actor["header_url"] or urls.static("default-header.png")
    if stats:
        followers, following = int(stats["followers_count"]), int(stats["following_count"])
        count, last = int(stats["statuses_count"]), stats["last_status_at"]
    else:
        followers = following = count = 0
        last = None
    return {
        "id": str(actor["id"]),
        "username": username,
        "acct": username if domain is None else f"{username}@{domain}",
        "display_name": actor["display_name"] or "",
        "locked": actor["locked"],
        "bot": actor["bot"] or actor_type in ("Service", "Application"),
        "discoverable": actor["discoverable"],
        "indexable": indexable,
        "group": actor_type == "Group",
        "created_at": _day_iso(actor["created_at"]),
        "note": actor["note"] or "",
        "url": actor["url"] or actor["uri"],
        "uri": actor["uri"],
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": followers,
        "following_count": following,
        "statuses_count": count,
        "last_status_at": last.date().isoformat() if last else None,
        "hide_collections": False,
        "noindex": not indexable,
        "emojis": [],
        "roles": [],
        "memorial": False,
        "fields": [
            {"name": f.get("name", ""), "value": f.get("value", ""), "verified_at": f.get("verified_at")}
            for f in fields
        ]
        if fields
        else [],
        # An extension other clients ignore: what kind of actor this is (Person, Organization, Group…).
        "fediverse_biz": {"actor_type": actor_type},
    }


class AccountEntities:
    """Account entities already built by this process, for statuses(): a timeline page shows ~40 authors,
    and building their entities was a seventh of the page's CPU (docs/benchmarks.md). An entry is keyed
    by everything the entity is made of: the actor row's version (`row_version`, its xmin, from
    hydrate.load_actors) and the counters, so an edited profile or a new follower is a new key and a stale
    entity is never served. Entities are shared and must not be edited (statuses() says the same)."""

    def __init__(self, max_entries: int = 2048) -> None:
        self._max_entries = max_entries
        self._entities: dict[tuple[Any, ...], dict[str, Any]] = {}

    @staticmethod
    def key(actor: Row, stats: Row | None) -> tuple[Any, ...] | None:
        """The entry for an actor row (or any row with its `id` and `row_version`) and its counters; None
        for a row that carries no version (not from hydrate.load_actors)."""
        try:
            version = actor["row_version"]
        except KeyError:
            return None
        if stats is None:
            return (actor["id"], version)
        return (actor["id"], version, stats["followers_count"], stats["following_count"], stats["statuses_count"],
                stats["last_status_at"])

    def cached(self, actor: Row, stats: Row | None) -> dict[str, Any] | None:
        """The entity if there is one for this version of the actor and its counters; else None. Takes any
        row with the actor's `id` and `row_version`."""
        key = self.key(actor, stats)
        return None if key is None else self._entities.get(key)

    def get(self, actor: Row, stats: Row | None, urls: LocalUrls) -> dict[str, Any]:
        key = self.key(actor, stats)
        if key is None:
            return account_entity(actor, stats, urls)
        entity = self._entities.get(key)
        if entity is None:
            if len(self._entities) >= self._max_entries:
                self._entities.clear()  # a cold page now and then, instead of an LRU's cost on every hit
            entity = self._entities[key] = account_entity(actor, stats, urls)
        return entity


async def accounts(conn: Executor, actors: Sequence[Row], urls: LocalUrls) -> list[dict[str, Any]]:
    stats = await account_stats(conn, [a["id"] for a in actors])
    return [account_entity(a, stats.get(a["id"]), urls) for a in actors]


async def account(conn: Executor, actor: Row, urls: LocalUrls) -> dict[str, Any]:
    return (await accounts(conn, [actor], urls))[0]


async def credential_account(conn: Executor, actor: Row, urls: LocalUrls, user: Row | None) -> dict[str, Any]:
    entity = await account(conn, actor, urls)
    pending = await conn.fetchval("SELECT count(*) FROM follow_requests WHERE target_actor_id = $1", actor["id"])
    entity["source"] = {
        "privacy": "public",
        "sensitive": False,
        "language": user["locale"] if user else None,
        "note": actor["note_source"] or html_to_text(actor["note"] or ""),
        "fields": [
            {
                "name": f.get("name", ""),
                "value": f.get("source", f.get("value", "")),
                "verified_at": f.get("verified_at"),
            }
            for f in (actor["fields"] or [])
        ],
        "follow_requests_count": int(pending),
        "hide_collections": False,
        "discoverable": actor["discoverable"],
        "indexable": actor["indexable"],
    }
    # The user's instance role (admin, moderator) belongs to their own account: a token acting as an
    # organization shows the organization's, which has none beyond the default every member has.
    own_account = user is not None and user["actor_id"] == actor["id"]
    entity["role"] = {
        "id": "0",
        "name": (user["role"] if user is not None and own_account else DEFAULT_ROLE) or "",
        "color": "",
        "permissions": "0",
        "highlighted": False,
    }
    return entity


def media_entity(media: Row, urls: LocalUrls) -> dict[str, Any]:
    url = urls.media(media["file_path"]) if media["file_path"] else media["remote_url"]
    preview = urls.media(media["preview_path"]) if media["preview_path"] else (media["preview_remote_url"] or url)
    return {
        "id": str(media["id"]),
        "type": media["media_type"],
        "url": url,
        "preview_url": preview,
        "remote_url": media["remote_url"],
        "preview_remote_url": media["preview_remote_url"],
        "text_url": None,
        "meta": media["meta"] or {},
        "description": media["description"] or None,
        "blurhash": media["blurhash"],
    }


def card_entity(card: Row, urls: LocalUrls) -> dict[str, Any]:
    """PreviewCard (https://docs.joinmastodon.org/entities/PreviewCard/) from a preview_cards row.

    Unknown texts and URLs are empty strings, as Mastodon sends them; `html` is empty unless it is an
    iframe of an allowed player (core/card_embeds.py)."""
    image_path, author_name, author_url = card["image_path"], card["author_name"], card["author_url"]
    return {
        "url": card["url"],
        "title": card["title"],
        "description": card["description"],
        "language": None,
        "type": card["card_type"],
        "author_name": author_name,
        "author_url": author_url,
        "authors": [{"name": author_name, "url": author_url, "account": None}] if author_name or author_url else [],
        "provider_name": card["provider_name"],
        "provider_url": card["provider_url"],
        "html": card["html"],
        "width": card["width"],
        "height": card["height"],
        "image": urls.media(image_path) if image_path else None,
        "image_description": "",
        "embed_url": card["embed_url"],
        "blurhash": card["blurhash"],
        "published_at": None,
    }


# What a page of statuses needs besides its bundles, in one round trip: the authors' versions and counters
# ($1 authors), the apps local statuses were posted with ($2 apps) and the viewer's flags ($3 viewer,
# $4 statuses). One row per fact, its kind first, in the columns of FACT_COLUMNS, NULL where that kind has
# no value. As three queries they cost ~60 µs more CPU a page, ~30 µs per round trip. api/status_page.py
# adds the statuses' parts to the same query, in the same columns.
FACT_COLUMNS = {
    "id": "bigint", "row_version": "xid", "followers_count": "bigint", "following_count": "bigint",
    "statuses_count": "bigint", "last_status_at": "timestamptz", "status_id": "bigint", "name": "text",
    "website": "text", "username": "text", "domain": "text", "url": "text", "uri": "text", "card": "jsonb",
    "choices": "int[]",
}


def fact_select(kind: str, source: str, **values: str) -> str:
    """One branch of a facts query: `values` fill their columns, typed NULLs the others (a bare NULL in an
    early branch of a UNION would be resolved as text before a later branch's bigint is seen)."""
    columns = ", ".join(f"{values.get(name, f'NULL::{sql_type}')} AS {name}" for name, sql_type in FACT_COLUMNS.items())
    return f"SELECT '{kind}' AS kind, {columns} {source}"


def _flag(kind: str, source: str, column: str) -> str:
    return fact_select(kind, f"FROM {source} WHERE actor_id = $3 AND {column} = ANY($4::bigint[])", id=column)


PAGE_FACTS = "\nUNION ALL\n".join([
    fact_select("stats", "FROM actors a LEFT JOIN actor_stats st ON st.actor_id = a.id WHERE a.id = ANY($1::bigint[])",
                id="a.id", row_version="a.xmin", **ACCOUNT_STATS),
    fact_select("app", "FROM oauth_apps WHERE id = ANY($2::bigint[])", id="id", name="name", website="website"),
    _flag("favourited", "favourites", "status_id"),
    _flag("reblogged", "statuses", "reblog_of_id"),
    _flag("bookmarked", "bookmarks", "status_id"),
    _flag("pinned", "pinned_statuses", "status_id"),
    # Link preview cards (core/cards.py) of the page's statuses, whoever views them.
    fact_select("card", "FROM status_preview_cards sc JOIN preview_cards c ON c.id = sc.card_id "
                "WHERE sc.status_id = ANY($4::bigint[])", status_id="sc.status_id", card="to_jsonb(c)"),
    # The viewer's votes on the page's polls (Poll.voted, Poll.own_votes).
    fact_select("voted", "FROM poll_votes WHERE actor_id = $3 AND status_id = ANY($4::bigint[]) GROUP BY status_id",
                id="status_id", choices="array_agg(choice::int ORDER BY choice)"),
])


@dataclass
class PageFacts:
    stats: dict[int, asyncpg.Record] = field(default_factory=dict)  # by author id
    apps: dict[int, asyncpg.Record] = field(default_factory=dict)  # by id
    favourited: set[int] = field(default_factory=set)  # status ids, for the viewer
    reblogged: set[int] = field(default_factory=set)
    bookmarked: set[int] = field(default_factory=set)
    pinned: set[int] = field(default_factory=set)
    cards: dict[int, dict[str, Any]] = field(default_factory=dict)  # preview_cards rows, by status id
    voted: dict[int, list[int]] = field(default_factory=dict)  # status id -> the viewer's choices

    def add(self, row: asyncpg.Record) -> bool:
        """Take a PAGE_FACTS row; False for a kind that is not a fact (a part, in status_page)."""
        kind = row["kind"]
        if kind == "stats":
            self.stats[row["id"]] = row
        elif kind == "app":
            self.apps[row["id"]] = row
        elif kind in _FLAGS:
            getattr(self, kind).add(row["id"])
        elif kind == "card":
            self.cards[row["status_id"]] = row["card"]
        elif kind == "voted":
            self.voted[row["id"]] = row["choices"]
        else:
            return False
        return True


_FLAGS = frozenset({"favourited", "reblogged", "bookmarked", "pinned"})


async def _page_facts(conn: Executor, everything: Sequence[StatusBundle], viewer_id: int | None) -> PageFacts:
    rows = await conn.fetch(PAGE_FACTS, *fact_arguments([b.status for b in everything], viewer_id))
    facts = PageFacts()
    for r in rows:
        facts.add(r)
    return facts


def fact_arguments(
    statuses: Collection[Row], viewer_id: int | None
) -> tuple[list[int], list[int], int | None, list[int]]:
    """$1 to $4 of PAGE_FACTS for the statuses rows of a page (boosted originals included)."""
    return (
        list({s["actor_id"] for s in statuses}),
        [s["application_id"] for s in statuses if s["application_id"]],
        viewer_id,  # None: no flags, as `actor_id = NULL` holds for no row
        [s["id"] for s in statuses],
    )


async def statuses(
    conn: Executor,
    bundles: Sequence[StatusBundle],
    urls: LocalUrls,
    viewer_id: int | None,
    *,
    with_source: bool = False,
) -> list[dict[str, Any]]:
    """Status entities for whole bundles, in the given order (one query for the page's facts, then
    assemble()). Pages of the client API go through api/status_page.py instead."""
    everything = [*bundles, *(b.reblog for b in bundles if b.reblog is not None)]
    if not everything:
        return []
    facts = await _page_facts(conn, everything, viewer_id)
    return assemble(bundles, facts, urls, viewer_id, with_source=with_source)


def assemble(
    bundles: Sequence[StatusBundle],
    facts: PageFacts,
    urls: LocalUrls,
    viewer_id: int | None,
    *,
    with_source: bool = False,
    known_accounts: AccountEntityCache | None = None,
    accounts: dict[int, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Status entities for bundles whose page facts are known.

    Built for speed (a page of 40 is most of a timeline request's CPU): columns are read once into
    locals, empty lists skip their comprehension, and each author's account entity is built once per
    call and shared by all of its statuses in the page (an account timeline or a thread is one author
    over and over). Entities are therefore read-only once returned: callers serialize them, never edit.
    `accounts` holds account entities already found, by id: a bundle whose author is there may carry any
    row with the author's `id` (status_page passes the facts row, without the profile's columns).
    """
    stats, apps = facts.stats, facts.apps
    tag_url = urls.tag
    account_entities: dict[int, dict[str, Any]] = accounts if accounts is not None else {}

    def account_of(author: Row) -> dict[str, Any]:
        author_id = author["id"]
        entity = account_entities.get(author_id)
        if entity is None:
            entity = account_entities[author_id] = (
                known_accounts.get(author, stats.get(author_id), urls)
                if known_accounts is not None
                else account_entity(author, stats.get(author_id), urls)
            )
        return entity

    def one(b: StatusBundle) -> dict[str, Any]:
        s = b.status
        status_id, uri, app_id = s["id"], s["uri"], s["application_id"]
        edited, reply_to, reply_to_actor = s["edited_at"], s["in_reply_to_id"], s["in_reply_to_actor_id"]
        author, media, mentions, tags = b.author, b.media, b.mentions, b.tags
        app = apps.get(app_id) if app_id else None
        entity: dict[str, Any] = {
            "id": str(status_id),
            "uri": uri,
            "url": s["url"] or uri,
            "created_at": iso(s["published_at"]),
            "edited_at": _iso(edited) if edited is not None else None,
            "account": account_of(author),
            "content": s["content"] or "",
            "text": s["source_text"] if with_source else None,
            "visibility": s["visibility"],
            "sensitive": s["sensitive"],
            "spoiler_text": s["spoiler_text"] or "",
            "media_attachments": [media_entity(m, urls) for m in media] if media else [],
            "application": {"name": app["name"], "website": app["website"]} if app and s["local"] else None,
            "mentions": [
                {"id": str(m["id"]), "username": m["username"], "url": m["url"] or m["uri"], "acct": acct(m)}
                for m in mentions
            ]
            if mentions
            else [],
            "tags": [{"name": t, "url": tag_url(t)} for t in tags] if tags else [],
            "emojis": [],
            "reblogs_count": s["reblogs_count"],
            "favourites_count": s["favourites_count"],
            "replies_count": s["replies_count"],
            "in_reply_to_id": str(reply_to) if reply_to else None,
            "in_reply_to_account_id": str(reply_to_actor) if reply_to_actor else None,
            "reblog": None,
            "poll": None,
            "card": card_entity(facts.cards[status_id], urls) if status_id in facts.cards else None,
            "language": s["language"],
            "filtered": [],
        }
        if viewer_id is not None:
            entity["favourited"] = status_id in facts.favourited
            entity["reblogged"] = status_id in facts.reblogged
            entity["muted"] = False
            entity["bookmarked"] = status_id in facts.bookmarked
            if author["id"] == viewer_id:
                entity["pinned"] = status_id in facts.pinned
        extra = s["extra"]
        if type(extra) is dict and "poll" in extra:  # most statuses have none: one lookup, no call
            poll = polls.poll_of(s)
            if poll is not None:
                entity["poll"] = poll_entity(status_id, author["id"], poll, viewer_id, facts.voted.get(status_id))
        extension = _extension(s)
        if extension:
            entity["fediverse_biz"] = extension
        return entity

    result = []
    for b in bundles:
        entity = one(b)
        if b.reblog is not None:
            entity["reblog"] = one(b.reblog)
            entity["content"] = ""
        result.append(entity)
    return result


def _extension(s: Row) -> dict[str, Any] | None:
    """Status.fediverse_biz: title, offer and approval state, for the statuses that have any."""
    title, extra, state = s["title"], s["extra"], s["approval_state"]
    extension: dict[str, Any] = {"title": title} if title else {}
    # A job offer or opportunity. Most statuses hold none: a dict without the key is answered
    # here, without the call and its Mapping check.
    if type(extra) is not dict or "offer" in extra:
        offer = _offer_entity.extension(extra, s["id"])
        if offer is not None:
            extension["offer"] = offer
    if state != "published":
        extension["approval_state"] = state
    return extension or None


async def accounts_by_id(conn: Executor, ids: Sequence[int], urls: LocalUrls) -> list[dict[str, Any]]:
    actors = await load_actors(conn, ids)
    return await accounts(conn, [actors[i] for i in ids if i in actors], urls)
