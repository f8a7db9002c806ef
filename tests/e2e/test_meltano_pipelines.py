"""`meltano run tap-gong target-postgres|-snowflake|-duckdb` against the Gong sandbox.

Each warehouse lives through the same history (tests/e2e/pipeline_scenario.py): a full
load, a rerun with nothing new, then a day of changes in Gong and a scheduled run.
After each run every stream's table must equal what Gong holds: every row once, Gong's
values.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from tap_gong.late_data import LATE_DATA
from tap_gong.streams import LOG_TYPES
from tests.e2e.pipeline_scenario import (
    LOOKBACK,
    SANDBOX_NOW,
    START_DATE,
    TABLE_KEYS,
    PipelineHistory,
    Snapshot,
    same_value,
    sandbox_settings,
    table_differences,
    utc_naive,
)

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
    # A day after the first run: a late-data re-read, from 7 days before that run.
    assert scheduled.earliest_calls_request() == SANDBOX_NOW - LATE_DATA
    stats_from = scheduled.earliest_stats_request()
    zone = ZoneInfo(sandbox_settings().time_zone)
    assert stats_from == (SANDBOX_NOW - LATE_DATA).astimezone(zone).date()


@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
def test_every_stream_loads_gongs_rows_once_after_each_run(history, table):
    key = TABLE_KEYS[table]
    for run in (history.first_run, history.rerun, history.scheduled_run):
        assert run.gong.tables[table], f"the sandbox holds no {table}: nothing is checked"
        assert table_differences(run.tables[table], run.gong.tables[table], key) == []


def test_scheduled_run_brings_an_answer_edited_inside_the_lookback_updated(history):
    before, after = history.changes.scorecard_before_edit, history.changes.scorecard_after_edit
    assert before["answers"] != after["answers"]
    edited_id = str(after["answeredScorecardId"])
    (row,) = (
        row
        for row in history.scheduled_run.tables["answered_scorecards"]
        if row["answeredscorecardid"] == edited_id
    )
    assert same_value(row["answers"], after["answers"])


def test_crm_values_of_every_json_kind_keep_their_kind(history):
    """`context[].objects[].fields[].value` is any JSON: each lands as the kind Gong sent."""
    kinds = set()
    for row in history.first_run.tables["call_details"]:
        for link in row["context"] or []:
            for crm_object in link["objects"] or []:
                kinds.update(type(field["value"]).__name__ for field in crm_object["fields"] or [])
    assert kinds == {"str", "int", "float", "bool", "dict", "list", "NoneType"}


# What each stream costs in Gong requests, as the README's cost table says (pages of 100).
PAGE = 100
DAYS_PER_STATS_WINDOW = 30  # answered_scorecards and user_activity: a month per request


def pages(items: int) -> int:
    return max(1, math.ceil(items / PAGE))


def test_backfill_costs_the_requests_the_readme_says(history):
    run = history.first_run
    asked = run.requests_per_path()
    windows = sorted(
        {
            (r.body["filter"]["fromDateTime"], r.body["filter"]["toDateTime"])
            for r in run.requests
            if r.path == "/v2/calls/extensive" and r.body
        }
    )
    calls_per_window = Counter(
        next(
            i
            for i, (start, end) in enumerate(windows)
            if utc_naive(start) <= row["started"] < utc_naive(end)
        )
        for row in run.gong.tables["call_details"].values()
    )
    company_today = SANDBOX_NOW.astimezone(ZoneInfo(sandbox_settings().time_zone)).date()
    finished_days = (company_today - START_DATE.date()).days
    # call_details: 1 per 100 calls per window; call_transcripts: 1 per page of them.
    assert asked["/v2/calls/extensive"] == sum(
        pages(calls_per_window[i]) for i in range(len(windows))
    )
    # One transcript request per page of calls (an empty window's 404 has none).
    pages_of_calls = [r for r in run.requests if r.path == "/v2/calls/extensive"]
    assert asked["/v2/calls/transcript"] == sum(r.status == 200 for r in pages_of_calls)
    assert asked["/v2/users"] == pages(len(run.gong.tables["users"]))
    assert (
        asked["/v2/workspaces"]
        == asked["/v2/settings/scorecards"]
        == asked["/v2/settings/trackers"]
        == 1
    )
    # The current day included for reviews, finished days only for activity and stats.
    assert asked["/v2/stats/activity/scorecards"] == math.ceil(
        (finished_days + 1) / DAYS_PER_STATS_WINDOW
    )
    assert asked["/v2/stats/activity/day-by-day"] == math.ceil(
        finished_days / DAYS_PER_STATS_WINDOW
    )
    assert asked["/v2/stats/interaction"] == finished_days
    assert_library_costs_one_request_per_workspace_and_per_folder(run)
    # Logs: one request per log type and 30-day window.
    log_windows = math.ceil((SANDBOX_NOW - START_DATE) / dt.timedelta(days=30))
    assert_rest_api_costs(run, logs=len(LOG_TYPES) * log_windows)


def assert_rest_api_costs(run: Snapshot, logs: int) -> Counter[str]:
    """Issue 26's streams: one request per user (settings history, flows), per workspace
    and per profile (permission profiles), per log type and window, and one for the
    weeks of activity. Returns the other paths' counts."""
    asked = run.requests_per_path()
    histories = [path for path in asked if path.endswith("/settings-history")]
    assert sum(asked.pop(path) for path in histories) == len(run.gong.tables["users"])
    assert asked.pop("/v2/flows") == len(run.gong.tables["users"])
    assert asked.pop("/v2/all-permission-profiles") == len(run.gong.tables["workspaces"])
    profiles = len(run.gong.tables["permission_profiles"])
    assert asked.pop("/v2/permission-profile/users") == profiles
    assert asked.pop("/v2/logs") == logs
    assert asked.pop("/v2/stats/activity/aggregate-by-period") == 1
    return asked


