"""Incremental runs and resumes: only what is new (plus the lookback), and nothing lost."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from pathlib import Path

from tap_gong.sandbox import GongSandbox
from tests.support import (
    expected_stats,
    instant,
    run_tap,
    sandbox_settings,
    start_tap,
    tap_config,
)

DAY = dt.timedelta(days=1)


def request_starts(sandbox: GongSandbox) -> tuple[list[dt.datetime], list[dt.date]]:
    """The earliest moments asked of each endpoint since the log was last reset."""
    calls = [instant(r.query["fromDateTime"]) for r in sandbox.requests if r.path == "/v2/calls"]
    stats = [
        dt.date.fromisoformat(r.body["filter"]["fromDate"])
        for r in sandbox.requests
        if r.path == "/v2/stats/interaction"
    ]
    return calls, stats


def test_second_run_asks_only_for_the_new_window_and_gets_the_new_calls(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    first = run_tap(tap_config(sandbox), tmp_path)
    calls_bookmark = instant(first.bookmark("calls"))
    stats_bookmark = dt.date.fromisoformat(first.bookmark("interaction_stats"))
    sandbox.advance_clock(DAY)
    new_calls = sandbox.add_calls(30)
    sandbox.reset_log()

    config = tap_config(sandbox)
    second = run_tap(config, tmp_path, state=first.final_state)

    assert second.returncode == 0, second.stderr
    calls_from, stats_from = request_starts(sandbox)
    assert min(calls_from) == calls_bookmark - DAY  # the bookmark minus the 1-day lookback
    assert min(stats_from) == stats_bookmark  # the last completed day, re-read once
    assert {c["id"] for c in new_calls} <= {r["id"] for r in second.records("calls")}
    expected_ids = {c["id"] for c in sandbox.calls(calls_bookmark - DAY, sandbox.now())}
    assert {r["id"] for r in second.records("calls")} == expected_ids
    assert second.bookmark("calls") == config["end_date"].replace("+00:00", "Z")


def test_rerun_at_the_same_moment_without_lookback_asks_gong_nothing(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    first = run_tap(tap_config(sandbox, lookback_window_days=0), tmp_path)
    sandbox.reset_log()

    second = run_tap(tap_config(sandbox, lookback_window_days=0), tmp_path, first.final_state)

    assert second.returncode == 0, second.stderr
    assert sandbox.requests == []
    assert second.records("calls") == []
    assert second.records("interaction_stats") == []
    assert second.final_state["bookmarks"] == first.final_state["bookmarks"]


def test_backfill_killed_mid_run_resumes_from_its_last_state_with_nothing_missing(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings(latency_seconds=0.02)) as sandbox:
        config = tap_config(sandbox, calls_window_days=2)
        killed = start_tap(config, tmp_path)
        delivered, states = [], []
        for line in killed.stdout:  # type: ignore[union-attr]
            message = json.loads(line)
            if message["type"] == "RECORD":
                delivered.append(message)
            elif message["type"] == "STATE":
                states.append(message["value"])
                if len(states) == 4:
                    os.kill(killed.pid, signal.SIGKILL)
                    break
        killed.wait(timeout=30)
        sandbox.reset_log()

        resumed = run_tap(config, tmp_path, state=states[-1])

        assert resumed.returncode == 0, resumed.stderr
        calls_from, _ = request_starts(sandbox)
        assert min(calls_from) > instant(config["start_date"]), "resume started over"
        records = delivered + [m for m in resumed.messages if m["type"] == "RECORD"]
        call_ids = {m["record"]["id"] for m in records if m.get("stream") == "calls"}
        assert call_ids == {c["id"] for c in sandbox.calls()}
        stats_keys = {
            (m["record"]["userId"], m["record"]["fromDate"])
            for m in records
            if m.get("stream") == "interaction_stats"
        }
        assert stats_keys == set(expected_stats(sandbox, config))


def test_call_that_appears_late_inside_the_lookback_is_picked_up(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings(late_calls=5)) as sandbox:
        first = run_tap(tap_config(sandbox), tmp_path)
        late = sandbox.reveal_late_calls()
        sandbox.advance_clock(dt.timedelta(hours=1))

        second = run_tap(tap_config(sandbox), tmp_path, state=first.final_state)

        assert len(late) == 5
        assert not {c["id"] for c in late} & {r["id"] for r in first.records("calls")}
        assert {c["id"] for c in late} <= {r["id"] for r in second.records("calls")}


def test_stats_day_interrupted_between_its_pages_is_read_again_even_without_lookback(
    tmp_path: Path,
) -> None:
    # Pages of 3 users: a company day of 8 users takes 3 requests, each answered after
    # 0.5 s; SIGTERM lands while the tap waits for a day's second page.
    settings = sandbox_settings(calls=40, days=5, page_size=3, latency_seconds=0.5)
    with GongSandbox(settings) as sandbox:
        config = tap_config(sandbox, lookback_window_days=0)
        tap = start_tap(config, tmp_path)
        messages, finished_day = [], None
        for line in tap.stdout:  # type: ignore[union-attr]
            message = json.loads(line)
            messages.append(message)
            bookmarks = message.get("value", {}).get("bookmarks", {})
            finished_day = bookmarks.get("interaction_stats", {}).get(
                "replication_key_value", finished_day
            )
            record = message.get("record", {})
            if finished_day and record.get("fromDate", "") > finished_day:
                time.sleep(0.15)  # the rest of the first page is written, the next awaited
                tap.send_signal(signal.SIGTERM)  # the next day has started, not finished
                break
        messages += [json.loads(line) for line in tap.stdout]  # type: ignore[union-attr]
        tap.wait(timeout=30)
        state = [m["value"] for m in messages if m["type"] == "STATE"][-1]

        resumed = run_tap(config, tmp_path, state=state)

        assert resumed.returncode == 0, resumed.stderr
        delivered = [m["record"] for m in messages if m["type"] == "RECORD"]
        delivered += resumed.records("calls") + resumed.records("interaction_stats")
        stats_keys = {(r["userId"], r["fromDate"]) for r in delivered if "fromDate" in r}
        assert stats_keys == set(expected_stats(sandbox, config))
