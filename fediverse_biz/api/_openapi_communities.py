"""The hall endpoints (api/communities.py) described for the OpenAPI document, in the form of
api/_openapi_operations.py; api/openapi.py documents them with the rest. Kept apart so the two tables
never collide in one file.
"""

from __future__ import annotations

from typing import Any, Final

from fediverse_biz.api._openapi_operations import (
    EMPTY_OBJECT,
    INTEGER,
    STRING,
    Operation,
    Param,
    Schema,
    array,
    paging,
    ref,
)

__all__ = ["COMMUNITY_OPERATIONS"]

COMMUNITY, ACCOUNT, STATUS = ref("Community"), ref("Account"), ref("Status")
_NULLABLE: Final[Schema] = {"type": ["string", "null"]}
BAN: Final[Schema] = {
    "type": "object",
    "required": ["account", "reason", "created_at"],
    "properties": {"account": ACCOUNT, "reason": STRING, "created_at": ref("defs.datetime")},
}
AUDIT_ENTRY: Final[Schema] = {
    "type": "object",
    "required": ["id", "action", "created_at", "user", "target", "details"],
    "properties": {"id": ref("defs.id"), "action": STRING, "created_at": ref("defs.datetime"),
                   "user": {"type": "object",
                            "properties": {"username": STRING, "account_id": ref("defs.nullable_id")}},
                   "target": _NULLABLE, "details": {"type": "object"}},
}  # fmt: skip
HALL_FIELDS: Final = (
    Param("title", STRING, "1-100 characters"),
    Param("description", STRING, "plain text, at most 5000 characters"),
    Param("sector", STRING, "NACE Rev. 2 section letter, or empty to clear"),
    Param("region", STRING, "at most 100 characters"),
    Param("rules", array(STRING), "at most 20, each at most 500 characters (form: rules[])"),
    Param("membership", {"enum": ["open", "approval"]}, "open: a Follow joins at once; approval: moderators decide"),
)
_HALL = "/api/v1/communities/{id}"


def _op(method: str, path: str, operation_id: str, summary: str, response: Schema, **kw: Any) -> Operation:
    return Operation(method, path, operation_id, summary, "communities", response, **kw)


COMMUNITY_OPERATIONS: Final[tuple[Operation, ...]] = (
    _op("GET", "/api/v1/communities", "communities", "This server's halls, newest first", array(COMMUNITY),
        auth="optional", scope="read:accounts",
        query=(Param("sector", STRING, "NACE Rev. 2 section letter"), Param("q", STRING, "words in the title"),
               Param("offset", INTEGER), Param("limit", INTEGER, "at most 80"))),
    _op("POST", "/api/v1/communities", "create_community", "Create a hall; the caller is its first moderator",
        COMMUNITY, scope="write:accounts",
        body=(Param("name", STRING, "the handle: /c/{name}", required=True), *HALL_FIELDS)),
    _op("GET", _HALL, "community", "A hall", COMMUNITY, auth="optional", scope="read:accounts"),
    _op("PATCH", _HALL, "update_community", "Change a hall (moderators)", COMMUNITY, scope="write:accounts",
        body=HALL_FIELDS, aliases_methods=("PUT",)),
    _op("GET", f"{_HALL}/statuses", "community_statuses", "The hall's threads, newest first", array(STATUS),
        auth="optional", scope="read:statuses", paginated=True, query=paging()),
    _op("GET", f"{_HALL}/moderators", "community_moderators", "The hall's moderators", array(ACCOUNT),
        auth="optional", scope="read:accounts"),
    _op("POST", f"{_HALL}/moderators", "add_community_moderator", "Add a moderator (a local account)",
        array(ACCOUNT), scope="write:accounts", body=(Param("account_id", STRING, required=True),)),
    _op("DELETE", f"{_HALL}/moderators/{{account_id}}", "remove_community_moderator", "Remove a moderator",
        array(ACCOUNT), scope="write:accounts"),
    _op("GET", f"{_HALL}/members", "community_members", "The hall's members (its followers)", array(ACCOUNT),
        auth="optional", scope="read:accounts", paginated=True, query=paging(40, 80)),
    _op("GET", f"{_HALL}/join_requests", "community_join_requests", "Joins waiting for a moderator",
        array(ACCOUNT), scope="read:follows"),
    _op("POST", f"{_HALL}/join_requests/{{account_id}}/authorize", "authorize_community_join", "Accept a join",
        EMPTY_OBJECT, scope="write:follows"),
    _op("POST", f"{_HALL}/join_requests/{{account_id}}/reject", "reject_community_join", "Refuse a join",
        EMPTY_OBJECT, scope="write:follows"),
    _op("GET", f"{_HALL}/bans", "community_bans", "Banned accounts", array(BAN), scope="read:blocks"),
    _op("POST", f"{_HALL}/bans", "ban_from_community", "Ban an account (a Block from the hall)", EMPTY_OBJECT,
        scope="write:blocks", body=(Param("account_id", STRING, required=True), Param("reason", STRING))),
    _op("DELETE", f"{_HALL}/bans/{{account_id}}", "unban_from_community", "Lift a ban", EMPTY_OBJECT,
        scope="write:blocks"),
    _op("DELETE", f"{_HALL}/statuses/{{status_id}}", "remove_community_status",
        "Remove a post from the hall (an Announce of Delete)", EMPTY_OBJECT, scope="write:statuses",
        query=(Param("reason", STRING),)),
    _op("POST", f"{_HALL}/statuses/{{status_id}}/pin", "pin_community_status", "Pin a post to the hall",
        STATUS, scope="write:statuses"),
    _op("POST", f"{_HALL}/statuses/{{status_id}}/unpin", "unpin_community_status", "Unpin a post", STATUS,
        scope="write:statuses"),
    _op("GET", f"{_HALL}/audit_log", "community_audit_log", "Who moderated what (moderators)",
        array(AUDIT_ENTRY), scope="read:accounts", paginated=True, query=paging(40, 80)),
)  # fmt: skip
