"""Which remote servers have something of a local actor's (table actor_reach).

Account deletion must reach every server that stored the account or any of its posts, and its followers
are not all of them: a hall relays members' posts to its own audience, a mention or a reply goes to
people who do not follow, a boost makes the booster's followers fetch the post, and a server may have
only looked the account up. So each local actor keeps the set of remote inboxes (shared ones when the
receiver has one) that were ever:
- sent anything of the actor's: `record()` from outbound.deliver, one statement per fan-out, and for a
  local hall's relay also on behalf of the member whose activity it wraps;
- or whose server fetched the actor document or one of its posts with a verified signed GET
  (federation/fetch_reach.py).
core/account_deletion.py sends Delete(actor) to this set as well as to the follow graph.

Writes are cheap by design: a known inbox is rewritten (last_seen_at) at most once a day.
"""

from __future__ import annotations

from collections.abc import Iterable

from fediverse_biz.db.executor import Executor

# Pairs seen within the day are filtered out by a read of the primary key, not left to ON CONFLICT: a
# conflicting row is locked (and so written) even when the update's WHERE is false, and nearly every
# fan-out of an active account goes to inboxes it reached the day before.
_RECORD = """
INSERT INTO actor_reach AS r (actor_id, inbox)
SELECT a, i FROM unnest($1::bigint[]) a CROSS JOIN unnest($2::text[]) i
 WHERE NOT EXISTS (SELECT 1 FROM actor_reach k
                    WHERE k.actor_id = a AND k.inbox = i AND k.last_seen_at > now() - interval '1 day')
ON CONFLICT (actor_id, inbox) DO UPDATE SET last_seen_at = now()
"""


async def record(conn: Executor, actor_ids: Iterable[int], inboxes: Iterable[str]) -> None:
    """Note that each of `inboxes` received (or fetched) something of each local actor in `actor_ids`."""
    ids = sorted(set(actor_ids))
    wanted = sorted({i for i in inboxes if i})
    if ids and wanted:
        await conn.execute(_RECORD, ids, wanted)
