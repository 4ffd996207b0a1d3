"""Members with API tokens, and checked calls, for the in-process client-API tests.

    alice = await member(db, urls, "alice")                       # a user, its actor row and a token
    status = await checked(client.post("/api/v1/statuses", data={...}, headers=alice.headers), "status")

`checked` asserts the HTTP status and validates the body against schemas/mastodon/ (a list of
entities when the body is a list), so every response a test touches is checked.

    api.session, seen = validating_session()   # a Mastodon.py client whose every response is checked
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import requests

from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD, api_headers
from tests.support.mastodon_schemas import assert_matches

ALL_SCOPES = "read write follow push"


@dataclass(frozen=True)
class Member:
    user: accounts.NewUser
    actor: asyncpg.Record
    headers: dict[str, str]

    @property
    def id(self) -> int:
        return self.user.actor_id

    @property
    def account_id(self) -> str:
        return str(self.user.actor_id)


async def member(db: Database, urls: LocalUrls, username: str, scopes: str = ALL_SCOPES) -> Member:
    user = await accounts.create_user(db.pool, urls, username, f"{username}@example.com", PASSWORD)
    actor = await db.pool.fetchrow("SELECT * FROM actors WHERE id = $1", user.actor_id)
    return Member(user, actor, await api_headers(db.pool, user, scopes))


async def token(db: Database, who: Member, scopes: str) -> dict[str, str]:
    """Another token for the same member, with other scopes."""
    return await api_headers(db.pool, who.user, scopes)


async def checked(call: Awaitable[httpx.Response], entity: str, status: int = 200) -> Any:
    response = await call
    assert response.status_code == status, f"{response.status_code}: {response.text[:800]}"
    body = response.json()
    if isinstance(body, list) and entity != "marker":
        for item in body:
            assert_matches(entity, item)
    else:
        assert_matches(entity, body)
    return body


async def error(call: Awaitable[httpx.Response], status: int) -> str:
    """The Error entity's message of a response that must fail with `status`."""
    response = await call
    assert response.status_code == status, f"{response.status_code}: {response.text[:800]}"
    body = response.json()
    assert_matches("error", body)
    return str(body["error"])


async def count_statuses(db: Database) -> int:
    return int(await db.pool.fetchval("SELECT count(*) FROM statuses"))


# ---- Mastodon.py: validate what the real client receives -------------------------------------------
# (method, path) -> the entity (or list of entities) the body must be
_STATUS = r"/api/v1/statuses/\d+"
ENTITIES: list[tuple[str, str, str]] = [
    ("*", r"/api/v1/statuses", "status"),
    ("*", _STATUS, "status"),
    ("GET", _STATUS + "/context", "context"),
    ("GET", _STATUS + "/history", "status_edit"),
    ("GET", _STATUS + "/source", "status_source"),
    ("GET", _STATUS + "/(favourited|reblogged)_by", "account"),
    ("POST", _STATUS + "/[a-z]+", "status"),
    ("GET", r"/api/v1/(timelines/.+|bookmarks|favourites)", "status"),
    ("GET", r"/api/v1/notifications(/\d+)?", "notification"),
    ("*", r"/api/v1/markers", "marker"),
    ("GET", r"/api/v2/search", "search"),
    ("POST", r"/api/v2/media", "media_attachment"),
    ("POST", r"/api/v1/accounts/\d+/(un)?follow", "relationship"),
    ("GET", r"/api/v1/accounts/verify_credentials", "credential_account"),
]


def validating_session() -> tuple[requests.Session, list[str]]:
    """A requests session that validates every client-API response; returns it and the paths seen."""
    seen: list[str] = []

    def check(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        path = re.sub(r"\?.*$", "", response.url.split("://", 1)[1].split("/", 1)[1])
        path = "/" + path
        method = response.request.method or "GET"
        seen.append(f"{method} {path}")
        if response.status_code >= 400:
            assert_matches("error", response.json())
            return
        for want_method, pattern, entity in ENTITIES:
            if want_method in ("*", method) and re.fullmatch(pattern, path):
                body = response.json()
                for item in body if isinstance(body, list) else [body]:
                    assert_matches(entity, item)
                return

    session = requests.Session()
    session.hooks["response"].append(check)
    return session, seen
