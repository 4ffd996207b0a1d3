"""Signing up through the client API (POST /api/v1/accounts), with Mastodon's rules and error shape.

The instance's registration_mode decides: `closed` refuses, `approval` creates a user who cannot log
in (no token works, no password grant, no authorization code) until a moderator approves them, and
`open` creates a usable account. Either way the app that signed the user up receives a token for them
with the app's scopes, as Mastodon's AppSignUpService does; in approval mode it starts working once
the user is approved. Every problem is reported at once, per field, with Mastodon's ERR_* codes
(https://docs.joinmastodon.org/methods/accounts/#create), because clients show them next to the form fields.

The review of sign-ups in approval mode is here too: `pending` lists them, `approve` lets the user in,
`reject` removes the sign-up (the operator's commands in cli/admin.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from fediverse_biz.core import accounts, notifications, oauth
from fediverse_biz.core.accounts import AccountError
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password
from fediverse_biz.core.profiles import LANGUAGE_RE
from fediverse_biz.urls import LocalUrls

MODES = ("open", "approval", "closed")
MAX_USERNAME = 30
MAX_REASON = 1000  # what a moderator reads before approving; long enough for a company introduction
DEFAULT_LOCALE = "en"
_LABELS = {
    "username": "Username",
    "email": "Email",
    "password": "Password",
    "agreement": "Agreement",
    "locale": "Locale",
    "reason": "Reason",
}


@dataclass(frozen=True)
class SignUp:
    username: str
    email: str
    password: str
    agreement: bool
    locale: str | None = None
    reason: str | None = None


class RegistrationError(Exception):
    """Validation failed: `details` maps a field to its (ERR_* code, description) problems."""

    def __init__(self, details: dict[str, list[tuple[str, str]]] | None = None) -> None:
        super().__init__("Validation failed")
        self.details: dict[str, list[tuple[str, str]]] = details or {}

    def add(self, name: str, code: str, description: str) -> None:
        self.details.setdefault(name, []).append((code, description))

    @property
    def message(self) -> str:
        order = [*_LABELS, *(name for name in self.details if name not in _LABELS)]  # the form's order
        parts = [f"{_LABELS.get(name, name)} {text}" for name in order for _, text in self.details.get(name, [])]
        return "Validation failed: " + ", ".join(parts)

    def __str__(self) -> str:
        return self.message


def _is_text(value: str) -> bool:
    """False for lone surrogates (JSON allows "\\ud800"; PostgreSQL and argon2 cannot take them)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_username(username: str, problems: RegistrationError) -> None:
    if not username:
        problems.add("username", "ERR_BLANK", "can't be blank")
    elif len(username) > MAX_USERNAME:
        problems.add("username", "ERR_TOO_LONG", f"is too long (maximum is {MAX_USERNAME} characters)")
    elif not accounts.USERNAME_RE.match(username):
        problems.add("username", "ERR_INVALID", "must contain only letters, numbers and underscores")
    elif username.lower() in accounts.RESERVED_USERNAMES:
        problems.add("username", "ERR_RESERVED", "is reserved")


def _check(form: SignUp) -> RegistrationError:
    problems = RegistrationError()
    _check_username(form.username, problems)
    if not form.email.strip():
        problems.add("email", "ERR_BLANK", "can't be blank")
    elif not _is_text(form.email):
        problems.add("email", "ERR_INVALID", "is invalid")
    else:
        try:
            accounts.validate_email(form.email)
        except AccountError:
            problems.add("email", "ERR_INVALID", "is invalid")
    if not form.password:
        problems.add("password", "ERR_BLANK", "can't be blank")
    elif len(form.password) < MIN_PASSWORD_LENGTH:
        problems.add("password", "ERR_TOO_SHORT", f"is too short (minimum is {MIN_PASSWORD_LENGTH} characters)")
    elif not _is_text(form.password):
        problems.add("password", "ERR_INVALID", "is invalid")
    elif len(form.password) > MAX_PASSWORD_LENGTH:
        problems.add("password", "ERR_TOO_LONG", f"is too long (maximum is {MAX_PASSWORD_LENGTH} characters)")
    if not form.agreement:
        problems.add("agreement", "ERR_ACCEPTED", "must be accepted")
    if form.locale and not LANGUAGE_RE.match(form.locale):
        problems.add("locale", "ERR_INCLUSION", "is not included in the list")
    if form.reason and len(form.reason) > MAX_REASON:
        problems.add("reason", "ERR_TOO_LONG", f"is too long (maximum is {MAX_REASON} characters)")
    elif form.reason and not _is_text(form.reason):
        problems.add("reason", "ERR_INVALID", "is invalid")
    return problems


