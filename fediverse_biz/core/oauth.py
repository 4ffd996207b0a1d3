"""OAuth 2.0 as Mastodon clients expect it: apps, authorization codes (with PKCE), bearer tokens.

No HTTP here: the doors (api/oauth.py, api/apps.py, api/auth.py) parse requests and call these.
Codes and tokens are random 256-bit strings stored only as their SHA-256, so a leaked table grants
nothing; client secrets are stored as issued (Mastodon/Doorkeeper do the same) and compared in
constant time. What the scopes mean and allow is scopes.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import asyncpg

from fediverse_biz.core import accounts
from fediverse_biz.core._oauth_errors import OAuthError as OAuthError
from fediverse_biz.core.scopes import (
    ALL_SCOPES as ALL_SCOPES,  # re-exported, as scope_grants: callers older than scopes.py
)
from fediverse_biz.core.scopes import ensure_allowed, parse_scopes
from fediverse_biz.core.scopes import scope_grants as scope_grants

OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
CODE_LIFETIME_SECONDS = 600  # RFC 6749 §4.1.2 recommends at most 10 minutes
MAX_APP_NAME = 60  # Mastodon caps application names (ApplicationExtension)
MAX_URI_LENGTH = 2000  # Mastodon's limit for redirect_uri and website
MAX_REDIRECT_URIS = 20

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):(.*)$", re.DOTALL)
# Schemes that run code or read local files in the browser that follows the redirect.
_FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about", "filesystem"})
# RFC 7636 §4.1: code_verifier = 43*128unreserved; an S256 challenge is its unpadded base64url hash.
_PKCE_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


class AppError(ValueError):
    """An application registration that cannot be accepted (HTTP 422)."""


@dataclass(frozen=True)
class App:
    id: int
    name: str
    website: str | None
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    scopes: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class TokenInfo:
    id: int
    app_id: int | None
    user_id: int | None
    actor_id: int | None
    scopes: frozenset[str]
    user_role: str | None


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated GET/POST /oauth/authorize request."""

    app: App
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None


@dataclass(frozen=True)
class Identity:
    """An actor a user may act as: their own account first, then organizations they belong to."""

    actor_id: int
    username: str
    display_name: str
    actor_type: str


