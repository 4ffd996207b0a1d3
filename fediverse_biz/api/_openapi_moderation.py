"""The endpoints by which users take part in moderation (reports) described for the OpenAPI document, in
the form of api/_openapi_operations.py. Kept apart so the tables of work done side by side never collide
in one file.
"""

from __future__ import annotations

from fediverse_biz.api._openapi_operations import BOOLEAN, ID, STRING, Operation, Param, array, ref

__all__ = ["MODERATION_OPERATIONS"]

REPORT_FIELDS = (
    Param("account_id", ID, "the account reported", required=True),
    Param("status_ids", array(ID), "statuses of that account (not boosts), at most 100"),
    Param("comment", STRING, "why, at most 1000 characters"),
    Param("forward", BOOLEAN, "also send the report (as this server's) to a remote account's server"),
    Param("category", {"enum": ["spam", "legal", "violation", "other"]}, "default other; violation with rule_ids"),
    Param("rule_ids", array(ID), "the instance rules broken"),
)

MODERATION_OPERATIONS: tuple[Operation, ...] = (
    Operation("POST", "/api/v1/reports", "report", "Report an account and some of its statuses", "reports",
              ref("Report"), scope="write:reports", body=REPORT_FIELDS,
              form_only=(Param("status_ids[]", array(ID), "statuses, repeated"),
                         Param("rule_ids[]", array(ID), "rules, repeated")),
              description="The moderators and admins are notified (admin.report). Statuses of another "
                          "account are 422; an unknown account 404."),
)  # fmt: skip
