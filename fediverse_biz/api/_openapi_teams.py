"""The team endpoints (api/teams.py) described for the OpenAPI document, in the form of
api/_openapi_operations.py — kept here, next to nothing else, so the two files never collide.
api/openapi.py documents `(*OPERATIONS, *TEAM_OPERATIONS)`.
"""

from __future__ import annotations

from typing import Any, Final

from fediverse_biz.api._openapi_operations import ID, STRING, Operation, Param, Schema, array, paging, ref

ROLE: Final[Schema] = {"enum": ["owner", "manager", "editor", "contributor"]}
_NULLABLE_STRING: Final[Schema] = {"type": ["string", "null"]}
MEMBER: Final[Schema] = {
    "type": "object",
    "required": ["user_id", "role", "created_at", "account"],
    "properties": {"user_id": ID, "role": ROLE, "created_at": STRING, "account": ref("Account")},
}
REMOTE_CONTRIBUTOR: Final[Schema] = {
    "type": "object",
    "required": ["account", "visibility", "created_at"],
    "properties": {
        "account": ref("Account"),
        "visibility": {"enum": ["public", "unlisted", "private"]},
        "created_at": STRING,
    },
}
INVITATION: Final[Schema] = {
    "type": "object",
    "required": ["id", "role", "created_at", "expires_at"],
    "properties": {"id": ID, "role": ROLE, "created_at": STRING, "expires_at": STRING},
}
NEW_INVITATION: Final[Schema] = {
    "type": "object",
    "required": ["id", "token", "url", "role", "expires_at"],
    "properties": {"id": ID, "token": STRING, "url": STRING, "role": ROLE, "expires_at": STRING},
    "description": "the token is shown this once; the server keeps only its hash",
}
ACCEPTED: Final[Schema] = {
    "type": "object",
    "required": ["organization", "role"],
    "properties": {"organization": ref("Account"), "role": ROLE},
}
AUDIT_ENTRY: Final[Schema] = {
    "type": "object",
    "required": ["id", "action", "created_at", "user", "target", "details"],
    "properties": {
        "id": ID,
        "action": STRING,
        "created_at": STRING,
        "user": {
            "type": "object",
            "properties": {"id": _NULLABLE_STRING, "username": STRING, "account_id": _NULLABLE_STRING},
        },
        "target": _NULLABLE_STRING,
        "details": {"type": "object"},
    },
}
EMPTY: Final[Schema] = {"type": "object", "maxProperties": 0}
_ORG = "/api/v1/organizations/{id}"
_TOKEN_PATH: Final[dict[str, Schema]] = {"token": {"type": "string", "minLength": 1}}


def _op(
    method: str, path: str, operation_id: str, summary: str, response: Schema, scope: str, **kw: Any
) -> Operation:
    return Operation(method, path, operation_id, summary, "teams", response, scope=scope, **kw)


TEAM_OPERATIONS: Final[tuple[Operation, ...]] = (
    _op("GET", f"{_ORG}/members", "list_members", "The organization's team, strongest role first", array(MEMBER),
        "read:accounts"),
    _op("POST", f"{_ORG}/members", "add_member", "Put a local user on the team (owners, managers)", MEMBER,
        "write:accounts", body=(Param("username", STRING, required=True), Param("role", ROLE))),
    _op("PATCH", f"{_ORG}/members/{{user_id}}", "change_member", "Change a member's role", MEMBER,
        "write:accounts", body=(Param("role", ROLE, required=True),)),
    _op("PUT", f"{_ORG}/members/{{user_id}}", "change_member_put", "Change a member's role", MEMBER,
        "write:accounts", body=(Param("role", ROLE, required=True),)),
    _op("DELETE", f"{_ORG}/members/{{user_id}}", "remove_member", "Remove a member, or leave", EMPTY,
        "write:accounts"),
    _op("GET", f"{_ORG}/remote_contributors", "list_remote_contributors",
        "Accounts on other servers whose submissions the organization reviews", array(REMOTE_CONTRIBUTOR),
        "read:accounts"),
    _op("POST", f"{_ORG}/remote_contributors", "add_remote_contributor",
        "Accept an account on another server as a contributor (owners, managers)", REMOTE_CONTRIBUTOR,
        "write:accounts",
        body=(Param("account", STRING, "@name@host or an actor URI", required=True),
              Param("visibility", {"enum": ["public", "unlisted", "private"]},
                    "the audience its approved submissions are published to (default public)"))),
    _op("DELETE", f"{_ORG}/remote_contributors/{{account_id}}", "remove_remote_contributor",
        "Stop accepting a remote contributor", EMPTY, "write:accounts"),
    _op("GET", f"{_ORG}/invitations", "list_invitations", "Open invitations", array(INVITATION), "read:accounts"),
    _op("POST", f"{_ORG}/invitations", "create_invitation", "Invite someone with a single-use link", NEW_INVITATION,
        "write:accounts", body=(Param("role", ROLE), Param("expires_in", {"type": "integer"}, "seconds"))),
    _op("DELETE", f"{_ORG}/invitations/{{invitation_id}}", "revoke_invitation", "Revoke an invitation", EMPTY,
        "write:accounts"),
    _op("POST", "/api/v1/invitations/{token}/accept", "accept_invitation", "Join with an invitation", ACCEPTED,
        "write:accounts", path_schemas=_TOKEN_PATH),
    _op("GET", f"{_ORG}/pending_statuses", "pending_statuses", "Posts held for review", array(ref("Status")),
        "read:statuses", paginated=True,
        query=(*paging(), Param("state", {"enum": ["pending", "rejected"]}))),
    _op("POST", f"{_ORG}/pending_statuses/{{status_id}}/approve", "approve_status",
        "Publish a held post (under a new id) and federate it", ref("Status"), "write:statuses",
        body=(Param("version", STRING, "the version reviewed; refused with 409 if edited since"),)),
    _op("POST", f"{_ORG}/pending_statuses/{{status_id}}/reject", "reject_status",
        "Refuse a held post; the author is told why", ref("Status"), "write:statuses",
        body=(Param("reason", STRING, required=True),)),
    _op("GET", f"{_ORG}/audit_log", "audit_log", "Who did what for the organization", array(AUDIT_ENTRY),
        "read:accounts", paginated=True, query=(*paging(40, 80), Param("action", STRING))),
)  # fmt: skip
