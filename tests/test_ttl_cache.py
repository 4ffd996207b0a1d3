"""fediverse_biz/ttl_cache.py: entries count for `ttl` seconds; a full cache empties itself."""

from __future__ import annotations

from fediverse_biz.ttl_cache import TtlCache


def test_an_entry_counts_until_its_ttl_then_is_gone() -> None:
    fresh: TtlCache[str, int] = TtlCache(ttl=3600, max_entries=10)
    fresh.put("a", 1)
    assert fresh.get("a") == 1 and fresh.get("b") is None
    fresh.discard("a")
    assert fresh.get("a") is None
    expired: TtlCache[str, int] = TtlCache(ttl=0, max_entries=10)
    expired.put("a", 1)
    assert expired.get("a") is None


def test_a_full_cache_starts_over_rather_than_grow() -> None:
    cache: TtlCache[int, int] = TtlCache(ttl=3600, max_entries=3)
    for n in range(3):
        cache.put(n, n)
    cache.put(3, 3)
    assert [cache.get(n) for n in range(4)] == [None, None, None, 3]
