"""Which servers' public directories we pull, and when (federation/directory_pull.py does the pulling).

A host is met when the first actor of it is stored (remote_actors: any resolution — a follow, a signed
delivery to our inbox, a mention, a search). Meeting it makes a `directory_sources` row and queues its
first pull FIRST_PULL_DELAY later; every pull then queues the next one PULL_PERIOD after it. The
partial unique index `jobs_one_directory_pull` (migration 0018) keeps at most one waiting pull per host,
so meeting a host again, or two workers re-arming it, adds nothing.

Remote halls lead to more servers: when a local account first follows (joins) a remote `Group`, a
`pull_hall_members` job (federation/hall_members.py) is queued HALL_FIRST_PULL_DELAY later; it reads the
hall's followers collection and meets each member's server here, then re-arms itself every PULL_PERIOD
while the hall is still followed. `jobs_one_hall_member_pull` (migration 0019) keeps one waiting pull
per hall.

Cost on the path that stores actors: one INSERT … ON CONFLICT DO NOTHING on a primary key, at most once
per actor fetch (actors are cached for a day).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import asyncpg

from fediverse_biz.activitypub.actors import authority
from fediverse_biz.core.hooks import Hooks
from fediverse_biz.db.executor import Executor

__all__ = [
    "FIRST_PULL_DELAY",
    "HALL_FIRST_PULL_DELAY",
    "PULL_DIRECTORY",
    "PULL_HALL_MEMBERS",
    "PULL_PERIOD",
    "met",
    "schedule",
    "schedule_hall",
]

PULL_DIRECTORY: Final = "pull_directory"
FIRST_PULL_DELAY: Final = timedelta(seconds=30)  # let the meeting (a follow, its Accept) settle first
PULL_PERIOD: Final = timedelta(hours=24)  # Mastodon's directory itself changes slowly; actors cache a day
PULL_HALL_MEMBERS: Final = "pull_hall_members"
HALL_FIRST_PULL_DELAY: Final = timedelta(seconds=60)  # after the join's Accept, so we read ourselves a member


# The job carries the host, so the per-host limit and the host's circuit (hosts.py) apply to pulls too.
_SCHEDULE: Final = """
INSERT INTO jobs (kind, payload, host, run_at, give_up_at)
SELECT $1, jsonb_build_object('host', $2::text), $2, now() + $3::interval, now() + $3::interval + interval '3 days'
ON CONFLICT (host) WHERE kind = 'pull_directory' AND attempts = 0 DO NOTHING
"""

# The job carries the hall's host (per-host limit, circuit) and the hall's URI (the unique key).
_SCHEDULE_HALL: Final = """
INSERT INTO jobs (kind, payload, host, run_at, give_up_at)
SELECT $1, jsonb_build_object('hall', $2::text), $3, now() + $4::interval, now() + $4::interval + interval '3 days'
ON CONFLICT ((payload ->> 'hall')) WHERE kind = 'pull_hall_members' AND attempts = 0 DO NOTHING
"""

_MEET: Final = """
WITH met AS (
    INSERT INTO directory_sources (host, origin) VALUES ($2, $4) ON CONFLICT (host) DO NOTHING RETURNING host
)
INSERT INTO jobs (kind, payload, host, run_at, give_up_at)
SELECT $1, jsonb_build_object('host', host), host, now() + $3::interval, now() + $3::interval + interval '3 days'
  FROM met
ON CONFLICT (host) WHERE kind = 'pull_directory' AND attempts = 0 DO NOTHING
"""


async def met(conn: Executor, actor_uri: str) -> None:
    """The server of `actor_uri` (a remote actor just stored) is one we federate with."""
    parts = urlsplit(actor_uri)
    if parts.scheme not in ("http", "https"):
        return
    host = authority(actor_uri)
    if not host:
        return
    await conn.execute(_MEET, PULL_DIRECTORY, host, FIRST_PULL_DELAY, f"{parts.scheme}://{host}")


async def schedule(conn: Executor, host: str, *, after: timedelta = PULL_PERIOD) -> None:
    """Queue the next pull of `host` (nothing when one is already waiting)."""
    await conn.execute(_SCHEDULE, PULL_DIRECTORY, host, after)


async def schedule_hall(conn: Executor, hall_uri: str, *, after: timedelta = PULL_PERIOD) -> None:
    """Queue the next member pull of the remote hall `hall_uri` (nothing when one is already waiting)."""
    if urlsplit(hall_uri).scheme not in ("http", "https"):
        return
    host = authority(hall_uri)
    if host:
        await conn.execute(_SCHEDULE_HALL, PULL_HALL_MEMBERS, hall_uri, host, after)


async def _after_follow_request(
    conn: asyncpg.Connection, follower: Mapping[str, Any], target: Mapping[str, Any]
) -> None:
    if target["actor_type"] == "Group":
        # A remote hall we now take part in: its members' servers feed our directory (hall_members.py).
        await schedule_hall(conn, target["uri"], after=HALL_FIRST_PULL_DELAY)


def register(hooks: Hooks) -> None:
    hooks.remote_follow_requested.append(_after_follow_request)
