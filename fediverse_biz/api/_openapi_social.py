"""The personal-organisation endpoints of the client API (conversations, lists, filters, followed tags)
described for the OpenAPI document, in the form of api/_openapi_operations.py. One file per group of
endpoints keeps each table short enough to read.
"""

from __future__ import annotations

from fediverse_biz.api._openapi_operations import (
    BOOLEAN,
    EMPTY_OBJECT,
    ID,
    STRING,
    Operation,
    Param,
    array,
    paging,
    ref,
)

__all__ = ["SOCIAL_OPERATIONS"]

REPLIES_POLICY = {"enum": ["followed", "list", "none"]}
LIST_FIELDS = (
    Param("title", STRING, "1-256 characters"),
    Param("replies_policy", REPLIES_POLICY, "which replies of members to show (default list)"),
    Param("exclusive", BOOLEAN, "keep members' posts out of the home timeline"),
)
ACCOUNT_IDS = (Param("account_ids", array(ID), "accounts the owner follows", required=True),)
ACCOUNT_IDS_FORM = (Param("account_ids[]", array(ID), "accounts, repeated"),)
CONTEXT = array({"enum": ["home", "notifications", "public", "thread", "account"]})
EXPIRES_IN = Param("expires_in", {"type": ["integer", "string"]}, "seconds from now; empty for never")
KEYWORD_ATTRIBUTES = {"type": "array", "items": {"type": "object", "properties": {
    "id": ID, "keyword": STRING, "whole_word": BOOLEAN, "_destroy": BOOLEAN}}}  # fmt: skip
FILTER_FIELDS = (
    Param("title", STRING, "1-256 characters"),
    Param("context", CONTEXT, "where it applies"),
    Param("filter_action", {"enum": ["warn", "hide"]}, "warn (default) or hide"),
    EXPIRES_IN,
    Param("keywords_attributes", KEYWORD_ATTRIBUTES, "keywords to add (no id), change (id) or remove (_destroy)"),
)
KEYWORD_FIELDS = (Param("keyword", STRING, "1-256 characters"), Param("whole_word", BOOLEAN, "default true"))
V1_FIELDS = (
    Param("phrase", STRING, "the keyword"),
    Param("context", CONTEXT, "where it applies"),
    Param("irreversible", BOOLEAN, "hide instead of warn"),
    Param("whole_word", BOOLEAN, "default true"),
    EXPIRES_IN,
)