async def check_sign_up(pool: asyncpg.Pool, form: SignUp) -> None:
    """Every rule `register` applies, without registering: RegistrationError with every problem, for a
    page that has found one of its own and wants to say all of them together."""
    problems = _check(form)
    async with pool.acquire() as conn:
        await _check_taken(conn, form, problems)
    if problems.details:
        raise problems


async def _check_taken(conn: asyncpg.Connection, form: SignUp, problems: RegistrationError) -> None:
    if "username" not in problems.details and await accounts.username_taken(conn, form.username):
        problems.add("username", "ERR_TAKEN", "has already been taken")
    if "email" not in problems.details and await conn.fetchval(
        "SELECT 1 FROM users WHERE lower(email) = lower($1)", form.email.strip()
    ):
        problems.add("email", "ERR_TAKEN", "has already been taken")


async def register(
    pool: asyncpg.Pool, urls: LocalUrls, mode: str, *, app_id: int, scopes: Sequence[str], form: SignUp
) -> oauth.IssuedToken:
    """Create the user, their Person actor and a token for `app_id`, in one transaction.

    Raises DomainError(403) when sign-ups are closed and RegistrationError when the form is invalid.
    """
    token: list[oauth.IssuedToken] = []

    async def issue(conn: asyncpg.Connection, user_id: int, actor_id: int) -> None:
        token.append(await oauth.issue_token(conn, app_id=app_id, user_id=user_id, actor_id=actor_id, scopes=scopes))

    await _create(pool, urls, mode, form, issue)
    return token[0]


async def register_on_page(pool: asyncpg.Pool, urls: LocalUrls, mode: str, form: SignUp) -> int:
    """The sign-up page's registration: the same rules and effects as `register`, without an app's token
    (the page signs the person in with a browser session instead, once they may log in). Returns the user id."""
    created: list[int] = []

    async def keep(conn: asyncpg.Connection, user_id: int, actor_id: int) -> None:
        created.append(user_id)

    await _create(pool, urls, mode, form, keep)
    return created[0]


async def _create(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    mode: str,
    form: SignUp,
    then: Callable[[asyncpg.Connection, int, int], Awaitable[None]],
) -> None:
    """Check everything, report every problem at once, then create the login and its account and run
    `then(conn, user_id, actor_id)` in the same transaction."""
    if mode not in ("open", "approval"):
        raise DomainError("Registrations are closed on this server", 403)
    problems = _check(form)
    async with pool.acquire() as conn:
        await _check_taken(conn, form, problems)
    if problems.details:
        raise problems
    password_hash = await asyncio.to_thread(hash_password, form.password)
    try:
        async with pool.acquire() as conn, conn.transaction():
            actor = await accounts.insert_local_actor(conn, urls, form.username)
            user_id = await conn.fetchval(
                """INSERT INTO users (actor_id, email, password_hash, approved, locale)
                   VALUES ($1, $2, $3, $4, $5) RETURNING id""",
                actor["id"],
                form.email.strip(),
                password_hash,
                mode == "open",
                form.locale or DEFAULT_LOCALE,
            )
            if form.reason:
                # Kept for the moderators who approve sign-ups; no user-level column holds it.
                await conn.execute(
                    "UPDATE actors SET extra = extra || jsonb_build_object('registration_reason', $2::text) "
                    "WHERE id = $1",
                    actor["id"],
                    form.reason,
                )
            await _tell_moderators(conn, actor["id"])
            await then(conn, int(user_id), int(actor["id"]))
    except AccountError as exc:  # lost a race for the username
        raise RegistrationError({"username": [("ERR_TAKEN", "has already been taken")]}) from exc
    except asyncpg.UniqueViolationError as exc:  # lost a race for the email address
        raise RegistrationError({"email": [("ERR_TAKEN", "has already been taken")]}) from exc


