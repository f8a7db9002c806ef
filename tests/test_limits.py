"""Gong's limits: pacing under the rate limit, the daily quota, the per-run request budget."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection
from typing_extensions import override

from gong_sandbox import GongSandbox
from tap_gong.budget import REREADS_SKIPPED, STALLED_BY_BUDGET, RequestShare
from tap_gong.errors import RequestBudgetSpent
from tap_gong.pacing import PACING_WINDOW_SECONDS, RequestPacer
from tests.support import (
    FakeClock,
    expected_stats,
    json_body,
    run_tap,
    sandbox_settings,
    sync_in_process,
    tap_config,
    tap_in_process,
)


def test_pacer_never_starts_more_than_the_rate_in_any_rolling_second() -> None:
    clock = FakeClock()
    pacer = RequestPacer(rate=3, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(30):
        pacer.wait_turn()
        starts.append(clock.now)
        clock.now += 0.01  # the request itself

    for i in range(len(starts) - 3):
        assert starts[i + 3] - starts[i] >= 1.0
    # ...and uses the allowance: 30 starts in about 10 windows, not more.
    assert starts[-1] - starts[0] <= 10 * PACING_WINDOW_SECONDS


def test_a_start_counts_from_when_its_request_was_written_not_granted() -> None:
    # Between its turn and its write a thread may wait for Python's lock while another
    # parses a page: Gong counts the request when it arrives, that much later.
    clock = FakeClock()
    pacer = RequestPacer(rate=1, clock=clock, sleep=clock.sleep)
    pacer.wait_turn()
    clock.now += 0.2
    pacer.written()
    written = clock.now

    pacer.wait_turn()

    assert clock.now == pytest.approx(written + PACING_WINDOW_SECONDS)


def test_starts_moved_by_late_writes_still_keep_rate_in_any_rolling_second() -> None:
    # A late write can move an older start past newer ones: the rolling second is counted
    # over starts in time order, not in the order turns were granted.
    clock = FakeClock()
    pacer = RequestPacer(rate=3, clock=clock, sleep=clock.sleep)
    granted, write = threading.Event(), threading.Event()

    def worker_writing_late() -> None:
        pacer.wait_turn()
        granted.set()
        write.wait()
        pacer.written()

    worker = threading.Thread(target=worker_writing_late)
    worker.start()
    granted.wait()
    starts = [clock.now + 0.5]  # where its late write puts the worker's start
    for turn in range(5):
        if turn == 2:
            clock.now += 0.5
            write.set()
            worker.join()
        pacer.wait_turn()
        pacer.written()
        starts.append(clock.now)

    starts.sort()
    for i in range(len(starts) - 3):
        assert starts[i + 3] - starts[i] >= PACING_WINDOW_SECONDS - 1e-9


class ConnectionsAndTurns:
    """What each thread of a run did, in order: "connect" (a connection opened), "turn",
    "written" (the request written)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: dict[str, list[str]] = defaultdict(list)
        opening = urllib3.util.connection.create_connection

        def opened(*args: Any, **kwargs: Any) -> Any:
            self.record("connect")
            return opening(*args, **kwargs)

        monkeypatch.setattr(urllib3.util.connection, "create_connection", opened)

    def record(self, event: str) -> None:
        self.events[threading.current_thread().name].append(event)

    def count(self, event: str) -> int:
        return sum(events.count(event) for events in self.events.values())

    def pacer(self, wait_seconds: float = 0.0) -> RequestPacer:
        """A pacer granting each turn `wait_seconds` late, as behind other workers or a hold."""
        record = self.record

        class RecordingPacer(RequestPacer):
            @override
            def wait_turn(self) -> None:
                time.sleep(wait_seconds)
                super().wait_turn()
                record("turn")

            @override
            def written(self) -> None:
                super().written()
                record("written")

        return RecordingPacer(rate=100)


