"""Signed-in browsers: the session a person gets when they sign in on a page, remembered server-side.

The cookie carries a random token; the table keeps its SHA-256 only (a copy of the database signs no one
in). A session ends when it expires, when its person signs out or revokes it from the sessions page,
when the password changes (every other session), or when the login is disabled or not approved. Both
doors read it: the pages (web/), and the OAuth authorize page (api/), which then asks no password.

CSRF tokens are bound to the session: an HMAC of the session's id under the instance secret, so a token
from one browser is worth nothing in another, and ends with the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import asyncpg

from fediverse_biz.db.executor import Executor

COOKIE: Final = "fediverse_biz_session"
# "Remember me": a month; otherwise the cookie dies with the browser and the row after half a day.
REMEMBERED: Final = timedelta(days=30)
BROWSER_ONLY: Final = timedelta(hours=12)
# Seeing a session is a read; writing last_seen_at on every page would be a write per view.
SEEN_GRANULARITY: Final = timedelta(minutes=5)
MAX_USER_AGENT: Final = 300


@dataclass(frozen=True)
class Signed:
    """A session just opened: `token` goes into the cookie, never anywhere else."""

    id: int
    token: str
    max_age: int | None  # seconds for the cookie; None: a browser-session cookie


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def open_session(conn: Executor, user_id: int, *, remembered: bool, user_agent: str = "") -> Signed:
    token = secrets.token_urlsafe(32)
    life = REMEMBERED if remembered else BROWSER_ONLY
    await conn.execute(
        "DELETE FROM browser_sessions WHERE user_id = $1 AND (expires_at < now() - interval '1 day' "
        "OR revoked_at < now() - interval '1 day')",
        user_id,
    )
    session_id = await conn.fetchval(
        """INSERT INTO browser_sessions (user_id, token_hash, remembered, user_agent, expires_at)
           VALUES ($1, $2, $3, $4, now() + $5::interval) RETURNING id""",
        user_id,
        _hash(token),
        remembered,
        user_agent[:MAX_USER_AGENT],
        life,
    )
    await conn.execute("UPDATE users SET last_login_at = now() WHERE id = $1", user_id)
    return Signed(int(session_id), token, int(life.total_seconds()) if remembered else None)


async def find(conn: Executor, token: str | None) -> asyncpg.Record | None:
    """The live session a cookie's token names, with its user (u.*, the person's username, session_id,
    acting_actor_id),
    or None: unknown, expired, revoked, or a login that is disabled or not approved."""
    if not token or len(token) > 100:
        return None
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT u.*, a.username, s.id AS session_id, s.acting_actor_id
             FROM browser_sessions s JOIN users u ON u.id = s.user_id JOIN actors a ON a.id = u.actor_id
            WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
              AND NOT u.disabled AND u.approved AND a.suspended_at IS NULL""",
        _hash(token),
    )
    if row is not None:
        await conn.execute(
            "UPDATE browser_sessions SET last_seen_at = now() WHERE id = $1 AND last_seen_at < now() - $2::interval",
            row["session_id"],
            SEEN_GRANULARITY,
        )
    return row


async def of_user(conn: Executor, user_id: int) -> list[asyncpg.Record]:
    """The person's live sessions, newest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT id, remembered, user_agent, created_at, last_seen_at, expires_at FROM browser_sessions
            WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC""",
        user_id,
    )
    return rows


async def revoke(conn: Executor, user_id: int, session_id: int) -> bool:
    """End one of the person's own sessions; False when there is no such live session of theirs."""
    done = await conn.fetchval(
        """UPDATE browser_sessions SET revoked_at = now()
            WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id""",
        session_id,
        user_id,
    )
    return done is not None


async def revoke_others(conn: Executor, user_id: int, keep: int | None) -> int:
    """End every session of the person but `keep` (after a password change); how many ended."""
    rows = await conn.fetch(
        """UPDATE browser_sessions SET revoked_at = now()
            WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2 RETURNING id""",
        user_id,
        keep,
    )
    return len(rows)


async def act_as(conn: Executor, session_id: int, actor_id: int | None) -> None:
    """Remember whom this browser acts as (None: the person's own account). Whether the person may act
    for that actor is the caller's check (business.teams), made again each time the choice is used."""
    await conn.execute("UPDATE browser_sessions SET acting_actor_id = $2 WHERE id = $1", session_id, actor_id)


def csrf_token(secret: str, session_id: int) -> str:
    return hmac.new(secret.encode(), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, session_id: int, token: str | None) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, and a forged token may hold any.
    given = (token or "").encode("utf-8", "surrogatepass")
    return bool(given) and hmac.compare_digest(csrf_token(secret, session_id).encode(), given)