SOCIAL_OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/api/v1/conversations", "conversations", "Direct conversations, latest activity first",
              "conversations", array(ref("Conversation")), scope="read:statuses", query=paging(20, 40),
              paginated=True, description="Paged by each conversation's latest status id."),
    Operation("POST", "/api/v1/conversations/{id}/read", "read_conversation", "Mark a conversation read",
              "conversations", ref("Conversation"), scope="write:conversations"),
    Operation("DELETE", "/api/v1/conversations/{id}", "remove_conversation", "Remove a conversation from the list",
              "conversations", EMPTY_OBJECT, scope="write:conversations"),
    Operation("GET", "/api/v1/lists", "lists", "One's lists", "lists", array(ref("List")), scope="read:lists"),
    Operation("POST", "/api/v1/lists", "create_list", "Create a list", "lists", ref("List"), scope="write:lists",
              body=(Param("title", STRING, "1-256 characters", required=True), *LIST_FIELDS[1:])),
    Operation("GET", "/api/v1/lists/{id}", "show_list", "A list", "lists", ref("List"), scope="read:lists"),
    Operation("PUT", "/api/v1/lists/{id}", "update_list", "Change a list", "lists", ref("List"),
              scope="write:lists", body=LIST_FIELDS, aliases_methods=("PATCH",)),
    Operation("DELETE", "/api/v1/lists/{id}", "delete_list", "Delete a list", "lists", EMPTY_OBJECT,
              scope="write:lists"),
    Operation("GET", "/api/v1/lists/{id}/accounts", "list_accounts", "A list's members", "lists",
              array(ref("Account")), scope="read:lists", query=paging(40, 80), paginated=True,
              description="limit=0 returns every member, without a Link header."),
    Operation("POST", "/api/v1/lists/{id}/accounts", "add_list_accounts", "Add followed accounts", "lists",
              EMPTY_OBJECT, scope="write:lists", body=ACCOUNT_IDS, form_only=ACCOUNT_IDS_FORM),
    Operation("DELETE", "/api/v1/lists/{id}/accounts", "remove_list_accounts", "Remove accounts", "lists",
              EMPTY_OBJECT, scope="write:lists", body=ACCOUNT_IDS, form_only=ACCOUNT_IDS_FORM),
    Operation("GET", "/api/v1/accounts/{id}/lists", "lists_of", "One's lists with this account", "lists",
              array(ref("List")), scope="read:lists"),
    Operation("GET", "/api/v1/timelines/list/{id}", "list_timeline", "A list's timeline", "lists",
              array(ref("Status")), scope="read:lists", query=paging(), paginated=True),
    # filters, v2 and v1
    Operation("GET", "/api/v2/filters", "filters", "One's filters", "filters", array(ref("Filter")),
              scope="read:filters"),
    Operation("POST", "/api/v2/filters", "create_filter", "Create a filter", "filters", ref("Filter"),
              scope="write:filters", body=FILTER_FIELDS),
    Operation("GET", "/api/v2/filters/{id}", "show_filter", "A filter", "filters", ref("Filter"),
              scope="read:filters"),
    Operation("PUT", "/api/v2/filters/{id}", "update_filter", "Change a filter", "filters", ref("Filter"),
              scope="write:filters", body=FILTER_FIELDS),
    Operation("DELETE", "/api/v2/filters/{id}", "delete_filter", "Delete a filter", "filters", EMPTY_OBJECT,
              scope="write:filters"),
    Operation("GET", "/api/v2/filters/{filter_id}/keywords", "filter_keywords", "A filter's keywords", "filters",
              array(ref("FilterKeyword")), scope="read:filters"),
    Operation("POST", "/api/v2/filters/{filter_id}/keywords", "add_filter_keyword", "Add a keyword", "filters",
              ref("FilterKeyword"), scope="write:filters", body=KEYWORD_FIELDS),
    Operation("GET", "/api/v2/filters/keywords/{id}", "show_filter_keyword", "A keyword", "filters",
              ref("FilterKeyword"), scope="read:filters"),
    Operation("PUT", "/api/v2/filters/keywords/{id}", "update_filter_keyword", "Change a keyword", "filters",
              ref("FilterKeyword"), scope="write:filters", body=KEYWORD_FIELDS),
    Operation("DELETE", "/api/v2/filters/keywords/{id}", "delete_filter_keyword", "Remove a keyword", "filters",
              EMPTY_OBJECT, scope="write:filters"),
    Operation("GET", "/api/v2/filters/{filter_id}/statuses", "filter_statuses", "A filter's statuses", "filters",
              array(ref("FilterStatus")), scope="read:filters"),
    Operation("POST", "/api/v2/filters/{filter_id}/statuses", "add_filter_status", "Add a status", "filters",
              ref("FilterStatus"), scope="write:filters", body=(Param("status_id", ID, required=True),)),
    Operation("GET", "/api/v2/filters/statuses/{id}", "show_filter_status", "A filtered status", "filters",
              ref("FilterStatus"), scope="read:filters"),
    Operation("DELETE", "/api/v2/filters/statuses/{id}", "delete_filter_status", "Remove a status", "filters",
              EMPTY_OBJECT, scope="write:filters"),
    Operation("GET", "/api/v1/filters", "filters_v1", "Keywords as v1 filters", "filters", array(ref("V1Filter")),
              scope="read:filters"),
    Operation("POST", "/api/v1/filters", "create_filter_v1", "Create a one-keyword filter", "filters",
              ref("V1Filter"), scope="write:filters", body=V1_FIELDS),
    Operation("GET", "/api/v1/filters/{id}", "show_filter_v1", "A v1 filter", "filters", ref("V1Filter"),
              scope="read:filters"),
    Operation("PUT", "/api/v1/filters/{id}", "update_filter_v1", "Change a v1 filter", "filters", ref("V1Filter"),
              scope="write:filters", body=V1_FIELDS),
    Operation("DELETE", "/api/v1/filters/{id}", "delete_filter_v1", "Delete a v1 filter", "filters", EMPTY_OBJECT,
              scope="write:filters"),
)  # fmt: skip
