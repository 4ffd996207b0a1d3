"""The browser session of the pages, and the one CSRF mechanism of every page form (the sign-in and
sign-out pages that open and end a session: web/sign_in.py).

The cookie carries a random token whose SHA-256 the server keeps: a session can be listed and revoked
(web/account_pages.py), ends when the password changes, and a copy of the database signs no one in.
It is HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it), Secure over https,
and lasts a month with "Keep me signed in", else until the browser closes (12 hours at most).

CSRF: every form of a signed-in page carries `csrf_token`, an HMAC of the session's id
(core.browser_sessions.csrf_token), checked before any change; SameSite alone leaves older browsers and
same-site pages exposed. The sign-in form has no session yet: its token is signed over `next` and lives
an hour. Sign-in attempts are throttled per IP like the API's logins (ratelimit.py, LOGIN_PATHS).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

import asyncpg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from fediverse_biz.core import browser_sessions
from fediverse_biz.services import services

COOKIE: Final = browser_sessions.COOKIE
_SCOPE_KEY: Final = "fediverse_biz.session_user"
# For redirects that answer a form: never cached.
PAGE_HEADERS: Final = {"Cache-Control": "no-store"}


def secret(request: Request) -> str:
    key = services(request).settings.secret_key
    if not key:
        raise RuntimeError("settings.secret_key is not set; `fediverse-biz init` creates one")
    return str(key)


def safe_next(target: str | None, default: str = "/review") -> str:
    """A local path to go back to after sign-in; anything else (another site, //host) goes to default."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


# ---- the session -------------------------------------------------------------------------------
async def current_user(request: Request) -> asyncpg.Record | None:
    """The signed-in, enabled and approved user of this browser (with `session_id`), or None."""
    if _SCOPE_KEY in request.scope:  # looked up once per request, signed in or not
        cached: asyncpg.Record | None = request.scope[_SCOPE_KEY]
        return cached
    token = request.cookies.get(COOKIE)
    user = await browser_sessions.find(services(request).pool, token) if token else None
    request.scope[_SCOPE_KEY] = user
    return user


def set_session_cookie(request: Request, response: Response, signed: browser_sessions.Signed) -> None:
    response.set_cookie(
        COOKIE,
        signed.token,
        max_age=signed.max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=services(request).settings.scheme == "https",
    )


def login_redirect(request: Request) -> Response:
    """Send a browser without a session to the sign-in page, to come back here afterwards."""
    return RedirectResponse(f"/session/login?next={quote(request.url.path)}", status_code=303, headers=PAGE_HEADERS)


# ---- CSRF: one mechanism for every form of a signed-in page ------------------------------------
def csrf_token(request: Request, user: asyncpg.Record) -> str:
    return browser_sessions.csrf_token(secret(request), user["session_id"])


def csrf_ok(request: Request, user: asyncpg.Record, token: str | None) -> bool:
    return browser_sessions.csrf_ok(secret(request), user["session_id"], token)
