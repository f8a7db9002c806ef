"""The rest of Gong's readable API (issue 26): activity by period, settings history, logs,
permission profiles and their users, Engage flows."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from gong_sandbox import GongSandbox
from tap_gong.streams import LOG_TYPES
from tests.support import (
    TapRun,
    assert_schema_valid,
    discovered_catalog,
    instant,
    run_tap,
    sandbox_settings,
    tap_config,
)
from tests.test_join_tables import as_set, keyed

NEW = (
    "activity_by_period",
    "user_settings_history",
    "audit_logs",
    "permission_profiles",
    "permission_profile_users",
    "engage_flows",
)
NOT_BY_DEFAULT = {"user_settings_history", "audit_logs", "engage_flows"}
Selected = tuple[GongSandbox, TapRun, Counter[str]]


@pytest.fixture(scope="module")
def backfill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Selected]:
    with GongSandbox(sandbox_settings(workspaces=3)) as sandbox:
        run = run_tap(tap_config(sandbox), tmp_path_factory.mktemp("run"), streams=NEW)
        assert run.returncode == 0, run.stderr[-2000:]
        yield sandbox, run, paths(sandbox)


def paths(sandbox: GongSandbox) -> Counter[str]:
    return Counter(
        "settings-history" if r.path.endswith("/settings-history") else r.path
        for r in sandbox.requests
    )


@pytest.mark.parametrize("stream", NEW)
def test_records_are_valid_against_the_schema_the_tap_announces(
    backfill: Selected, stream: str
) -> None:
    _, run, _ = backfill
    assert run.records(stream)
    assert_schema_valid(run, stream)


def test_the_per_user_streams_and_the_logs_are_left_out_of_the_default_selection() -> None:
    defaults = {
        entry["tap_stream_id"]: metadata["metadata"]["selected-by-default"]
        for entry in json.loads(discovered_catalog())["streams"]
        for metadata in entry["metadata"]
        if metadata["breadcrumb"] == []
    }
    assert {name for name in NEW if not defaults[name]} == NOT_BY_DEFAULT


def test_activity_by_period_is_one_row_per_user_and_week_from_monday_with_gongs_counts(
    backfill: Selected,
) -> None:
    sandbox, run, asked = backfill
    records = keyed(run.records("activity_by_period"), "userId", "aggregationPeriod", "fromDate")
    first_day = dt.date.fromisoformat(min(key[2] for key in records))
    today = sandbox.company_today()
    expected = {
        (item["userId"], dt.date.fromisoformat(counts["fromDate"][:10]).isoformat()): counts
        for item in sandbox.activity_by_period("WEEK", first_day, today)
        for counts in item["userAggregateActivity"]
    }
    assert {(key[0], key[2]) for key in records} == set(expected)
    for (user_id, period, from_date), record in records.items():
        assert period == "WEEK"
        start = dt.date.fromisoformat(from_date)
        assert start.weekday() == 0  # Monday
        assert record["toDate"] == (start + dt.timedelta(days=7)).isoformat()
        assert record["callsAsHost"] == expected[user_id, from_date]["callsAsHost"]
        assert isinstance(record["callsAsHost"], int)
    assert asked["/v2/stats/activity/aggregate-by-period"] == 1


def test_activity_by_period_reads_the_current_period_again_next_run(
    backfill: Selected, tmp_path: Path
) -> None:
    sandbox, run, _ = backfill
    sandbox.reset_log()
    again = run_tap(tap_config(sandbox), tmp_path, run.final_state, streams=("activity_by_period",))
    assert again.returncode == 0, again.stderr[-2000:]
    bodies = [r.body for r in sandbox.requests if r.path.endswith("aggregate-by-period")]
    today = sandbox.company_today()
    monday = today - dt.timedelta(days=today.weekday())
    assert [b["filter"]["fromDate"] for b in bodies if b] == [monday.isoformat()]
    assert {b["aggregationPeriod"] for b in bodies if b} == {"WEEK"}
    assert again.bookmark("activity_by_period") == (today - dt.timedelta(days=1)).isoformat()


def test_activity_period_month_keys_rows_on_the_first_of_the_month(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = tap_config(sandbox, activity_period="MONTH")
    run = run_tap(config, tmp_path, streams=("activity_by_period",))
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records("activity_by_period")
    assert records
    assert {r["aggregationPeriod"] for r in records} == {"MONTH"}
    assert {r["fromDate"][8:] for r in records} == {"01"}


def test_settings_history_is_every_users_changes_one_request_per_user(
    backfill: Selected,
) -> None:
    sandbox, run, asked = backfill
    expected = {
        (user["id"], change["setting"], instant(change["time"])): change["value"]
        for user in sandbox.users()
        for change in sandbox.settings_history(user["id"])
    }
    records = run.records("user_settings_history")
    got = {(r["userId"], r["setting"], instant(r["time"])): r["value"] for r in records}
    assert len(got) == len(records) == len(expected)
    assert got == expected
    assert asked["settings-history"] == len(sandbox.users())


def test_audit_logs_are_every_entry_of_every_type_with_a_bookmark_per_type(
    backfill: Selected,
) -> None:
    sandbox, run, _ = backfill
    config = tap_config(sandbox)
    start, end = instant(config["start_date"]), instant(config["end_date"])
    records = run.records("audit_logs")
    assert len({r["logId"] for r in records}) == len(records)
    for log_type in LOG_TYPES:
        expected = sandbox.log_entries(log_type, start, end)
        of_type = [r for r in records if r["logType"] == log_type]
        assert sorted(instant(r["eventTime"]) for r in of_type) == sorted(
            instant(e["eventTime"]) for e in expected
        )
        assert all(isinstance(r["logRecord"], dict) for r in of_type)
    state = run.final_state["bookmarks"]["audit_logs"]
    assert state["log_type_bookmarks"] == dict.fromkeys(LOG_TYPES, config["end_date"][:19] + "Z")
    assert state["replication_key_value"] == config["end_date"][:19] + "Z"


def test_a_log_entrys_id_is_the_same_in_every_run(backfill: Selected, tmp_path: Path) -> None:
    sandbox, run, _ = backfill
    again = run_tap(tap_config(sandbox), tmp_path, streams=("audit_logs",))
    first = {
        (r["logType"], r["eventTime"], r["userId"]): r["logId"] for r in run.records("audit_logs")
    }
    second = {
        (r["logType"], r["eventTime"], r["userId"]): r["logId"] for r in again.records("audit_logs")
    }
    assert first == second


def test_each_log_type_resumes_from_its_own_bookmark(backfill: Selected, tmp_path: Path) -> None:
    sandbox, run, _ = backfill
    config = tap_config(sandbox, max_concurrent_requests=1)
    state = json.loads(json.dumps(run.final_state))
    marks = state["bookmarks"]["audit_logs"]["log_type_bookmarks"]
    behind = instant(config["end_date"]) - dt.timedelta(days=10)
    marks["UserCallPlay"] = behind.isoformat().replace("+00:00", "Z")
    sandbox.reset_log()

    again = run_tap(config, tmp_path, state, streams=("audit_logs",))

    assert again.returncode == 0, again.stderr[-2000:]
    starts = {
        r.query["logType"]: instant(r.query["fromDateTime"])
        for r in sandbox.requests
        if r.path == "/v2/logs" and "cursor" not in r.query
    }
    lookback = dt.timedelta(days=1)
    assert starts["UserCallPlay"] == behind - lookback
    assert starts["AccessLog"] == instant(config["end_date"]) - lookback
    # The type furthest behind first: a budget that stops the stream still moves it on.
    logs = [r for r in sandbox.requests if r.path == "/v2/logs"]
    assert logs[0].query["logType"] == "UserCallPlay"
    final = again.final_state["bookmarks"]["audit_logs"]
    assert final["log_type_bookmarks"]["UserCallPlay"] == marks["AccessLog"]


def test_permission_profiles_and_who_holds_them(backfill: Selected) -> None:
    sandbox, run, asked = backfill
    workspaces = [w["id"] for w in sandbox.workspaces()]
    expected = {
        p["id"]: workspace_id
        for workspace_id in workspaces
        for p in sandbox.permission_profiles(workspace_id)
    }
    profiles = keyed(run.records("permission_profiles"), "id")
    assert {key[0]: r["workspaceId"] for key, r in profiles.items()} == expected
    holders = keyed(run.records("permission_profile_users"), "profileId", "userId")
    assert set(holders) == {
        (profile_id, user["id"])
        for profile_id in expected
        for user in sandbox.permission_profile_users(profile_id)
    }
    counts = asked
    assert counts["/v2/all-permission-profiles"] == len(workspaces)
    assert counts["/v2/permission-profile/users"] == len(expected)


def test_engage_flows_are_each_flow_once_and_owners_without_a_licence_have_none(
    backfill: Selected,
) -> None:
    sandbox, run, _ = backfill
    listed = [sandbox.engage_flows(user["emailAddress"]) for user in sandbox.users()]
    expected = {flow["id"] for flows in listed if flows for flow in flows}
    assert set(keyed(run.records("engage_flows"), "id")) == {(i,) for i in expected}
    unlicensed = sum(flows is None for flows in listed)
    assert unlicensed > 0
    assert f"{unlicensed} of {len(listed)} users have no Gong Engage licence" in run.stderr
    assert "engage_flows: finished" in run.stderr


def test_a_company_without_engage_gets_an_empty_flows_table(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings(engage=False)) as sandbox:
        run = run_tap(tap_config(sandbox), tmp_path, streams=("engage_flows",))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records("engage_flows") == []
    assert run.schema("engage_flows")


@pytest.mark.parametrize(
    ("stream", "scope"),
    [
        ("engage_flows", "api:flows:read"),
        ("audit_logs", "api:logs:read"),
        ("permission_profiles", "api:permission-profile:read"),
        ("activity_by_period", "api:stats:user-actions"),
    ],
)
def test_a_missing_scope_fails_that_stream_alone_naming_the_scope(
    tmp_path: Path, stream: str, scope: str
) -> None:
    settings = sandbox_settings(withheld_scopes=frozenset({scope}), scope_refusal_status=403)
    with GongSandbox(settings) as sandbox:
        run = run_tap(tap_config(sandbox), tmp_path, streams=(stream, "users", "workspaces"))
    assert run.returncode == 1
    assert scope in run.stderr
    assert f"{stream}: failed" in run.stderr
    assert "users: finished" in run.stderr
    assert "workspaces: finished" in run.stderr
    assert run.records("users")


def test_a_log_types_bookmark_never_moves_back_when_its_lookback_reaches_further(
    backfill: Selected, tmp_path: Path
) -> None:
    sandbox, run, _ = backfill
    saved = run.final_state["bookmarks"]["audit_logs"]["log_type_bookmarks"]
    config = tap_config(sandbox, lookback_window_days=3, calls_window_days=1)
    sandbox.reset_log()

    again = run_tap(config, tmp_path, run.final_state, streams=("audit_logs",))

    assert again.returncode == 0, again.stderr[-2000:]
    for state in again.states:
        marks = state["bookmarks"]["audit_logs"]["log_type_bookmarks"]
        assert all(instant(marks[t]) >= instant(saved[t]) for t in LOG_TYPES), marks
    # Each type re-read 3 days in 1-day windows, every one of them committed.
    assert Counter(r.query["logType"] for r in sandbox.requests) == dict.fromkeys(LOG_TYPES, 3)


def test_the_sandboxs_log_entries_are_the_same_whatever_range_asks_for_them(
    sandbox: GongSandbox,
) -> None:
    end = sandbox.now()
    start = end - dt.timedelta(days=3)
    for log_type in LOG_TYPES:
        whole = as_set(sandbox.log_entries(log_type, start, end))
        for hours in range(5, 72, 5):  # cut at every fifth hour
            middle = start + dt.timedelta(hours=hours)
            halves = sandbox.log_entries(log_type, start, middle)
            assert as_set(halves + sandbox.log_entries(log_type, middle, end)) == whole
