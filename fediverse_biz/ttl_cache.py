"""A per-process map whose entries count for `ttl` seconds: for values that may be briefly stale and are
read far more often than they change (signing keys, ours and peers'). Bounded: when full it is emptied,
which costs a few misses now and then instead of an LRU's bookkeeping on every hit."""

from __future__ import annotations

import time
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, *, ttl: float, max_entries: int) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        """The value put less than `ttl` seconds ago, or None."""
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] >= self._ttl:
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), value)

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)
