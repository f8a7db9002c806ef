"""reconcile_every_days: the call streams and answered scorecards re-read their history;
versions say what is gone.

Every record carries its stream's table version in every run; ACTIVATE_VERSION goes out
only after the last record of a complete re-read, so a target never marks rows deleted
from a partial one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from gong_sandbox import GongSandbox
from tests.support import SANDBOX_NOW, TapRun, instant, run_tap, tap_config

CALL_STREAMS = ("calls", "call_details", "call_participants", "call_transcripts")


def run_calls(
    sandbox: GongSandbox, tmp_path: Path, state: dict | None = None, **config: Any
) -> TapRun:
    """A run of the four call streams, the tap's clock at the sandbox's."""
    run = run_tap(tap_config(sandbox, **config), tmp_path, state, streams=CALL_STREAMS)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def record_versions(run: TapRun) -> dict[str, set[Any]]:
    """Each stream's record versions in the run (None: a record without one)."""
    versions: dict[str, set[Any]] = {}
    for message in run.messages:
        if message["type"] == "RECORD":
            versions.setdefault(message["stream"], set()).add(message.get("version"))
    return versions


def activations(run: TapRun) -> dict[str, list[int]]:
    """Each stream's ACTIVATE_VERSION versions, in the order sent."""
    sent: dict[str, list[int]] = {}
    for message in run.messages:
        if message["type"] == "ACTIVATE_VERSION":
            sent.setdefault(message["stream"], []).append(message["version"])
    return sent


def one_version_each(run: TapRun) -> dict[str, int]:
    """The one version every record of each stream carries (fails on none or several)."""
    versions = record_versions(run)
    assert set(versions) == set(CALL_STREAMS)
    assert all(len(found) == 1 and None not in found for found in versions.values()), versions
    return {stream: next(iter(found)) for stream, found in versions.items()}


def call_ids(run: TapRun, stream: str) -> set[str]:
    key = "id" if stream in ("calls", "call_details") else "callId"
    return {record[key] for record in run.records(stream)}


