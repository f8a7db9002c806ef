"""Late data by default: what Gong publishes or changes up to 7 days late arrives within a day.

Every run re-reads its lookback; once every 20 hours or so (tap_gong/late_data.py) a run
also re-reads from 7 days before the previous such re-read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gong_sandbox import GongSandbox
from tests.fortnight import answers_of, simulate
from tests.support import TapRun, instant, json_body, run_tap, tap_config

DAY = dt.timedelta(days=1)
CALL_STREAMS = ("calls", "call_details", "call_participants", "call_transcripts")
COMPANY_DAY_STREAMS = ("interaction_stats", "user_activity", "answered_scorecards")


def run(sandbox: GongSandbox, tmp_path: Path, state: dict | None, **config: object) -> TapRun:
    """A run of every stream but the full tables, the tap's clock at the sandbox's."""
    streams = (*CALL_STREAMS, *COMPANY_DAY_STREAMS)
    done = run_tap(tap_config(sandbox, **config), tmp_path, state, streams=streams)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def backfill_a_day_ago(sandbox: GongSandbox, tmp_path: Path) -> TapRun:
    """A backfill, then the clock a day on: a late-data re-read is due."""
    backfill = run(sandbox, tmp_path, None)
    sandbox.advance_clock(DAY)
    return backfill


def late_call(sandbox: GongSandbox, days_late: float) -> dict:
    """A call Gong publishes now, though it started `days_late` days ago."""
    started = sandbox.now() - dt.timedelta(days=days_late)
    (call,) = sandbox.add_calls(1, start=started, end=started + dt.timedelta(minutes=1))
    return call


def call_ids(run: TapRun, stream: str) -> set[str]:
    return {
        r["id"] if stream in ("calls", "call_details") else r["callId"] for r in run.records(stream)
    }


def test_a_call_published_five_days_late_arrives_next_run_with_its_details(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    backfill = backfill_a_day_ago(sandbox, tmp_path)
    call = late_call(sandbox, 5)

    next_run = run(sandbox, tmp_path, backfill.final_state)

    for stream in ("calls", "call_details", "call_transcripts"):
        assert call["id"] in call_ids(next_run, stream), stream
    details = next(r for r in next_run.records("call_details") if r["id"] == call["id"])
    assert call_ids(next_run, "call_participants") >= (
        {call["id"]} if details.get("parties") else set()
    )
    assert "call_details: re-reading from" in next_run.stderr


def test_a_stats_day_a_late_call_changes_is_read_again_with_its_new_numbers(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    backfill = backfill_a_day_ago(sandbox, tmp_path)
    call = late_call(sandbox, 4)
    day = instant(call["started"]).astimezone(ZoneInfo(sandbox.settings.time_zone)).date()
    changed = {item["userId"]: item for item in sandbox.interaction_stats(day)}[
        call["primaryUserId"]
    ]

    next_run = run(sandbox, tmp_path, backfill.final_state)

    record = next(
        r
        for r in next_run.records("interaction_stats")
        if (r["userId"], r["fromDate"]) == (call["primaryUserId"], day.isoformat())
    )
    assert record["personInteractionStats"] == changed["personInteractionStats"]


@pytest.mark.parametrize("days_after", [3, 6])
def test_answers_edited_days_after_their_review_day_arrive_next_day(
    days_after: int, sandbox: GongSandbox, tmp_path: Path
) -> None:
    backfill = backfill_a_day_ago(sandbox, tmp_path)
    review_day = sandbox.company_today() - dt.timedelta(days=days_after)
    (review, *_) = sandbox.answered_scorecards(review_from=review_day, review_to=review_day + DAY)
    edited = sandbox.edit_answered_scorecard(review["answeredScorecardId"])

    next_run = run(sandbox, tmp_path, backfill.final_state)

    records = {r["answeredScorecardId"]: r for r in next_run.records("answered_scorecards")}
    assert answers_of(records[str(edited["answeredScorecardId"])]) == answers_of(edited)


def test_runs_hours_apart_reread_only_their_lookback_until_a_day_has_passed(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    backfill = run(sandbox, tmp_path, None)
    sandbox.advance_clock(dt.timedelta(hours=6))
    call = late_call(sandbox, 5)
    sandbox.reset_log()

    soon = run(sandbox, tmp_path, backfill.final_state)
    # The call streams read their calls together, from /v2/calls/extensive.
    soon_starts = {
        instant(json_body(r)["filter"]["fromDateTime"])
        for r in sandbox.requests
        if r.path == "/v2/calls/extensive"
    }
    sandbox.advance_clock(dt.timedelta(hours=18))
    day_later = run(sandbox, tmp_path, soon.final_state)

    # The lookback: a day before the previous run's end (the call streams' allowance).
    assert soon_starts == {instant(backfill.bookmark("calls"))}
    assert call["id"] not in call_ids(soon, "calls")
    assert "re-reading from" not in soon.stderr
    assert call["id"] in call_ids(day_later, "calls")


def test_a_rereading_run_stopped_early_leaves_the_reread_to_the_next_run(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    backfill = backfill_a_day_ago(sandbox, tmp_path)
    call = late_call(sandbox, 6)

    stopped = run(sandbox, tmp_path, backfill.final_state, max_requests_per_run=1)
    resumed = run(sandbox, tmp_path, stopped.final_state)

    calls_state = stopped.final_state["bookmarks"]["calls"]
    assert (
        calls_state["late_data_reread_at"]
        == backfill.final_state["bookmarks"]["calls"]["late_data_reread_at"]
    )
    assert call["id"] not in call_ids(stopped, "calls")
    assert call["id"] in call_ids(resumed, "calls")
    assert resumed.final_state["bookmarks"]["calls"][
        "late_data_reread_at"
    ] == sandbox.now().isoformat().replace("+00:00", "Z")


def test_a_backfill_stopped_and_resumed_within_hours_rereads_nothing_before_its_bookmark(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    budget = {"max_requests_per_run": 3, "max_concurrent_requests": 1, "calls_window_days": 2}
    stopped = run_tap(tap_config(sandbox, **budget), tmp_path, streams=("calls",))
    sandbox.advance_clock(dt.timedelta(hours=1))
    sandbox.reset_log()

    resumed = run_tap(tap_config(sandbox), tmp_path, stopped.final_state, streams=("calls",))

    assert resumed.returncode == 0, resumed.stderr
    starts = [instant(r.query["fromDateTime"]) for r in sandbox.requests if r.path == "/v2/calls"]
    assert min(starts) == instant(stopped.bookmark("calls"))
    assert "re-reading from" not in resumed.stderr
    assert call_ids(stopped, "calls") | call_ids(resumed, "calls") == {
        c["id"] for c in sandbox.calls()
    }


def test_a_fortnight_of_twice_daily_runs_brings_all_late_data_within_a_day_at_a_bounded_cost() -> (
    None
):
    with_rereads = simulate(12)
    without = simulate(12, rereads=False)

    for stream in ("calls", "answered_scorecards"):
        assert with_rereads.arrived_within(stream, DAY) == len(with_rereads.late(stream)) > 40, (
            stream
        )
        assert without.arrived_within(stream, DAY) == 0, stream
    extra_per_day = with_rereads.requests_per_day - without.requests_per_day
    assert extra_per_day <= max(0.3 * without.requests_per_day, 20)


def test_a_reread_longer_than_the_budget_goes_on_where_it_stopped_and_new_calls_come_first(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    backfill = run_tap(tap_config(sandbox), tmp_path, streams=("calls",))
    sandbox.advance_clock(DAY)
    late = [late_call(sandbox, days) for days in (6.5, 4.5, 2.5)]
    (new,) = sandbox.add_calls(1, start=sandbox.now() - dt.timedelta(hours=2))
    # Windows of a day, a request each: the 8-day re-read takes several runs of 3.
    budget = {"max_requests_per_run": 3, "max_concurrent_requests": 1, "calls_window_days": 1}

    runs = [
        run_tap(tap_config(sandbox, **budget), tmp_path, backfill.final_state, streams=("calls",))
    ]
    while "stopped by the budget" in runs[-1].stderr and len(runs) < 8:
        state = runs[-1].final_state
        runs.append(run_tap(tap_config(sandbox, **budget), tmp_path, state, streams=("calls",)))

    assert new["id"] in call_ids(runs[0], "calls")  # new calls first, before the re-read
    assert 2 < len(runs) < 8  # each run goes on where the last one stopped
    delivered = set().union(*(call_ids(r, "calls") for r in runs))
    assert {call["id"] for call in late} <= delivered
    final = runs[-1].final_state["bookmarks"]["calls"]
    assert "late_data_resume_from" not in final
    assert final["late_data_reread_at"] == sandbox.now().isoformat().replace("+00:00", "Z")
