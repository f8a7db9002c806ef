"""Python's cycle collector, run less often during a sync (Gong's pages make no cycles), and
not at all as the process ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Python runs a young-generation collection every 700 new dicts and lists (its default). A
# page of 100 calls with their details decodes into tens of thousands of them, all alive
# until the page is read, so those collections find nothing (records hold no cycles and are
# freed by reference counting) and the page surviving them is traversed again in the older
# generations: 15-20 % of the tap's CPU on the call streams (benchmarks/RESULTS.md, scale).
# Cycles are still collected, every this many new containers.
YOUNG_COLLECTION_THRESHOLD = 50_000


@contextmanager
def fewer_cycle_collections() -> Iterator[None]:
    """Collect the young generation every YOUNG_COLLECTION_THRESHOLD containers, then as before."""
    thresholds = gc.get_threshold()
    # A host that turned collection off (0) or already collects less often keeps its choice.
    if 0 < thresholds[0] < YOUNG_COLLECTION_THRESHOLD:
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def no_collection_at_exit() -> None:
    """Leave every object out of the collection Python makes as it exits.

    That last collection traverses the whole heap (0.16 s after a sync of 3,000 calls, a
    run's end waited for) to free what the ending process frees anyway.
    """
    gc.freeze()
