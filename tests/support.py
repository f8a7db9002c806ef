"""Test support: the Gong sandbox set-up and the installed `tap-gong`, run as users run it."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker

from gong_sandbox import GongSandbox, RequestLogEntry, SandboxSettings
from tap_gong.pacing import RequestPacer
from tap_gong.tap import TapGong

UTC = dt.timezone.utc
SANDBOX_NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
TAP_TIMEOUT_SECONDS = 180


# How long each meltano command of tests/e2e took, for the run's summary (tests/conftest.py).
MELTANO_TIMINGS = pytest.StashKey[list[tuple[str, float]]]()


def tap_executable() -> str:
    """The `tap-gong` console script installed next to this Python."""
    script = Path(sys.executable).parent / "tap-gong"
    if not script.exists():
        pytest.fail(f"{script} is missing: install the project first (see the README).")
    return str(script)


def sandbox_settings(**overrides: Any) -> SandboxSettings:
    """A small company: 8 users, 450 calls over 20 days, clock frozen at SANDBOX_NOW."""
    values: dict[str, Any] = {"seed": 7, "users": 8, "calls": 450, "days": 20, "now": SANDBOX_NOW}
    values.update(overrides)
    return SandboxSettings(**values)


def tap_config(sandbox: GongSandbox, **overrides: Any) -> dict[str, Any]:
    """Config for a backfill of the sandbox's history, the tap's clock set to the sandbox's."""
    settings = sandbox.settings
    assert settings.now is not None, "tap_config backfills a sandbox whose clock is frozen"
    defaults: dict[str, Any] = {
        "start_date": (settings.now - dt.timedelta(days=settings.days)).isoformat(),
        "end_date": sandbox.now().isoformat(),
        # The sandbox enforces no rate limit unless a test asks; keep tests quick.
        "max_requests_per_second": 100,
    }
    return sandbox.tap_config(**{**defaults, **overrides})