def test_every_record_of_every_run_carries_the_table_version_kept_until_a_reconcile(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    backfill = run_calls(sandbox, tmp_path)
    rerun = run_calls(sandbox, tmp_path, backfill.final_state)
    reconcile = run_calls(sandbox, tmp_path, rerun.final_state, reconcile_every_days=0)
    after = run_calls(sandbox, tmp_path, reconcile.final_state, reconcile_every_days=7)

    first = one_version_each(backfill)
    # call_details' children carry its version: its bookmark and re-read cover them.
    assert {first[s] for s in CALL_STREAMS[1:]} == {first["call_details"]}
    assert one_version_each(rerun) == first
    reconciled = one_version_each(reconcile)
    assert all(reconciled[s] > first[s] for s in CALL_STREAMS)
    assert one_version_each(after) == reconciled


def test_activate_version_only_after_every_record_of_a_complete_reread_in_its_version(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    reconcile = run_calls(sandbox, tmp_path, reconcile_every_days=0)

    versions = one_version_each(reconcile)
    assert activations(reconcile) == {stream: [versions[stream]] for stream in CALL_STREAMS}
    for stream in CALL_STREAMS:
        positions = [n for n, m in enumerate(reconcile.messages) if m.get("stream") == stream]
        kinds = [reconcile.messages[n]["type"] for n in positions]
        assert kinds[-1] == "ACTIVATE_VERSION", stream
        assert "RECORD" in kinds
    # The STATE after it says the re-read is done: the next run starts none.
    assert "reconcile" not in reconcile.final_state["bookmarks"]["calls"]


def test_normal_runs_send_no_activate_version(sandbox: GongSandbox, tmp_path: Path) -> None:
    backfill = run_calls(sandbox, tmp_path)
    rerun = run_calls(sandbox, tmp_path, backfill.final_state)
    reconcile = run_calls(sandbox, tmp_path, rerun.final_state, reconcile_every_days=7)
    sandbox.add_calls(5)
    not_due = run_calls(sandbox, tmp_path, reconcile.final_state, reconcile_every_days=7)

    assert activations(backfill) == activations(rerun) == {}
    assert set(activations(reconcile)) == set(CALL_STREAMS), "never reconciled: due at once"
    assert activations(not_due) == {}
    assert call_ids(not_due, "calls"), "the run read new calls all the same"


def test_a_reconcile_is_due_once_reconcile_every_days_passed_since_the_last_one_started(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    reconcile = run_calls(sandbox, tmp_path, reconcile_every_days=7)
    sandbox.advance_clock(dt.timedelta(days=6, hours=23))
    early = run_calls(sandbox, tmp_path, reconcile.final_state, reconcile_every_days=7)
    sandbox.advance_clock(dt.timedelta(hours=1))
    due = run_calls(sandbox, tmp_path, early.final_state, reconcile_every_days=7)

    assert set(activations(reconcile)) == set(CALL_STREAMS)
    assert activations(early) == {}
    assert set(activations(due)) == set(CALL_STREAMS)
    assert call_ids(due, "calls") == {call["id"] for call in sandbox.calls()}


@pytest.mark.parametrize("after_a_backfill", [True, False], ids=["after-backfill", "first-run"])
def test_an_interrupted_reconcile_activates_nothing_and_later_runs_finish_it_in_its_version(
    sandbox: GongSandbox, tmp_path: Path, after_a_backfill: bool
) -> None:
    backfill = run_calls(sandbox, tmp_path, calls_window_days=2) if after_a_backfill else None
    budget = {
        "calls_window_days": 2,
        "max_requests_per_run": 10,
        "max_concurrent_requests": 1,
        # Due at once (the backfill started none); not again while it goes on.
        "reconcile_every_days": 7,
    }
    runs = [run_calls(sandbox, tmp_path, backfill.final_state if backfill else None, **budget)]
    gong_holds = [{call["id"] for call in sandbox.calls()}]
    new_calls = []
    while "max_requests_per_run=10" in runs[-1].stderr and len(runs) < 20:
        # Gong moves on meanwhile: a reconcile must not hold back new calls.
        sandbox.advance_clock(dt.timedelta(hours=6))
        new_calls.append(sandbox.add_calls(3, start=sandbox.now() - dt.timedelta(hours=5)))
        runs.append(run_calls(sandbox, tmp_path, runs[-1].final_state, **budget))
        gong_holds.append({call["id"] for call in sandbox.calls()})

    assert 2 < len(runs) < 20
    assert activations(runs[0]) == {}
    # One new version per stream across every run of the re-read.
    versions = {}
    for stream in CALL_STREAMS:
        (versions[stream],) = set().union(*(record_versions(run).get(stream, ()) for run in runs))
        if backfill is not None:
            assert versions[stream] > one_version_each(backfill)[stream]
    for stream in CALL_STREAMS:
        activated = [n for n, run in enumerate(runs) if stream in activations(run)]
        assert len(activated) == 1, stream
        done = activated[0]
        assert activations(runs[done])[stream] == [versions[stream]]
        if stream in ("calls", "call_details"):
            read = set().union(*(call_ids(run, stream) for run in runs[: done + 1]))
            assert read == gong_holds[done], f"{stream}: activated before the history was read"
    # A backfill reads oldest first; a reconcile reads the run's own windows first.
    for added, run in zip(new_calls if backfill else [], runs[1:], strict=False):
        assert {call["id"] for call in added} <= call_ids(run, "call_details"), "next run"


def test_calls_deleted_in_gong_are_absent_from_the_reconcile_run(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    backfill = run_calls(sandbox, tmp_path)
    # Calls with parties and a transcript, so every call stream has rows of them.
    with_rows = call_ids(backfill, "call_participants") & call_ids(backfill, "call_transcripts")
    calls = [call for call in sandbox.calls() if call["id"] in with_rows]
    old = calls[0]
    recent = next(c for c in calls if SANDBOX_NOW - instant(c["started"]) < dt.timedelta(hours=20))
    conference = next(c for c in calls if c["direction"] == "Conference" and c is not old)
    deleted = {old["id"], recent["id"], conference["id"]}
    sandbox.delete_calls(deleted)

    reconcile = run_calls(sandbox, tmp_path, backfill.final_state, reconcile_every_days=0)

    remaining = {call["id"] for call in sandbox.calls()}
    for stream in CALL_STREAMS:
        assert not call_ids(reconcile, stream) & deleted, stream
    assert call_ids(reconcile, "calls") == call_ids(reconcile, "call_details") == remaining
    assert set(activations(reconcile)) == set(CALL_STREAMS)


def test_a_late_call_outside_the_lookback_arrives_in_the_reconcile_run(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    backfill = run_calls(sandbox, tmp_path)
    late = sandbox.add_calls(
        2, start=SANDBOX_NOW - dt.timedelta(days=15), end=SANDBOX_NOW - dt.timedelta(days=14)
    )
    late_ids = {call["id"] for call in late}

    normal = run_calls(sandbox, tmp_path, backfill.final_state)
    reconcile = run_calls(sandbox, tmp_path, normal.final_state, reconcile_every_days=0)

    assert not late_ids & call_ids(normal, "calls")
    assert late_ids <= call_ids(reconcile, "calls")
    assert late_ids <= call_ids(reconcile, "call_details")


def test_a_reconcile_state_the_tap_did_not_write_is_refused_in_one_line(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    backfill = run_calls(sandbox, tmp_path, reconcile_every_days=7)
    state = backfill.final_state
    state["bookmarks"]["calls"]["reconcile"] = "yes"  # call_details' own stays valid

    broken = run_tap(
        tap_config(sandbox, reconcile_every_days=7), tmp_path, state, streams=CALL_STREAMS
    )

    assert broken.returncode == 1
    assert broken.stderr.strip().splitlines()[-1] == (
        "Error: The state's reconcile for 'calls' is 'yes', not a value tap-gong writes: pass "
        "the state the tap emitted, or no state to start from start_date."
    )
    assert "Traceback" not in broken.stderr


def test_a_reconcile_rereads_every_answered_scorecard_and_activates_their_version(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    reviews = ("answered_scorecards",)
    backfill = run_tap(tap_config(sandbox), tmp_path, streams=reviews)
    first_review, *_ = sandbox.answered_scorecards()
    sandbox.delete_calls([str(first_review["callId"])])  # its reviews go with it
    # Answers changed two weeks after their review day: later than late-data re-reads look.
    old_day = sandbox.company_today() - dt.timedelta(days=14)
    old_review, *_ = sandbox.answered_scorecards(
        review_from=old_day, review_to=old_day + dt.timedelta(days=1)
    )
    edited = sandbox.edit_answered_scorecard(old_review["answeredScorecardId"])
    edited_id = str(edited["answeredScorecardId"])

    normal = run_tap(tap_config(sandbox), tmp_path, backfill.final_state, streams=reviews)
    reconcile = run_tap(
        tap_config(sandbox, reconcile_every_days=0), tmp_path, normal.final_state, streams=reviews
    )

    assert reconcile.returncode == 0, reconcile.stderr
    assert edited_id not in {r["answeredScorecardId"] for r in normal.records(reviews[0])}
    records = {r["answeredScorecardId"]: r for r in reconcile.records(reviews[0])}
    assert set(records) == {str(r["answeredScorecardId"]) for r in sandbox.answered_scorecards()}
    assert str(first_review["answeredScorecardId"]) not in records
    assert [a["score"] for a in records[edited_id]["answers"]] == [
        a["score"] for a in edited["answers"]
    ]
    (version,) = record_versions(reconcile)[reviews[0]]
    (backfill_version,) = record_versions(backfill)[reviews[0]]
    assert version > backfill_version
    assert activations(reconcile) == {reviews[0]: [version]}
    kinds = [m["type"] for m in reconcile.messages if m.get("stream") == reviews[0]]
    assert kinds[-1] == "ACTIVATE_VERSION"  # after every record
