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

from fediverse_biz.api.errors import ApiError
from fediverse_biz.business import roles
from fediverse_biz.core import oauth, scopes
from fediverse_biz.core.wording import with_article
from fediverse_biz.services import services

INVALID_TOKEN = "The access token is invalid"
OUTSIDE_SCOPES = "This action is outside the authorized scopes"
USER_REQUIRED = "This method requires an authenticated user"
ROLE_FORBIDDEN = "Your role in this organization does not allow this action"
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
        info = await oauth.find_token(services(connection).pool, token)
        if info is None:
            raise ApiError(401, INVALID_TOKEN, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        viewer = Viewer(info.id, info.app_id, info.user_id, info.actor_id, info.scopes, info.user_role)
    connection.state.viewer = viewer
    return viewer


def has_scope(viewer: Viewer, scope: str) -> bool:
    """Mastodon's hierarchy: read grants read:*, write grants write:*, admin:read grants admin:read:*,
    follow grants read/write of follows, blocks and mutes; `profile` is satisfied by profile or
    read:accounts (use it only for verify_credentials)."""
    return scopes.scope_grants(viewer.scopes, scope)


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


async def org_role(connection: HTTPConnection, viewer: Viewer) -> str | None:
    """The team role of the token's user in the organization the token acts for; None when the token
    acts for the user's own account. Read from organization_members on every request (cached on the
    request), never stored with the token, so a changed role or a removal applies to live tokens at
    once. A token whose organization no longer counts its user as a member is invalid (401)."""
    cached = getattr(connection.state, "org_role", _UNSET)
    if cached is not _UNSET:
        assert cached is None or isinstance(cached, str)
        return cached
    role: str | None = None
    if viewer.user_id is not None and viewer.actor_id is not None:
        row = await services(connection).pool.fetchrow(
            """SELECT u.actor_id = $2 AS own, m.role FROM users u
                 LEFT JOIN organization_members m ON m.organization_id = $2 AND m.user_id = u.id
                WHERE u.id = $1""",
            viewer.user_id,
            viewer.actor_id,
        )
        if row is None or (not row["own"] and row["role"] is None):
            raise ApiError(401, INVALID_TOKEN, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        role = None if row["own"] else row["role"]
    connection.state.org_role = role
    return role


async def require_permission(connection: HTTPConnection, viewer: Viewer, permission: roles.Permission) -> str | None:
    """403 unless the token's role may do `permission` for its organization (business/roles.py);
    tokens acting for the user's own account may do everything. Returns the role."""
    role = await org_role(connection, viewer)
    if not roles.allows(role, permission):
        who = with_article(str(role), capital=True)
        raise ApiError(403, ROLE_FORBIDDEN, f"{who} of this organization may not do this ({permission.value})")
    return role
