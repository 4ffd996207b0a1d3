"""What a user decides for themselves — reports, their own domain blocks, private notes about accounts, removing
their profile images — and the instance's published domain blocks, described for the OpenAPI document, in the
form of api/_openapi_operations.py. One file per group of endpoints keeps each table short enough to read.
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

__all__ = ["PERSONAL_OPERATIONS"]

REPORT_FIELDS = (
    Param("account_id", ID, "the account reported", required=True),
    Param("status_ids", array(ID), "statuses of that account (not boosts), at most 100"),
    Param("comment", STRING, "why, at most 1000 characters"),
    Param("forward", BOOLEAN, "also send the report (as this server's) to a remote account's server"),
    Param("category", {"enum": ["spam", "legal", "violation", "other"]}, "default other; violation with rule_ids"),
    Param("rule_ids", array(ID), "the instance rules broken"),
)

DOMAIN = (Param("domain", STRING, "host[:port]; trimmed, lower-cased, internationalised names as punycode",
                required=True),)  # fmt: skip
INSTANCE_BLOCK = {"type": "object", "required": ["domain", "digest", "severity"], "properties": {
    "domain": STRING, "digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "severity": {"enum": ["silence", "suspend"]}}}  # fmt: skip

PERSONAL_OPERATIONS: tuple[Operation, ...] = (
    Operation("POST", "/api/v1/reports", "report", "Report an account and some of its statuses", "reports",
              ref("Report"), scope="write:reports", body=REPORT_FIELDS,
              form_only=(Param("status_ids[]", array(ID), "statuses, repeated"),
                         Param("rule_ids[]", array(ID), "rules, repeated")),
              description="The moderators and admins are notified (admin.report). Statuses of another "
                          "account are 422; an unknown account 404."),
    Operation("GET", "/api/v1/domain_blocks", "domain_blocks", "The domains one blocks, latest first", "domain_blocks",
              array(STRING), scope="read:blocks", query=paging(100, 200), paginated=True),
    Operation("POST", "/api/v1/domain_blocks", "block_domain", "Block a domain", "domain_blocks", EMPTY_OBJECT,
              scope="write:blocks", body=DOMAIN,
              description="Its accounts and posts leave one's timelines, notifications and search; one's "
                          "followers there are removed."),
    Operation("DELETE", "/api/v1/domain_blocks", "unblock_domain", "Unblock a domain", "domain_blocks",
              EMPTY_OBJECT, scope="write:blocks", body=DOMAIN),
    Operation("POST", "/api/v1/accounts/{id}/note", "account_note", "Write one's private note about an account",
              "accounts", ref("Relationship"), scope="write:accounts",
              body=(Param("comment", STRING, "at most 2000 characters; empty removes the note"),),
              description="Shown as `note` in the author's Relationship with the account, to nobody else."),
    Operation("DELETE", "/api/v1/profile/avatar", "delete_avatar", "Remove one's avatar", "accounts",
              ref("CredentialAccount"), scope="write:accounts",
              description="The default image is shown again; followers' servers get the profile Update."),
    Operation("DELETE", "/api/v1/profile/header", "delete_header", "Remove one's header", "accounts",
              ref("CredentialAccount"), scope="write:accounts",
              description="The default image is shown again; followers' servers get the profile Update."),
    Operation("GET", "/api/v1/instance/domain_blocks", "instance_domain_blocks", "The instance's blocked domains",
              "instance", array(INSTANCE_BLOCK), auth="optional"),
)  # fmt: skip
