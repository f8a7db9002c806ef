"""The plan says how long: a backfill's requests up front, then the runs and days they take
beyond what `max_requests_per_run` or Gong's daily quota leaves; each run's summary says
what is left.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from pathlib import Path

import pytest

from gong_sandbox import GongSandbox
from tap_gong.empty_history import Probe, probe_steps
from tap_gong.pacing import RequestPacer
from tap_gong.progress import StreamProgress, StreamTally, left_after_streams
from tap_gong.request_estimate import RequestEstimate, probe_left, probed_history
from tests.support import (
    TapRun,
    company_days,
    json_body,
    run_tap,
    sandbox_settings,
    tap_config,
)

STATS = "interaction_stats"
STATS_PATH = "/v2/stats/interaction"
# A stats plan: its windows, and what it says they cost.
PLAN = re.compile(rf"{STATS}: (\d+) company-day windows to extract, \S+ to \S+: (.*)\.$", re.M)


def plans(run: TapRun) -> list[tuple[int, str]]:
    return [(int(windows), cost) for windows, cost in PLAN.findall(run.stderr)]


def stats_requests(sandbox: GongSandbox) -> int:
    return sum(1 for request in sandbox.requests if request.path == STATS_PATH)


def days_before_gongs_data(sandbox: GongSandbox, days: int) -> str:
    """A start_date `days` days before the sandbox's first day with stats."""
    start = min(sandbox.stats_days()) - dt.timedelta(days=days)
    return dt.datetime.combine(start, dt.time(), dt.timezone.utc).isoformat()


def runs_until_not_stopped_by_the_budget(
    sandbox: GongSandbox, config: dict, tmp_path: Path, most: int
) -> tuple[list[TapRun], list[int]]:
    """The stats stream run after run, each from the last's state, until one finishes:
    the runs, and the requests each made."""
    runs: list[TapRun] = []
    made: list[int] = []
    while not runs or "stopped by the budget" in runs[-1].stderr:
        assert len(runs) < most, runs[-1].stderr
        state = runs[-1].final_state if runs else None
        before = stats_requests(sandbox)
        runs.append(run_tap(config, tmp_path, state=state, streams=(STATS,)))
        made.append(stats_requests(sandbox) - before)
    return runs, made


def probed_backfill_in_one_run(
    sandbox: GongSandbox, tmp_path: Path, **settings: int
) -> tuple[dict, TapRun]:
    """400 empty days before the sandbox's stats, read in one run, one request at a time
    (none fetched ahead of the probe's answer): its config, and the run."""
    config = tap_config(sandbox, start_date=days_before_gongs_data(sandbox, 400), **settings)
    return config, run_tap(config | {"max_concurrent_requests": 1}, tmp_path, streams=(STATS,))


def requests_of_probed_backfill(days: int, data_from: int) -> int:
    """What a backfill of `days` days asks when Gong has data from day `data_from` on: the
    first day, the probe of the empty stretch after it (if the first day is empty), each
    day with data."""
    first = dt.date(2024, 1, 1)
    probes: list[tuple[dt.date, dt.date]] = []

    def has_data(first_day: dt.date, end_day: dt.date) -> bool:
        probes.append((first_day, end_day))
        return (end_day - first).days > data_from

    if data_from == 0:
        return days  # the first day has data: no probe
    second, end = first + dt.timedelta(days=1), first + dt.timedelta(days=days)
    for _ in probe_steps(Probe(second), end, has_data):
        pass
    return 1 + len(probes) + (days - data_from)


@pytest.mark.parametrize("days", [31, 32, 33, 63, 64, 65, 100, 461])
def test_a_probed_plan_bounds_the_requests_wherever_gongs_data_starts(days: int) -> None:
    costs = [requests_of_probed_backfill(days, start) for start in range(days + 1)]

    plan = probed_history(days)
    assert (min(costs), max(costs)) == (plan.least, plan.most)


def test_a_stats_backfill_over_an_empty_history_plans_the_requests_it_makes(
    tmp_path: Path,
) -> None:
    # 460 days of history, Gong's data on the last 60 only.
    with GongSandbox(sandbox_settings(days=60)) as sandbox:
        config = tap_config(sandbox, start_date=days_before_gongs_data(sandbox, 400))
        run = run_tap(config, tmp_path, streams=(STATS,))

        assert run.returncode == 0, run.stderr
        made = stats_requests(sandbox)
        (_, cost), (windows_with_data, cost_after_probe) = plans(run)
        least, most = map(int, re.findall(r"between (\d+) and (\d+) requests", cost)[0])
        assert least <= made <= most
        # Once the probe found Gong's first day with data: what is left, and in all.
        assert windows_with_data == (sandbox.company_today() - min(sandbox.stats_days())).days
        assert f"at least {windows_with_data} requests" in cost_after_probe
        probed = made - windows_with_data
        assert f"{probed} made so far: at least {made} requests in all" in cost_after_probe


