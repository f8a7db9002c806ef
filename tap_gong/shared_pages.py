"""`calls` read from the pages `call_details` reads: one read of each stretch of calls.

`/v2/calls/extensive`'s `metaData` is the record `/v2/calls` returns (CallBasicData,
the same fields on live Gong), so while `call_details` runs (selected, or for its page
children) `calls` takes its records from those pages and makes no request: about 2
requests per 100 calls with every call stream selected (extensive + transcript), not
3.33. `calls` alone still reads `/v2/calls`.

The two then keep one state: `calls`' window state (bookmark, late-data re-reads,
reconcile and table version) is a copy of `call_details`' at every STATE, so that either
can go on alone next run (`call_details` deselected, or refused its scope). Two states
that differ (one stream added later, one stopped earlier) are merged first, each value
the earlier, so that the stream behind misses nothing: at worst a stretch is read twice.
Two unfinished reconciles of different versions are not merged: `calls` reads
`/v2/calls` until they are done (the same version, one further, reads on from the
stream behind).
"""

from __future__ import annotations

import copy
from typing import Any

from tap_gong.late_data import LAST_RUN_AT, REREAD_AT, RESUME_FROM
from tap_gong.reconcile import RECONCILE, RECONCILED_AT, TABLE_VERSION
from tap_gong.state import BOOKMARK
from tap_gong.windows import parse_instant

# What decides a windowed stream's windows and versions, apart from its bookmark's name.
WINDOW_STATE = (BOOKMARK, REREAD_AT, LAST_RUN_AT, RESUME_FROM, RECONCILED_AT, RECONCILE)
# Instants where the earlier reads more: a missing one reads the most (a first run, a
# re-read never made). A resume point is the opposite: a missing one reads nothing.
EARLIER_OR_MISSING = (BOOKMARK, REREAD_AT, LAST_RUN_AT, RECONCILED_AT)


def merged_window_state(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any] | None:
    """One window state that reads everything either stream still has to read.

    None when both have an unfinished reconcile in versions of their own (neither can
    join the other's), or when a value is not one tap-gong writes.
    """
    pending = [p for p in (first.get(RECONCILE), second.get(RECONCILE)) if p is not None]
    if len(pending) == 2 and first.get(TABLE_VERSION) != second.get(TABLE_VERSION):
        return None
    try:
        return merged_values(first, second, pending)
    except (TypeError, ValueError, AttributeError, KeyError):
        return None  # a value tap-gong does not write: each stream refuses its own


def merged_values(
    first: dict[str, Any], second: dict[str, Any], pending: list[Any]
) -> dict[str, Any]:
    for state in (first, second):
        for name in (*EARLIER_OR_MISSING, RESUME_FROM):
            if state.get(name) is not None:
                parse_instant(state[name])
    if not all(isinstance(p, dict) for p in pending):
        raise TypeError(pending)
    merged: dict[str, Any] = {}
    for name in EARLIER_OR_MISSING:
        if name in first and name in second:
            merged[name] = earliest([first[name], second[name]])
    if resume := [v for v in (first.get(RESUME_FROM), second.get(RESUME_FROM)) if v is not None]:
        merged[RESUME_FROM] = earliest(resume)
    if pending:
        merged[RECONCILE] = merged_reconcile(pending)
        # The re-read's version: rows it re-read carry it, so it must go on in it.
        owner = first if first.get(RECONCILE) is not None else second
        merged[TABLE_VERSION] = owner.get(TABLE_VERSION)
    elif versions := [v for v in (first.get(TABLE_VERSION), second.get(TABLE_VERSION)) if v]:
        merged[TABLE_VERSION] = max(versions)
    return merged


def merged_reconcile(pending: list[dict[str, Any]]) -> dict[str, Any]:
    """One re-read of the same version (the same stretch read by one stream further):
    it goes on from the earlier `read_to` (None: from start_date) up to the later `until`."""
    if len(pending) == 1:
        return copy.deepcopy(pending[0])
    reads_to = [p.get("read_to") for p in pending]
    return {
        "started_at": earliest([p["started_at"] for p in pending]),
        "until": max((p["until"] for p in pending), key=parse_instant),
        "read_to": None if None in reads_to else earliest(reads_to),
    }


def earliest(instants: list[Any]) -> str:
    return min(instants, key=parse_instant)


def same_window_state(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Whether the two states read the same windows (table versions aside)."""
    return all(first.get(name) == second.get(name) for name in WINDOW_STATE)


def put_window_state(state: dict[str, Any], window_state: dict[str, Any]) -> None:
    """Make `window_state` a stream's own (its other keys, its budget's, stay)."""
    for name in ("replication_key", *WINDOW_STATE, TABLE_VERSION):
        if name in window_state:
            state[name] = copy.deepcopy(window_state[name])
        else:
            state.pop(name, None)
