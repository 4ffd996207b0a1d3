"""Fan-out on write: when a status becomes visible, put it in the home feeds of the local accounts
that should see it and notify the ones it concerns. Used for local and remote statuses alike.

Rules (Mastodon's FanOutOnWriteService):
- the author's own feed (local authors), and local followers' feeds — except for direct posts;
- a reply to someone else reaches only followers who also follow the person replied to;
- a boost reaches followers who have not turned boosts off for the booster;
- a follower who put the author in an exclusive list (core/lists.py) reads the post there, not at home;
- public posts that are not boosts reach the local accounts that follow one of their hashtags
  (core/tag_follows.py);
- direct posts reach the home feeds of the local accounts they mention, and the conversations
  (core/conversations.py) of those accounts and of a local author;
- mutes and blocks keep a status out of a feed; mentions notify (even without following).
"""

from __future__ import annotations

import asyncpg

from fediverse_biz.core import conversations, domain_blocks, events, notifications
from fediverse_biz.core.hydrate import StatusBundle


async def distribute(conn: asyncpg.Connection, bundle: StatusBundle) -> list[int]:
    status, author = bundle.status, bundle.author
    if status["approval_state"] != "published":
        return []
    is_boost = status["reblog_of_id"] is not None
    reply_to = status["in_reply_to_actor_id"]
    # One statement: the feed rows, the local followers who asked to be notified of every post (`notify`;
    # only a post that is not a boost tells them, below), and the streaming event (the row `event`).
    rows = await conn.fetch(
        f"""WITH home AS (
               INSERT INTO home_feed (actor_id, status_id)
               SELECT DISTINCT x.id, $1::bigint FROM (
                   SELECT $2::bigint AS id WHERE $5::boolean
                   UNION ALL
                   SELECT f.actor_id FROM follows f
                    WHERE f.target_actor_id = $2 AND $3 <> 'direct'
                      AND (NOT $6::boolean OR f.show_reblogs)
                      AND ($4::bigint IS NULL OR $4 = $2 OR f.actor_id = $4
                           OR EXISTS (SELECT 1 FROM follows f2
                                       WHERE f2.actor_id = f.actor_id AND f2.target_actor_id = $4))
                      AND NOT EXISTS (SELECT 1 FROM list_accounts xl JOIN lists l ON l.id = xl.list_id
                                       WHERE xl.actor_id = $2 AND l.actor_id = f.actor_id AND l.exclusive)
                   UNION ALL
                   SELECT m.actor_id FROM status_mentions m WHERE m.status_id = $1 AND $3 = 'direct'
                   UNION ALL
                   SELECT tf.actor_id FROM status_tags st JOIN tag_follows tf ON tf.tag_id = st.tag_id
                    WHERE st.status_id = $1 AND $7::boolean
               ) x
               JOIN actors reader ON reader.id = x.id AND reader.domain IS NULL
               WHERE NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.actor_id = x.id AND mu.target_actor_id = $2
                                   AND (mu.expires_at IS NULL OR mu.expires_at > now()))
                 AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.actor_id = x.id AND b.target_actor_id = $2)
                                                           OR (b.actor_id = $2 AND b.target_actor_id = x.id))
               ON CONFLICT DO NOTHING
               RETURNING actor_id),
           event AS (SELECT {events.status_created_sql("$1::bigint", "SELECT actor_id FROM home")} AS sent)
           SELECT actor_id, false AS subscriber FROM home
           UNION ALL
           SELECT f.actor_id, true FROM follows f JOIN actors a ON a.id = f.actor_id AND a.domain IS NULL
            WHERE f.target_actor_id = $2 AND f.notify AND $3 IN ('public', 'unlisted', 'private')
           UNION ALL
           SELECT NULL, NULL FROM event""",
        status["id"],
        author["id"],
        status["visibility"],
        reply_to,
        author["domain"] is None,
        is_boost,
        await _reaches_tag_followers(conn, bundle),
    )
    home = [r["actor_id"] for r in rows if r["subscriber"] is False]
    if status["visibility"] == "direct" and not is_boost:
        # The feed rows just written are exactly the local author and the mentioned who accept the post.
        await conversations.add_status(conn, status["id"], author["id"], [m["id"] for m in bundle.mentions], home)

    if is_boost and bundle.reblog is not None:
        await notifications.notify(conn, bundle.reblog.author["id"], author["id"], "reblog", bundle.reblog.id)
    else:
        for mentioned in bundle.mentions:
            await notifications.notify(conn, mentioned["id"], author["id"], "mention", status["id"])
        for row in rows:
            if row["subscriber"]:
                await notifications.notify(conn, row["actor_id"], author["id"], "status", status["id"])
    return home


async def _reaches_tag_followers(conn: asyncpg.Connection, bundle: StatusBundle) -> bool:
    """Mastodon's broadcastable?: public, not a boost, and from an author whose domain is not limited."""
    status, domain = bundle.status, bundle.author["domain"]
    if status["visibility"] != "public" or status["reblog_of_id"] is not None:
        return False
    return domain is None or not await domain_blocks.blocked(conn, domain)


async def announce_edit(conn: asyncpg.Connection, bundle: StatusBundle) -> None:
    """An edited status: tell local accounts who boosted it, and streaming clients."""
    boosters = await conn.fetch("SELECT DISTINCT actor_id FROM statuses WHERE reblog_of_id = $1", bundle.id)
    for row in boosters:
        await notifications.notify(conn, row["actor_id"], bundle.author["id"], "update", bundle.id)
    await events.status_updated(conn, bundle.id)
