"""How a run ends: a stream Gong refuses fails alone, the summary says how each stream ended.

A real company often grants only some API scopes: one refused stream must not stop the
others, and the run must still exit non-zero, naming the stream, Gong's words and the
scope it needs, so that Meltano shows the run failed.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from collections import Counter
from pathlib import Path

import pytest

from gong_sandbox import GongSandbox
from tests.support import (
    TapRun,
    expected_stats,
    run_tap,
    sandbox_settings,
    start_tap,
    tap_config,
)
from tests.test_oauth_tap import oauth_config

TRANSCRIPT_SCOPE = "api:calls:read:transcript"
CALL_FAMILY = ("call_details", "call_participants", "call_transcripts")
WINDOWED_PATHS = (
    "/v2/stats/activity/scorecards",
    "/v2/calls/extensive",
    "/v2/stats/interaction",
    "/v2/stats/activity/day-by-day",
)


def error_lines(run: TapRun) -> list[str]:
    """What the run ended with: click's `Error:` and the lines that follow it."""
    lines = run.stderr.splitlines()
    first = next((n for n, line in enumerate(lines) if line.startswith("Error: ")), len(lines))
    return lines[first:]


def summary_line(run: TapRun, stream: str) -> str:
    """The run summary's line for `stream`."""
    return next(line for line in run.stderr.splitlines() if line.startswith(f"  {stream}: "))


@pytest.mark.parametrize("status", [401, 403])
def test_a_stream_gong_refuses_fails_alone_and_every_other_stream_runs_to_its_end(
    status: int, tmp_path: Path
) -> None:
    settings = sandbox_settings(
        withheld_scopes=frozenset({TRANSCRIPT_SCOPE}), scope_refusal_status=status
    )
    with GongSandbox(settings) as sandbox:
        config = tap_config(sandbox)

        run = run_tap(config, tmp_path, streams=None)

        assert run.returncode == 1
        assert "Traceback" not in run.stderr
        assert error_lines(run) == [
            f"Error: 'call_transcripts' failed: Gong refused it (HTTP {status}): You don't "
            f"have permission to use '{TRANSCRIPT_SCOPE}' in your company. It needs the API "
            f"scope {TRANSCRIPT_SCOPE}: grant it to the access key or OAuth app, or deselect "
            "the stream."
        ]
        # Every stream synced after the refused one, and before it, ran to its end.
        assert {r["id"] for r in run.records("calls")} == {c["id"] for c in sandbox.calls()}
        stats = {(r["userId"], r["fromDate"]) for r in run.records("interaction_stats")}
        assert stats == set(expected_stats(sandbox, config))
        assert {r["id"] for r in run.records("users")} == {u["id"] for u in sandbox.users()}
        assert len(run.records("workspaces")) == len(sandbox.workspaces())
        bookmarks = run.final_state["bookmarks"]
        for stream in ("calls", "interaction_stats", "user_activity", "answered_scorecards"):
            assert "replication_key_value" in bookmarks[stream], stream
        # The refused stream's family stops at its last finished window (none here).
        assert "replication_key_value" not in bookmarks["call_details"]
        assert summary_line(run, "call_transcripts").startswith("  call_transcripts: failed: ")
        assert summary_line(run, "call_details").startswith(
            "  call_details: stopped: with call_transcripts"
        )
        assert summary_line(run, "calls").startswith("  calls: finished (")
        # A stream that made one request says so in the singular.
        assert re.search(r" 1 request[);]", run.stderr)
        assert not re.search(r"[ (]1 requests", run.stderr)


def test_once_the_scope_is_granted_the_next_run_delivers_what_the_refused_family_missed(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings(withheld_scopes=frozenset({TRANSCRIPT_SCOPE}))) as sandbox:
        config = tap_config(sandbox)
        refused = run_tap(config, tmp_path, streams=CALL_FAMILY)
        sandbox.configure(withheld_scopes=frozenset())

        granted = run_tap(config, tmp_path, state=refused.final_state, streams=CALL_FAMILY)

        assert refused.returncode == 1
        assert granted.returncode == 0, granted.stderr
        delivered = {r["callId"] for r in refused.records("call_transcripts")} | {
            r["callId"] for r in granted.records("call_transcripts")
        }
        assert delivered == {t["callId"] for t in sandbox.transcripts()}
        details = {r["id"] for run in (refused, granted) for r in run.records("call_details")}
        assert details == {c["id"] for c in sandbox.calls()}


def test_wrong_credentials_say_check_the_credentials_and_name_no_scope(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings()) as sandbox:
        run = run_tap(tap_config(sandbox, access_key_secret="wrong"), tmp_path, streams=None)

        assert run.returncode == 1
        [line] = error_lines(run)
        assert line.startswith("Error: Gong refused the credentials (HTTP 401 at ")
        assert "scope" not in line
        # The first refusal stops the run: no stream after it sends a request.
        assert len(sandbox.requests) <= 8  # at most the requests already in flight


