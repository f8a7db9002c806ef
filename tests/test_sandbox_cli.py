"""`tap-gong-sandbox`, run as users run it: the installed script in a subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

SCRIPT = str(Path(sys.executable).parent / "tap-gong-sandbox")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--calls", "-5"), "--calls must not be negative, got -5"),
        (("--error-rate", "1.5"), "--error-rate must be between 0 and 1, got 1.5"),
        (("--drop-rate", "-0.1"), "--drop-rate must be between 0 and 1, got -0.1"),
        (("--time-zone", "Mars/Olympus"), "--time-zone is not a known IANA zone: 'Mars/Olympus'"),
        (("--page-size", "0"), "--page-size must be at least 1, got 0"),
        (("--requests-per-second", "0"), "--requests-per-second must be at least 1 when set"),
        (("--idle-timeout", "0"), "--idle-timeout must be more than 0 when set, got 0.0"),
        (("--now", "yesterday"), "argument --now: not an ISO-8601 instant"),
        (("--calls", "many"), "argument --calls: invalid int value: 'many'"),
        (("--port", "70000"), "--port must be between 0 and 65535, got 70000"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_flag_with_exit_code_2(args, message):
    completed = run_cli(*args)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.count("\n") == 1
    assert completed.stderr.startswith(f"tap-gong-sandbox: error: {message}")


def test_a_busy_port_is_one_line_with_exit_code_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = run_cli("--port", str(port), "--calls", "10")
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert completed.stderr.startswith(f"tap-gong-sandbox: error: cannot serve on 127.0.0.1:{port}")
    assert "Traceback" not in completed.stderr


def test_help_shows_every_knob_with_its_default():
    help_text = " ".join(run_cli("--help").stdout.split()).split("options:", 1)[1]
    for flag, default in (
        ("--seed", "7"), ("--users", "8"), ("--workspaces", "2"), ("--calls", "500"),
        ("--days", "30"), ("--late-calls", "0"), ("--time-zone", "America/Los_Angeles"),
        ("--page-size", "100"), ("--transcript-sentences", "24"),
        ("--requests-per-second", "None"), ("--retry-after", "1"), ("--daily-quota", "None"),
        ("--error-rate", "0.0"), ("--drop-rate", "0.0"), ("--truncate-rate", "0.0"),
        ("--latency", "0.0"), ("--latency-jitter", "0.0"), ("--idle-timeout", "None"),
        ("--port", "8765"),
    ):  # fmt: skip
        section = help_text.split(f"{flag} ", 1)[1]
        assert f"(default: {default}" in section.split(" --", 1)[0], flag
    for switch in ("--now", "--odd-payloads", "--log-requests"):
        assert switch in help_text


def test_the_sandbox_serves_what_the_flags_ask_for():
    process = subprocess.Popen(
        [SCRIPT, "--port", "0", "--calls", "30", "--days", "5", "--workspaces", "3",
         "--now", "2024-03-10T12:00:00Z"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        url = first_line.rsplit(" at ", 1)[1].strip()
        answer = requests.get(
            f"{url}/v2/workspaces", auth=("sandbox-key", "sandbox-secret"), timeout=10
        )
        assert first_line.startswith("Gong sandbox serving 30 calls")
        assert len(answer.json()["workspaces"]) == 3
    finally:
        process.terminate()
        process.communicate(timeout=10)  # and closes its pipes
    assert process.returncode == 0
