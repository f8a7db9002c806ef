"""The STATE the tap emits, in process: per finished window, never ahead of what was read.

tap_gong/state.py commits bookmarks on top of three SDK behaviours (its docstring); these
tests fail if an SDK upgrade changes any of them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from gong_sandbox import GongSandbox
from tap_gong.kinds.date_time_windows import CALL_PROCESSING_ALLOWANCE
from tests.support import instant, sync_in_process, tap_config, tap_in_process


def test_a_state_follows_each_finished_window_with_its_end_as_the_bookmark(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    # One request in flight: windows of calls_window_days (several in flight cut finer).
    config = tap_config(sandbox, calls_window_days=5, max_concurrent_requests=1)

    messages = sync_in_process(tap_in_process(config, streams=("calls",)))

    kinds = [m["type"] for m in messages]
    calls_states = [
        m["value"]["bookmarks"]["calls"]
        for m in messages
        if m["type"] == "STATE" and "replication_key_value" in m["value"]["bookmarks"]["calls"]
    ]
    bookmarks = [instant(s["replication_key_value"]) for s in calls_states]
    start, end = instant(config["start_date"]), instant(config["end_date"])
    assert bookmarks[:3] == [start + dt.timedelta(days=5 * n) for n in (1, 2, 3)]
    assert bookmarks[-1] == end - CALL_PROCESSING_ALLOWANCE
    assert all(s["replication_key"] == "started" for s in calls_states)
    # The SDK's max-so-far of a window in progress never reaches the state.
    assert all("replication_key_value" not in s.get("progress_markers", {}) for s in calls_states)
    # Each window's records come before its STATE: a STATE never covers an unread record.
    last_record = max(i for i, kind in enumerate(kinds) if kind == "RECORD")
    first_final_state = next(
        i
        for i, m in enumerate(messages)
        if m["type"] == "STATE"
        and m["value"]["bookmarks"]["calls"].get("replication_key_value")
        == calls_states[-1]["replication_key_value"]
    )
    assert last_record < first_final_state


def test_every_records_started_is_covered_only_by_a_later_state(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    messages = sync_in_process(
        tap_in_process(tap_config(sandbox, calls_window_days=3), streams=("calls",))
    )

    bookmark = None
    for message in messages:
        if message["type"] == "STATE":
            value = message["value"]["bookmarks"]["calls"].get("replication_key_value")
            bookmark = instant(value) if value else bookmark
        elif message["type"] == "RECORD" and bookmark is not None:
            # A record read after a STATE started at or after that STATE's bookmark, except
            # the calls Gong filters by `scheduled` (conference calls), up to 15 min apart.
            started = instant(message["record"]["started"])
            assert started >= bookmark - dt.timedelta(minutes=15), (started, bookmark)
