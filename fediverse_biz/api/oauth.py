"""OAuth endpoints: /oauth/authorize (HTML), /oauth/token, /oauth/revoke, and the RFC 8414 metadata.

A browser signed in on the pages (core/browser_sessions.py) is asked only for consent; otherwise the
user signs in on the consent form itself. Its hidden fields
carry the authorization request back and are re-validated on POST; a signed token (HMAC of the
client and redirect URI, valid an hour) stops forms forged elsewhere. A user who belongs to
organizations gets a second step to choose the identity the token acts as, carried by a signed
ticket instead of the password.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from fediverse_biz.api.errors import ApiError, error_body
from fediverse_biz.api.params import Params, read_params
from fediverse_biz.core import browser_sessions, oauth, scopes
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

# Autoescaping on (app names come from strangers); trimmed blocks keep the served HTML tidy.
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.PackageLoader("fediverse_biz.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)

CSRF_MAX_AGE = 3600
TICKET_MAX_AGE = 600
# RFC 6749 §5.1: token responses must not be cached. The consent page must not be framed (clickjacking).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PAGE_HEADERS = {
    **NO_STORE,
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
}
SCOPE_DESCRIPTIONS = {
    "read": "Read all your account's data",
    "write": "Modify all your account's data",
    "follow": "Follow, block and mute accounts",
    "push": "Receive push notifications",
    "profile": "Read only your basic profile information",
    "admin:read": "Read all data on the server",
    "admin:write": "Moderate and administer the server",
}


# ---- /oauth/authorize --------------------------------------------------------------------------
async def _authorization_request(request: Request, params: Params) -> oauth.AuthorizationRequest:
    return await oauth.check_authorization_request(
        services(request).pool,
        client_id=params.get("client_id"),
        redirect_uri=params.get("redirect_uri"),
        response_type=params.get("response_type"),
        scope=params.get("scope"),
        state=params.get("state"),
        code_challenge=params.get("code_challenge"),
        code_challenge_method=params.get("code_challenge_method"),
    )


def _secret(request: Request) -> str:
    secret = services(request).settings.secret_key
    if not secret:
        raise RuntimeError("settings.secret_key is not set; `fediverse-biz init` creates one")
    return str(secret)


def _hidden_fields(request: Request, auth: oauth.AuthorizationRequest) -> dict[str, str]:
    fields = {
        "client_id": auth.app.client_id,
        "redirect_uri": auth.redirect_uri,
        "response_type": "code",
        "scope": " ".join(auth.scopes),
        "csrf_token": oauth.sign_form_token(_secret(request), "authorize", [auth.app.client_id, auth.redirect_uri]),
    }
    optional = {
        "state": auth.state,
        "code_challenge": auth.code_challenge,
        "code_challenge_method": auth.code_challenge_method,
    }
    fields.update({name: value for name, value in optional.items() if value is not None})
    return fields


def _ticket_parts(auth: oauth.AuthorizationRequest, user_id: int) -> list[str | int | None]:
    return [user_id, auth.app.client_id, auth.redirect_uri, " ".join(auth.scopes), auth.code_challenge, auth.state]


def _page(request: Request, auth: oauth.AuthorizationRequest | None, status: int = 200, **context: Any) -> Response:
    if auth is not None:
        context.setdefault("app_name", auth.app.name)
        context.setdefault("app_website", auth.app.website)
        context.setdefault("scopes", [(s, SCOPE_DESCRIPTIONS.get(s, s.replace(":", ": ", 1))) for s in auth.scopes])
        context.setdefault("hidden", _hidden_fields(request, auth))
    return templates.TemplateResponse(request, "authorize.html", context, status_code=status, headers=PAGE_HEADERS)


def _with_query(uri: str, values: dict[str, str | None]) -> str:
    query = urlencode({k: v for k, v in values.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def _authorize_error(request: Request, params: Params, exc: oauth.OAuthError) -> Response:
    """RFC 6749 §4.1.2.1: never redirect to an unverified URI; otherwise send the error back to the client."""
    redirect_uri = params.get("redirect_uri")
    if not exc.redirectable or not redirect_uri or redirect_uri == oauth.OOB_REDIRECT_URI:
        return _page(request, None, 400, page="error", error=exc.description)
    target = {"error": exc.error, "error_description": exc.description, "state": params.get("state")}
    return RedirectResponse(_with_query(redirect_uri, target), status_code=302, headers=NO_STORE)


async def _page_params(request: Request) -> Params | Response:
    """The API's reader (it tolerates Mastodon.py's force_login=False&state=None&lang=None); what it
    refuses (text that is not storable, a malformed body) is this HTML page's 400, not a JSON error."""
    try:
        return await read_params(request)
    except ApiError as exc:
        return _page(request, None, 400, page="error", error=exc.error)


