"""Reports: a user tells the moderators about an account and some of its posts
(https://docs.joinmastodon.org/methods/reports/).

The report is stored, the instance's moderators and admins are notified ('admin.report'), and, when the
reporter asks for it and the account is remote, a Flag goes to the account's server, sent by the instance
actor so that the reporter stays anonymous there (Mastodon's ReportService and FlagSerializer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import asyncpg

from fediverse_biz.activitypub import activities
from fediverse_biz.core import instance_settings, notifications, outbound, profiles
from fediverse_biz.core.errors import DomainError, not_found

CATEGORIES: Final = ("spam", "legal", "violation", "other")
MAX_COMMENT: Final = 1000  # Mastodon's Report validation: "is too long (maximum is 1000 characters)"
MAX_STATUSES: Final = 100  # a guard, not a feature: the apps attach a handful


@dataclass(frozen=True)
class Draft:
    target_id: int | None
    status_ids: Sequence[int] = ()
    comment: str = ""
    category: str | None = None
    rule_ids: Sequence[int] = ()
    forward: bool = False


@dataclass(frozen=True)
class Report:
    row: asyncpg.Record
    target: asyncpg.Record
    notified: list[int] = field(default_factory=list)


def _category(draft: Draft) -> str:
    """Mastodon: rule ids make the report a violation, whatever category was named; none named is other."""
    if draft.rule_ids:
        return "violation"
    category = draft.category or "other"
    if category not in CATEGORIES:
        raise DomainError(f"Validation failed: category must be one of {', '.join(CATEGORIES)}")
    return category


async def _check_rules(conn: asyncpg.Connection, rule_ids: Sequence[int]) -> None:
    settings = await instance_settings.load(conn, [instance_settings.RULES])
    known = {rule["id"] for rule in instance_settings.rules_of(settings.get(instance_settings.RULES))}
    if any(str(rule_id) not in known for rule_id in rule_ids):
        raise DomainError("Validation failed: rule_ids contains invalid rules")


async def _check_statuses(conn: asyncpg.Connection, target_id: int, status_ids: Sequence[int]) -> None:
    """Every status must be the reported account's own (not a boost of someone else's)."""
    owned = await conn.fetchval(
        "SELECT count(*) FROM statuses WHERE id = ANY($1::bigint[]) AND actor_id = $2 AND reblog_of_id IS NULL",
        list(status_ids),
        target_id,
    )
    if owned != len(status_ids):
        raise DomainError("Validation failed: status_ids must be statuses of the reported account")


async def notify_staff(conn: asyncpg.Connection, reporter_id: int, report_id: int) -> list[int]:
    """Tell every active moderator and admin; returns who was told. Also used for reports from other servers."""
    staff = await conn.fetch(
        "SELECT actor_id FROM users WHERE role IN ('admin', 'moderator') AND NOT disabled ORDER BY actor_id"
    )
    told = []
    for member in staff:
        made = await notifications.notify(
            conn, member["actor_id"], reporter_id, "admin.report", extra={"report_id": str(report_id)}
        )
        if made is not None:
            told.append(member["actor_id"])
    return told


async def file(
    pool: asyncpg.Pool, reporter: Mapping[str, Any], instance_actor: Mapping[str, Any], draft: Draft
) -> Report:
    """Store the report, notify the staff and, if asked, forward it; all or nothing."""
    comment = draft.comment.strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError(f"Validation failed: comment is too long (maximum is {MAX_COMMENT} characters)")
    category = _category(draft)
    status_ids = list(dict.fromkeys(draft.status_ids))
    if len(status_ids) > MAX_STATUSES:
        raise DomainError(f"Validation failed: at most {MAX_STATUSES} statuses per report")
    async with pool.acquire() as conn, conn.transaction():
        target = await profiles.visible_account(conn, draft.target_id)
        if target is None or target["is_instance_actor"]:
            raise not_found()
        await _check_rules(conn, draft.rule_ids)
        await _check_statuses(conn, target["id"], status_ids)
        forward = draft.forward and target["domain"] is not None
        row = await conn.fetchrow(
            """INSERT INTO reports (reporter_actor_id, target_actor_id, status_ids, comment, category, rule_ids,
                                    forwarded)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
            reporter["id"], target["id"], status_ids, comment, category, list(dict.fromkeys(draft.rule_ids)), forward,
        )  # fmt: skip
        notified = await notify_staff(conn, reporter["id"], row["id"])
        if forward:
            await _forward(conn, instance_actor, target, row)
    return Report(row, target, notified)


async def _forward(
    conn: asyncpg.Connection, instance_actor: Mapping[str, Any], target: Mapping[str, Any], row: asyncpg.Record
) -> None:
    """The Flag names the account and its reported posts, carries the comment, and is signed by the instance
    actor, to the account's own inbox (as Mastodon's ReportService delivers it)."""
    uris = await conn.fetch(
        "SELECT uri FROM statuses WHERE id = ANY($1::bigint[]) AND uri IS NOT NULL ORDER BY id", row["status_ids"]
    )
    flag = activities.flag(
        f"{instance_actor['uri']}#flags/{row['id']}",
        instance_actor["uri"],
        [target["uri"], *(r["uri"] for r in uris)],
        row["comment"],
    )
    if target["inbox_url"]:
        await outbound.deliver(conn, instance_actor, flag, [target["inbox_url"]])
