"""Local accounts: users who log in, and the actors they are or act for (people, organizations).

Every actor gets its RSA-2048 key pair at creation, so it can sign deliveries from its first post.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from fediverse_biz.activitypub.keys import generate_key_pair
from fediverse_biz.core import browser_sessions
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.passwords import check_password_rules, hash_password, verify_password
from fediverse_biz.db.executor import Executor
from fediverse_biz.urls import LocalUrls

INVALID_CREDENTIALS = "The access token is invalid"

# Mastodon's rule for local usernames: letters, digits and underscore, at most 30 characters
# (app/validators/unique_username_validator.rb, app/models/account.rb USERNAME_RE). Case-insensitive.
USERNAME_RE = re.compile(r"^[a-zA-Z0-9_]{1,30}$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")

# Names that would shadow a route, impersonate the service, or confuse WebFinger.
RESERVED_USERNAMES = frozenset(
    {
        "admin", "administrator", "root", "support", "help", "moderator", "mod", "staff", "webmaster",
        "postmaster", "hostmaster", "abuse", "security", "noreply", "no_reply", "system", "instance",
        "actor", "inbox", "outbox", "api", "oauth", "users", "user", "c", "tags", "media", "static",
        "settings", "about", "directory", "explore", "search", "login", "logout", "auth", "well_known",
        "nodeinfo", "healthz", "health", "localhost", "public", "feeds", "jobs", "offers", "communities",
        "everyone", "all", "null", "undefined",
    }
)

ACTOR_TYPES = ("Person", "Organization", "Group", "Application", "Service")
USER_ROLES = ("admin", "moderator", "member")
# pg_advisory_xact_lock key, "actr"; others: migrations 0x66656469, job claims 0x6A6F6273
_INSTANCE_ACTOR_LOCK = 0x61637472


class AccountError(ValueError):
    """A request about accounts that cannot be honoured; `field` names the offending input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class NewUser:
    user_id: int
    actor_id: int
    username: str


def validate_username(username: str) -> str:
    if not USERNAME_RE.match(username or ""):
        raise AccountError(
            f"invalid username {username!r}: use 1-30 letters, digits or underscores", "username"
        )
    if username.lower() in RESERVED_USERNAMES:
        raise AccountError(f"the username {username!r} is reserved", "username")
    return username


def validate_email(email: str) -> str:
    email = (email or "").strip()
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise AccountError(f"invalid email address {email!r}", "email")
    return email


async def _new_keys() -> tuple[str, str]:
    # RSA key generation takes tens of milliseconds: keep it off the event loop.
    return await asyncio.to_thread(generate_key_pair)


async def insert_local_actor(
    conn: asyncpg.Connection,
    urls: LocalUrls,
    username: str,
    *,
    actor_type: str = "Person",
    display_name: str = "",
    locked: bool = False,
    discoverable: bool = True,
    is_instance_actor: bool = False,
) -> asyncpg.Record:
    """Insert a local actor with fresh keys and its URLs; raises AccountError if the name is taken."""
    if actor_type not in ACTOR_TYPES:
        raise AccountError(f"unknown actor type {actor_type!r}", "actor_type")
    private_pem, public_pem = await _new_keys()
    uri = urls.instance_actor() if is_instance_actor else urls.actor(username, actor_type)
    try:
        return await conn.fetchrow(
            """INSERT INTO actors (username, domain, actor_type, display_name, locked, discoverable,
                                   is_instance_actor, uri, url, inbox_url, shared_inbox_url, outbox_url,
                                   followers_url, following_url, featured_url, key_id,
                                   public_key_pem, private_key_pem)
               VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
               RETURNING *""",
            username, actor_type, display_name, locked, discoverable, is_instance_actor, uri,
            urls.base + "/about" if is_instance_actor else urls.profile_page(username, actor_type),
            uri + "/inbox", urls.shared_inbox(), uri + "/outbox", uri + "/followers",
            uri + "/following", uri + "/collections/featured", urls.key_id(uri), public_pem, private_pem,
        )
    except asyncpg.UniqueViolationError:
        raise AccountError(f"the username {username!r} is already taken", "username") from None


