"""`calls` read from call_details' /v2/calls/extensive pages: each stretch of calls read once."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gong_sandbox import GongSandbox
from tap_gong.shared_pages import WINDOW_STATE, merged_window_state
from tap_gong.windows import parse_instant, utc_iso
from tests.support import TapRun, assert_schema_valid, run_tap, sandbox_settings, tap_config

CALLS = "/v2/calls"
EXTENSIVE = "/v2/calls/extensive"
TRANSCRIPT = "/v2/calls/transcript"
EVERY_CALL_STREAM = (
    "calls",
    "call_details",
    "call_participants",
    "call_transcripts",
    "call_crm_objects",
    "call_trackers",
)


def run_selected(
    sandbox: GongSandbox,
    tmp_path: Path,
    streams: tuple[str, ...],
    state: dict | None = None,
    **config: Any,
) -> TapRun:
    run = run_tap(tap_config(sandbox, **config), tmp_path, state, streams=streams)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def calls_by_id(run: TapRun) -> dict[str, dict]:
    records = run.records("calls")
    by_id = {record["id"]: record for record in records}
    assert len(by_id) == len(records), "each call once"
    return by_id


def window_state(run: TapRun, stream: str) -> dict[str, Any]:
    saved = run.final_state["bookmarks"][stream]
    return {name: saved.get(name) for name in WINDOW_STATE}


def test_calls_read_with_call_details_are_the_records_v2_calls_sends_field_for_field(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    sandbox.reset_log()
    alone = run_selected(sandbox, tmp_path, ("calls",))
    assert {r.path for r in sandbox.requests} == {CALLS}
    sandbox.reset_log()

    with_details = run_selected(sandbox, tmp_path, ("calls", "call_details"))

    assert {r.path for r in sandbox.requests} == {EXTENSIVE}, "calls made no request of its own"
    assert calls_by_id(with_details) == calls_by_id(alone)
    assert len(calls_by_id(alone)) == len(sandbox.call_details())
    assert with_details.schema("calls") == alone.schema("calls")
    assert_schema_valid(with_details, "calls")


def test_calls_ride_on_call_details_read_only_for_its_page_children(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    alone = run_selected(sandbox, tmp_path, ("calls",))
    sandbox.reset_log()

    with_transcripts = run_selected(sandbox, tmp_path, ("calls", "call_transcripts"))

    assert {r.path for r in sandbox.requests} == {EXTENSIVE, TRANSCRIPT}
    assert calls_by_id(with_transcripts) == calls_by_id(alone)
    assert with_transcripts.records("call_details") == []


def test_every_call_stream_selected_costs_two_requests_per_page_of_calls_not_three(
    tmp_path: Path,
) -> None:
    # 1,000 calls in one window of 30 days: 10 pages of /extensive, 10 transcript requests.
    settings = sandbox_settings(calls=1_000, days=30)
    with GongSandbox(settings) as sandbox:
        run = run_selected(
            sandbox, tmp_path, EVERY_CALL_STREAM, calls_window_days=60, max_concurrent_requests=1
        )
        paths = [r.path for r in sandbox.requests]
        calls = len(sandbox.call_details())

    assert len(calls_by_id(run)) == calls
    assert CALLS not in paths
    pages = math.ceil(calls / 100)
    assert paths.count(EXTENSIVE) == pages
    assert paths.count(TRANSCRIPT) == pages
    assert len(paths) / calls * 100 <= 2.0


def test_at_start_date_calls_read_with_call_details_are_the_calls_call_details_holds(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    # A web conference that started a little before it was scheduled: Gong's /v2/calls
    # takes it by its scheduled time, /extensive by its start. A start_date between the two
    # has it in `calls` alone, and out of `calls` + `call_details`, which hold the same calls.
    early = next(
        call
        for call in sandbox.calls()
        if parse_instant(call["started"]) < parse_instant(call["scheduled"])
    )
    config = {"start_date": early["scheduled"]}

    alone = run_selected(sandbox, tmp_path, ("calls",), **config)
    with_details = run_selected(sandbox, tmp_path, ("calls", "call_details"), **config)

    assert early["id"] in calls_by_id(alone)
    detail_ids = {record["id"] for record in with_details.records("call_details")}
    assert set(calls_by_id(with_details)) == detail_ids
    assert early["id"] not in detail_ids
    assert calls_by_id(alone).keys() - {early["id"]} <= detail_ids


def test_calls_state_is_call_details_state_so_calls_alone_goes_on_from_it(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    both = run_selected(sandbox, tmp_path, ("calls", "call_details"))
    assert window_state(both, "calls") == window_state(both, "call_details")
    sandbox.advance_clock(dt.timedelta(days=2))
    added = {call["id"] for call in sandbox.add_calls(5)}
    sandbox.reset_log()

    alone = run_selected(sandbox, tmp_path, ("calls",), state=both.final_state, end_date=None)

    assert added <= set(calls_by_id(alone))
    assert len(calls_by_id(alone)) < len(calls_by_id(both)), "no full re-read"
    assert {r.path for r in sandbox.requests} == {CALLS}
    assert parse_instant(alone.bookmark("calls")) > parse_instant(both.bookmark("calls"))


def test_calls_selected_beside_call_details_later_still_gets_its_whole_history(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    details_only = run_selected(sandbox, tmp_path, ("call_details",))

    both = run_selected(
        sandbox, tmp_path, ("calls", "call_details"), state=details_only.final_state
    )

    assert len(calls_by_id(both)) == len(sandbox.call_details())
    assert "call_details reads from where calls' state is" in both.stderr
    assert window_state(both, "calls") == window_state(both, "call_details")


def test_calls_go_on_from_v2_calls_when_gong_refuses_call_details_its_scope(
    tmp_path: Path,
) -> None:
    settings = sandbox_settings(
        withheld_scopes=frozenset({"api:calls:read:extensive"}), scope_refusal_status=403
    )
    with GongSandbox(settings) as sandbox:
        run = run_tap(tap_config(sandbox), tmp_path, streams=("calls", "call_details"))
        calls = len(sandbox.call_details())

    assert run.returncode == 1
    assert "call_details: failed" in run.stderr
    assert "calls: finished" in run.stderr
    assert len(calls_by_id(run)) == calls


def test_a_run_the_budget_stops_resumes_with_no_call_lost(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    streams = ("calls", "call_details", "call_transcripts")
    first = run_selected(sandbox, tmp_path, streams, calls_window_days=3, max_requests_per_run=6)
    assert len(calls_by_id(first)) < len(sandbox.call_details())

    second = run_selected(sandbox, tmp_path, streams, state=first.final_state, calls_window_days=3)

    every_call = {call["metaData"]["id"] for call in sandbox.call_details()}
    assert set(calls_by_id(first)) | set(calls_by_id(second)) == every_call
    assert window_state(second, "calls") == window_state(second, "call_details")


INSTANTS = st.datetimes(
    min_value=dt.datetime(2024, 1, 1),
    max_value=dt.datetime(2025, 1, 1),
    timezones=st.just(dt.timezone.utc),
).map(utc_iso)
WINDOW_STATES = st.fixed_dictionaries(
    {},
    optional={
        "replication_key_value": INSTANTS,
        "late_data_reread_at": INSTANTS,
        "last_run_at": INSTANTS,
        "late_data_resume_from": INSTANTS,
        "reconciled_at": INSTANTS,
        "table_version": st.integers(1, 10),
    },
)


def reads_from(state: dict[str, Any], name: str) -> dt.datetime:
    """Where a state's value makes a run read from: a missing one reads everything."""
    value = state.get(name)
    return (
        dt.datetime.min.replace(tzinfo=dt.timezone.utc) if value is None else parse_instant(value)
    )


