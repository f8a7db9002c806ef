"""A new user's first hour: the mistakes that must cost one clear line, not quota or trust."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gong_sandbox import GongSandbox
from tests.support import TapRun, run_tap, sandbox_settings, start_tap, tap_config, tap_executable
from tests.test_errors import assert_clean_failure


def calls_requested_from(sandbox: GongSandbox) -> list[str]:
    return [r.query["fromDateTime"] for r in sandbox.requests if r.path == "/v2/calls"]


@pytest.mark.parametrize(
    ("wrap", "said"),
    [
        (lambda state: {"type": "STATE", "value": state}, "a STATE message"),
        (lambda state: {"singer_state": state}, "Meltano's state"),
    ],
)
def test_a_saved_state_message_or_meltano_state_resumes_instead_of_starting_over(
    wrap: object, said: str, sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = tap_config(sandbox)
    first = run_tap(config, tmp_path)
    sandbox.reset_log()

    second = run_tap(config, tmp_path, state=wrap(first.final_state))  # type: ignore[operator]

    assert second.returncode == 0, second.stderr
    assert said in second.stderr
    assert min(calls_requested_from(sandbox)) > config["start_date"].replace("+00:00", "Z")
    assert len(second.records("calls")) < len(first.records("calls"))


@pytest.mark.parametrize("state", [{"value": {}}, {"calls": "2024-01-01"}, [], {"type": "STATE"}])
def test_a_state_that_is_not_one_tap_gong_wrote_is_refused_before_any_request(
    state: object, sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_tap(tap_config(sandbox), tmp_path, state=state)  # type: ignore[arg-type]

    assert_clean_failure(run, "state file has no `bookmarks`")
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("api_url", "reason"),
    [
        ("https://gong-tenant.invalid", "does not resolve"),  # .invalid never resolves
        (None, "TLS failed"),  # https:// to the sandbox, which speaks plain HTTP
    ],
)
def test_an_unreachable_or_mistyped_host_is_one_line_naming_api_url_within_seconds(
    api_url: str | None, reason: str, sandbox: GongSandbox, tmp_path: Path
) -> None:
    url = api_url or sandbox.url.replace("http://127.0.0.1", "https://localhost")
    started = time.monotonic()

    run = run_tap(tap_config(sandbox, api_url=url), tmp_path)

    assert time.monotonic() - started < 15
    assert_clean_failure(run, reason, "check api_url")
    assert "Retrying" not in run.stderr


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_run_exits_non_zero_with_its_state_written(
    signal_number: int, tmp_path: Path
) -> None:
    with GongSandbox(sandbox_settings(latency_seconds=0.3)) as sandbox:
        tap = start_tap(tap_config(sandbox, calls_window_days=2), tmp_path)
        assert tap.stdout is not None
        lines = []
        for line in tap.stdout:
            lines.append(json.loads(line))
            if lines[-1]["type"] == "STATE" and lines[-1]["value"]["bookmarks"].get("calls"):
                break  # a window is finished
        tap.send_signal(signal_number)
        lines += [json.loads(line) for line in tap.stdout]
        returncode = tap.wait(timeout=30)
        tap.stdout.close()

    assert returncode == 128 + signal_number
    assert lines[-1]["type"] == "STATE"
    assert lines[-1]["value"]["bookmarks"]["calls"]["replication_key_value"]


# The tap's command, with a signal arriving while it imports the SDK (before the SDK's own
# handlers exist): what an orchestrator's timeout does to a run as it starts.
SIGNAL_WHILE_STARTING = """
import os, signal, sys

class SignalWhileImportingTheTap:
    def find_spec(self, name, path=None, target=None):
        if name == "tap_gong.tap":
            os.kill(os.getpid(), signal.{name})
        return None

sys.meta_path.insert(0, SignalWhileImportingTheTap())
from tap_gong.cli import main
main()
"""


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_run_interrupted_as_it_starts_exits_non_zero_in_one_line(signal_number: int) -> None:
    name = signal.Signals(signal_number).name
    run = subprocess.run(
        [sys.executable, "-c", SIGNAL_WHILE_STARTING.replace("{name}", name)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 128 + signal_number
    assert run.stdout == ""
    assert run.stderr.strip().splitlines() == [
        f"Interrupted by {name} before the run started: nothing was extracted."
    ]


def test_a_missing_config_file_is_one_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"

    run = run_tap_with_config_file(missing, tmp_path)

    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"Error: Cannot read the config file {missing}: No such file or directory."
    ]


def test_a_config_file_that_is_not_json_is_one_line_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "config.json"
    broken.write_text('{"start_date": "2024-01-01",}')

    run = run_tap_with_config_file(broken, tmp_path)

    assert run.returncode == 1
    [line] = run.stderr.strip().splitlines()
    assert line.startswith(f"Error: The config file {broken} is not valid JSON")


def run_tap_with_config_file(path: Path, tmp_path: Path) -> TapRun:
    completed = subprocess.run(
        [tap_executable(), "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    return TapRun(completed.returncode, completed.stdout, completed.stderr)


def test_an_unknown_setting_is_warned_with_the_closest_known_one(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_tap(tap_config(sandbox, lookback_window_day=3), tmp_path)

    assert run.returncode == 0, run.stderr
    assert (
        "Unknown setting 'lookback_window_day' is ignored. Did you mean lookback_window_days?"
        in (run.stderr)
    )


def test_a_start_date_in_the_future_is_warned(sandbox: GongSandbox, tmp_path: Path) -> None:
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)).date().isoformat()

    run = run_tap(tap_config(sandbox, start_date=future, end_date=None), tmp_path)

    assert run.returncode == 0, run.stderr
    assert f"start_date={future} is in the future" in run.stderr


def test_a_sync_says_the_work_ahead_and_closes_with_one_summary_per_stream_and_run(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_tap(tap_config(sandbox, calls_window_days=5), tmp_path)

    assert run.returncode == 0, run.stderr
    calls = len(run.records("calls"))
    windows = {r.query["fromDateTime"] for r in sandbox.requests if r.path == "/v2/calls"}
    assert f"calls: {len(windows)} date windows to extract" in run.stderr
    assert f"calls: done: {calls} records, " in run.stderr
    assert "interaction_stats: done: " in run.stderr
    total = calls + len(run.records("interaction_stats"))
    assert f"Run: {total} records, {len(sandbox.requests)} requests, 0 retries" in run.stderr
    assert "METRIC" not in run.stderr  # the SDK's per-request lines are off by default


def test_metrics_when_asked_for_never_call_a_no_data_answer_failed(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings(calls=40, days=10)) as sandbox:
        start = (sandbox.now() - dt.timedelta(days=20)).isoformat()
        run = run_tap(tap_config(sandbox, start_date=start, log_metrics=True), tmp_path)

        assert run.returncode == 0, run.stderr
        assert sandbox.counters()["404"] > 0
        request_metrics = [
            json.loads(line.split("METRIC: ", 1)[1])
            for line in run.stderr.splitlines()
            if "http_request_duration" in line
        ]
        assert len(request_metrics) == len(sandbox.requests)
        assert {m["tags"]["status"] for m in request_metrics} == {"succeeded"}


def test_a_handled_error_is_one_line_without_the_sdks_unhandled_error_line(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_tap(tap_config(sandbox, access_key_secret="wrong"), tmp_path)

    assert_clean_failure(run, "HTTP 401")
    assert "An unhandled error occurred" not in run.stderr