async def username_taken(conn: asyncpg.Connection, username: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM actors WHERE lower(username) = lower($1) AND domain IS NULL", username
        )
    )


async def create_user(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    username: str,
    email: str,
    password: str,
    *,
    role: str = "member",
    display_name: str = "",
    approved: bool = True,
) -> NewUser:
    """Create a login and its Person actor in one transaction."""
    validate_username(username)
    email = validate_email(email)
    if role not in USER_ROLES:
        raise AccountError(f"unknown role {role!r}: use one of {', '.join(USER_ROLES)}", "role")
    problem = check_password_rules(password)
    if problem:
        raise AccountError(problem, "password")
    password_hash = await asyncio.to_thread(hash_password, password)
    async with pool.acquire() as conn, conn.transaction():
        if await username_taken(conn, username):
            raise AccountError(f"the username {username!r} is already taken", "username")
        if await conn.fetchval("SELECT 1 FROM users WHERE lower(email) = lower($1)", email):
            raise AccountError(f"the email address {email!r} is already registered", "email")
        actor = await insert_local_actor(conn, urls, username, display_name=display_name)
        try:
            user_id = await conn.fetchval(
                """INSERT INTO users (actor_id, email, password_hash, role, approved)
                   VALUES ($1, $2, $3, $4, $5) RETURNING id""",
                actor["id"], email, password_hash, role, approved,
            )
        except asyncpg.UniqueViolationError:
            raise AccountError(f"the email address {email!r} is already registered", "email") from None
    return NewUser(user_id=user_id, actor_id=actor["id"], username=actor["username"])


async def create_organization(
    pool: asyncpg.Pool, urls: LocalUrls, username: str, owner_username: str, *, display_name: str = ""
) -> asyncpg.Record:
    """Create an Organization actor owned by an existing local user."""
    validate_username(username)
    async with pool.acquire() as conn, conn.transaction():
        owner = await conn.fetchrow(
            """SELECT u.id FROM users u JOIN actors a ON a.id = u.actor_id
               WHERE lower(a.username) = lower($1) AND a.domain IS NULL""",
            owner_username,
        )
        if owner is None:
            raise AccountError(f"no local user named {owner_username!r}", "owner")
        if await username_taken(conn, username):
            raise AccountError(f"the username {username!r} is already taken", "username")
        actor = await insert_local_actor(
            conn, urls, username, actor_type="Organization", display_name=display_name or username
        )
        await conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'owner')",
            actor["id"], owner["id"],
        )
    return actor


async def ensure_instance_actor(pool: asyncpg.Pool, urls: LocalUrls, hostname: str) -> asyncpg.Record:
    """The Application actor at /actor that signs our GETs (peers in authorized-fetch mode need it).

    Its preferredUsername is the host name, as on Mastodon, which no member can take (dots are not
    allowed in usernames; bare `localhost` is reserved).
    """
    async with pool.acquire() as conn, conn.transaction():
        # Several `serve` processes may start together on a fresh database: without the lock both find
        # no row, and the second insert fails on the taken name and stops its process. The lock is held
        # to the end of the transaction, so the second one's SELECT sees the first one's row.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _INSTANCE_ACTOR_LOCK)
        row = await conn.fetchrow("SELECT * FROM actors WHERE is_instance_actor")
        if row is not None:
            return row
        return await insert_local_actor(
            conn, urls, hostname, actor_type="Application", is_instance_actor=True, discoverable=False,
            locked=True,
        )


