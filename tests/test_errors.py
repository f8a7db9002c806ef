"""Bad config, bad state and bad answers from Gong: one clear line, never a traceback."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from gong_sandbox import GongSandbox
from tests.support import TapRun, all_stream_names, run_tap, tap_config


def error_lines(run: TapRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if "ERROR" in line or "Error:" in line]


def assert_clean_failure(run: TapRun, *expected: str) -> None:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert any(all(text in line for text in expected) for line in error_lines(run)), run.stderr


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({}, "Set access_key and access_key_secret (HTTP Basic), or access_token (OAuth)."),
        ({"access_key": "k"}, "access_key and access_key_secret go together"),
        (
            {"access_key": "k", "access_key_secret": "s", "access_token": "t"},
            "keep one auth method",
        ),
    ],
)
def test_not_exactly_one_auth_method_is_one_line(
    auth: dict, message: str, sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = tap_config(sandbox)
    for name in ("access_key", "access_key_secret"):
        config.pop(name)
    run = run_tap({**config, **auth}, tmp_path)

    assert_clean_failure(run, message)
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("start_date", "last tuesday", "start_date='last tuesday' is not ISO-8601"),
        ("api_url", "http://gong.example.com", "must be an https:// URL"),
        ("lookback_window_days", -1, "lookback_window_days"),
    ],
)
def test_bad_setting_is_one_line_naming_it(
    setting: str, value: object, message: str, sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_tap({**tap_config(sandbox), setting: value}, tmp_path)

    assert_clean_failure(run, message)


def test_missing_start_date_is_named(sandbox: GongSandbox, tmp_path: Path) -> None:
    config = tap_config(sandbox)
    del config["start_date"]

    assert_clean_failure(run_tap(config, tmp_path), "start_date")


def test_date_only_start_date_is_accepted(sandbox: GongSandbox, tmp_path: Path) -> None:
    config = tap_config(
        sandbox, start_date=(sandbox.now() - dt.timedelta(days=3)).date().isoformat()
    )

    run = run_tap(config, tmp_path)

    assert run.returncode == 0, run.stderr
    assert run.records("calls")


def test_wrong_credentials_stop_with_the_auth_settings_named(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_tap(tap_config(sandbox, access_key_secret="wrong-secret"), tmp_path)

    assert_clean_failure(run, "HTTP 401", "access_key and access_key_secret")
    assert "wrong-secret" not in run.stderr


def test_bearer_token_authenticates(sandbox: GongSandbox, tmp_path: Path) -> None:
    config = tap_config(sandbox)
    del config["access_key"], config["access_key_secret"]

    run = run_tap({**config, "access_token": sandbox.settings.access_token}, tmp_path)

    assert run.returncode == 0, run.stderr
    assert {r.auth for r in sandbox.requests} == {"bearer"}


def test_state_the_tap_did_not_write_is_one_line(sandbox: GongSandbox, tmp_path: Path) -> None:
    state = {"bookmarks": {"calls": {"replication_key_value": "yesterday-ish"}}}

    run = run_tap(tap_config(sandbox), tmp_path, state=state)

    assert_clean_failure(run, "bookmark for 'calls'", "yesterday-ish")
    assert sandbox.requests == []


@pytest.mark.parametrize(
    "probe",
    [
        "yes",
        {"next_days": "8"},
        {"next_days": 0},
        {"next_days": True},
        {"next_days": 8, "data_before": "soon"},
        {"next_days": 8, "data_before": "2024-03-01"},  # not after the bookmark's next day
    ],
)
def test_an_empty_history_probe_the_tap_did_not_write_is_one_line(
    probe: object, sandbox: GongSandbox, tmp_path: Path
) -> None:
    stats = {"replication_key_value": "2024-03-01", "empty_history_probe": probe}
    state = {"bookmarks": {"interaction_stats": stats}}

    run = run_tap(tap_config(sandbox), tmp_path, state=state)

    assert_clean_failure(run, "empty_history_probe for 'interaction_stats'", repr(probe))
    assert sandbox.requests == []


def test_state_file_that_is_not_json_is_one_line(sandbox: GongSandbox, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text("{not json")

    run = run_tap(tap_config(sandbox), tmp_path, extra_args=("--state", str(state_file)))

    assert_clean_failure(run, "state file is not valid JSON")


def test_rate_limited_request_waits_retry_after_then_goes_on(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    sandbox.configure(retry_after_seconds=2)
    sandbox.fail_next("429")
    started = time.monotonic()

    run = run_tap(tap_config(sandbox), tmp_path)

    assert run.returncode == 0, run.stderr
    assert sandbox.counters()["429"] == 1
    rejected, *others = sandbox.requests
    assert rejected.status == 429
    # Requests sent with it arrive at once; once it is answered, none for Retry-After.
    after_it = [entry.at - rejected.at for entry in others]
    assert not any(0.2 < seconds < 2.0 for seconds in after_it)
    assert any(seconds >= 2.0 for seconds in after_it)
    assert time.monotonic() - started < 30
    assert {r["id"] for r in run.records("calls")} == {c["id"] for c in sandbox.calls()}


def test_day_gong_says_is_not_over_is_left_for_the_next_run(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    # The tap's clock a day ahead of Gong's: Gong refuses the last day with a 400.
    ahead = (sandbox.now() + dt.timedelta(days=1)).isoformat()

    run = run_tap(tap_config(sandbox, end_date=ahead), tmp_path)

    assert run.returncode == 0, run.stderr
    assert sandbox.counters()["400"] == 1
    assert "is not over yet" in run.stderr
    last_complete_day = sandbox.company_today() - dt.timedelta(days=1)
    assert run.bookmark("interaction_stats") == last_complete_day.isoformat()


def test_a_400_about_to_date_for_a_day_long_over_stops_the_run_with_gongs_words(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    # The tap's clock two days ahead of Gong's: Gong refuses a day that is over for the
    # tap too, which no later run would fix.
    ahead = (sandbox.now() + dt.timedelta(days=2)).isoformat()

    run = run_tap(tap_config(sandbox, end_date=ahead), tmp_path)

    assert run.returncode == 1
    assert "toDate cannot be later than the current day" in run.stderr
    assert "is not over yet" not in run.stderr
    last_day_gong_accepts = sandbox.company_today() - dt.timedelta(days=1)
    assert run.bookmark("interaction_stats") == last_day_gong_accepts.isoformat()


def test_answer_slower_than_the_read_timeout_is_retried(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    sandbox.fail_next("timeout")  # the sandbox holds this answer for 5 s

    run = run_tap(tap_config(sandbox, request_timeout_seconds=1), tmp_path)

    assert run.returncode == 0, run.stderr
    assert "Timeout" in run.stderr
    assert {r["id"] for r in run.records("calls")} == {c["id"] for c in sandbox.calls()}


def test_connection_test_reports_bad_config_in_one_line(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = tap_config(sandbox)
    del config["access_key_secret"]

    run = run_tap(config, tmp_path, extra_args=("--test",))

    assert_clean_failure(run, "access_key and access_key_secret go together")


def test_connection_test_passes_against_gong(sandbox: GongSandbox, tmp_path: Path) -> None:
    run = run_tap(tap_config(sandbox), tmp_path, extra_args=("--test",))

    assert run.returncode == 0, run.stderr
    # --test reads one record of every stream.
    assert {m["stream"] for m in run.messages if m["type"] == "RECORD"} == all_stream_names()
