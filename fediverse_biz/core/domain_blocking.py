"""A user blocks a domain: the block is stored (core/account_domain_blocks.py), what that domain's accounts
told the user is cleared, and the user's followers there are removed with a Reject(Follow) each, as
Mastodon's BlockDomainFromAccountService does.
"""

from __future__ import annotations

import asyncpg

from fediverse_biz.core import account_domain_blocks, graph, notifications
from fediverse_biz.core.errors import DomainError


async def block_domain(pool: asyncpg.Pool, actor: asyncpg.Record, text: str, local_domains: tuple[str, ...]) -> None:
    domain = account_domain_blocks.normalize(text)
    if domain in local_domains:
        raise DomainError("Validation failed: domain is this server's own")
    async with pool.acquire() as conn, conn.transaction():
        await account_domain_blocks.add(conn, actor["id"], domain)
        await notifications.clear_from_domain(conn, actor["id"], domain)
    followers = await pool.fetch(
        """SELECT a.* FROM follows f JOIN actors a ON a.id = f.actor_id
            WHERE f.target_actor_id = $1 AND a.domain = $2 ORDER BY a.id""",
        actor["id"],
        domain,
    )
    for follower in followers:  # each a transaction of its own; blocking again finishes what is left
        await graph.remove_follower(pool, actor, follower)
