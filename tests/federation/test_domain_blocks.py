"""Suspended domains (core/domain_blocks.py): parent domains count, and the door's copy is bounded in age."""

from __future__ import annotations

from fediverse_biz.core import domain_blocks
from fediverse_biz.db.database import Database


def test_a_domain_is_suspended_with_any_parent_domain() -> None:
    assert domain_blocks.candidates("a.b.example:8443") == ["a.b.example:8443", "a.b.example", "b.example", "example"]
    assert domain_blocks.candidates("[::1]:80") == ["[::1]:80", "[::1]"]


async def test_the_database_answer_covers_subdomains_and_only_suspensions(db: Database) -> None:
    await db.pool.execute(
        "INSERT INTO domain_blocks (domain, severity) VALUES ('evil.example', 'suspend'), ('loud.example', 'silence')"
    )
    assert await domain_blocks.suspended(db.pool, "evil.example")
    assert await domain_blocks.suspended(db.pool, "deep.sub.evil.example:443")
    assert not await domain_blocks.suspended(db.pool, "notevil.example")  # a label, not a suffix
    assert not await domain_blocks.suspended(db.pool, "loud.example")


async def test_the_doors_copy_is_read_again_after_its_ttl(db: Database) -> None:
    # given a copy read before the suspension, with a long lifetime
    copy = domain_blocks.SuspendedDomains(db.pool, ttl=3600)
    assert not await copy.covers("evil.example")
    await db.pool.execute("INSERT INTO domain_blocks (domain, severity) VALUES ('evil.example', 'suspend')")
    # then it does not see the suspension yet (the store statement does: tests/federation/test_inbox.py)
    assert not await copy.covers("evil.example")
    # and a copy whose lifetime is over reads the table again, subdomains included
    fresh = domain_blocks.SuspendedDomains(db.pool, ttl=0)
    assert await fresh.covers("evil.example") and await fresh.covers("www.evil.example")
    assert not await fresh.covers("notevil.example")
