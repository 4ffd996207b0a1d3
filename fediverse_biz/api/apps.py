"""POST /api/v1/apps and GET /api/v1/apps/verify_credentials (https://docs.joinmastodon.org/methods/apps/)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api.auth import require
from fediverse_biz.api.errors import ApiError
from fediverse_biz.api.params import read_params
from fediverse_biz.core import oauth
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services

# We offer no Web Push yet. Mastodon sends its VAPID key here (deprecated since 4.3, still read by
# Elk and Phanpy); an empty string is an honest "none" that keeps the field's type.
VAPID_KEY = ""


def application_json(app: oauth.App) -> dict[str, Any]:
    """The Application entity (what verify_credentials returns)."""
    return {
        "id": str(app.id),
        "name": app.name,
        "website": app.website,
        "scopes": list(app.scopes),
        "redirect_uri": "\n".join(app.redirect_uris),  # deprecated, newline-joined (Mastodon 4.3)
        "redirect_uris": list(app.redirect_uris),
        "vapid_key": VAPID_KEY,
    }


def credential_application_json(app: oauth.App) -> dict[str, Any]:
    """CredentialApplication: the Application plus its client credentials, returned once at creation."""
    return {
        **application_json(app),
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "client_secret_expires_at": 0,  # never expires
    }


async def create_app(request: Request) -> Response:
    params = await read_params(request)
    # redirect_uris: one string (Mastodon.py joins a list with newlines) or a JSON/bracket array (4.3+).
    uris = [line.strip() for value in params.get_list("redirect_uris") for line in value.split("\n")]
    try:
        app = await oauth.create_app(
            services(request).pool,
            name=params.get("client_name") or "",
            redirect_uris=[uri for uri in uris if uri],
            scopes=params.get("scopes"),
            website=params.get("website"),
        )
    except oauth.AppError as exc:
        raise ApiError(422, f"Validation failed: {exc}") from None
    return JSONResponse(credential_application_json(app))


async def verify_app_credentials(request: Request) -> Response:
    # Any valid token, app or user (Mastodon.py app_verify_credentials uses whichever it holds).
    viewer = await require(request, user=False)
    app = await oauth.app_by_id(services(request).pool, viewer.app_id) if viewer.app_id is not None else None
    if app is None:
        raise ApiError(401, "The access token is invalid")
    return JSONResponse(application_json(app))


routes: list[BaseRoute] = [
    Route("/api/v1/apps", create_app, methods=["POST"]),
    Route("/api/v1/apps/verify_credentials", verify_app_credentials, methods=["GET"]),
]