async def authenticate(pool: asyncpg.Pool, login: str, password: str) -> asyncpg.Record | None:
    """The user row for a username or email and a correct password, else None."""
    row = await pool.fetchrow(
        """SELECT u.*, a.username FROM users u JOIN actors a ON a.id = u.actor_id
           WHERE (lower(u.email) = lower($1) OR (lower(a.username) = lower($1) AND a.domain IS NULL))
             AND NOT u.disabled""",
        login.strip(),
    )
    if row is None:
        # Same cost as a real check, so response time does not reveal which logins exist.
        await asyncio.to_thread(verify_password, _dummy_hash(), password)
        return None
    if not await asyncio.to_thread(verify_password, row["password_hash"], password):
        return None
    await pool.execute("UPDATE users SET last_login_at = now() WHERE id = $1", row["id"])
    return row


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a real password, only spends time")


async def find_local_actor(conn: asyncpg.Connection | asyncpg.Pool, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM actors WHERE lower(username) = lower($1) AND domain IS NULL AND NOT is_instance_actor",
        username,
    )


async def list_local_accounts(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT a.id, a.username, a.actor_type, a.display_name, a.created_at, u.email, u.role,
                  (SELECT string_agg(ua.username, ',' ORDER BY ua.username)
                     FROM organization_members m JOIN users ou ON ou.id = m.user_id
                     JOIN actors ua ON ua.id = ou.actor_id
                    WHERE m.organization_id = a.id AND m.role = 'owner') AS owners
             FROM actors a LEFT JOIN users u ON u.actor_id = a.id
            WHERE a.domain IS NULL AND NOT a.is_instance_actor
            ORDER BY a.id"""
    )


async def find_published_actor(
    pool: asyncpg.Pool | asyncpg.Connection, username: str, *, types: Sequence[str] | None = None
) -> asyncpg.Record | None:
    """A local actor (not the instance actor) that the world may see, by case-insensitive name.

    Accounts awaiting approval are hidden, as Mastodon's `check_account_approval` does (404); suspended
    ones are returned, so callers can answer 410 Gone.
    """
    return await pool.fetchrow(
        """SELECT a.* FROM actors a LEFT JOIN users u ON u.actor_id = a.id
            WHERE lower(a.username) = lower($1) AND a.domain IS NULL AND NOT a.is_instance_actor
              AND (u.id IS NULL OR u.approved)
              AND ($2::text[] IS NULL OR a.actor_type = ANY($2::text[]))""",
        username,
        list(types) if types is not None else None,
    )


async def acting_actor(conn: Executor, actor_id: int | None) -> asyncpg.Record:
    """The local actor a signed-in user acts as (their own account or an organization of theirs), the one
    rule for every door: a suspended or vanished actor does nothing, answered as a credential that no
    longer works (401), as Mastodon answers a suspended account's token."""
    row = await conn.fetchrow("SELECT * FROM actors WHERE id = $1", actor_id) if actor_id is not None else None
    if row is None or row["suspended_at"] is not None:
        raise DomainError(INVALID_CREDENTIALS, 401)
    return row


class PasswordNotChanged(DomainError):
    """Why a password change was refused: `problems` maps the form's fields (current, new, confirmation)
    to what is wrong with each, all of them at once."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()), 422)
        self.problems = problems


async def change_password(
    pool: asyncpg.Pool, user_id: int, current: str, new: str, confirmation: str, *, keep_session: int | None
) -> None:
    """Set a new password after checking the current one; every browser session but `keep_session` ends
    (core/browser_sessions.py): whoever knew the old password is signed out everywhere else."""
    row = await pool.fetchrow("SELECT password_hash FROM users WHERE id = $1 AND NOT disabled", user_id)
    if row is None:
        raise DomainError("This login no longer exists.", 404)
    problems: dict[str, str] = {}
    if not await asyncio.to_thread(verify_password, row["password_hash"], current):
        problems["current_password"] = "is not your current password"
    rule = check_password_rules(new)
    if rule is not None:
        problems["new_password"] = rule.removeprefix("password ")
    elif new == current:
        problems["new_password"] = "is the same as the current one"
    if confirmation != new:
        problems["confirmation"] = "does not match the new password"
    if problems:
        raise PasswordNotChanged(problems)
    new_hash = await asyncio.to_thread(hash_password, new)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, new_hash)
        await browser_sessions.revoke_others(conn, user_id, keep_session)