def test_a_missing_scope_spends_no_oauth_refresh_token(tmp_path: Path) -> None:
    settings = sandbox_settings(withheld_scopes=frozenset({"api:stats:interaction"}))
    with GongSandbox(settings) as sandbox:
        config = oauth_config(sandbox, tmp_path)

        run = run_tap(config, tmp_path)

        assert run.returncode == 1
        assert "'interaction_stats' failed" in run.stderr
        assert sandbox.oauth.refreshes == 1  # the run's first token, no renewal for the 401
        assert {r["id"] for r in run.records("calls")} == {c["id"] for c in sandbox.calls()}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_retry_waits_its_backoff_even_when_no_connection_opens(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings()) as sandbox:
        config = tap_config(sandbox, api_url=f"http://127.0.0.1:{closed_port()}", max_retries=2)

        started = time.monotonic()
        run = run_tap(config, tmp_path, streams=("users",))
        took = time.monotonic() - started

        assert run.returncode == 1
        # Two backoffs, of 2^n s x (0.5 to 1): at least 1 + 2 s, however fast a refusal is.
        assert took >= 3.0
        assert "An unhandled error occurred" not in run.stderr
        assert "Traceback" not in run.stderr
        assert [line for line in error_lines(run) if "Connection refused" in line]


def test_the_run_summary_counts_page_children_and_their_sync_is_announced_once(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings()) as sandbox:
        run = run_tap(tap_config(sandbox, calls_window_days=2), tmp_path, streams=CALL_FAMILY)

        assert run.returncode == 0, run.stderr
        records = sum(m["type"] == "RECORD" for m in run.messages)
        assert f"Run: {records:,} records, {len(sandbox.requests)} requests" in run.stderr
        for child in ("call_participants", "call_transcripts"):
            assert run.stderr.count(f"Beginning sync of '{child}'") == 1
            assert run.stderr.count(f"Starting incremental sync of '{child}'") <= 1
            emitted = len(run.records(child))
            assert summary_line(run, child).startswith(f"  {child}: finished ({emitted:,} records")


def test_a_small_budget_is_shared_and_said_once(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings()) as sandbox:
        # About 2 for each of the 10 streams run in turn (activity_by_period the tenth).
        run = run_tap(tap_config(sandbox, max_requests_per_run=22), tmp_path, streams=None)

        assert run.returncode == 0, run.stderr
        assert len(sandbox.requests) <= 22
        assert run.stderr.count("max_requests_per_run=22") == 1
        # Without shares, the first streams' windows would take it all: each windowed
        # stream moves forward.
        paths = Counter(r.path for r in sandbox.requests)
        for path in WINDOWED_PATHS:
            assert paths[path] >= 1, (path, paths)
        assert run.records("calls"), "calls moves forward in call_details' pages"
        assert "stopped by the budget" in summary_line(run, "interaction_stats")


def test_another_tools_state_is_refused_in_one_line(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings()) as sandbox:
        state = {"bookmarks": {"gong_calls": {"replication_key_value": "2024-03-01"}}}

        run = run_tap(tap_config(sandbox), tmp_path, state=state)

        assert run.returncode == 1
        assert error_lines(run) == [
            "Error: The state's bookmarks name streams tap-gong does not have (gong_calls): it "
            "is another tool's state. Pass the state tap-gong emitted, or no --state to start "
            "from start_date."
        ]
        assert sandbox.requests == []


@pytest.mark.parametrize(
    ("waiting_for", "sandbox_knobs"),
    [
        ("an answer", {"latency_seconds": 30.0}),
        ("a turn (Retry-After)", {"requests_per_second": 1, "retry_after_seconds": 60}),
    ],
)
def test_a_run_interrupted_while_waiting_writes_its_state_and_exits_at_once(
    waiting_for: str, sandbox_knobs: dict, tmp_path: Path
) -> None:
    with GongSandbox(sandbox_settings()) as sandbox:
        config = tap_config(sandbox, calls_window_days=2, max_concurrent_requests=1)
        tap = start_tap(config, tmp_path)
        assert tap.stdout is not None
        lines = []
        for line in tap.stdout:
            lines.append(json.loads(line))
            if lines[-1]["type"] == "STATE" and lines[-1]["value"]["bookmarks"].get("calls"):
                break  # a window is finished: now every request waits
        sandbox.configure(**sandbox_knobs)
        time.sleep(1.5)
        interrupted = time.monotonic()
        tap.send_signal(signal.SIGTERM)
        lines += [json.loads(line) for line in tap.stdout]
        returncode = tap.wait(timeout=30)
        tap.stdout.close()

    assert returncode == 143, waiting_for
    assert time.monotonic() - interrupted < 5
    assert lines[-1]["type"] == "STATE"
    assert lines[-1]["value"]["bookmarks"]["calls"]["replication_key_value"]


def test_a_budget_too_small_for_every_stream_is_warned_about(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings()) as sandbox:
        run = run_tap(tap_config(sandbox, max_requests_per_run=5), tmp_path, streams=None)

        assert run.returncode == 0, run.stderr
        assert (
            "max_requests_per_run=5 is less than 2 requests for each of the 10 streams run in "
            "turn: each run moves only some of them (those it stalled go first next run). Raise "
            "it, or select fewer streams."
        ) in run.stderr