@given(WINDOW_STATES, WINDOW_STATES)
def test_a_merged_state_reads_everything_either_stream_still_has_to_read(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    merged = merged_window_state(first, second)

    assert merged is not None
    for name in ("replication_key_value", "late_data_reread_at", "last_run_at", "reconciled_at"):
        assert reads_from(merged, name) <= min(reads_from(first, name), reads_from(second, name))
    resumes = [s["late_data_resume_from"] for s in (first, second) if "late_data_resume_from" in s]
    if resumes:
        assert merged["late_data_resume_from"] == min(resumes, key=parse_instant)
    assert merged_window_state(first, first) == first


def test_two_unfinished_reconciles_of_different_versions_are_not_merged() -> None:
    first = {
        "table_version": 7,
        "reconcile": {"started_at": "2024-05-01T00:00:00Z", "until": "2024-04-01T00:00:00Z"},
    }
    second = {
        "table_version": 8,
        "reconcile": {"started_at": "2024-06-01T00:00:00Z", "until": "2024-05-01T00:00:00Z"},
    }

    assert merged_window_state(first, second) is None
    one_pending = merged_window_state(first, {"table_version": 9})
    assert one_pending is not None
    assert one_pending["reconcile"] == first["reconcile"]
    assert one_pending["table_version"] == 7, "the re-read goes on in its own version"


def test_one_reconcile_read_further_by_one_stream_goes_on_from_the_stream_behind() -> None:
    started = "2024-05-01T00:00:00Z"
    behind = {"started_at": started, "until": "2024-04-01T00:00:00Z", "read_to": None}
    further = {
        "started_at": started,
        "until": "2024-04-03T00:00:00Z",
        "read_to": "2024-02-01T00:00:00Z",
    }

    merged = merged_window_state(
        {"table_version": 7, "reconcile": behind}, {"table_version": 7, "reconcile": further}
    )

    assert merged is not None
    assert merged["reconcile"] == {**behind, "until": "2024-04-03T00:00:00Z"}
    assert merged["table_version"] == 7
