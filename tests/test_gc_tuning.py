"""gc_tuning: start-up objects leave the collections, and collections come less often."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from fediverse_biz import gc_tuning


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tune_freezes_what_lives_and_raises_the_thresholds(restored_gc: None) -> None:
    class Node:
        other: object = None

    garbage = Node()
    garbage.other = garbage  # a reference cycle left over from start-up
    left_over = weakref.ref(garbage)
    del garbage
    gc.unfreeze()
    gc.disable()  # so that only tune() can collect it
    try:
        gc_tuning.tune()
    finally:
        gc.enable()
    assert left_over() is None  # freed before the freeze, not kept for the life of the process
    assert gc.get_threshold() == gc_tuning.THRESHOLDS
    assert gc.get_threshold()[0] > 700  # fewer young collections than CPython's default
    assert gc.get_freeze_count() > 10_000  # the imported modules' objects, at least
