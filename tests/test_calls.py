"""The `calls` stream: every call once, Gong's values, UTC instants, windows and paging."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

from jsonschema import Draft7Validator, FormatChecker

from gong_sandbox import GongSandbox
from tap_gong.kinds.date_time_windows import CALL_PROCESSING_ALLOWANCE
from tests.support import instant, run_tap, sandbox_settings, tap_config

INSTANT_FIELDS = ("started", "scheduled")


def test_every_call_in_range_arrives_exactly_once_across_pages_and_windows(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    # One request in flight: windows of calls_window_days (several in flight cut finer).
    config = tap_config(sandbox, calls_window_days=6, max_concurrent_requests=1)
    run = run_tap(config, tmp_path)

    assert run.returncode == 0, run.stderr
    ids = Counter(record["id"] for record in run.records("calls"))
    assert set(ids) == {call["id"] for call in sandbox.calls()}
    assert max(ids.values()) == 1
    windows = {r.query["fromDateTime"] for r in sandbox.requests if r.path == "/v2/calls"}
    assert len(windows) == 4  # 20 days in windows of 6 days (~135 calls, 2 pages each)
    assert any("cursor" in r.query for r in sandbox.requests), "no window needed a second page"


def test_call_fields_carry_gong_values_with_instants_in_utc(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_tap(tap_config(sandbox), tmp_path)

    gong_calls = {call["id"]: call for call in sandbox.calls()}
    assert len(run.records("calls")) == len(gong_calls) > 0
    for record in run.records("calls"):
        call = gong_calls[record["id"]]
        for name, value in call.items():
            if name in INSTANT_FIELDS and value is not None:
                assert record[name].endswith("Z"), record[name]
                assert instant(record[name]) == instant(value)
            else:
                assert record[name] == value, name
        assert set(record) - set(call) <= {
            "sdrDisposition",
            "clientUniqueId",
            "customData",
            "purpose",
            "meetingUrl",
            "calendarEventId",
        }


def test_ids_beyond_int64_stay_exact_strings(sandbox: GongSandbox, tmp_path: Path) -> None:
    run = run_tap(tap_config(sandbox), tmp_path)

    ids = [record["id"] for record in run.records("calls")]
    assert all(isinstance(call_id, str) and call_id.isdigit() for call_id in ids)
    assert any(int(call_id) > 2**63 for call_id in ids)
    assert '"id":"' in run.stdout.replace(" ", "")  # on the wire too, not a JSON number


def test_every_record_validates_against_the_schema_the_tap_declares(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_tap(tap_config(sandbox), tmp_path)

    for stream in ("calls", "interaction_stats"):
        schema_message = run.schema(stream)
        validator = Draft7Validator(schema_message["schema"], format_checker=FormatChecker())
        records = run.records(stream)
        assert records
        for record in records:
            assert not list(validator.iter_errors(record)), record
    assert run.schema("calls")["key_properties"] == ["id"]
    assert run.schema("calls")["bookmark_properties"] == ["started"]


def test_catalog_declares_keys_and_replication_keys(tmp_path: Path) -> None:
    config = {"start_date": "2024-01-01", "access_token": "unused"}
    run = run_tap(config, tmp_path, extra_args=("--discover",))

    catalog = json.loads(run.stdout)
    metadata = {
        entry["tap_stream_id"]: next(
            m["metadata"] for m in entry["metadata"] if not m["breadcrumb"]
        )
        for entry in catalog["streams"]
    }
    assert metadata["calls"]["table-key-properties"] == ["id"]
    assert metadata["calls"]["valid-replication-keys"] == ["started"]
    assert metadata["interaction_stats"]["table-key-properties"] == ["userId", "fromDate"]
    assert metadata["interaction_stats"]["valid-replication-keys"] == ["fromDate"]


def test_empty_window_is_not_an_error(tmp_path: Path) -> None:
    # Calls only in the last 10 of 20 days: Gong answers 404 for the first windows.
    with GongSandbox(sandbox_settings(calls=120, days=10)) as sandbox:
        start = sandbox.now() - dt.timedelta(days=20)
        config = tap_config(sandbox, start_date=start.isoformat(), calls_window_days=5)
        run = run_tap(config, tmp_path)

        assert run.returncode == 0, run.stderr
        assert sandbox.counters()["404"] >= 2
        assert {r["id"] for r in run.records("calls")} == {c["id"] for c in sandbox.calls()}
        # Past the empty windows, to the run's end less the calls Gong may still publish.
        assert instant(run.bookmark("calls")) == sandbox.now() - CALL_PROCESSING_ALLOWANCE


def test_workspace_filter_reaches_gong_and_keeps_only_that_workspace(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    workspace = sandbox.calls()[0]["workspaceId"]
    run = run_tap(tap_config(sandbox, workspace_id=workspace), tmp_path)

    expected = {c["id"] for c in sandbox.calls() if c["workspaceId"] == workspace}
    assert {r["id"] for r in run.records("calls")} == expected
    assert all(
        r.query.get("workspaceId") == workspace for r in sandbox.requests if r.path == "/v2/calls"
    )


def test_undocumented_values_fields_and_nulls_never_crash_or_drop_a_record(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings(odd_payloads=True)) as sandbox:
        run = run_tap(tap_config(sandbox), tmp_path)

        assert run.returncode == 0, run.stderr
        gong_calls = {call["id"]: call for call in sandbox.calls()}
        records = {record["id"]: record for record in run.records("calls")}
        assert set(records) == set(gong_calls)
        odd = [records[i] for i, call in gong_calls.items() if "gongAddedLater" in call]
        assert odd
        for record in odd:
            assert record["direction"] == "Bridge"  # an enum value Gong added later
            assert record["media"] == "Chat"
            assert record["title"] is None
            assert record["duration"] is None
        assert "gongAddedLater" in run.stderr  # a field not in the schema is named, not hidden
        validator = Draft7Validator(run.schema("calls")["schema"], format_checker=FormatChecker())
        assert all(validator.is_valid(record) for record in records.values())
        stats = run.records("interaction_stats")
        assert stats
        assert all(
            {"name": "Talk Ratio", "value": 0.42} in r["personInteractionStats"] for r in stats
        )
