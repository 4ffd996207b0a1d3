"""Creating local users on a live server from synchronous tests (Mastodon.py and toot are synchronous).

Each call opens a short-lived pool on the server's database in its own event loop: in a fresh
thread when the caller is already inside a running loop (async tests), so it never blocks or
reuses pytest-asyncio's loop. From async tests, `await asyncio.to_thread(create_user_sync, ...)`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from fediverse_biz.core import accounts, oauth
from fediverse_biz.db.pool import create_pool
from fediverse_biz.urls import LocalUrls
from tests.support.servers import LiveServer

PASSWORD = "correct horse battery"
T = TypeVar("T")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion in a fresh event loop, off the current thread if one is running."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    result: dict[str, Any] = {}

    def worker() -> None:
        try:
            result["value"] = asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]  # type: ignore[no-any-return]


def create_user_full_sync(
    server: LiveServer, username: str, password: str = PASSWORD, *, role: str = "member", email: str | None = None
) -> accounts.NewUser:
    async def create() -> accounts.NewUser:
        pool = await create_pool(server.dsn, min_size=1, max_size=1)
        try:
            return await accounts.create_user(
                pool, LocalUrls(server.base_url), username, email or f"{username}@example.com", password, role=role
            )
        finally:
            await pool.close()

    return run_sync(create)


def create_user_sync(server: LiveServer, username: str, password: str = PASSWORD, *, role: str = "member") -> int:
    """Create a login and its Person actor; returns the actor id, which is the Mastodon account id."""
    return create_user_full_sync(server, username, password, role=role).actor_id


def create_organization_sync(server: LiveServer, username: str, owner_username: str) -> int:
    """An Organization actor owned by an existing user; returns its actor (account) id."""

    async def create() -> int:
        pool = await create_pool(server.dsn, min_size=1, max_size=1)
        try:
            actor = await accounts.create_organization(pool, LocalUrls(server.base_url), username, owner_username)
            return int(actor["id"])
        finally:
            await pool.close()

    return run_sync(create)


async def api_headers(
    pool: asyncpg.Pool, user: accounts.NewUser, scopes: str = "read write follow push", *, actor_id: int | None = None
) -> dict[str, str]:
    """`Authorization: Bearer ...` for an in-process client acting as `user` (or, with actor_id, as an
    organization the user belongs to), issued through the real OAuth code path."""
    app = await oauth.create_app(
        pool, name="fediverse_biz tests", redirect_uris=[oauth.OOB_REDIRECT_URI], scopes=scopes, website=None
    )
    token = await oauth.issue_token(
        pool,
        app_id=app.id,
        user_id=user.user_id,
        actor_id=actor_id if actor_id is not None else user.actor_id,
        scopes=scopes.split(),
    )
    return {"Authorization": f"Bearer {token.access_token}"}