@dataclass
class TapRun:
    """What one `tap-gong` process wrote: Singer messages on stdout, logs on stderr."""

    returncode: int
    stdout: str
    stderr: str

    @cached_property
    def messages(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def records(self, stream: str) -> list[dict]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def schema(self, stream: str) -> dict:
        return next(m for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream)

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict:
        return self.states[-1]

    def bookmark(self, stream: str) -> str:
        return self.final_state["bookmarks"][stream]["replication_key_value"]


# What tests of the tap's general rules run: the two streams every rule applies to.
# Tests of a stream select it themselves; None selects every stream, as a user gets.
CORE_STREAMS = ("calls", "interaction_stats")


@functools.cache
def discovered_catalog() -> str:
    """`tap-gong --discover` (the catalog depends on no setting but needs a config)."""
    config = {"access_key": "k", "access_key_secret": "s", "start_date": "2024-01-01"}
    completed = subprocess.run(
        [tap_executable(), "--config", "ENV", "--discover"],
        capture_output=True,
        text=True,
        timeout=TAP_TIMEOUT_SECONDS,
        env={**os.environ, **{f"TAP_GONG_{k.upper()}": v for k, v in config.items()}},
        check=True,
    )
    return completed.stdout


def all_stream_names() -> set[str]:
    """Every stream the tap offers, from its catalog."""
    return {entry["tap_stream_id"] for entry in json.loads(discovered_catalog())["streams"]}


def catalog_selecting(streams: tuple[str, ...], tmp_path: Path) -> Path:
    """A catalog file with only `streams` selected, as Meltano writes one."""
    catalog = json.loads(discovered_catalog())
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    catalog_file = tmp_path / f"catalog-{os.urandom(4).hex()}.json"
    catalog_file.write_text(json.dumps(catalog))
    return catalog_file


def tap_command(
    config: dict[str, Any],
    tmp_path: Path,
    state: dict | None = None,
    extra_args: tuple[str, ...] = (),
    streams: tuple[str, ...] | None = CORE_STREAMS,
) -> list[str]:
    """The `tap-gong` command line for this config (and state), written to files as users do."""
    config_file = tmp_path / f"config-{os.urandom(4).hex()}.json"
    config_file.write_text(json.dumps(config))
    args = [tap_executable(), "--config", str(config_file), *extra_args]
    if streams is not None and "--discover" not in extra_args:
        args += ["--catalog", str(catalog_selecting(streams, tmp_path))]
    if state is not None:
        state_file = tmp_path / f"state-{os.urandom(4).hex()}.json"
        state_file.write_text(json.dumps(state))
        args += ["--state", str(state_file)]
    return args


def run_tap(
    config: dict[str, Any],
    tmp_path: Path,
    state: dict | None = None,
    *,
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    streams: tuple[str, ...] | None = CORE_STREAMS,
) -> TapRun:
    """Run the installed `tap-gong` in a subprocess with this config (and state)."""
    completed = subprocess.run(
        tap_command(config, tmp_path, state, extra_args, streams),
        capture_output=True,
        text=True,
        timeout=TAP_TIMEOUT_SECONDS,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return TapRun(completed.returncode, completed.stdout, completed.stderr)


def start_tap(
    config: dict[str, Any], tmp_path: Path, streams: tuple[str, ...] | None = CORE_STREAMS
) -> subprocess.Popen[str]:
    """Start the installed `tap-gong` in the background, its Singer messages on a pipe."""
    return subprocess.Popen(
        tap_command(config, tmp_path, streams=streams),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def company_days(sandbox: GongSandbox, config: dict[str, Any]) -> list[dt.date]:
    """The complete company days from start_date's day up to the sandbox's current day."""
    first = dt.date.fromisoformat(config["start_date"][:10])
    return [day for day in sandbox.stats_days() if first <= day < sandbox.company_today()]


def expected_stats(sandbox: GongSandbox, config: dict[str, Any]) -> dict[tuple[str, str], dict]:
    """The sandbox's stats items keyed like the stream: (userId, fromDate)."""
    return {
        (item["userId"], day.isoformat()): item
        for day in company_days(sandbox, config)
        for item in sandbox.interaction_stats(day)
    }


def json_body(entry: RequestLogEntry) -> dict[str, Any]:
    """The JSON body of a logged request that has one (Gong's POST endpoints)."""
    assert entry.body is not None, f"{entry.method} {entry.path} came without a JSON body"
    return entry.body


def instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# A date-time as Gong sends it: with a local offset.
OFFSET_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")


def assert_as_gong_sent(emitted: Any, sent: Any, where: str = "") -> None:
    """The emitted value is Gong's, at any depth: ids as their exact digits, numbers as
    numbers, instants in UTC.
    """
    if isinstance(sent, dict):
        assert isinstance(emitted, dict), where
        assert emitted.keys() == sent.keys(), where
        for name, value in sent.items():
            assert_as_gong_sent(emitted[name], value, f"{where}.{name}")
    elif isinstance(sent, list):
        assert isinstance(emitted, list), where
        assert len(emitted) == len(sent), where
        for index, (emitted_item, sent_item) in enumerate(zip(emitted, sent, strict=True)):
            assert_as_gong_sent(emitted_item, sent_item, f"{where}[{index}]")
    elif isinstance(sent, str) and OFFSET_DATE_TIME.match(sent):
        assert emitted.endswith("Z"), (where, emitted)
        assert instant(emitted) == instant(sent), (where, emitted)
    elif isinstance(sent, int) and not isinstance(sent, bool) and isinstance(emitted, str):
        assert emitted == str(sent), where  # an id: the exact digits
    elif isinstance(sent, str) and type(emitted) is int:
        assert emitted == int(sent), where  # a number Gong sent as a string (scorecard ranges)
    else:
        assert emitted == sent, (where, emitted, sent)
        assert type(emitted) is type(sent), (where, emitted, sent)


def assert_schema_valid(run: TapRun, stream: str) -> None:
    """Every record of `stream` is valid against the schema the tap announced for it."""
    validator = Draft7Validator(run.schema(stream)["schema"], format_checker=FormatChecker())
    for record in run.records(stream):
        validator.validate(record)


class FakeClock:
    """A clock that only moves when the code under test sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def sync_in_process(tap: TapGong) -> list[dict]:
    """Run a whole sync in this process; the Singer messages it wrote, decoded."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")
    with contextlib.redirect_stdout(out):
        tap.sync_all()
        out.flush()
    return [json.loads(line) for line in raw.getvalue().splitlines() if line.strip()]


def tap_in_process(
    config: dict[str, Any],
    streams: tuple[str, ...] = CORE_STREAMS,
    pacer: RequestPacer | None = None,
) -> TapGong:
    """The tap, built as the CLI builds it, with only `streams` selected (and `pacer`'s run)."""
    tap = TapGong(config=config, parse_env_config=False, pacer=pacer)
    for name, stream in tap.streams.items():
        stream.selected = name in streams
    return tap
