"""Signing up through the client API (POST /api/v1/accounts), with Mastodon's rules and error shape.

The instance's registration_mode decides: `closed` refuses, `approval` creates a user who cannot log
in (no token works, no password grant, no authorization code) until a moderator approves them, and
`open` creates a usable account. Either way the app that signed the user up receives a token for them
with the app's scopes, as Mastodon's AppSignUpService does; in approval mode it starts working once
the user is approved. Every problem is reported at once, per field, with Mastodon's ERR_* codes
(docs methods/accounts.md#create), because clients show them next to the form fields.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from . import accounts, notifications, oauth
from .accounts import AccountError
from .errors import DomainError
from .passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password
from .profiles import LANGUAGE_RE
from .urls import LocalUrls

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
            return await oauth.issue_token(conn, app_id=app_id, user_id=user_id, actor_id=actor["id"], scopes=scopes)
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
