"""Who is calling: the bearer token, its scopes, and the guards handlers use.

    viewer = await require(request, "write:statuses")   # a user token with that scope, else 401/403/422
    viewer = await optional(request, "read:statuses")   # anonymous is fine; a bad token is still 401
    viewer = await require(request, user=False)         # any valid token, app tokens included

Messages and statuses are Mastodon's (app/controllers/api/base_controller.rb and Doorkeeper), because
clients match on the status code and show the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from ..core import oauth
from .errors import ApiError

INVALID_TOKEN = "The access token is invalid"
OUTSIDE_SCOPES = "This action is outside the authorized scopes"
USER_REQUIRED = "This method requires an authenticated user"
_UNSET = object()


@dataclass(frozen=True)
class Viewer:
    token_id: int
    app_id: int | None
    user_id: int | None  # None for client_credentials (app) tokens
    actor_id: int | None  # the actor the token acts as: the user's own, or an organization
    scopes: frozenset[str]
    user_role: str | None  # admin / moderator / member


def bearer_token(connection: HTTPConnection) -> str | None:
    """The token from `Authorization: Bearer`, the `access_token` query parameter (Doorkeeper accepts it
    everywhere; streaming clients need it), or a WebSocket subprotocol (masto.js sends it there)."""
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = connection.query_params.get("access_token")
    if token:
        return token
    if connection.scope["type"] == "websocket":
        protocol = connection.headers.get("sec-websocket-protocol", "").split(",")[0].strip()
        return protocol or None
    return None


async def current_viewer(connection: HTTPConnection) -> Viewer | None:
    """The viewer for a valid token, None when no token was sent; a token that is sent but invalid,
    revoked, or whose user is disabled raises 401. Cached on the request."""
    cached = getattr(connection.state, "viewer", _UNSET)
    if cached is not _UNSET:
        assert cached is None or isinstance(cached, Viewer)
        return cached
    token = bearer_token(connection)
    viewer: Viewer | None = None
    if token is not None:
        info = await oauth.find_token(connection.app.state.pool, token)
        if info is None:
            raise ApiError(401, INVALID_TOKEN, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        viewer = Viewer(info.id, info.app_id, info.user_id, info.actor_id, info.scopes, info.user_role)
    connection.state.viewer = viewer
    return viewer


def has_scope(viewer: Viewer, scope: str) -> bool:
    """Mastodon's hierarchy: read grants read:*, write grants write:*, admin:read grants admin:read:*,
    follow grants read/write of follows, blocks and mutes; `profile` is satisfied by profile or
    read:accounts (use it only for verify_credentials)."""
    return oauth.scope_grants(viewer.scopes, scope)


async def require(connection: HTTPConnection, scope: str | None = None, *, user: bool = True) -> Viewer:
    viewer = await current_viewer(connection)
    if viewer is None:
        raise ApiError(401, INVALID_TOKEN, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if scope is not None and not has_scope(viewer, scope):
        raise ApiError(403, OUTSIDE_SCOPES)
    if user and viewer.user_id is None:
        raise ApiError(422, USER_REQUIRED)
    return viewer


async def optional(connection: HTTPConnection, scope: str | None = None) -> Viewer | None:
    """For public endpoints: None for anonymous callers. A token that lacks `scope` is refused with 403
    rather than treated as anonymous, like Mastodon's authorize_if_got_token!."""
    viewer = await current_viewer(connection)
    if viewer is not None and scope is not None and not has_scope(viewer, scope):
        raise ApiError(403, OUTSIDE_SCOPES)
    return viewer
