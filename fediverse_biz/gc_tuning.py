"""The garbage collector's settings for the long-running processes (`serve`, `worker`).

A timeline page of 40 statuses allocates thousands of container objects (entities, lists, records), so
with CPython's default thresholds (700, 10, 10) the collector ran several young collections per request
and, every few requests, an older one that walked the tens of thousands of objects the imports left
behind. Two changes, measured on the home-timeline benchmark (docs/benchmarks.md): the objects alive at
start-up, which live as long as the process, are frozen out of every collection (gc.freeze, CPython docs:
"move them to a permanent generation and ignore them in all the future collections"), and collections
run ten times less often. Server CPU per page fell by about a tenth; resident memory did not change.
Reference cycles are still collected, only in larger batches.
"""

from __future__ import annotations

import gc

THRESHOLDS = (7000, 20, 20)


def tune() -> None:
    """Call once the application is built and before it serves."""
    gc.collect()  # what start-up left as garbage is freed, not frozen
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
