"""`meltano run tap-gong target-postgres|-snowflake|-duckdb` against the Gong sandbox.

Each warehouse lives through the same history (tests/e2e/pipeline_scenario.py): a full
load, a rerun with nothing new, then a day of changes in Gong and a scheduled run.
After each run the tables must equal what Gong holds: every row once, Gong's values.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e.pipeline_scenario import LOOKBACK, SANDBOX_NOW, PipelineHistory, table_differences

CALLS_KEY = ("id",)
STATS_KEY = ("userid", "fromdate")


@pytest.fixture(scope="module", params=["postgres", "snowflake", "duckdb"])
def history(request: pytest.FixtureRequest, history_of) -> PipelineHistory:
    return history_of(request.param)


def test_first_run_loads_every_call_exactly_once_with_gongs_values(history):
    run = history.first_run
    titles = [call["title"] for call in run.gong.calls.values()]
    # What the comparison covers: ids beyond int64, non-ASCII and quoted titles, nulls.
    assert any(int(call_id) > 2**63 for call_id in run.gong.calls)
    assert any(not title.isascii() for title in titles)
    assert any("'" in title and '"' in title for title in titles)
    assert any(call["sdrdisposition"] is None for call in run.gong.calls.values())

    assert table_differences(run.calls, run.gong.calls, CALLS_KEY) == []
    assert len(run.calls) == len(run.gong.calls) > 0


def test_first_run_loads_every_complete_user_day_of_stats_with_pivoted_numbers(history):
    run = history.first_run
    assert table_differences(run.stats, run.gong.stats, STATS_KEY) == []
    assert all(isinstance(row["questionrate"], float) for row in run.stats)


def test_rerun_with_no_new_data_adds_no_rows(history):
    first, rerun = history.first_run, history.rerun
    assert len(rerun.calls) == len(first.calls)
    assert len(rerun.stats) == len(first.stats)
    assert table_differences(rerun.calls, rerun.gong.calls, CALLS_KEY) == []
    assert table_differences(rerun.stats, rerun.gong.stats, STATS_KEY) == []


def test_rerun_asks_gong_only_for_the_lookback_not_the_history(history):
    rerun = history.rerun
    assert rerun.earliest_calls_request() == SANDBOX_NOW - LOOKBACK
    last_loaded_day = dt.date.fromisoformat(max(row["fromdate"] for row in history.first_run.stats))
    stats_from = rerun.earliest_stats_request()
    assert stats_from is not None
    assert stats_from >= last_loaded_day - LOOKBACK


def test_scheduled_run_after_a_day_of_changes_brings_the_tables_back_equal_to_gong(history):
    before, after, changes = history.rerun, history.scheduled_run, history.changes
    # The day brought new calls, revealed late calls and changed a loaded stats day.
    assert changes.new_calls
    assert changes.late_calls
    assert not {call["id"] for call in changes.late_calls + changes.new_calls} & set(
        before.gong.calls
    )
    changed_day = changes.changed_day.isoformat()
    assert {k: v for k, v in before.gong.stats.items() if k[1] == changed_day} != {
        k: v for k, v in after.gong.stats.items() if k[1] == changed_day
    }

    assert table_differences(after.calls, after.gong.calls, CALLS_KEY) == []
    assert table_differences(after.stats, after.gong.stats, STATS_KEY) == []


def test_scheduled_run_continues_from_the_state_of_meltano_run(history):
    scheduled = history.scheduled_run
    assert scheduled.earliest_calls_request() == SANDBOX_NOW - LOOKBACK
    stats_from = scheduled.earliest_stats_request()
    assert stats_from is not None
    assert stats_from >= history.changes.changed_day - LOOKBACK