def test_a_backfill_beyond_the_budget_says_how_many_runs_and_each_run_what_is_left(
    tmp_path: Path,
) -> None:
    budget = 6
    with GongSandbox(sandbox_settings(days=20)) as sandbox:
        # No lookback: a run re-reads nothing, so the runs add up exactly.
        config = tap_config(sandbox, max_requests_per_run=budget, lookback_window_days=0)
        runs, made = runs_until_not_stopped_by_the_budget(sandbox, config, tmp_path, most=10)

        assert all(run.returncode == 0 for run in runs)
        ((windows, cost),) = plans(runs[0])
        assert windows == len(company_days(sandbox, config)) == sum(made)
        runs_said = re.findall(
            rf"at least (\d+) runs of {budget} requests \(max_requests_per_run\)", cost
        )
        assert [int(n) for n in runs_said] == [len(runs)] == [math.ceil(windows / budget)]
        for later_runs, run in enumerate(runs[:-1], start=1):
            left = sum(made[later_runs:])
            runs_left = math.ceil(left / budget)
            said = f"at least {left} requests left" + (
                f": at least {runs_left} runs of {budget} requests (max_requests_per_run)"
                if runs_left > 1
                else ""
            )
            assert f"records, {made[later_runs - 1]} requests; {said})" in run.stderr
            assert f" s; {said}.\n" in run.stderr  # the run line: all streams
            # The next run plans what this one left.
            assert plans(runs[later_runs])[0][0] == left
        assert " s; no planned window left.\n" in runs[-1].stderr


def test_a_window_the_budget_cut_counts_its_pages_read_in_what_is_left(tmp_path: Path) -> None:
    # 2,000 calls in one window (one request in flight: no backfill cut) are 20 pages; a
    # budget of 12 stops inside it, and a bookmark passes only whole windows: the next run
    # reads those 12 pages again, then at least one more.
    with GongSandbox(sandbox_settings(calls=2000)) as sandbox:
        config = tap_config(sandbox, max_requests_per_run=12, max_concurrent_requests=1)
        run = run_tap(config, tmp_path, streams=("calls",))

    assert run.returncode == 0
    assert "(1,200 records, 12 requests; at least 13 requests left: at least 2 runs" in run.stderr


def test_a_probed_backfill_whose_first_day_has_data_leaves_the_rest_day_by_day(
    tmp_path: Path,
) -> None:
    # Long enough to be probed; Gong has data from its first day, so nothing is.
    with GongSandbox(sandbox_settings(days=40)) as sandbox:
        config = tap_config(sandbox, max_requests_per_run=6, lookback_window_days=0)
        stopped = run_tap(config, tmp_path, streams=(STATS,))
        resumed = run_tap(config, tmp_path, state=stopped.final_state, streams=(STATS,))

        assert stopped.returncode == resumed.returncode == 0
        ((windows, cost),) = plans(stopped)
        assert f"between {probed_history(windows).least} and" in cost
        left = windows - 6
        runs = math.ceil(left / 6)
        assert f"; at least {left} requests left: at least {runs} runs" in stopped.stderr
        assert plans(resumed)[0][0] == left


@pytest.mark.parametrize("days", [3, 31, 100, 461])
def test_what_a_probe_stopped_part_way_leaves_bounds_the_requests_wherever_gongs_data_starts(
    days: int,
) -> None:
    first = dt.date(2024, 1, 1)
    end = first + dt.timedelta(days=days)
    # Where a probe stands after each request: what it still asks, and each day with data.
    costs: dict[Probe, list[int]] = {}
    for data_from in range(days + 1):

        def has_data(_: dt.date, end_day: dt.date, data_from: int = data_from) -> bool:
            return (end_day - first).days > data_from

        steps = [Probe(first), *probe_steps(Probe(first), end, has_data)]
        for made, step in enumerate(steps):
            costs.setdefault(step, []).append(len(steps) - 1 - made + days - data_from)

    for probe, rest in costs.items():
        left = probe_left(probe, end)
        assert (min(rest), max(rest)) == (left.least, left.upper), probe


LEFT = re.compile(r" s; (?:between (\d+) and (\d+)|at least (\d+)) requests? left")


