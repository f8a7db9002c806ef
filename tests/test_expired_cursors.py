"""Gong's page cursors expire: a window whose cursor Gong refuses is read again, once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from gong_sandbox import GongSandbox
from tests.support import (
    TAP_TIMEOUT_SECONDS,
    run_tap,
    sandbox_settings,
    tap_command,
    tap_config,
)

CALLS_ONLY = ("calls",)


def test_a_window_whose_cursor_expired_in_a_retry_after_hold_is_read_again_with_nothing_lost(
    tmp_path: Path,
) -> None:
    settings = sandbox_settings(page_size=5, latency_seconds=0.05, retry_after_seconds=2)
    with GongSandbox(settings) as sandbox:
        sandbox.configure(cursor_ttl_seconds=1.0)
        stderr = tmp_path / "stderr.txt"
        with stderr.open("w") as log:
            tap = subprocess.Popen(
                tap_command(tap_config(sandbox), tmp_path, streams=CALLS_ONLY),
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
            assert tap.stdout is not None
            lines = []
            for line in tap.stdout:
                lines.append(line)
                if json.loads(line)["type"] == "RECORD":
                    break
            # Mid-window: the next request is held 2 s, past its cursor's lifetime.
            sandbox.fail_next("429")
            lines.extend(tap.stdout)
            returncode = tap.wait(timeout=TAP_TIMEOUT_SECONDS)
            tap.stdout.close()

        messages = [json.loads(line) for line in lines]
        assert returncode == 0, stderr.read_text()
        counters = sandbox.counters()
        assert counters["429"] == 1
        assert counters["400"] >= 1
        assert "cursor has expired" in stderr.read_text()
        assert "again from its first page" in stderr.read_text()
        records = [m["record"] for m in messages if m["type"] == "RECORD"]
        assert {r["id"] for r in records} == {c["id"] for c in sandbox.calls()}
        assert len(records) > len(sandbox.calls())  # the restarted pages came twice


def test_a_window_whose_cursor_expires_again_further_on_is_read_again_each_time(
    tmp_path: Path,
) -> None:
    settings = sandbox_settings(page_size=5, latency_seconds=0.05, retry_after_seconds=2)
    with GongSandbox(settings) as sandbox:
        sandbox.configure(cursor_ttl_seconds=1.0)
        config = tap_config(sandbox, max_concurrent_requests=1, calls_window_days=30)
        with subprocess.Popen(
            tap_command(config, tmp_path, streams=CALLS_ONLY),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as tap:
            assert tap.stdout is not None
            records = []
            for line in tap.stdout:
                message = json.loads(line)
                if message["type"] == "RECORD":
                    records.append(message["record"])
                    # On page 2, then on page 6 of the restarted window: each wait is held
                    # 2 s, past its cursor's lifetime.
                    if len(records) in (6, 10 + 26):
                        sandbox.fail_next("429")
            stderr = tap.stderr.read() if tap.stderr else ""
            returncode = tap.wait(timeout=TAP_TIMEOUT_SECONDS)

        assert returncode == 0, stderr
        assert sandbox.counters()["429"] == 2
        assert stderr.count("again from its first page") == 2
        assert {r["id"] for r in records} == {c["id"] for c in sandbox.calls()}


def test_a_window_gong_refuses_a_cursor_of_twice_stops_the_run_with_gongs_words(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings(page_size=50, latency_seconds=0.05)) as sandbox:
        sandbox.configure(cursor_ttl_seconds=0.01)  # every cursor expires before it is used

        run = run_tap(tap_config(sandbox, max_concurrent_requests=1), tmp_path, streams=CALLS_ONLY)

        assert run.returncode == 1
        assert sandbox.counters()["400"] == 2  # the first page's cursor, then again
        assert run.stderr.count("again from its first page") == 1
        assert "cursor has expired" in run.stderr.splitlines()[-1]
        assert "replication_key_value" not in run.final_state["bookmarks"].get("calls", {})