@contextmanager
def recorded_run(
    sandbox: GongSandbox,
    monkeypatch: pytest.MonkeyPatch,
    wait_seconds: float = 0.0,
    **settings: Any,
) -> Iterator[ConnectionsAndTurns]:
    recorded = ConnectionsAndTurns(monkeypatch)
    tap = tap_in_process(
        tap_config(sandbox, **settings),
        streams=("calls", "interaction_stats", "users"),
        pacer=recorded.pacer(wait_seconds),
    )
    sync_in_process(tap)
    yield recorded


def test_a_request_takes_its_pacing_turn_once_its_connection_is_made(
    sandbox: GongSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Gong counts a request when it arrives: one granted, then slowed by opening its
    # connection (TLS on Gong), would arrive together with the requests granted after it.
    with recorded_run(sandbox, monkeypatch, max_concurrent_requests=4) as recorded:
        assert recorded.count("turn") == len(sandbox.requests) > 10
        assert len(recorded.events) > 2  # the main thread and workers
        for events in recorded.events.values():
            assert events[:3] == ["connect", "turn", "written"]
            assert events.count("connect") == 1  # then kept open
            # Each request's start counts from its write (test_a_start_counts_from_...).
            assert events.count("written") == events.count("turn")


def test_each_thread_keeps_its_connection_from_one_stream_to_the_next(
    sandbox: GongSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    with recorded_run(sandbox, monkeypatch, max_concurrent_requests=1) as recorded:
        assert recorded.count("turn") == len(sandbox.requests) > 10
        # calls, interaction_stats and users, one after the other, on one connection.
        assert recorded.count("connect") == 1


def test_a_connection_gong_closed_while_its_request_waited_is_opened_again_unretried(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Gong closes idle keep-alive connections; a request waiting for its turn idles its own.
    settings = sandbox_settings(days=3, calls=30, idle_timeout_seconds=0.1)
    with (
        GongSandbox(settings) as sandbox,
        caplog.at_level(logging.WARNING),
        recorded_run(sandbox, monkeypatch, wait_seconds=0.3, max_concurrent_requests=1) as run,
    ):
        assert "Retrying" not in caplog.text
        assert run.count("turn") == len(sandbox.requests) > 3
        assert sandbox.counters()["dropped"] == 0
        # Each turn found its connection closed, and opened another after it.
        assert run.events["MainThread"][:4] == ["connect", "turn", "connect", "written"]


def test_backfill_against_gongs_exact_limit_sees_no_429_and_runs_near_the_limit(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings(requests_per_second=3)) as sandbox:
        run = run_tap(tap_config(sandbox, max_requests_per_second=3), tmp_path)

        assert run.returncode == 0, run.stderr
        assert sandbox.counters()["429"] == 0
        starts = [entry.at for entry in sandbox.requests]
        assert len(starts) > 20
        # At most 3 starts in any rolling second, as Gong counts, and close to 3 on average.
        assert max(sum(t <= u < t + 1 for u in starts) for t in starts) <= 3
        assert len(starts) / (starts[-1] - starts[0] + 1) > 2.0


def test_spent_daily_quota_stops_at_once_and_the_next_day_resumes(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings(daily_quota=6)) as sandbox:
        # One request in flight: exactly one 429 (test_concurrency has several in flight).
        config = tap_config(
            sandbox, calls_window_days=2, lookback_window_days=0, max_concurrent_requests=1
        )
        stopped = run_tap(config, tmp_path)

        assert stopped.returncode != 0
        assert "quota is spent" in stopped.stderr
        assert "Traceback" not in stopped.stderr
        assert sandbox.counters()["429"] == 1  # no sleeping for hours, no hammering
        finished = stopped.final_state["bookmarks"]["calls"]["replication_key_value"]
        sandbox.configure(daily_quota=None)  # the next company day
        sandbox.reset_log()

        resumed = run_tap(config, tmp_path, state=stopped.final_state)

        assert resumed.returncode == 0, resumed.stderr
        assert min(r.query["fromDateTime"] for r in sandbox.requests if r.query) == finished
        ids = [r["id"] for r in stopped.records("calls") + resumed.records("calls")]
        assert sorted(ids) == sorted(c["id"] for c in sandbox.calls())  # all, none twice


def test_request_budget_is_a_planned_stop_and_the_next_run_goes_on(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = tap_config(sandbox, calls_window_days=2, max_requests_per_run=7)
    runs = [run_tap(config, tmp_path)]
    while "max_requests_per_run=7" in runs[-1].stderr and len(runs) < 10:
        runs.append(run_tap(config, tmp_path, state=runs[-1].final_state))

    assert all(run.returncode == 0 for run in runs)
    assert 2 < len(runs) < 10
    assert sandbox.counters()["requests"] <= 7 * len(runs)
    delivered_calls = {r["id"] for run in runs for r in run.records("calls")}
    assert delivered_calls == {c["id"] for c in sandbox.calls()}
    delivered_days = {
        (r["userId"], r["fromDate"]) for run in runs for r in run.records("interaction_stats")
    }
    assert delivered_days == set(expected_stats(sandbox, config))


def test_a_window_of_more_pages_than_the_budget_is_halved_until_every_call_arrives(
    tmp_path: Path,
) -> None:
    # 2,000 calls in one 30-day window are 20 pages; a bookmark passes only whole windows,
    # so a budget of 12 would stop every run inside it, forever.
    with GongSandbox(sandbox_settings(calls=2000)) as sandbox:
        config = tap_config(sandbox, max_requests_per_run=12, max_concurrent_requests=1)
        runs = [run_tap(config, tmp_path, streams=("calls",))]
        while "max_requests_per_run=12" in runs[-1].stderr and len(runs) < 12:
            runs.append(run_tap(config, tmp_path, runs[-1].final_state, streams=("calls",)))

        assert all(run.returncode == 0 for run in runs)
        assert "max_requests_per_run=12" not in runs[-1].stderr, "the last run finished"
        delivered = {r["id"] for run in runs for r in run.records("calls")}
        assert delivered == {c["id"] for c in sandbox.calls()}
        assert "windows_halved_by_budget" not in runs[-1].final_state["bookmarks"]["calls"]
        for run in runs:  # each run's summary counts what it wrote, finished windows or not
            written = len(run.records("calls"))
            assert f"  calls: {'finished' if run is runs[-1] else 'stopped'}" in run.stderr
            assert f"({written:,} records, " in run.stderr


def test_a_lookback_that_takes_the_whole_budget_is_skipped_until_the_stream_catches_up(
    tmp_path: Path,
) -> None:
    # 700 users: a company day of stats is 2-3 pages, so a 3-day lookback alone spends a
    # budget of 4; every run would re-read it and stop inside the next day, forever.
    with GongSandbox(sandbox_settings(users=700, days=4)) as sandbox:
        config = tap_config(
            sandbox, max_requests_per_run=4, max_concurrent_requests=1, lookback_window_days=3
        )
        runs = [run_tap(config, tmp_path, streams=("interaction_stats",))]
        firsts = [json_body(sandbox.requests[0])["filter"]["fromDate"]]
        while "max_requests_per_run=4" in runs[-1].stderr and len(runs) < 8:
            sandbox.reset_log()
            runs.append(
                run_tap(config, tmp_path, runs[-1].final_state, streams=("interaction_stats",))
            )
            firsts.append(json_body(sandbox.requests[0])["filter"]["fromDate"])

        assert all(run.returncode == 0 for run in runs)
        assert "  interaction_stats: finished" in runs[-1].stderr
        delivered = {
            (r["userId"], r["fromDate"]) for run in runs for r in run.records("interaction_stats")
        }
        assert delivered == set(expected_stats(sandbox, config))
        skipping = [
            n for n, run in enumerate(runs) if "re-reads nothing before its bookmark" in run.stderr
        ]
        assert skipping, "a run skipped the lookback, and said so"
        for n in skipping:  # from the day after the bookmark the run before it left
            bookmark = dt.date.fromisoformat(runs[n - 1].bookmark("interaction_stats"))
            assert firsts[n] == (bookmark + dt.timedelta(days=1)).isoformat()
        assert (
            "rereads_skipped_by_budget"
            not in runs[-1].final_state["bookmarks"]["interaction_stats"]
        )


@pytest.mark.parametrize(("requests_made", "skips_rereads"), [(2, True), (0, False)])
def test_a_stream_stalled_re_reading_skips_its_re_reads_only_if_it_spent_requests_on_them(
    requests_made: int, skips_rereads: bool
) -> None:
    # Stalled: stopped by the budget, its state as the run found it. With requests spent,
    # they went to the re-read; with none, the streams before it took the budget (its share
    # is half of it: one more stream runs after it).
    pacer = RequestPacer(rate=3, budget=10)
    used = [0]
    state: dict[str, Any] = {"replication_key_value": "2024-03-08"}
    share = RequestShare(pacer, lambda: used[0], lambda: 2, lambda: state, rereads=lambda: True)
    share.begin()
    used[0] += requests_made

    assert share.end(stopped_by_budget=True) is False
    assert state[STALLED_BY_BUDGET] == 1
    assert (REREADS_SKIPPED in state) is skips_rereads


def test_a_company_day_needing_more_requests_than_the_whole_budget_fails_saying_what_to_raise(
    tmp_path: Path,
) -> None:
    # A company day cannot be cut shorter: with 700 users most need 2-3 requests. The
    # first run reads the first day (1 page); the second spends its 1 on the lookback (it
    # re-reads that day) and the third, skipping the lookback, on half of the next day.
    with GongSandbox(sandbox_settings(users=700, days=4)) as sandbox:
        config = tap_config(sandbox, max_requests_per_run=1, max_concurrent_requests=1)
        runs = [run_tap(config, tmp_path, streams=("interaction_stats",))]
        while runs[-1].returncode == 0 and len(runs) < 5:
            runs.append(
                run_tap(config, tmp_path, runs[-1].final_state, streams=("interaction_stats",))
            )

    *before, run = runs
    assert len(runs) == 3
    assert all(earlier.returncode == 0 for earlier in before)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert "'interaction_stats' failed: max_requests_per_run=1 is fewer requests than one" in (
        run.stderr
    )
    assert run.stderr.rstrip().endswith("raise max_requests_per_run")


def test_a_list_its_page_children_need_whole_beyond_the_whole_budget_fails_a_selected_stream(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    # users is read whole for its page children: 1 page, then 8 settings histories and 8
    # users' flows, 17 requests that a budget of 9 never covers. users is not selected:
    # a stream the user selected fails, so the run exits non-zero.
    config = tap_config(sandbox, max_requests_per_run=9, max_concurrent_requests=1)

    run = run_tap(config, tmp_path, streams=("engage_flows", "user_settings_history"))

    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    failed = re.findall(
        r"'(\w+)' failed: max_requests_per_run=9 is fewer requests than one "
        r"window of users needs",
        run.stderr,
    )
    assert failed
    assert set(failed) <= {"engage_flows", "user_settings_history"}


def test_a_stream_read_in_anothers_pages_leaves_its_budget_share_to_that_stream(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    # calls costs nothing in call_details' pages: call_details shares 12 with
    # interaction_stats alone, 6 each (a window of a day is a request here).
    config = tap_config(
        sandbox, max_requests_per_run=12, max_concurrent_requests=1, calls_window_days=1
    )

    run_tap(config, tmp_path, streams=("call_details", "calls", "interaction_stats"))

    paths = Counter(r.path for r in sandbox.requests)
    assert paths == {"/v2/calls/extensive": 6, "/v2/stats/interaction": 6}


def test_fault_that_outlasts_the_retries_stops_with_the_last_fault_and_resumable_state(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    sandbox.fail_next("503", count=50)

    # One request in flight: the retries of one request, counted exactly.
    run = run_tap(tap_config(sandbox, max_retries=1, max_concurrent_requests=1), tmp_path)

    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert "Gong kept failing after every retry" in run.stderr
    assert "503" in run.stderr
    assert sandbox.counters()["requests"] == 2


def test_retries_are_bounded_in_time_too(sandbox: GongSandbox, tmp_path: Path) -> None:
    sandbox.fail_next("500", count=50)

    run = run_tap(tap_config(sandbox, max_retry_time_seconds=3), tmp_path)

    assert run.returncode != 0
    assert "max_retry_time_seconds=3" in run.stderr
    first, last = sandbox.requests[0].at, sandbox.requests[-1].at
    assert last - first <= 3


def test_stats_day_inside_the_lookback_is_re_extracted_with_its_new_values(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings(late_calls=6)) as sandbox:
        first = run_tap(tap_config(sandbox), tmp_path)
        before = expected_stats(sandbox, tap_config(sandbox))
        sandbox.reveal_late_calls()
        sandbox.advance_clock(dt.timedelta(hours=1))
        config = tap_config(sandbox)
        expected = expected_stats(sandbox, config)
        changed = {key for key, item in expected.items() if before.get(key) != item}

        second = run_tap(config, tmp_path, state=first.final_state)

        assert changed, "the late calls should have changed a stats day"
        loaded = {(r["userId"], r["fromDate"]): r for r in first.records("interaction_stats")}
        loaded.update(
            {(r["userId"], r["fromDate"]): r for r in second.records("interaction_stats")}
        )
        assert set(loaded) == set(expected)
        for key, item in expected.items():
            assert loaded[key]["personInteractionStats"] == item["personInteractionStats"], key


def test_a_request_kept_back_for_the_window_read_steps_aside_for_that_window() -> None:
    # The budget's last 2 requests are kept for the window read (rank 1). Window 3, fetched
    # ahead and with fewer requests so far, heads the line in a stream's tail: it must
    # step aside, not hold the line while the window read waits behind it (issue 21's hang).
    pacer = RequestPacer(rate=100, budget=4, kept_for_the_window_read=2)
    pacer.wait_turn()
    pacer.wait_turn()  # the main thread's two: 2 left, both kept for the window read
    pacer.reading(1)
    pacer.even_progress(3)
    window_3_waits = threading.Event()
    granted: list[int] = []

    def window_read() -> None:
        pacer.rank_this_thread(1)
        pacer.wait_turn()  # its first: now it has more requests than window 3
        granted.append(1)
        window_3_waits.wait(5)
        time.sleep(0.1)  # window 3 is in line first
        pacer.wait_turn()
        granted.append(1)

    def window_fetched_ahead() -> None:
        pacer.rank_this_thread(3)
        window_3_waits.set()
        with contextlib.suppress(RequestBudgetSpent):
            pacer.wait_turn()
            granted.append(3)

    threads = [
        threading.Thread(target=window_read, daemon=True),
        threading.Thread(target=window_fetched_ahead, daemon=True),
    ]
    for thread in threads:
        thread.start()
    threads[0].join(5)

    assert granted == [1, 1], "the window read waited behind a request kept back for it"
    threads[1].join(5)
    assert not threads[1].is_alive(), "the request kept back ends with the budget spent"


def leaf_and_window_granted(leaf_rank: int) -> list[int]:
    """A page child's request (a leaf) waits first, then a page of window 3 comes: which
    starts first, window 1 being read."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        time.sleep(0.2)  # the other request comes meanwhile
        now[0] += seconds

    pacer = RequestPacer(rate=100, clock=lambda: now[0], sleep=sleep)
    pacer.reading(1)
    pacer.hold(1.0)
    granted: list[int] = []

    def request(rank: int, *, leaf: bool) -> None:
        pacer.rank_this_thread(rank, leaf=leaf)
        pacer.wait_turn()
        granted.append(rank)

    leaf = threading.Thread(target=request, args=(leaf_rank,), kwargs={"leaf": True})
    page = threading.Thread(target=request, args=(3,), kwargs={"leaf": False})
    leaf.start()
    time.sleep(0.05)
    page.start()
    for thread in (leaf, page):
        thread.join(5)
    return granted


def test_a_page_childs_request_waits_behind_windows_pages_unless_its_window_is_read() -> None:
    # A window's pages are a chain: its next page waits for this one's answer.
    assert leaf_and_window_granted(leaf_rank=2) == [3, 2]
    # The main thread waits for the window read's: it goes first, as that window's pages.
    assert leaf_and_window_granted(leaf_rank=1) == [1, 3]