def assert_library_costs_one_request_per_workspace_and_per_folder(run: Snapshot) -> None:
    asked = run.requests_per_path()
    assert asked["/v2/library/folders"] == len(run.gong.tables["workspaces"])
    assert asked["/v2/library/folder-content"] == len(run.gong.tables["library_folders"])


def test_an_hourly_run_costs_one_request_per_stream_and_one_or_two_for_stats(history):
    asked = assert_rest_api_costs(history.rerun, logs=len(LOG_TYPES))
    stats_requests = asked.pop("/v2/stats/interaction")
    assert 1 <= stats_requests <= 2
    # The library, read whole: one request per workspace and one per folder.
    assert_library_costs_one_request_per_workspace_and_per_folder(history.rerun)
    asked.pop("/v2/library/folders")
    asked.pop("/v2/library/folder-content")
    assert asked == dict.fromkeys(
        [
            "/v2/calls/extensive", "/v2/calls/transcript", "/v2/users",
            "/v2/workspaces", "/v2/settings/scorecards", "/v2/settings/trackers",
            "/v2/stats/activity/scorecards", "/v2/stats/activity/day-by-day",
        ],
        1,
    )  # fmt: skip


def test_postgres_columns_hold_text_ids_utc_timestamps_and_jsonb(history_of, postgres_warehouse):
    history_of("postgres")
    details = postgres_warehouse.column_types("call_details")
    participants = postgres_warehouse.column_types("call_participants")
    reviews = postgres_warehouse.column_types("answered_scorecards")
    activity = postgres_warehouse.column_types("user_activity")

    assert [details["id"], participants["speakerid"], reviews["revieweduserid"]] == ["text"] * 3
    assert details["started"] == reviews["reviewtime"] == "timestamp"
    # Objects land as jsonb, lists of objects (the CRM `context` among them) as jsonb[].
    assert details["metadata"] == details["content"] == "jsonb"
    assert details["context"] == participants["context"] == reviews["answers"] == "_jsonb"
    assert activity["callsashost"] == participants["methods"] == "_text"
    assert (activity["fromdate"], activity["callsashostcount"]) == ("date", "int8")


def test_duckdb_columns_hold_text_ids_utc_timestamps_and_json(history_of, duckdb_warehouse):
    history_of("duckdb")
    details = duckdb_warehouse.column_types("call_details")
    participants = duckdb_warehouse.column_types("call_participants")
    reviews = duckdb_warehouse.column_types("answered_scorecards")
    activity = duckdb_warehouse.column_types("user_activity")

    assert [details["id"], participants["speakerid"], reviews["revieweduserid"]] == ["VARCHAR"] * 3
    assert details["started"] == reviews["reviewtime"] == "TIMESTAMP"
    # Every object and list, the CRM `context` among them, lands as JSON.
    assert {details["metadata"], details["context"], participants["methods"]} == {"JSON"}
    assert reviews["answers"] == activity["callsashost"] == "JSON"
    assert (activity["fromdate"], activity["callsashostcount"]) == ("VARCHAR", "HUGEINT")


@pytest.mark.parametrize(
    ("table", "id_column"),
    [("answered_scorecards", "answeredscorecardid"), ("users", "id"), ("call_details", "id")],
)
def test_ids_beyond_what_a_float_holds_land_as_their_exact_digits(history, table, id_column):
    """What the row comparison covers: ids a float (or a JSON number) cannot hold exactly."""
    loaded = [row[id_column] for row in history.first_run.tables[table]]
    assert all(isinstance(value, str) and value.isdigit() for value in loaded)
    assert any(int(value) > 2**53 for value in loaded)
    assert set(loaded) == {str(key) for key in history.first_run.gong.tables[table]}
