"""The one domain-block rule (core/domain_blocks.py): parent domains and ports count, severities mean what
Mastodon means, and the Python and SQL forms agree — for delivery, pages, search and timelines alike."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from fediverse_biz.core import domain_blocks, outbound, search, timelines
from fediverse_biz.core.paging import Page
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import factories


@pytest.fixture
def pool(db: Database) -> asyncpg.Pool:
    return db.pool


# (blocked domain, domain asked about, covered?)
CASES = [
    ("blocked.test", "blocked.test", True),
    ("blocked.test", "social.blocked.test", True),
    ("blocked.test", "a.b.blocked.test:8443", True),
    ("blocked.test", "blocked.test:443", True),
    ("blocked.test", "notblocked.test", False),  # a suffix, not a parent domain
    ("blocked.test", "blocked.test.evil", False),
    ("ex_mple.test", "example.test", False),  # no LIKE pattern is built from data
    ("%.test", "a.test", False),
    ("social.blocked.test", "blocked.test", False),  # a child's block says nothing of its parent
    ("[::1]:8080", "[::1]:8080", True),
]


@pytest.mark.parametrize(("block", "domain", "covered"), CASES)
async def test_python_and_sql_agree_on_what_a_block_covers(
    pool: asyncpg.Pool, block: str, domain: str, covered: bool
) -> None:
    await pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ($1, 'suspend')", block)
    assert await domain_blocks.suspended(pool, domain) is covered
    assert await pool.fetchval(f"SELECT {domain_blocks.suspended_sql('$1::text')}", domain) is covered
    assert (await domain_blocks.suspended_among(pool, [domain, "other.example"]) == {domain}) is covered
    assert await pool.fetchval(f"SELECT {domain_blocks.blocked_sql('$1::text')}", domain) is covered


async def test_silence_is_a_block_but_not_a_suspension(pool: asyncpg.Pool) -> None:
    await pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ('quiet.test', 'silence')")
    assert await domain_blocks.blocked(pool, "x.quiet.test")
    assert not await domain_blocks.suspended(pool, "x.quiet.test")
    assert await pool.fetchval(f"SELECT {domain_blocks.suspended_sql('$1::text')}", "x.quiet.test") is False
    assert await domain_blocks.blocked_among(pool, ["x.quiet.test"]) == {"x.quiet.test"}


async def test_a_subdomain_of_a_suspended_domain_gets_no_delivery(pool: asyncpg.Pool, urls: LocalUrls) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    await pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ('blocked.test', 'suspend')")
    await pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ('quiet.test', 'silence')")
    inboxes = [
        "https://social.blocked.test/inbox",
        "https://blocked.test:8443/inbox",
        "https://ok.test/inbox",
        "https://x.quiet.test/inbox",  # silenced servers still receive what they are sent
    ]
    async with pool.acquire() as conn:
        sent = await outbound.deliver(conn, alice, {"id": "https://x/1", "type": "Create"}, inboxes)
    assert sent == 2
    delivered = sorted(str(p["inbox"]) for p in await _delivery_payloads(pool))
    assert delivered == ["https://ok.test/inbox", "https://x.quiet.test/inbox"]
    # the fan-out that a post makes goes through the same rule
    await factories.remote_actor(pool, "fan", "social.blocked.test")
    await pool.execute(
        "INSERT INTO follows (actor_id, target_actor_id) SELECT id, $1 FROM actors WHERE username = 'fan'", alice["id"]
    )
    await pool.execute("DELETE FROM jobs")
    await factories.post(pool, urls, alice, "hello")
    assert await _delivery_payloads(pool) == []


async def _delivery_payloads(pool: asyncpg.Pool) -> list[dict[str, object]]:
    return [dict(r["payload"]) for r in await pool.fetch("SELECT payload FROM jobs WHERE kind = 'deliver'")]


async def test_a_subdomain_of_a_suspended_domain_shows_on_no_page_search_or_timeline(
    client: httpx.AsyncClient, pool: asyncpg.Pool, urls: LocalUrls
) -> None:
    alice = await factories.local_actor(pool, urls, "alice")
    root = await factories.post(pool, urls, alice, "Open day on Friday")
    spammer = await factories.remote_actor(pool, "spammer", "social.blocked.test")
    status_uri = "https://social.blocked.test/s/1"
    reply = await pool.fetchval(
        """INSERT INTO statuses (uri, actor_id, local, visibility, content, in_reply_to_id)
           VALUES ($1, $2, false, 'public', '<p>cheap watches</p>', $3) RETURNING id""",
        status_uri,
        spammer["id"],
        root,
    )
    page = await client.get(f"/@alice/{root}")
    assert page.status_code == 200 and "cheap watches" in page.text  # shown until the block

    await pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ('blocked.test', 'suspend')")
    page = await client.get(f"/@alice/{root}")
    assert page.status_code == 200 and "cheap watches" not in page.text
    assert await search.accounts(pool, "spammer", local_domains=("127.0.0.1",), viewer_id=alice["id"], limit=5) == []
    assert await search.actor_by_url(pool, spammer["uri"]) is None
    assert await search.status_by_url(pool, status_uri, alice["id"]) is None
    assert reply not in await timelines.public(pool, alice["id"], Page(limit=40))