@pytest.mark.parametrize("budget", [1, 2, 3])
def test_a_probe_stopped_by_the_budget_goes_on_next_run_where_it_stopped(
    tmp_path: Path, budget: int
) -> None:
    # 400 empty days, then Gong's data on the last 20.
    with GongSandbox(sandbox_settings(days=20)) as sandbox:
        # No lookback: a run re-reads nothing, so the runs add up exactly.
        config, whole = probed_backfill_in_one_run(sandbox, tmp_path, lookback_window_days=0)
        in_one_run = stats_requests(sandbox)

        config["max_requests_per_run"] = budget
        runs, made = runs_until_not_stopped_by_the_budget(sandbox, config, tmp_path, most=60)

    assert whole.returncode == 0
    assert all(run.returncode == 0 for run in runs)
    # The probe's requests, each made once across the runs, then each day with data.
    assert sum(made) == in_one_run < 2 * math.log2(400) + 20 + 2
    assert sorted((record for run in runs for record in run.records(STATS)), key=repr) == sorted(
        whole.records(STATS), key=repr
    )
    for later_runs, run in enumerate(runs[:-1], start=1):
        ((between_least, between_most, at_least),) = LEFT.findall(run.stderr)
        least, most = (
            (int(between_least), int(between_most))
            if at_least == ""
            else (
                int(at_least),
                math.inf,
            )
        )
        assert least <= sum(made[later_runs:]) <= most, run.stderr


def test_once_the_probe_is_over_runs_with_a_lookback_read_day_by_day_and_miss_nothing(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings(days=20)) as sandbox:
        config, whole = probed_backfill_in_one_run(sandbox, tmp_path, lookback_window_days=1)
        sandbox.reset_log()
        config["max_requests_per_run"] = 3
        runs, _ = runs_until_not_stopped_by_the_budget(sandbox, config, tmp_path, most=40)
        asked = [json_body(r)["filter"] for r in sandbox.requests if r.path == STATS_PATH]

    first_with_data = min(sandbox.stats_days()).isoformat()
    assert all(
        dt.date.fromisoformat(a["toDate"]) - dt.date.fromisoformat(a["fromDate"]) == dt.timedelta(1)
        for a in asked
        if a["fromDate"] >= first_with_data
    ), "a range asked again once the probe had found Gong's first day with data"
    keys = {(r["userId"], r["fromDate"]) for run in runs for r in run.records(STATS)}
    assert keys == {(r["userId"], r["fromDate"]) for r in whole.records(STATS)}


def test_one_request_or_run_is_said_in_the_singular() -> None:
    assert (
        StreamTally(records=1, requests=1, retries=1)
        .summary()
        .startswith("1 record, 1 request, 1 retry (")
    )
    assert left_after_streams([StreamTally(left=RequestEstimate(1))], budget=1) == (
        "at least 1 request left"
    )
    assert left_after_streams([StreamTally(left=RequestEstimate(2))], budget=1) == (
        "at least 2 requests left: at least 2 runs of 1 request (max_requests_per_run)"
    )


def test_a_probe_stopped_by_the_budget_leaves_a_range_the_next_run_makes_within(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings(days=20)) as sandbox:
        start_date = days_before_gongs_data(sandbox, 400)
        # The first day and 4 of the probe's requests: where Gong's data starts is not known.
        config = tap_config(sandbox, start_date=start_date, max_requests_per_run=5)
        stopped = run_tap(config, tmp_path, streams=(STATS,))
        before = stats_requests(sandbox)
        del config["max_requests_per_run"]
        resumed = run_tap(config, tmp_path, state=stopped.final_state, streams=(STATS,))
        made = stats_requests(sandbox) - before

    ((between_least, between_most, _),) = LEFT.findall(stopped.stderr)
    assert int(between_least) <= made <= int(between_most)
    # The next run probes on from where this one stopped, and plans that range.
    assert f"between {between_least} and {between_most} requests" in plans(resumed)[0][1]


def test_a_plan_beyond_gongs_daily_quota_says_how_many_days_it_takes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("tests.plans")
    caplog.set_level(logging.INFO, logger=logger.name)
    pacer = RequestPacer(rate=3)
    pacer.requests_started = 4_000  # what the run used before this stream: 6,000 left today
    tally = StreamTally()
    progress = StreamProgress("calls", logger, tally, lambda: 0, pacer=pacer)

    progress.plan(16_500, "date windows", "2000-01-01", "2024-01-01")
    progress.finish()

    # 6,000 today, then 10,000 a day: 3 days (2 for a run that had used none).
    assert "at least 3 days of Gong's daily quota (10,000 requests" in caplog.messages[0]
    # Once this run is over, a day's quota is 10,000.
    assert tally.left == RequestEstimate(16_500)
    summary = left_after_streams([tally, StreamTally()], budget=None)
    assert summary.startswith("at least 16,500 requests left: at least 2 days")


def test_the_summary_adds_what_each_stream_has_left() -> None:
    probed, planned = StreamTally(left=RequestEstimate(1, 30)), StreamTally(left=RequestEstimate(8))

    summary = left_after_streams([probed, planned, StreamTally()], budget=4)

    assert summary == (
        "between 9 and 38 requests left: at least 3 runs of 4 requests (max_requests_per_run)"
    )