# ---- apps --------------------------------------------------------------------------------------
def validate_redirect_uri(uri: str) -> str:
    """Accept https/http URLs, custom app schemes (oauth2redirect://...) and the OOB URN; refuse the rest."""
    if uri == OOB_REDIRECT_URI:
        return uri
    if not uri or len(uri) > MAX_URI_LENGTH:
        raise AppError(f"redirect URI must be 1-{MAX_URI_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        raise AppError("redirect URI must not contain whitespace or control characters")
    match = _SCHEME_RE.match(uri)
    # Hierarchical URIs only (scheme:/... or scheme://...), like Doorkeeper: opaque ones such as
    # mailto:x cannot carry ?code=.
    if match is None or not match.group(2).startswith("/"):
        raise AppError(f"redirect URI must be an absolute URI: {uri!r}")
    if match.group(1).lower() in _FORBIDDEN_SCHEMES:
        raise AppError(f"redirect URI scheme {match.group(1)!r} is not allowed")
    if "#" in uri:
        raise AppError("redirect URI must not contain a fragment (RFC 6749 §3.1.2)")
    if match.group(1).lower() in ("http", "https") and not urlsplit(uri).hostname:
        raise AppError(f"redirect URI has no host: {uri!r}")
    return uri


def validate_website(website: str | None) -> str | None:
    website = (website or "").strip()
    if not website:
        return None
    parts = urlsplit(website)
    if len(website) > MAX_URI_LENGTH or parts.scheme not in ("http", "https") or not parts.hostname:
        raise AppError("website must be an http(s) URL")
    return website


def _app(row: asyncpg.Record) -> App:
    return App(
        id=row["id"],
        name=row["name"],
        website=row["website"],
        redirect_uris=tuple(row["redirect_uris"]),
        scopes=tuple(row["scopes"].split()),
        client_id=row["client_id"],
        client_secret=row["client_secret"],
    )


async def create_app(
    pool: asyncpg.Pool, *, name: str, redirect_uris: Sequence[str], scopes: str | None, website: str | None
) -> App:
    name = (name or "").strip()
    if not name:
        raise AppError("client_name is required")
    if len(name) > MAX_APP_NAME:
        raise AppError(f"client_name must be at most {MAX_APP_NAME} characters")
    uris = list(dict.fromkeys(validate_redirect_uri(u) for u in redirect_uris))
    if not uris:
        raise AppError("redirect_uris is required")
    if len(uris) > MAX_REDIRECT_URIS:
        raise AppError(f"at most {MAX_REDIRECT_URIS} redirect URIs")
    try:
        scope_list = parse_scopes(scopes)
    except OAuthError as exc:
        raise AppError(exc.description) from None
    row = await pool.fetchrow(
        """INSERT INTO oauth_apps (name, website, redirect_uris, scopes, client_id, client_secret)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        name,
        validate_website(website),
        uris,
        " ".join(scope_list),
        secrets.token_urlsafe(32),
        secrets.token_urlsafe(32),
    )
    return _app(row)


async def find_app(pool: asyncpg.Pool, client_id: str | None) -> App | None:
    if not client_id:
        return None
    row = await pool.fetchrow("SELECT * FROM oauth_apps WHERE client_id = $1", client_id)
    return _app(row) if row else None


async def app_by_id(pool: asyncpg.Pool, app_id: int) -> App | None:
    row = await pool.fetchrow("SELECT * FROM oauth_apps WHERE id = $1", app_id)
    return _app(row) if row else None


async def authenticate_client(pool: asyncpg.Pool, client_id: str | None, client_secret: str | None) -> App:
    app = await find_app(pool, client_id)
    if app is None or not hmac.compare_digest(app.client_secret.encode(), (client_secret or "").encode()):
        raise OAuthError(
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, "
            "or unsupported authentication method.",
            401,
        )
    return app


# ---- authorization requests, identities, codes -------------------------------------------------
async def check_authorization_request(
    pool: asyncpg.Pool,
    *,
    client_id: str | None,
    redirect_uri: str | None,
    response_type: str | None,
    scope: str | None,
    state: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
) -> AuthorizationRequest:
    app = await find_app(pool, client_id)
    if app is None:
        raise OAuthError("invalid_client", "The client identifier provided is invalid.", redirectable=False)
    if not redirect_uri and len(app.redirect_uris) == 1:
        redirect_uri = app.redirect_uris[0]  # RFC 6749 §3.1.2.3: optional when only one is registered
    if redirect_uri not in app.redirect_uris:  # exact match, RFC 6749 §3.1.2.3
        raise OAuthError(
            "invalid_redirect_uri", "The redirect URI is not registered for this application.", redirectable=False
        )
    if response_type != "code":
        raise OAuthError("unsupported_response_type", "Only response_type=code is supported.")
    scopes = parse_scopes(scope)
    ensure_allowed(app.scopes, scopes)
    if code_challenge or code_challenge_method:
        # RFC 7636 defaults the method to "plain", which protects nothing; like Mastodon 4.3 we take S256 only.
        if code_challenge_method != "S256":
            raise OAuthError("invalid_request", "code_challenge_method must be S256.")
        if not code_challenge or not _PKCE_RE.match(code_challenge):
            raise OAuthError("invalid_request", "code_challenge is missing or malformed.")
    return AuthorizationRequest(app, redirect_uri, scopes, state, code_challenge or None, code_challenge_method)


async def identities(conn: asyncpg.Pool | asyncpg.Connection, user_id: int) -> list[Identity]:
    rows = await conn.fetch(
        """SELECT a.id, a.username, a.display_name, a.actor_type, 0 AS rank
             FROM users u JOIN actors a ON a.id = u.actor_id WHERE u.id = $1
           UNION ALL
           SELECT a.id, a.username, a.display_name, a.actor_type, 1
             FROM organization_members m JOIN actors a ON a.id = m.organization_id
            WHERE m.user_id = $1 AND a.suspended_at IS NULL
           ORDER BY rank, username""",
        user_id,
    )
    return [Identity(r["id"], r["username"], r["display_name"], r["actor_type"]) for r in rows]


async def choose_identity(conn: asyncpg.Pool | asyncpg.Connection, user_id: int, actor: str | None) -> int:
    """The actor id a token acts as: the user's own, or an organization they belong to (by username)."""
    options = await identities(conn, user_id)
    if not actor:
        return options[0].actor_id
    for option in options:
        if option.username.lower() == actor.lower():
            return option.actor_id
    raise OAuthError("invalid_request", f"You cannot act as {actor!r}.")


async def authenticate_user(pool: asyncpg.Pool, login: str, password: str) -> asyncpg.Record:
    user = await accounts.authenticate(pool, login, password)
    if user is None:
        raise OAuthError("invalid_grant", "Invalid username, email or password.")
    if not user["approved"]:
        raise OAuthError("invalid_grant", "Your account is pending approval.")
    return user


async def create_code(pool: asyncpg.Pool, request: AuthorizationRequest, *, user_id: int, actor_id: int) -> str:
    code = secrets.token_urlsafe(32)
    async with pool.acquire() as conn, conn.transaction():
        # Keep the table small; used codes stay a day so reuse is still recognised (see exchange_code).
        await conn.execute("DELETE FROM oauth_codes WHERE expires_at < now() - interval '1 day'")
        await conn.execute(
            """INSERT INTO oauth_codes (code_hash, app_id, user_id, actor_id, scopes, redirect_uri,
                                        code_challenge, code_challenge_method, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))""",
            hash_secret(code),
            request.app.id,
            user_id,
            actor_id,
            " ".join(request.scopes),
            request.redirect_uri,
            request.code_challenge,
            request.code_challenge_method,
            CODE_LIFETIME_SECONDS,
        )
    return code


def pkce_matches(verifier: str, challenge: str) -> bool:
    if not _PKCE_RE.match(verifier):
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(expected, challenge)


def _code_problem(row: asyncpg.Record, redirect_uri: str | None, verifier: str | None) -> str | None:
    if row["expired"]:
        return "The authorization code has expired."
    if redirect_uri != row["redirect_uri"]:
        return "The redirect URI does not match the one used in the authorization request."
    if row["code_challenge"]:
        if not verifier or not pkce_matches(verifier, row["code_challenge"]):
            return "The code_verifier does not match the code_challenge."
    elif verifier:  # a verifier for a code issued without a challenge signals a downgrade attempt
        return "No code_challenge was sent with the authorization request."
    if row["disabled"] or not row["approved"]:
        return "The user can no longer log in."
    return None


async def exchange_code(
    pool: asyncpg.Pool, app: App, code: str | None, redirect_uri: str | None, code_verifier: str | None
) -> IssuedToken:
    """Trade a code for a token, once. The code is spent by any attempt, so a wrong code_verifier
    cannot be retried; a second use revokes what the first one issued (RFC 6749 §4.1.2)."""
    if not code:
        raise OAuthError("invalid_request", "code is required.")
    code_hash = hash_secret(code)
    token: IssuedToken | None = None
    problem: str | None
    async with pool.acquire() as conn:
        async with conn.transaction():
            row = await conn.fetchrow(
                """UPDATE oauth_codes c SET used_at = now()
                     FROM users u
                    WHERE c.code_hash = $1 AND c.app_id = $2 AND c.used_at IS NULL AND u.id = c.user_id
                   RETURNING c.*, c.expires_at < now() AS expired, u.disabled, u.approved""",
                code_hash,
                app.id,
            )
            if row is None:
                await conn.execute(
                    "UPDATE oauth_tokens SET revoked_at = now() WHERE code_hash = $1 AND revoked_at IS NULL",
                    code_hash,
                )
                problem = "The authorization code is invalid, was already used, or belongs to another client."
            else:
                problem = _code_problem(row, redirect_uri, code_verifier)
                if problem is None:
                    token = await issue_token(
                        conn,
                        app_id=app.id,
                        user_id=row["user_id"],
                        actor_id=row["actor_id"],
                        scopes=tuple(row["scopes"].split()),
                        code_hash=code_hash,
                    )
    # Raised after the commit: a spent code and a revocation must survive the failure.
    if token is None:
        raise OAuthError("invalid_grant", problem or "invalid grant")
    return token


# ---- tokens ------------------------------------------------------------------------------------
def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


async def issue_token(
    conn: asyncpg.Pool | asyncpg.Connection,
    *,
    app_id: int,
    user_id: int | None,
    actor_id: int | None,
    scopes: Sequence[str],
    code_hash: str | None = None,
) -> IssuedToken:
    token = secrets.token_urlsafe(32)  # 43 characters, 256 bits
    created_at = await conn.fetchval(
        """INSERT INTO oauth_tokens (token_hash, app_id, user_id, actor_id, scopes, code_hash)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at""",
        hash_secret(token),
        app_id,
        user_id,
        actor_id,
        " ".join(scopes),
        code_hash,
    )
    return IssuedToken(token, tuple(scopes), created_at)


async def client_credentials_token(pool: asyncpg.Pool, app: App, scope: str | None) -> IssuedToken:
    scopes = parse_scopes(scope)
    ensure_allowed(app.scopes, scopes)
    return await issue_token(pool, app_id=app.id, user_id=None, actor_id=None, scopes=scopes)


async def password_token(
    pool: asyncpg.Pool, app: App, *, login: str | None, password: str | None, scope: str | None, actor: str | None
) -> IssuedToken:
    scopes = parse_scopes(scope)
    ensure_allowed(app.scopes, scopes)
    if not login or not password:
        raise OAuthError("invalid_request", "username and password are required.")
    user = await authenticate_user(pool, login, password)
    actor_id = await choose_identity(pool, user["id"], actor)
    return await issue_token(pool, app_id=app.id, user_id=user["id"], actor_id=actor_id, scopes=scopes)


async def revoke_token(pool: asyncpg.Pool, app: App, token: str | None) -> None:
    """Revoke one of the app's tokens; unknown tokens are fine (RFC 7009 §2.2), another app's are not."""
    if not token:
        return
    row = await pool.fetchrow("SELECT id, app_id FROM oauth_tokens WHERE token_hash = $1", hash_secret(token))
    if row is None:
        return
    if row["app_id"] != app.id:
        raise OAuthError("unauthorized_client", "You are not authorized to revoke this token", 403)
    await pool.execute("UPDATE oauth_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", row["id"])


# What makes a token live, as one FROM … WHERE for both its readers: find_token (every request, every
# stream that opens) and live_token_ids (the streaming hub's re-check of open streams), so an open stream
# is held to exactly the rule a new request meets. Migration 0013 notifies the hub whenever a change may
# break it; a new condition here needs a trigger there.
_LIVE_TOKENS = """
             FROM oauth_tokens t
             LEFT JOIN users u ON u.id = t.user_id
             LEFT JOIN actors a ON a.id = t.actor_id
            WHERE t.revoked_at IS NULL AND a.suspended_at IS NULL
              AND (t.user_id IS NULL
                   OR (NOT u.disabled AND u.approved
                       AND (t.actor_id = u.actor_id
                            OR EXISTS (SELECT 1 FROM organization_members m
                                        WHERE m.organization_id = t.actor_id AND m.user_id = t.user_id))))"""


async def find_token(pool: asyncpg.Pool, token: str) -> TokenInfo | None:
    """A live token: not revoked, its user enabled and approved, its actor not suspended, and the
    user still a member of the organization it acts for."""
    row = await pool.fetchrow(
        f"SELECT t.id, t.app_id, t.user_id, t.actor_id, t.scopes, t.last_used_at, u.role {_LIVE_TOKENS}"
        " AND t.token_hash = $1",
        hash_secret(token),
    )
    if row is None:
        return None
    last_used = row["last_used_at"]
    if last_used is None or time.time() - last_used.timestamp() > 3600:
        # At most one write per token and hour: enough for "last used" and no write per request.
        await pool.execute("UPDATE oauth_tokens SET last_used_at = now() WHERE id = $1", row["id"])
    return TokenInfo(
        id=row["id"],
        app_id=row["app_id"],
        user_id=row["user_id"],
        actor_id=row["actor_id"],
        scopes=frozenset(row["scopes"].split()),
        user_role=row["role"],
    )


async def live_token_ids(conn: asyncpg.Pool | asyncpg.Connection, token_ids: Collection[int]) -> set[int]:
    """Which of these tokens are still live (find_token's rule), in one query."""
    rows = await conn.fetch(f"SELECT t.id {_LIVE_TOKENS} AND t.id = ANY($1::bigint[])", sorted(token_ids))
    return {r["id"] for r in rows}


# ---- signed form tokens ------------------------------------------------------------------------
def sign_form_token(secret: str, purpose: str, parts: Sequence[str | int | None], *, now: int | None = None) -> str:
    """`<unix time>.<HMAC-SHA256>` over the purpose and the values the form must carry back unchanged."""
    issued = int(time.time()) if now is None else now
    return f"{issued}.{_form_mac(secret, purpose, issued, parts)}"


def verify_form_token(
    secret: str, token: str | None, purpose: str, parts: Sequence[str | int | None], *, max_age: int
) -> bool:
    issued_text, _, mac = (token or "").partition(".")
    if not (issued_text.isascii() and issued_text.isdigit()) or len(issued_text) > 12:  # '²' passes isdigit()
        return False
    issued = int(issued_text)
    if not -60 <= time.time() - issued <= max_age:  # a minute of clock skew between processes
        return False
    return hmac.compare_digest(mac, _form_mac(secret, purpose, issued, parts))


def _form_mac(secret: str, purpose: str, issued: int, parts: Sequence[str | int | None]) -> str:
    message = json.dumps([purpose, issued, *parts], separators=(",", ":")).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
