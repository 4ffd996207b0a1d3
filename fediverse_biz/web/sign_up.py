"""The sign-up page, when the instance takes sign-ups (`registration_mode` open or approval).

    GET  /sign-up    the form: username, email, password twice, in approval mode a reason, and the
                     instance's rules and privacy policy to agree to
    POST /sign-up    core.registrations.register_on_page: the API's rules (POST /api/v1/accounts),
                     every problem at once, beside its field; then, open: signed in; approval: a page
                     saying the sign-up waits for a moderator

Closed: no form, a 404 page that says sign-ups are closed. The form has no session yet: its CSRF token is
signed (core.oauth.sign_form_token), an hour. Sign-ups are throttled per IP with the API's
(ratelimit.py, `rate_limit_sign_ups`).
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.core import browser_sessions, oauth, registrations
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.instance_facts import describe, has_privacy_policy
from fediverse_biz.services import services
from fediverse_biz.urls import PRIVACY_POLICY_PATH, LocalUrls
from fediverse_biz.web.form_errors import worded
from fediverse_biz.web.inputs import BadPageInput, page_form
from fediverse_biz.web.rendering import NO_STORE, Meta, error_page, render
from fediverse_biz.web.session import set_session_cookie
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL

PATH: Final = "/sign-up"
FORM_MAX_AGE: Final = 3600
NOUNS: Final = {
    "username": "The username",
    "email": "The email address",
    "password": "The password",
    "confirmation": "The repeated password",
    "reason": "Your reason",
    "agreement": "The agreement",
}
CLOSED: Final = "This server does not take sign-ups. Ask its administrators (see About) for an account."


def _secret(request: Request) -> str:
    return str(services(request).settings.secret_key)


async def _page(request: Request, status: int = 200, **context: Any) -> Response:
    settings = services(request).settings
    urls: LocalUrls = services(request).urls
    facts = await services(request).instance_facts.get()
    body = {
        "state": "form",
        "mode": settings.registration_mode,
        "rules": describe(settings, facts)["rules"],
        "privacy_policy_url": urls.base + PRIVACY_POLICY_PATH if has_privacy_policy(facts) else None,
        "form_token": oauth.sign_form_token(_secret(request), "sign-up", []),
        "values": {},
        "errors": {},
        "error": None,
        **context,
    }
    meta = Meta(title="Sign up", description="Create an account on this server", url=urls.base + PATH,
                image=urls.static(INSTANCE_THUMBNAIL), noindex=True)  # fmt: skip
    return await render(request, "sign_up.html", body, meta=meta, status_code=status, headers=NO_STORE)


def _open(request: Request) -> bool:
    return services(request).settings.registration_mode in ("open", "approval")


async def sign_up_page(request: Request) -> Response:
    if not _open(request):
        return await error_page(request, 404, "Sign-ups are closed", CLOSED)
    return await _page(request)


async def sign_up(request: Request) -> Response:
    if not _open(request):
        return await error_page(request, 404, "Sign-ups are closed", CLOSED)
    try:
        form = await page_form(request)
    except BadPageInput as exc:
        kept = {k: v for k, v in exc.values.items() if "password" not in k and k != "confirmation"}
        return await _page(request, 422, values=kept, errors=worded({exc.field: exc.reason}, NOUNS))
    values = {k: form.get(k) or "" for k in ("username", "email", "reason")}
    if not oauth.verify_form_token(_secret(request), form.get("form_token"), "sign-up", [], max_age=FORM_MAX_AGE):
        return await _page(request, 403, values=values, error="This form has expired. Please send it again.")
    password = form.get("password") or ""
    pool, settings = services(request).pool, services(request).settings
    problems: dict[str, str] = {}
    if password and form.get("confirmation") != password:
        problems["confirmation"] = "does not match the password"
    try:
        if problems:  # the domain's checks run too, so that every problem is said at once
            await registrations.check_sign_up(pool, _sign_up(form))
        else:
            user_id = await registrations.register_on_page(pool, services(request).urls, settings.registration_mode,
                                                           _sign_up(form))  # fmt: skip
    except registrations.RegistrationError as exc:
        problems = {name: "; ".join(text for _, text in found) for name, found in exc.details.items()} | problems
    except DomainError as exc:
        return await _page(request, exc.status, values=values, error=str(exc))
    if problems:
        return await _page(request, 422, values=values, errors=worded(problems, NOUNS))
    if settings.registration_mode == "approval":
        return await _page(request, 200, state="waiting", values=values)
    signed = await browser_sessions.open_session(pool, user_id, remembered=False,
                                                 user_agent=request.headers.get("user-agent", ""))  # fmt: skip
    response = RedirectResponse("/compose", status_code=303, headers=NO_STORE)
    set_session_cookie(request, response, signed)
    return response


def _sign_up(form: Any) -> registrations.SignUp:
    return registrations.SignUp(
        username=(form.get("username") or "").strip(),
        email=form.get("email") or "",
        password=form.get("password") or "",
        agreement=form.get("agreement") == "1",
        reason=(form.get("reason") or "").strip() or None,
    )


routes: list[BaseRoute] = [
    Route(PATH, sign_up_page, methods=["GET"]),
    Route(PATH, sign_up, methods=["POST"]),
]
