"""Fan-out: turning one local activity into delivery jobs, the only way anything leaves this server.

Called inside the domain operation's transaction, so the jobs exist if and only if the action committed.
`deliver` is the one fan-out function: it drops inboxes on suspended domains (core/domain_blocks.py,
parent domains included), keeps one job per distinct inbox, stores the activity once when many jobs
share it, and records the inboxes in the actor's reach (core/reach.py). The `deliver` job kind's handler
(federation/delivery.py) signs and POSTs each.

Who receives what is decided above: followers through their shared inbox (`follower_inboxes`), one actor
(`send_to_actor`), a status's audience (federation/outbox.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import asyncpg

from fediverse_biz import jsonio
from fediverse_biz.activitypub import activities
from fediverse_biz.core import domain_blocks, hooks, reach
from fediverse_biz.jobs import hosts, queue

DELIVER: Final = "deliver"
# From this many inboxes on, the activity is stored once (queue.store_body) and the jobs name it; below,
# each job carries it (one row fewer, and a job that reads alone). docs/jobs.md has the measurement.
SHARED_BODY_FROM: Final = 10


async def deliver(
    conn: asyncpg.Connection,
    actor: Mapping[str, Any],
    activity: Mapping[str, Any],
    inboxes: Iterable[str],
    *,
    on_behalf_of: int | None = None,
) -> int:
    """Queue `activity`, signed later by `actor`, for each distinct remote inbox; returns the job count.
    The inboxes join the actor's reach (and that of `on_behalf_of`, the local member whose activity a
    hall relays), which an account deletion reaches again."""
    by_host = {inbox: hosts.host_of(inbox) for inbox in sorted({i for i in inboxes if i})}
    if not by_host:
        return 0
    suspended = await domain_blocks.suspended_among(conn, by_host.values())
    wanted = [(inbox, host) for inbox, host in by_host.items() if host not in suspended]
    if not wanted:
        return 0
    reached = [actor["id"]] if on_behalf_of is None else [actor["id"], on_behalf_of]
    await reach.record(conn, reached, [inbox for inbox, _ in wanted])
    part: dict[str, Any]
    if len(wanted) >= SHARED_BODY_FROM:
        part = {"body_id": await queue.store_body(conn, jsonio.dumps(dict(activity)))}
    else:
        part = {"activity": dict(activity)}
    payloads = [({"inbox": inbox, **part, "actor_id": actor["id"]}, host) for inbox, host in wanted]
    return await queue.enqueue_many(conn, DELIVER, payloads)


async def follower_inboxes(conn: asyncpg.Connection, actor_id: int) -> list[str]:
    """The inboxes of the actor's remote followers, shared ones where they have one (one request per
    server, as Mastodon sends)."""
    rows = await conn.fetch(
        """SELECT DISTINCT coalesce(a.shared_inbox_url, a.inbox_url) AS inbox
             FROM follows f JOIN actors a ON a.id = f.actor_id
            WHERE f.target_actor_id = $1 AND a.domain IS NOT NULL AND a.inbox_url IS NOT NULL""",
        actor_id,
    )
    return [r["inbox"] for r in rows]


def remote_inbox(actor: Mapping[str, Any] | None) -> str | None:
    """Where to send something meant for `actor` and whoever else on its server receives it; None if local."""
    if actor is None or actor["domain"] is None:
        return None
    inbox: str | None = actor["shared_inbox_url"] or actor["inbox_url"]
    return inbox


async def send_to_actor(
    conn: asyncpg.Connection, actor: Mapping[str, Any], target: Mapping[str, Any], activity: dict[str, Any]
) -> int:
    """Follow/Accept/Reject/Like/Block and their Undo go to one actor's own inbox. The `activity_sent`
    hook runs first (a local hall relays its members' likes to its audience)."""
    await hooks.activity_sent(conn, actor, target, activity)
    if target["domain"] is None or not target["inbox_url"]:
        return 0
    return await deliver(conn, actor, activity, [target["inbox_url"]])


async def publish_actor_update(conn: asyncpg.Connection, actor: Mapping[str, Any], document: dict[str, Any]) -> int:
    """Update(actor) to the followers. Every profile Update has an id of its own and carries the time of
    the change, so receivers keep the newer of two that arrive out of order."""
    change = await conn.fetchrow("SELECT next_id() AS serial, now() AS at")
    activity = activities.update_actor(document, serial=change["serial"], updated_at=change["at"])
    return await deliver(conn, actor, activity, await follower_inboxes(conn, actor["id"]))
