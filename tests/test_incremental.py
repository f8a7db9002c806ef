"""Incremental runs and resumes: only what is new (plus the lookback), and nothing lost."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from pathlib import Path

from gong_sandbox import GongSandbox
from tap_gong.kinds.date_time_windows import CALL_PROCESSING_ALLOWANCE
from tests.support import (
    expected_stats,
    instant,
    json_body,
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
        dt.date.fromisoformat(json_body(r)["filter"]["fromDate"])
        for r in sandbox.requests
        if r.path == "/v2/stats/interaction"
    ]
    return calls, stats


def test_a_run_hours_later_asks_only_for_the_new_window_and_gets_the_new_calls(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    first_config = tap_config(sandbox)
    first = run_tap(first_config, tmp_path)
    first_end = instant(first_config["end_date"])
    stats_bookmark = dt.date.fromisoformat(first.bookmark("interaction_stats"))
    # Sooner than a late-data re-read is due (tests/test_late_data.py).
    sandbox.advance_clock(dt.timedelta(hours=12))
    new_calls = sandbox.add_calls(30)
    sandbox.reset_log()

    config = tap_config(sandbox)
    second = run_tap(config, tmp_path, state=first.final_state)

    assert second.returncode == 0, second.stderr
    calls_from, stats_from = request_starts(sandbox)
    assert min(calls_from) == first_end - DAY  # the last run's end minus the 1-day lookback
    assert min(stats_from) == stats_bookmark  # the last completed day, re-read once
    assert {c["id"] for c in new_calls} <= {r["id"] for r in second.records("calls")}
    expected_ids = {c["id"] for c in sandbox.calls(first_end - DAY, sandbox.now())}
    assert {r["id"] for r in second.records("calls")} == expected_ids
    # Final up to a day before the run's end: Gong may still publish calls started since.
    assert instant(second.bookmark("calls")) == instant(config["end_date"]) - DAY


def test_rerun_without_lookback_still_rereads_the_calls_gong_may_not_have_published(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = tap_config(sandbox, lookback_window_days=0)
    first = run_tap(config, tmp_path)
    sandbox.reset_log()

    second = run_tap(config, tmp_path, first.final_state)

    assert second.returncode == 0, second.stderr
    calls_from, stats_from = request_starts(sandbox)
    # Gong publishes calls hours after they start: a day is re-read whatever the setting.
    assert calls_from == [instant(config["end_date"]) - CALL_PROCESSING_ALLOWANCE]
    assert stats_from == []  # stats days: lookback 0 re-reads none
    assert second.records("interaction_stats") == []
    assert second.final_state["bookmarks"] == first.final_state["bookmarks"]


def test_call_gong_publishes_after_a_run_is_read_by_the_next_even_without_lookback(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings(late_calls=30)) as sandbox:
        first = run_tap(tap_config(sandbox, lookback_window_days=0), tmp_path)
        late = {call["id"] for call in sandbox.reveal_late_calls()}
        sandbox.advance_clock(dt.timedelta(hours=1))

        second = run_tap(tap_config(sandbox, lookback_window_days=0), tmp_path, first.final_state)

        assert len(late) == 30
        assert not late & {r["id"] for r in first.records("calls")}
        assert late <= {r["id"] for r in second.records("calls")}


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
        killed.stdout.close()  # type: ignore[union-attr]
        # Requests the killed run left half-sent are still being logged by the sandbox.
        time.sleep(0.5)
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
        # One request in flight, so that the signal lands between one day's pages.
        config = tap_config(sandbox, lookback_window_days=0, max_concurrent_requests=1)
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
        tap.stdout.close()  # type: ignore[union-attr]
        state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
        interrupted_day = record["fromDate"]
        before_kill = [m["record"] for m in messages if m["type"] == "RECORD"]
        of_that_day = [r for r in before_kill if r.get("fromDate") == interrupted_day]
        day_size = len(sandbox.interaction_stats(dt.date.fromisoformat(interrupted_day)))
        assert 0 < len(of_that_day) < day_size, "the signal did not land between pages"
        assert state["bookmarks"]["interaction_stats"]["replication_key_value"] < interrupted_day

        resumed = run_tap(config, tmp_path, state=state)

        assert resumed.returncode == 0, resumed.stderr
        delivered = [m["record"] for m in messages if m["type"] == "RECORD"]
        delivered += resumed.records("calls") + resumed.records("interaction_stats")
        stats_keys = {(r["userId"], r["fromDate"]) for r in delivered if "fromDate" in r}
        assert stats_keys == set(expected_stats(sandbox, config))
