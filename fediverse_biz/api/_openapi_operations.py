"""The operations of the client API, one line each, for the OpenAPI document (api/openapi.py).

Each entry says what the handler does: its auth (`none`, `optional`, `user`: a user token, `any`: app or
user token) and scope as in the handler's require()/optional(), its parameters as the handler reads them,
and its 200 response as the handler renders it. A route added without an entry here fails
tests/api/test_openapi.py; a response that drifts from its schema fails the schemathesis run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from fediverse_biz.api.stubs import STUBS

Schema = dict[str, Any]
Auth = Literal["none", "optional", "user", "any"]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


ID: Final[Schema] = {"type": "string", "pattern": "^[0-9]{1,19}$", "description": "an id (digits, as a string)"}
STRING: Final[Schema] = {"type": "string"}
BOOLEAN: Final[Schema] = {"type": "boolean"}
INTEGER: Final[Schema] = {"type": "integer"}
BINARY: Final[Schema] = {"type": "string", "contentMediaType": "application/octet-stream"}
VISIBILITY: Final[Schema] = {"enum": ["public", "unlisted", "private", "direct"]}
EMPTY_LIST: Final[Schema] = {"type": "array", "maxItems": 0, "description": "not a feature yet: always empty"}
EMPTY_OBJECT: Final[Schema] = {"type": "object", "maxProperties": 0}


@dataclass(frozen=True)
class Param:
    name: str
    schema: Schema
    description: str = ""
    required: bool = False


def _limit(default: int, maximum: int) -> Param:
    return Param("limit", {"type": "integer"}, f"page size: {default} by default, at most {maximum}")


def paging(default: int = 20, maximum: int = 40) -> tuple[Param, ...]:
    return (
        Param("max_id", STRING, "strictly older than this id"),
        Param("since_id", STRING, "strictly newer than this id, newest first"),
        Param("min_id", STRING, "the page immediately newer than this id"),
        _limit(default, maximum),
    )


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    response: Schema
    auth: Auth = "user"
    scope: str | None = None
    query: tuple[Param, ...] = ()
    body: tuple[Param, ...] = ()
    files: tuple[str, ...] = ()  # multipart file fields (the body is multipart then, or JSON without files)
    file_required: bool = False  # the first of `files` must be sent (and then only multipart will do)
    form_only: tuple[Param, ...] = ()  # bracketed form spellings of nested JSON fields
    headers: tuple[Param, ...] = ()
    paginated: bool = False
    response_type: str = "application/json"
    aliases: tuple[str, ...] = ()  # other paths, same operation (Mastodon.py's trailing slashes)
    aliases_methods: tuple[str, ...] = ()  # other methods, same operation (PATCH and PUT)
    description: str = ""
    path_schemas: dict[str, Schema] = field(default_factory=dict)

    def path_parameters(self) -> list[dict[str, Any]]:
        names = [part[1:-1] for part in self.path.split("/") if part.startswith("{")]
        return [
            {"name": name, "in": "path", "required": True, "schema": self.path_schemas.get(name, ID)} for name in names
        ]

    def query_parameters(self) -> list[dict[str, Any]]:
        return [_parameter(p, "query") for p in self.query]

    def header_parameters(self) -> list[dict[str, Any]]:
        return [_parameter(p, "header") for p in self.headers]

    def request_body(self) -> dict[str, Any] | None:
        if not self.body and not self.files:
            return None
        properties = {p.name: _with_description(p) for p in self.body}
        required = [p.name for p in self.body if p.required] + ([self.files[0]] if self.file_required else [])
        json_schema: Schema = {"type": "object", "properties": properties}
        form_properties = {
            **{name: value for name, value in properties.items() if not _nested(value)},
            **{p.name: _with_description(p) for p in self.form_only},
            **{name: BINARY for name in self.files},
        }
        form_schema: Schema = {"type": "object", "properties": form_properties}
        if required:
            json_schema["required"] = [name for name in required if name in properties]
            form_schema["required"] = required
        form_type = "multipart/form-data" if self.files else "application/x-www-form-urlencoded"
        content: dict[str, Any] = {form_type: {"schema": form_schema}}
        if not self.file_required:
            content["application/json"] = {"schema": json_schema}
        return {"required": bool(required), "content": content}


def _nested(schema: Schema) -> bool:
    return schema.get("type") == "object" or (schema.get("type") == "array" and "properties" in schema.get("items", {}))


def _with_description(param: Param) -> Schema:
    return {**param.schema, "description": param.description} if param.description else param.schema


def _parameter(param: Param, location: str) -> dict[str, Any]:
    described: dict[str, Any] = {"name": param.name, "in": location, "schema": param.schema}
    if param.required:
        described["required"] = True
    if param.description:
        described["description"] = param.description
    if param.schema.get("type") == "array":
        described["style"], described["explode"] = "form", True
    return described


def _op(method: str, path: str, operation_id: str, summary: str, tag: str, response: Schema, **kw: Any) -> Operation:
    return Operation(method, path, operation_id, summary, tag, response, **kw)


def ids(name: str = "id[]", description: str = "ids, repeated") -> Param:
    return Param(name, array(ID), description)


# ---- the table ---------------------------------------------------------------------------------------
ACCOUNT, STATUS, RELATIONSHIP = ref("Account"), ref("Status"), ref("Relationship")
ACCOUNTS, STATUSES = array(ACCOUNT), array(STATUS)
STATUS_FIELDS = (
    Param("status", STRING, "the text"),
    Param("media_ids", array(ID), "attached media (form: media_ids[])"),
    Param("sensitive", BOOLEAN),
    Param("spoiler_text", STRING),
    Param("language", STRING, "ISO 639"),
    Param("poll", {
        "type": "object",
        "properties": {"options": array(STRING), "expires_in": INTEGER, "multiple": BOOLEAN, "hide_totals": BOOLEAN},
        "required": ["options", "expires_in"],
    }, "a poll: 2 to 4 options of at most 50 characters, 300 s to a month (instance configuration.polls)"),
)
POLL_FORM = (
    Param("poll[options][]", array(STRING), "a poll's options, repeated"),
    Param("poll[expires_in]", INTEGER, "seconds until the poll ends"),
    Param("poll[multiple]", BOOLEAN, "several choices allowed"),
    Param("poll[hide_totals]", BOOLEAN, "counts hidden until the end"),
)
ACCOUNT_FILTERS = (
    Param("pinned", BOOLEAN),
    Param("exclude_replies", BOOLEAN),
    Param("exclude_reblogs", BOOLEAN),
    Param("only_media", BOOLEAN),
    Param("tagged", STRING, "only statuses with this hashtag"),
)
HASHTAG: Final[Schema] = {"type": "string", "minLength": 1, "description": "a hashtag, without #"}
STREAM: Final[Schema] = {"type": "string", "description": "server-sent events: update, notification, delete, ..."}


ORG = "/api/v1/organizations/{id}"
NULLABLE_STRING: Final[Schema] = {"type": ["string", "null"]}
PROFILE_FIELDS: Final = (
    ("legal_name", NULLABLE_STRING), ("sector", NULLABLE_STRING), ("country", NULLABLE_STRING),
    ("region", NULLABLE_STRING), ("city", NULLABLE_STRING), ("website", NULLABLE_STRING),
    ("size_band", NULLABLE_STRING), ("founded_year", {"type": ["integer", "null"]}),
    ("languages", {"type": ["array", "null"], "items": STRING}), ("contact_email", NULLABLE_STRING),
    ("registration_id", NULLABLE_STRING), ("vat_id", NULLABLE_STRING),
)  # fmt: skip


def _status_action(verb: str, scope: str, summary: str, **kw: Any) -> Operation:
    return _op("POST", f"/api/v1/statuses/{{id}}/{verb}", f"{verb}_status", summary, "statuses", STATUS,
               scope=scope, **kw)  # fmt: skip


def _account_action(verb: str, scope: str, summary: str, **kw: Any) -> Operation:
    return _op("POST", f"/api/v1/accounts/{{id}}/{verb}", f"{verb}_account", summary, "accounts", RELATIONSHIP,
               scope=scope, **kw)  # fmt: skip


def _stream(path: str, summary: str, scope: str, query: tuple[Param, ...] = ()) -> Operation:
    name = path.replace("/", "_")
    return _op("GET", f"/api/v1/streaming/{path}", f"stream_{name}", summary, "streaming", STREAM, scope=scope,
               query=query, response_type="text/event-stream")  # fmt: skip


def _stub(path: str, scope: str | None) -> Operation:
    name = path.removeprefix("/api/").replace("/", "_")
    auth: Auth = "user" if scope else "optional"
    return _op("GET", path, f"stub_{name}", "Not a feature yet: an empty list", "stubs", EMPTY_LIST, auth=auth,
               scope=scope)  # fmt: skip


OPERATIONS: Final[tuple[Operation, ...]] = (
    # OAuth (the token endpoints clients call; the authorize page is HTML for people)
    _op("POST", "/oauth/token", "issue_token", "Obtain a token", "oauth", ref("Token"), auth="none",
        body=(Param("grant_type", {"enum": ["authorization_code", "client_credentials", "password"]}, required=True),
              Param("client_id", STRING), Param("client_secret", STRING), Param("code", STRING),
              Param("redirect_uri", STRING), Param("code_verifier", STRING), Param("scope", STRING),
              Param("username", STRING), Param("password", STRING), Param("actor", STRING,
              "act as this organization (fediverse_biz)"))),
    _op("POST", "/oauth/revoke", "revoke_token", "Revoke a token", "oauth", EMPTY_OBJECT, auth="none",
        body=(Param("client_id", STRING, required=True), Param("client_secret", STRING, required=True),
              Param("token", STRING, required=True))),
    # apps
    _op("POST", "/api/v1/apps", "create_app", "Register a client application", "apps", ref("CredentialApplication"),
        auth="none", body=(Param("client_name", STRING, required=True),
                           Param("redirect_uris", {"anyOf": [STRING, array(STRING)]}, "one per line, or an array",
                                 required=True),
                           Param("scopes", STRING, "space-separated"), Param("website", STRING))),
    _op("GET", "/api/v1/apps/verify_credentials", "verify_app", "The token's application", "apps",
        ref("Application"), auth="any"),
    # instance
    _op("GET", "/api/v1/instance", "instance_v1", "Server information (v1)", "instance", ref("InstanceV1"),
        auth="none", aliases=("/api/v1/instance/",)),
    _op("GET", "/api/v2/instance", "instance_v2", "Server information", "instance", ref("InstanceV2"), auth="none",
        aliases=("/api/v2/instance/",)),
    _op("GET", "/api/v1/instance/rules", "instance_rules", "Server rules", "instance", array(ref("Rule")),
        auth="none"),
    _op("GET", "/api/v1/instance/privacy_policy", "instance_privacy_policy", "Privacy policy (HTML)", "instance",
        ref("PrivacyPolicy"), auth="none"),
    _op("GET", "/api/v1/instance/extended_description", "instance_extended_description",
        "Extended description (HTML)", "instance", ref("ExtendedDescription"), auth="none"),
    _op("GET", "/api/v1/instance/peers", "instance_peers", "Domains this server knows", "instance", array(STRING),
        auth="none"),
    _op("GET", "/api/v1/instance/activity", "instance_activity", "Weekly activity (none kept yet)", "instance",
        EMPTY_LIST, auth="none"),
    _op("GET", "/api/v1/preferences", "preferences", "Posting and reading preferences", "instance",
        ref("Preferences"), scope="read:accounts"),
    _op("GET", "/api/v1/custom_emojis", "custom_emojis", "Custom emoji (none yet)", "instance",
        array(ref("Emoji")), auth="none"),
    _op("GET", "/api/openapi.json", "openapi", "This document", "instance", {"type": "object"}, auth="none"),
    # media
    _op("POST", "/api/v2/media", "upload_media", "Upload an image", "media", ref("MediaAttachment"),
        scope="write:media", files=("file", "thumbnail"), file_required=True,
        body=(Param("description", STRING, "alt text"), Param("focus", STRING, "x,y in -1.0..1.0"))),
    _op("POST", "/api/v1/media", "upload_media_v1", "Upload an image (v1)", "media", ref("MediaAttachment"),
        scope="write:media", files=("file", "thumbnail"), file_required=True,
        body=(Param("description", STRING, "alt text"), Param("focus", STRING, "x,y in -1.0..1.0"))),
    _op("GET", "/api/v1/media/{id}", "show_media", "An uploaded attachment", "media", ref("MediaAttachment"),
        scope="write:media"),
    _op("PUT", "/api/v1/media/{id}", "update_media", "Change an attachment's description or focus", "media",
        ref("MediaAttachment"), scope="write:media",
        body=(Param("description", STRING), Param("focus", STRING))),
    # statuses
    _op("POST", "/api/v1/statuses", "create_status", "Post a status", "statuses", STATUS, scope="write:statuses",
        body=(*STATUS_FIELDS, Param("in_reply_to_id", ID), Param("visibility", VISIBILITY),
              Param("scheduled_at", STRING, "not supported yet: refused with 422")),
        form_only=POLL_FORM, headers=(Param("Idempotency-Key", STRING, "the same key within an hour posts once"),)),
    _op("GET", "/api/v1/statuses", "show_statuses", "Several statuses", "statuses", STATUSES, auth="optional",
        scope="read:statuses", query=(ids(),)),
    _op("GET", "/api/v1/statuses/{id}", "show_status", "A status", "statuses", STATUS, auth="optional",
        scope="read:statuses"),
    _op("PUT", "/api/v1/statuses/{id}", "edit_status", "Edit a status", "statuses", STATUS, scope="write:statuses",
        body=STATUS_FIELDS, form_only=POLL_FORM,
        description="Changed poll options or choice mode reset its votes; an edit without a poll removes it."),
    # polls
    _op("GET", "/api/v1/polls/{id}", "show_poll", "A poll (its id is its status's)", "polls", ref("Poll"),
        auth="optional", scope="read:statuses"),
    _op("POST", "/api/v1/polls/{id}/votes", "vote_poll", "Vote on a poll, once", "polls", ref("Poll"),
        scope="write:statuses",
        body=(Param("choices", array(INTEGER), "option indexes from 0 (form: choices[])", required=True),)),
    _op("DELETE", "/api/v1/statuses/{id}", "delete_status", "Delete a status (answers it, with its source)",
        "statuses", STATUS, scope="write:statuses"),
    _op("GET", "/api/v1/statuses/{id}/context", "status_context", "Ancestors and descendants", "statuses",
        ref("Context"), auth="optional", scope="read:statuses"),
    _op("GET", "/api/v1/statuses/{id}/card", "show_card", "The status's link preview card ({} without one)",
        "statuses", {"anyOf": [ref("Card"), EMPTY_OBJECT]}, auth="optional", scope="read:statuses"),
    _status_action("favourite", "write:favourites", "Favourite"),
    _status_action("unfavourite", "write:favourites", "Undo a favourite"),
    _status_action("reblog", "write:statuses", "Boost (answers the boost)", body=(Param("visibility", VISIBILITY),)),
    _status_action("unreblog", "write:statuses", "Undo a boost"),
    _status_action("bookmark", "write:bookmarks", "Bookmark"),
    _status_action("unbookmark", "write:bookmarks", "Remove a bookmark"),
    _status_action("pin", "write:accounts", "Pin to the profile"),
    _status_action("unpin", "write:accounts", "Unpin"),
    _status_action("mute", "write:mutes", "Mute the conversation (not stored yet)"),
    _status_action("unmute", "write:mutes", "Unmute the conversation"),
    _op("GET", "/api/v1/statuses/{id}/favourited_by", "favourited_by", "Who favourited", "statuses", ACCOUNTS,
        auth="optional", scope="read:accounts", query=paging(40, 80), paginated=True),
    _op("GET", "/api/v1/statuses/{id}/reblogged_by", "reblogged_by", "Who boosted", "statuses", ACCOUNTS,
        auth="optional", scope="read:accounts", query=paging(40, 80), paginated=True),
    _op("GET", "/api/v1/statuses/{id}/history", "status_history", "Every version, oldest first", "statuses",
        array(ref("StatusEdit")), auth="optional", scope="read:statuses"),
    _op("GET", "/api/v1/statuses/{id}/source", "status_source", "The source text, for editing", "statuses",
        ref("StatusSource"), scope="read:statuses"),
    # timelines, bookmarks, favourites, hashtags
    _op("GET", "/api/v1/timelines/home", "home_timeline", "The home timeline", "timelines", STATUSES,
        scope="read:statuses", query=paging(), paginated=True),
    _op("GET", "/api/v1/timelines/public", "public_timeline", "The public timeline", "timelines", STATUSES,
        auth="optional", scope="read:statuses", paginated=True,
        query=(Param("local", BOOLEAN), Param("remote", BOOLEAN), Param("only_media", BOOLEAN), *paging())),
    _op("GET", "/api/v1/timelines/tag/{hashtag}", "tag_timeline", "Public statuses with a hashtag", "timelines",
        STATUSES, auth="optional", scope="read:statuses", paginated=True, path_schemas={"hashtag": HASHTAG},
        query=(Param("local", BOOLEAN), Param("only_media", BOOLEAN), *paging())),
    _op("GET", "/api/v1/bookmarks", "bookmarks", "Bookmarked statuses", "timelines", STATUSES,
        scope="read:bookmarks", query=paging(), paginated=True),
    _op("GET", "/api/v1/favourites", "favourites", "Favourited statuses", "timelines", STATUSES,
        scope="read:favourites", query=paging(), paginated=True),
    _op("GET", "/api/v1/tags/{hashtag}", "show_tag", "A hashtag", "timelines", ref("Tag"), auth="optional",
        path_schemas={"hashtag": HASHTAG}),
    _op("POST", "/api/v1/tags/{hashtag}/follow", "follow_tag", "Follow a hashtag",
        "timelines", ref("Tag"), scope="write:follows", path_schemas={"hashtag": HASHTAG}),
    _op("POST", "/api/v1/tags/{hashtag}/unfollow", "unfollow_tag", "Unfollow a hashtag",
        "timelines", ref("Tag"), scope="write:follows", path_schemas={"hashtag": HASHTAG}),
    _op("GET", "/api/v1/followed_tags", "followed_tags", "Followed hashtags", "timelines", array(ref("Tag")),
        scope="read:follows", query=paging(100, 200), paginated=True),
    # notifications and markers
    _op("GET", "/api/v1/notifications", "notifications", "Notifications", "notifications",
        array(ref("Notification")), scope="read:notifications", paginated=True,
        query=(Param("types[]", array(STRING)), Param("exclude_types[]", array(STRING)), Param("account_id", ID),
               *paging(40, 80))),
    _op("GET", "/api/v1/notifications/unread_count", "unread_count", "Notifications newer than the marker",
        "notifications", {"type": "object", "required": ["count"], "properties": {"count": {"type": "integer",
        "minimum": 0}}}, scope="read:notifications", query=(Param("limit", INTEGER, "count up to (1..1000)"),)),
    _op("POST", "/api/v1/notifications/clear", "clear_notifications", "Dismiss all", "notifications", EMPTY_OBJECT,
        scope="write:notifications"),
    _op("POST", "/api/v1/notifications/dismiss", "dismiss_notification_v1", "Dismiss one (before 2.9.2)",
        "notifications", EMPTY_OBJECT, scope="write:notifications", body=(Param("id", ID, required=True),)),
    _op("GET", "/api/v1/notifications/{id}", "show_notification", "A notification", "notifications",
        ref("Notification"), scope="read:notifications"),
    _op("POST", "/api/v1/notifications/{id}/dismiss", "dismiss_notification", "Dismiss one", "notifications",
        EMPTY_OBJECT, scope="write:notifications"),
    _op("GET", "/api/v1/markers", "markers", "Read positions", "notifications", ref("Marker"), scope="read:statuses",
        query=(Param("timeline[]", array({"enum": ["home", "notifications"]})),)),
    _op("POST", "/api/v1/markers", "save_markers", "Save read positions", "notifications", ref("Marker"),
        scope="write:statuses",
        body=(Param("home", {"type": "object", "properties": {"last_read_id": ID}}),
              Param("notifications", {"type": "object", "properties": {"last_read_id": ID}})),
        form_only=(Param("home[last_read_id]", ID), Param("notifications[last_read_id]", ID))),
    # search
    _op("GET", "/api/v2/search", "search", "Accounts, statuses and hashtags", "search", ref("Search"),
        auth="optional", scope="read:search",
        query=(Param("q", STRING, "the query", required=True),
               Param("type", {"enum": ["accounts", "statuses", "hashtags"]}),
               Param("resolve", BOOLEAN, "look it up on the network (needs a user token)"),
               Param("following", BOOLEAN), Param("account_id", ID), Param("limit", INTEGER, "at most 40"),
               Param("offset", INTEGER, "needs a user token"))),
    # accounts
    _op("GET", "/api/v1/accounts", "show_accounts", "Several accounts", "accounts", ACCOUNTS, auth="optional",
        scope="read:accounts", query=(ids(),)),
    _op("POST", "/api/v1/accounts", "register", "Sign up (with an app token)", "accounts", ref("Token"), auth="any",
        scope="write:accounts",
        body=(Param("username", STRING, required=True), Param("email", STRING, required=True),
              Param("password", STRING, required=True), Param("agreement", BOOLEAN, required=True),
              Param("locale", STRING), Param("reason", STRING))),
    _op("GET", "/api/v1/accounts/verify_credentials", "verify_credentials", "The token's own account", "accounts",
        ref("CredentialAccount"), scope="profile"),
    _op("PATCH", "/api/v1/accounts/update_credentials", "update_credentials", "Change one's profile", "accounts",
        ref("CredentialAccount"), scope="write:accounts", files=("avatar", "header"),
        body=(Param("display_name", STRING), Param("note", STRING), Param("locked", BOOLEAN), Param("bot", BOOLEAN),
              Param("discoverable", BOOLEAN), Param("indexable", BOOLEAN),
              Param("fields_attributes", array({"type": "object", "properties": {"name": STRING,
                    "value": STRING}})),
              Param("source", {"type": "object", "properties": {"privacy": VISIBILITY, "sensitive": BOOLEAN,
                    "language": STRING}})),
        form_only=(Param("source[privacy]", VISIBILITY), Param("source[sensitive]", BOOLEAN),
                   Param("source[language]", STRING), Param("fields_attributes[0][name]", STRING),
                   Param("fields_attributes[0][value]", STRING))),
    _op("GET", "/api/v1/accounts/lookup", "lookup_account", "An account by its handle", "accounts", ACCOUNT,
        auth="optional", scope="read:accounts", query=(Param("acct", STRING, "user or user@domain", required=True),)),
    _op("GET", "/api/v1/accounts/relationships", "relationships", "How the token's account relates to others",
        "accounts", array(RELATIONSHIP), scope="read:follows", query=(ids(), Param("with_suspended", BOOLEAN))),
    _op("GET", "/api/v1/accounts/search", "search_accounts", "Accounts matching a query", "accounts", ACCOUNTS,
        auth="any", scope="read:accounts",
        query=(Param("q", STRING, required=True), _limit(40, 80), Param("offset", INTEGER),
               Param("resolve", BOOLEAN), Param("following", BOOLEAN))),
    _op("GET", "/api/v1/accounts/familiar_followers", "familiar_followers", "Followers one follows too", "accounts",
        array({"type": "object", "required": ["id", "accounts"], "properties": {"id": ref("defs.id"),
               "accounts": ACCOUNTS}}), scope="read:follows", query=(ids(),)),
    _op("GET", "/api/v1/accounts/{id}/followers", "followers", "An account's followers", "accounts", ACCOUNTS,
        auth="optional", scope="read:accounts", query=paging(40, 80), paginated=True),
    _op("GET", "/api/v1/accounts/{id}/following", "following", "Whom an account follows", "accounts", ACCOUNTS,
        auth="optional", scope="read:accounts", query=paging(40, 80), paginated=True),
    _op("GET", "/api/v1/follow_requests", "follow_requests", "Pending follow requests", "accounts", ACCOUNTS,
        scope="read:follows", query=paging(40, 80), paginated=True),
    _op("GET", "/api/v1/blocks", "blocks", "Blocked accounts", "accounts", ACCOUNTS, scope="read:blocks",
        query=paging(40, 80), paginated=True),
    _op("GET", "/api/v1/mutes", "mutes", "Muted accounts", "accounts", ACCOUNTS, scope="read:mutes",
        query=paging(40, 80), paginated=True),
    _op("POST", "/api/v1/follow_requests/{id}/authorize", "authorize_follow_request", "Accept a follow request",
        "accounts", RELATIONSHIP, scope="write:follows"),
    _op("POST", "/api/v1/follow_requests/{id}/reject", "reject_follow_request", "Reject a follow request",
        "accounts", RELATIONSHIP, scope="write:follows"),
    _op("GET", "/api/v1/endorsements", "endorsements", "Featured accounts (not a feature yet)", "accounts",
        EMPTY_LIST, scope="read:accounts"),
    _op("GET", "/api/v1/accounts/{id}", "show_account", "An account", "accounts", ACCOUNT, auth="optional",
        scope="read:accounts"),
    _op("GET", "/api/v1/accounts/{id}/statuses", "account_statuses", "An account's statuses", "accounts", STATUSES,
        auth="optional", scope="read:statuses", query=(*ACCOUNT_FILTERS, *paging()), paginated=True),
    _op("GET", "/api/v1/accounts/{id}/featured_tags", "featured_tags_of", "Featured hashtags (none yet)",
        "accounts", EMPTY_LIST, auth="optional", scope="read:accounts"),
    _account_action("follow", "write:follows", "Follow (or request to)",
                    body=(Param("reblogs", BOOLEAN), Param("notify", BOOLEAN))),
    _account_action("unfollow", "write:follows", "Unfollow"),
    _account_action("remove_from_followers", "write:follows", "Remove a follower"),
    _account_action("block", "write:blocks", "Block"),
    _account_action("unblock", "write:blocks", "Unblock"),
    _account_action("mute", "write:mutes", "Mute",
                    body=(Param("notifications", BOOLEAN), Param("duration", INTEGER, "seconds; 0: forever"))),
    _account_action("unmute", "write:mutes", "Unmute"),
    # streaming (server-sent events; the WebSocket is not described)
    _op("GET", "/api/v1/streaming/health", "streaming_health", "Is streaming up", "streaming",
        {"const": "OK"}, auth="none", response_type="text/plain"),
    _stream("user", "The user's events", "read:statuses"),
    _stream("user/notification", "The user's notifications", "read:notifications"),
    _stream("public", "Public statuses", "read:statuses", (Param("only_media", BOOLEAN),)),
    _stream("public/local", "Local public statuses", "read:statuses", (Param("only_media", BOOLEAN),)),
    _stream("public/remote", "Remote public statuses", "read:statuses", (Param("only_media", BOOLEAN),)),
    _stream("hashtag", "Statuses with a hashtag", "read:statuses", (Param("tag", STRING, required=True),)),
    _stream("hashtag/local", "Local statuses with a hashtag", "read:statuses", (Param("tag", STRING, required=True),)),
    _stream("direct", "Direct conversations (the conversation event)", "read:statuses"),
    _stream("list", "Statuses of a list", "read:lists", (Param("list", ID, required=True),)),
    # fediverse_biz: the directory, company profiles, one's own data (teams: api/_openapi_teams.py)
    _op("GET", "/api/v1/directory", "directory", "Listed accounts, with business filters", "organizations",
        ACCOUNTS, auth="optional", scope="read:accounts",
        query=(Param("offset", INTEGER), _limit(40, 80), Param("order", {"enum": ["active", "new"]}),
               Param("local", BOOLEAN), Param("sector", STRING, "NACE Rev. 2 section letter"),
               Param("country", STRING, "ISO 3166-1 alpha-2"), Param("type", STRING, "actor type, e.g. Organization"),
               Param("region", STRING, "ISO 3166-2 (DE-BY), or a country code (DE) for all its subdivisions"),
               Param("q", STRING, "full text over name, handle, bio, fields and company facts"))),
    _op("GET", f"{ORG}/profile", "organization_profile", "An organization's company profile", "organizations",
        ref("OrganizationProfile"), auth="optional", scope="read:accounts"),
    _op("PATCH", f"{ORG}/profile", "update_organization_profile", "Change the company profile (owners, managers)",
        "organizations", ref("OrganizationProfile"), scope="write:accounts",
        body=tuple(Param(name, schema) for name, schema in PROFILE_FIELDS)),
    _op("GET", "/api/v1/fediverse_biz/export", "export_archive", "One's data as a JSON archive", "account data",
        {"type": "object"}, scope="read:accounts",
        description="Needs read:statuses too. A token acting for an organization needs an owner or manager."),
    _op("GET", "/api/v1/fediverse_biz/export/following.csv", "export_following", "Follows, as Mastodon's CSV",
        "account data", STRING, scope="read:accounts", response_type="text/csv"),
    _op("GET", "/api/v1/fediverse_biz/export/followers.csv", "export_followers", "Followers, one per line",
        "account data", STRING, scope="read:accounts", response_type="text/csv"),
    _op("POST", "/api/v1/fediverse_biz/delete_account", "delete_account", "Delete the account (asks the password)",
        "account data", {"type": "object", "required": ["id", "deleted"], "properties": {"id": ref("defs.id"),
        "deleted": {"const": True}, "deliveries": INTEGER, "statuses": INTEGER}}, scope="write:accounts",
        body=(Param("password", STRING, required=True),)),
    # not features yet: api/stubs.py's table, so a stub's removal removes its entry too
    *(_stub(path, scope) for path, scope in STUBS),
)  # fmt: skip