async def authorize_page(request: Request) -> Response:
    params = await _page_params(request)
    if isinstance(params, Response):
        return params
    try:
        auth = await _authorization_request(request, params)
    except oauth.OAuthError as exc:
        return _authorize_error(request, params, exc)
    # Signed in on the pages already (core/browser_sessions.py): consent without the password again,
    # through the same signed ticket that carries a member's choice of identity.
    pool = services(request).pool
    user = await browser_sessions.find(pool, request.cookies.get(browser_sessions.COOKIE))
    if user is not None:
        ticket = oauth.sign_form_token(_secret(request), "login", _ticket_parts(auth, user["id"]))
        choices = await oauth.identities(pool, user["id"])
        return _page(request, auth, page="choose", identities=choices, ticket=ticket, user_id=user["id"],
                     signed_in_as=user["username"])  # fmt: skip
    return _page(request, auth, page="login")


async def authorize_submit(request: Request) -> Response:
    params = await _page_params(request)
    if isinstance(params, Response):
        return params
    secret = _secret(request)
    signed = [params.get("client_id"), params.get("redirect_uri")]
    if not oauth.verify_form_token(secret, params.get("csrf_token"), "authorize", signed, max_age=CSRF_MAX_AGE):
        expired = "This form has expired or was not issued here. Please start again."
        return _page(request, None, 403, page="error", error=expired)
    try:
        auth = await _authorization_request(request, params)
    except oauth.OAuthError as exc:
        return _authorize_error(request, params, exc)
    if params.get("deny"):
        denied = oauth.OAuthError("access_denied", "The user denied the request.")
        return _authorize_error(request, params, denied)
    pool = services(request).pool
    ticket = params.get("login_ticket")
    if ticket:
        user_id = params.get_int("user_id", 0)
        if not oauth.verify_form_token(secret, ticket, "login", _ticket_parts(auth, user_id), max_age=TICKET_MAX_AGE):
            return _page(request, auth, 403, page="login", error="Your sign-in has expired. Please sign in again.")
    else:
        try:
            user = await oauth.authenticate_user(pool, params.get("login") or "", params.get("password") or "")
        except oauth.OAuthError as exc:
            return _page(request, auth, 401, page="login", error=exc.description, login=params.get("login") or "")
        user_id = user["id"]
        choices = await oauth.identities(pool, user_id)
        if len(choices) > 1 and not params.get("actor"):
            # An organization member chooses who the app acts as before any code exists.
            ticket_value = oauth.sign_form_token(secret, "login", _ticket_parts(auth, user_id))
            return _page(request, auth, page="choose", identities=choices, ticket=ticket_value, user_id=user_id)
    try:
        actor_id = await oauth.choose_identity(pool, user_id, params.get("actor"))
    except oauth.OAuthError as exc:
        return _page(request, auth, 403, page="error", error=exc.description)
    code = await oauth.create_code(pool, auth, user_id=user_id, actor_id=actor_id)
    if auth.redirect_uri == oauth.OOB_REDIRECT_URI:
        return _page(request, auth, page="code", code=code)
    return RedirectResponse(
        _with_query(auth.redirect_uri, {"code": code, "state": auth.state}), status_code=302, headers=NO_STORE
    )


# ---- /oauth/token, /oauth/revoke ---------------------------------------------------------------
def _oauth_error(exc: oauth.OAuthError, *, basic: bool = False) -> Response:
    headers = dict(NO_STORE)
    if exc.status == 401 and basic:
        headers["WWW-Authenticate"] = 'Basic realm="fediverse_biz"'  # RFC 6749 §5.2
    return JSONResponse(error_body(exc.error, exc.description), status_code=exc.status, headers=headers)


