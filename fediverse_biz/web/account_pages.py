"""The signed-in person's own pages: where they are signed in, and their password.

    GET  /session/sessions                  every live session (this one marked), each with Revoke
    POST /session/sessions/{id}/revoke      end one (ending this one signs this browser out)
    GET  /session/password                  the form: current password, new one, the new one again
    POST /session/password                  change it (core.accounts.change_password); other sessions end

Everything here concerns the person, never an organization, so no role is involved: only a session.
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.core import accounts, browser_sessions
from fediverse_biz.core.ids import parse_id
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.form_errors import worded
from fediverse_biz.web.inputs import BadPageInput, page_form, page_query
from fediverse_biz.web.rendering import NO_STORE, Meta, error_page, render
from fediverse_biz.web.session import COOKIE, csrf_ok, current_user, login_redirect
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL

PASSWORD_NOUNS: Final = {
    "current_password": "Your current password",
    "new_password": "The new password",
    "confirmation": "The repeated new password",
}
DONE: Final = {
    "revoked": "That session has ended.",
    "password": "Your password is changed. Every other session has ended.",
}


def _meta(request: Request, title: str) -> Meta:
    urls: LocalUrls = services(request).urls
    return Meta(title=title, description=title, url=urls.base + request.url.path,
                image=urls.static(INSTANCE_THUMBNAIL), noindex=True)  # fmt: skip


def _browser(user_agent: str) -> str:
    """A short name for a session's browser, from its User-Agent (enough to tell one's devices apart)."""
    for name in ("Firefox", "Edg", "Chrome", "Safari"):
        if name in user_agent:
            browser = {"Edg": "Edge"}.get(name, name)
            break
    else:
        browser = "A browser"
    for system in ("Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux"):
        if system in user_agent:
            return f"{browser} on {system.replace('Mac OS', 'macOS')}"
    return browser


async def sessions_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    rows = await browser_sessions.of_user(services(request).pool, user["id"])
    sessions = [
        {
            "id": r["id"],
            "browser": _browser(r["user_agent"]),
            "current": r["id"] == user["session_id"],
            "since": r["created_at"],
            "seen": r["last_seen_at"],
            "until": r["expires_at"],
            "remembered": r["remembered"],
        }
        for r in rows
    ]
    sessions.sort(key=lambda s: not s["current"])  # this browser first, then the others newest first
    context = {"state": "sessions", "sessions": sessions, "done": DONE.get(page_query(request).get("done") or "")}
    return await render(request, "account.html", context, meta=_meta(request, "Where you are signed in"),
                        headers=NO_STORE)  # fmt: skip


async def revoke_session(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await page_form(request)
    if not csrf_ok(request, user, form.get("csrf_token")):
        return await error_page(request, 403, "Form expired", "This form has expired. Reload the page and try again.")
    session_id = parse_id(request.path_params["session_id"])
    pool = services(request).pool
    if session_id is None or not await browser_sessions.revoke(pool, user["id"], session_id):
        return await error_page(request, 404, "Not found", "You have no such session.", back="/session/sessions")
    if session_id == user["session_id"]:  # this browser signed itself out
        response = RedirectResponse("/session/login", status_code=303, headers=NO_STORE)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response
    return RedirectResponse("/session/sessions?done=revoked", status_code=303, headers=NO_STORE)


async def _password_form(
    request: Request, user: asyncpg.Record, status: int = 200, **context: Any
) -> Response:
    body = {"state": "password", "errors": {}, "error": None, **context}
    return await render(request, "account.html", body, meta=_meta(request, "Change your password"),
                        status_code=status, headers=NO_STORE)  # fmt: skip


async def password_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    return await _password_form(request, user)


async def change_password(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    try:
        form = await page_form(request)
    except BadPageInput as exc:
        return await _password_form(request, user, 422, errors=worded({exc.field: exc.reason}, PASSWORD_NOUNS))
    if not csrf_ok(request, user, form.get("csrf_token")):
        return await _password_form(request, user, 403, error="This form has expired. Please send it again.")
    try:
        await accounts.change_password(
            services(request).pool,
            user["id"],
            form.get("current_password") or "",
            form.get("new_password") or "",
            form.get("confirmation") or "",
            keep_session=user["session_id"],
        )
    except accounts.PasswordNotChanged as exc:
        return await _password_form(request, user, 422, errors=worded(exc.problems, PASSWORD_NOUNS))
    return RedirectResponse("/session/sessions?done=password", status_code=303, headers=NO_STORE)


routes: list[BaseRoute] = [
    Route("/session/sessions", sessions_page, methods=["GET"]),
    Route("/session/sessions/{session_id}/revoke", revoke_session, methods=["POST"]),
    Route("/session/password", password_page, methods=["GET"]),
    Route("/session/password", change_password, methods=["POST"]),
]
