"""Signing in and out on a page (the session itself and CSRF: web/session.py).

    GET  /session/login     the sign-in form (`next`: where to go back to)
    POST /session/login     check the password (core.oauth.authenticate_user, as the authorize page),
                            open a session (core/browser_sessions.py), set its cookie, go back to `next`
    POST /session/logout    end this browser's session

The sign-in form has no session yet: its CSRF token is signed over `next` and lives an hour. Attempts are
throttled per IP like the API's logins (ratelimit.py, LOGIN_PATHS).
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.core import browser_sessions, oauth
from fediverse_biz.services import services
from fediverse_biz.web.inputs import BadPageInput, page_form, page_query
from fediverse_biz.web.session import (
    COOKIE,
    PAGE_HEADERS,
    csrf_ok,
    current_user,
    safe_next,
    secret,
    set_session_cookie,
)
from fediverse_biz.web.team_page import page

LOGIN_FORM_MAX_AGE: Final = 3600


async def _login_page(request: Request, next_path: str, status: int = 200, **context: Any) -> Response:
    token = oauth.sign_form_token(secret(request), "session-login", [next_path])
    context = {"error": None, "login": "", **context}
    return await page(request, status, page="login", next=next_path, csrf_token=token, **context)


async def login_page(request: Request) -> Response:
    return await _login_page(request, safe_next(page_query(request).get("next")))


async def login_submit(request: Request) -> Response:
    try:
        form = await page_form(request)
    except BadPageInput as exc:  # the form again, saying which field could not be read
        next_path = safe_next(exc.values.get("next"))
        error = f"This form could not be read: {exc}."
        return await _login_page(request, next_path, 400, error=error, login=exc.values.get("login", ""))
    next_path = safe_next(form.get("next"))
    login, password, token = form.get("login") or "", form.get("password") or "", form.get("csrf_token") or ""
    if not oauth.verify_form_token(secret(request), token, "session-login", [next_path], max_age=LOGIN_FORM_MAX_AGE):
        return await _login_page(request, next_path, 403, error="This form has expired. Please sign in again.")
    pool = services(request).pool
    try:
        user = await oauth.authenticate_user(pool, login, password)
    except oauth.OAuthError as exc:
        return await _login_page(request, next_path, 401, error=exc.description, login=login)
    signed = await browser_sessions.open_session(
        pool, user["id"], remembered=form.get("remember") == "1", user_agent=request.headers.get("user-agent", "")
    )
    response = RedirectResponse(next_path, status_code=303, headers=PAGE_HEADERS)
    set_session_cookie(request, response, signed)
    return response


async def logout(request: Request) -> Response:
    user = await current_user(request)
    token = (await page_form(request)).get("csrf_token") or ""
    if user is not None and not csrf_ok(request, user, token):  # a forged sign-out is a nuisance, refuse it
        return await page(request, 403, page="message", heading="Sign-out failed", message="This form has expired.")
    if user is not None:
        await browser_sessions.revoke(services(request).pool, user["id"], user["session_id"])
    response = RedirectResponse("/session/login", status_code=303, headers=PAGE_HEADERS)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


routes: list[BaseRoute] = [
    Route("/session/login", login_page, methods=["GET"]),
    Route("/session/login", login_submit, methods=["POST"]),
    Route("/session/logout", logout, methods=["POST"]),
]