def _client_credentials(request: Request, params: Params) -> tuple[str | None, str | None, bool]:
    """HTTP Basic (RFC 6749 §2.3.1: form-encoded id and secret) or client_id/client_secret fields."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None, True
        client_id, _, client_secret = decoded.partition(":")
        return unquote_plus(client_id), unquote_plus(client_secret), True
    return params.get("client_id"), params.get("client_secret"), False


async def _body_params(request: Request) -> Params:
    try:
        return await read_params(request)
    except ApiError as exc:
        raise oauth.OAuthError("invalid_request", str(exc.detail)) from None


async def issue_token(request: Request) -> Response:
    pool = services(request).pool
    basic = False
    try:
        params = await _body_params(request)
        client_id, client_secret, basic = _client_credentials(request, params)
        app = await oauth.authenticate_client(pool, client_id, client_secret)
        grant_type = params.get("grant_type")
        if grant_type == "authorization_code":
            # The scope field is ignored here: the code carries what the user approved.
            token = await oauth.exchange_code(
                pool, app, params.get("code"), params.get("redirect_uri"), params.get("code_verifier")
            )
        elif grant_type == "client_credentials":
            token = await oauth.client_credentials_token(pool, app, params.get("scope"))
        elif grant_type == "password" and services(request).settings.enable_password_grant:
            # Removed from Mastodon in 4.4 (https://github.com/mastodon/mastodon/pull/30960); kept behind a
            # switch for test clients.
            token = await oauth.password_token(
                pool,
                app,
                login=params.get("username"),
                password=params.get("password"),
                scope=params.get("scope"),
                actor=params.get("actor"),
            )
        elif grant_type:
            raise oauth.OAuthError("unsupported_grant_type", f"The grant type {grant_type!r} is not supported.")
        else:
            raise oauth.OAuthError("invalid_request", "grant_type is required.")
    except oauth.OAuthError as exc:
        return _oauth_error(exc, basic=basic)
    body = {
        "access_token": token.access_token,
        "token_type": "Bearer",
        "scope": " ".join(token.scopes),  # Mastodon.py raises unless every requested scope is listed
        "created_at": int(token.created_at.timestamp()),
    }
    return JSONResponse(body, headers=NO_STORE)


async def revoke_token(request: Request) -> Response:
    basic = False
    try:
        params = await _body_params(request)
        client_id, client_secret, basic = _client_credentials(request, params)
        app = await oauth.authenticate_client(services(request).pool, client_id, client_secret)
        await oauth.revoke_token(services(request).pool, app, params.get("token"))
    except oauth.OAuthError as exc:
        return _oauth_error(exc, basic=basic)
    return JSONResponse({}, headers=NO_STORE)


# ---- RFC 8414 metadata -------------------------------------------------------------------------
async def authorization_server_metadata(request: Request) -> Response:
    """Mastodon 4.3's document. Publishing it commits us to PKCE S256 (Phanpy switches on it) and
    Mastodon.py reads the endpoints and grant types from it (its `oauth_authorization_server_info`)."""
    settings = services(request).settings
    base = settings.base_url
    grants = ["authorization_code", "client_credentials"]
    if settings.enable_password_grant:
        grants.append("password")  # Mastodon.py refuses log_in(username, password) unless listed
    return JSONResponse(
        {
            "issuer": f"{base}/",
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "app_registration_endpoint": f"{base}/api/v1/apps",
            "scopes_supported": sorted(scopes.ALL_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": grants,
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
    )


routes: list[BaseRoute] = [
    # toot opens /oauth/authorize/ with a trailing slash (toot/api.py get_browser_login_url).
    *(Route(path, authorize_page, methods=["GET"]) for path in ("/oauth/authorize", "/oauth/authorize/")),
    *(Route(path, authorize_submit, methods=["POST"]) for path in ("/oauth/authorize", "/oauth/authorize/")),
    Route("/oauth/token", issue_token, methods=["POST"]),
    Route("/oauth/revoke", revoke_token, methods=["POST"]),
    Route("/.well-known/oauth-authorization-server", authorization_server_metadata, methods=["GET"]),
]
