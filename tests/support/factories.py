"""Building accounts and statuses for tests through the real code paths."""

from __future__ import annotations

import asyncpg

from fediverse_biz.core import accounts, statuses
from fediverse_biz.urls import LocalUrls

PASSWORD = "correct horse battery"
LOCAL_DOMAIN = "127.0.0.1"


async def local_actor(pool: asyncpg.Pool, urls: LocalUrls, username: str, *, locked: bool = False) -> asyncpg.Record:
    user = await accounts.create_user(pool, urls, username, f"{username}@example.com", PASSWORD)
    if locked:
        await pool.execute("UPDATE actors SET locked = true WHERE id = $1", user.actor_id)
    return await pool.fetchrow("SELECT * FROM actors WHERE id = $1", user.actor_id)


async def remote_actor(
    pool: asyncpg.Pool, username: str, domain: str = "remote.example", *, shared_inbox: bool = True
) -> asyncpg.Record:
    uri = f"https://{domain}/users/{username}"
    return await pool.fetchrow(
        """INSERT INTO actors (username, domain, uri, url, inbox_url, shared_inbox_url, followers_url, key_id,
                               public_key_pem)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'unused') RETURNING *""",
        username,
        domain,
        uri,
        f"https://{domain}/@{username}",
        uri + "/inbox",
        f"https://{domain}/inbox" if shared_inbox else None,
        uri + "/followers",
        uri + "#main-key",
    )


async def post(
    pool: asyncpg.Pool, urls: LocalUrls, author: asyncpg.Record, text: str = "hello", **draft: object
) -> int:
    return await statuses.create(pool, urls, LOCAL_DOMAIN, author, statuses.Draft(text=text, **draft))  # type: ignore[arg-type]


async def deliveries(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    """(inbox, activity type) of every queued delivery job."""
    rows = await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver' ORDER BY id")
    return [(r["payload"]["inbox"], r["payload"]["activity"]["type"]) for r in rows]
