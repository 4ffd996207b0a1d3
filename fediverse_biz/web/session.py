"""A browser session for the team pages (review queue, invitations): sign in once, get a cookie.

The OAuth authorize page needs no session (the user signs in on the consent form itself); the team
pages do, since a bearer token cannot ride along with a browser's clicks. The sign-in checks the
same credentials as the authorize page (core.oauth.authenticate_user), then sets:

- a cookie `<user id>.<issued>.<HMAC-SHA256>` signed with settings.secret_key over the user id and
  the user's password hash — so changing the password ends every session — valid 12 hours;
  HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it), Secure over https;
- on every form a CSRF token, an HMAC over the user id with its own purpose and a 2-hour life,
  checked before any change (SameSite alone leaves older browsers and same-site pages exposed).

Nothing is stored server-side: sign-out clears the cookie; a stolen cookie lives until it expires
or the password changes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import asyncpg
import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from fediverse_biz.core import oauth
from fediverse_biz.core.ids import parse_id
from fediverse_biz.core.wording import counted, noun, with_article
from fediverse_biz.services import services
from fediverse_biz.web.inputs import BadPageInput, page_form, page_query

COOKIE = "fediverse_biz_session"
SESSION_MAX_AGE = 12 * 3600
CSRF_MAX_AGE = 2 * 3600
LOGIN_FORM_MAX_AGE = 3600
# Same hardening as the authorize page: nothing framed, cached, loaded or scripted.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
}

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.PackageLoader("fediverse_biz.web", "templates"),
        autoescape=True,  # post text, names and reasons come from people
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
# The wording rules every page uses (web/rendering.py registers the same): "as an editor", "1 reply".
templates.env.filters.update(counted=counted, noun=noun, with_article=with_article)


def _secret(request: Request) -> str:
    secret = services(request).settings.secret_key
    if not secret:
        raise RuntimeError("settings.secret_key is not set; `fediverse-biz init` creates one")
    return str(secret)


def page(request: Request, status: int = 200, **context: Any) -> Response:
    """review.html in one of its states (`page=`): login, organizations, queue, invitation, message."""
    return templates.TemplateResponse(request, "review.html", context, status_code=status, headers=PAGE_HEADERS)


def safe_next(target: str | None, default: str = "/review") -> str:
    """A local path to go back to after sign-in; anything else (another site, //host) goes to default."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


# ---- the session cookie ------------------------------------------------------------------------
async def current_user(request: Request) -> asyncpg.Record | None:
    """The signed-in, enabled and approved user of this browser, or None."""
    cached: asyncpg.Record | None = request.scope.get("fediverse_biz.session_user")
    if cached is not None:
        return cached
    user_text, _, signed = request.cookies.get(COOKIE, "").partition(".")
    user_id = parse_id(user_text)
    if user_id is None:  # a cookie we did not write
        return None
    user = await services(request).pool.fetchrow(
        """SELECT u.*, a.username FROM users u JOIN actors a ON a.id = u.actor_id
            WHERE u.id = $1 AND NOT u.disabled AND u.approved""",
        user_id,
    )
    if user is None or not oauth.verify_form_token(
        _secret(request), signed, "session", [user["id"], user["password_hash"]], max_age=SESSION_MAX_AGE
    ):
        return None
    request.scope["fediverse_biz.session_user"] = user
    return user


def _set_session(request: Request, response: Response, user: asyncpg.Record) -> None:
    signed = oauth.sign_form_token(_secret(request), "session", [user["id"], user["password_hash"]])
    response.set_cookie(
        COOKIE,
        f"{user['id']}.{signed}",
        max_age=SESSION_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=services(request).settings.scheme == "https",
    )


def login_redirect(request: Request) -> Response:
    """Send a browser without a session to the sign-in page, to come back here afterwards."""
    return RedirectResponse(f"/session/login?next={quote(request.url.path)}", status_code=303, headers=PAGE_HEADERS)


# ---- CSRF --------------------------------------------------------------------------------------
def csrf_token(request: Request, user: asyncpg.Record) -> str:
    return oauth.sign_form_token(_secret(request), "team-csrf", [user["id"]])


def csrf_ok(request: Request, user: asyncpg.Record, token: str | None) -> bool:
    return oauth.verify_form_token(_secret(request), token, "team-csrf", [user["id"]], max_age=CSRF_MAX_AGE)


# ---- sign in, sign out -------------------------------------------------------------------------
def _login_page(request: Request, next_path: str, status: int = 200, **context: Any) -> Response:
    token = oauth.sign_form_token(_secret(request), "session-login", [next_path])
    return page(request, status, page="login", next=next_path, csrf_token=token, **context)


async def login_page(request: Request) -> Response:
    return _login_page(request, safe_next(page_query(request).get("next")))


async def login_submit(request: Request) -> Response:
    try:
        form = await page_form(request)
    except BadPageInput as exc:  # the form again, saying which field could not be read
        next_path = safe_next(exc.values.get("next"))
        error = f"This form could not be read: {exc}."
        return _login_page(request, next_path, 400, error=error, login=exc.values.get("login", ""))
    next_path = safe_next(form.get("next"))
    login, password, token = form.get("login") or "", form.get("password") or "", form.get("csrf_token") or ""
    if not oauth.verify_form_token(_secret(request), token, "session-login", [next_path], max_age=LOGIN_FORM_MAX_AGE):
        return _login_page(request, next_path, 403, error="This form has expired. Please sign in again.")
    try:
        user = await oauth.authenticate_user(services(request).pool, login, password)
    except oauth.OAuthError as exc:
        return _login_page(request, next_path, 401, error=exc.description, login=login)
    response = RedirectResponse(next_path, status_code=303, headers=PAGE_HEADERS)
    _set_session(request, response, user)
    return response


async def logout(request: Request) -> Response:
    user = await current_user(request)
    token = (await page_form(request)).get("csrf_token") or ""
    if user is not None and not csrf_ok(request, user, token):  # a forged sign-out is a nuisance, refuse it
        return page(request, 403, page="message", heading="Sign-out failed", message="This form has expired.")
    response = RedirectResponse("/session/login", status_code=303, headers=PAGE_HEADERS)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


routes: list[BaseRoute] = [
    Route("/session/login", login_page, methods=["GET"]),
    Route("/session/login", login_submit, methods=["POST"]),
    Route("/session/logout", logout, methods=["POST"]),
]