async def _tell_moderators(conn: asyncpg.Connection, new_actor_id: int) -> None:
    """Mastodon's admin.sign_up notification, for every local admin and moderator."""
    staff = await conn.fetch(
        "SELECT actor_id FROM users WHERE role IN ('admin', 'moderator') AND NOT disabled AND approved"
    )
    for row in staff:
        await notifications.notify(conn, row["actor_id"], new_actor_id, "admin.sign_up")


# ---- reviewing sign-ups (approval mode) --------------------------------------------------------
@dataclass(frozen=True)
class PendingSignUp:
    username: str
    email: str
    created_at: datetime
    reason: str | None


_SIGN_UP = """SELECT u.id AS user_id, u.approved, u.email, u.created_at, a.id AS actor_id, a.username,
                     a.extra->>'registration_reason' AS reason
                FROM users u JOIN actors a ON a.id = u.actor_id
               WHERE lower(a.username) = lower($1) AND a.domain IS NULL"""


async def pending(pool: asyncpg.Pool) -> list[PendingSignUp]:
    """Sign-ups waiting for a moderator, oldest first (the order they are reviewed in)."""
    rows = await pool.fetch(
        """SELECT a.username, u.email, u.created_at, a.extra->>'registration_reason' AS reason
             FROM users u JOIN actors a ON a.id = u.actor_id
            WHERE NOT u.approved AND a.suspended_at IS NULL
            ORDER BY u.created_at, u.id"""
    )
    return [PendingSignUp(r["username"], r["email"], r["created_at"], r["reason"]) for r in rows]


async def _pending_sign_up(conn: asyncpg.Connection, username: str) -> asyncpg.Record:
    row = await conn.fetchrow(_SIGN_UP + " FOR UPDATE OF u", username.removeprefix("@"))
    if row is None:
        raise DomainError(f"no local user named {username.removeprefix('@')!r}", 404)
    if row["approved"]:
        raise DomainError(f"@{row['username']} is not waiting for approval (already approved)", 409)
    return row


async def approve(pool: asyncpg.Pool, username: str) -> PendingSignUp:
    """Let a pending user log in. The token their app received at sign-up starts working too."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _pending_sign_up(conn, username)
        await conn.execute("UPDATE users SET approved = true WHERE id = $1", row["user_id"])
    return PendingSignUp(row["username"], row["email"], row["created_at"], row["reason"])


async def reject(pool: asyncpg.Pool, username: str) -> PendingSignUp:
    """Remove a pending sign-up: the login and its account, the name and address free again.

    Not the account deletion of core/account_deletion.py: that one keeps a suspended actor as a
    tombstone and tells other servers, because the account was public. A pending account never was
    (WebFinger, the actor document and the directory hide it, its tokens do not work), so nothing
    outside this database knows it, and Mastodon's rejection also frees the username. Everything that
    refers to the actor (its sign-up token, the moderators' admin.sign_up notifications) goes with it
    by the foreign keys' cascades.
    """
    async with pool.acquire() as conn, conn.transaction():
        row = await _pending_sign_up(conn, username)
        owned = await conn.fetch(
            """SELECT a.username FROM organization_members m JOIN actors a ON a.id = m.organization_id
                WHERE m.user_id = $1 AND m.role = 'owner' AND a.suspended_at IS NULL ORDER BY a.username""",
            row["user_id"],
        )
        if owned:
            names = ", ".join(f"@{r['username']}" for r in owned)
            raise DomainError(f"@{row['username']} owns {names}: give it another owner first", 409)
        await conn.execute("DELETE FROM actors WHERE id = $1", row["actor_id"])
    return PendingSignUp(row["username"], row["email"], row["created_at"], row["reason"])
