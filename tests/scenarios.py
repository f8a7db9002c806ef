"""Seeded, randomized run scenarios: whatever a run meets, it ends, says how, and loses nothing.

A scenario draws from its seed what a scheduled run may meet: the streams selected (all,
a page child alone, a mix), requests in flight, a request budget, Gong's daily quota,
faults (5xx, dropped connections, cut-off bodies), answer latency, the company's time
zone and a kill (SIGTERM or SIGKILL) at a random moment. `play` runs the installed tap
against the sandbox again and again, each run with the last state, until one finishes,
and lists every broken promise:
- every run ends within RUN_BOUND_SECONDS (no hang);
- its exit code is honest (0 only when every stream finished or the budget stopped it;
  143 / -9 when killed; 1 with one `Error:` line otherwise), and no traceback;
- no run starts more requests than max_requests_per_run;
- the union of all runs' records holds every record Gong has for each selected stream,
  and nothing Gong does not have (duplicates after a kill are fine, losses are not).

tests/test_scenarios.py plays a handful of seeds; `python -m tests.soak` plays hundreds
and says how to replay one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from singer_sdk.streams import Stream

from gong_sandbox import GongSandbox
from tap_gong.streams import STREAM_TYPES
from tests.e2e.pipeline_scenario import gong_records
from tests.support import sandbox_settings as base_sandbox_settings
from tests.support import tap_command, tap_config

# A run of the small scenario company takes seconds; one past this bound hangs.
RUN_BOUND_SECONDS = 120
# Runs before a scenario must have finished (a small budget needs several).
MOST_RUNS = 30
TIME_ZONES = ("Pacific/Kiritimati", "Etc/GMT+12", "America/Los_Angeles", "UTC", "Asia/Kolkata")
PAGE_CHILDREN = ("call_participants", "call_transcripts")
STREAM_KEYS = {vars(s)["name"]: tuple(vars(s)["primary_keys"]) for s in STREAM_TYPES}
ALL_STREAMS = tuple(sorted(STREAM_KEYS))
# What a run without a catalog selects, as a new user gets (three streams are left out).
DEFAULT_STREAMS = tuple(sorted(vars(s)["name"] for s in STREAM_TYPES if s.selected_by_default))


@dataclasses.dataclass(frozen=True)
class Scenario:
    seed: int
    streams: tuple[str, ...] | None  # None: every stream, as a new user gets
    max_concurrent_requests: int
    budget: int | None
    daily_quota: int | None
    error_rate: float
    drop_rate: float
    truncate_rate: float
    latency_seconds: float
    time_zone: str
    kill: tuple[str, float] | None  # the first run's: signal name, seconds after its start

    @classmethod
    def draw(cls, seed: int) -> Scenario:
        draw = random.Random(seed)
        selection = draw.choice(("all", "child", "mix"))
        streams: tuple[str, ...] | None = None
        if selection == "child":
            streams = (draw.choice(PAGE_CHILDREN),)
        elif selection == "mix":
            streams = tuple(sorted(draw.sample(ALL_STREAMS, draw.randint(2, 5))))
        return cls(
            seed=seed,
            streams=streams,
            max_concurrent_requests=draw.randint(1, 8),
            # A budget that fits what a run re-reads (below it: test_scenarios' seed 22).
            budget=draw.choice((None, None, 3 * families(streams) + draw.randint(0, 30))),
            daily_quota=draw.choice((None, None, draw.randint(5, 40))),
            error_rate=draw.choice((0.0, 0.03)),
            drop_rate=draw.choice((0.0, 0.02)),
            truncate_rate=draw.choice((0.0, 0.02)),
            latency_seconds=draw.choice((0.0, 0.0, 0.02)),
            time_zone=draw.choice(TIME_ZONES),
            kill=draw.choice(
                (None, ("SIGTERM", draw.uniform(0.5, 3.0)), ("SIGKILL", draw.uniform(0.5, 3.0)))
            ),
        )

    def selected(self) -> tuple[str, ...]:
        return self.streams or DEFAULT_STREAMS


def run_with(stream_type: type[Stream]) -> str:
    """The top-level stream a stream is read with: itself, or its parent's (page children)."""
    while stream_type.parent_stream_type is not None:
        stream_type = stream_type.parent_stream_type
    return str(vars(stream_type)["name"])


RUN_WITH = {vars(s)["name"]: run_with(s) for s in STREAM_TYPES}


def families(streams: tuple[str, ...] | None) -> int:
    """How many streams run in turn: the page children run with their parent."""
    return len({RUN_WITH[s] for s in streams or DEFAULT_STREAMS})


@dataclasses.dataclass
class RunEnd:
    """What one run of a scenario did."""

    returncode: int
    messages: list[dict[str, Any]]
    stderr: str
    requests: int
    killed_by: str | None

    def endings(self) -> dict[str, str]:
        """The run summary's word for each stream ("finished", "stopped", "failed")."""
        endings = {}
        for line in self.stderr.splitlines():
            if line.startswith("  ") and ": " in line:
                name, rest = line.strip().split(": ", 1)
                endings[name] = rest.split(" ", 1)[0].rstrip(":")
        return endings

    def error_lines(self) -> list[str]:
        """What the run ended with: click's `Error:` line and the lines after it."""
        lines = self.stderr.splitlines()
        first = next((n for n, line in enumerate(lines) if line.startswith("Error: ")), len(lines))
        return lines[first:]

    def failed_streams(self) -> list[str]:
        return [name for name, ending in self.endings().items() if ending == "failed"]

    def last_state(self) -> dict | None:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else None


def complete_messages(stdout: str) -> list[dict[str, Any]]:
    """The Singer messages of a run; a killed run may leave half a line at the end."""
    messages = []
    for line in stdout.splitlines():
        try:
            messages.append(json.loads(line))
        except ValueError:
            break
    return messages


def sandbox_for(scenario: Scenario) -> GongSandbox:
    return GongSandbox(
        base_sandbox_settings(
            seed=scenario.seed,
            users=5,
            calls=150,
            days=10,
            time_zone=scenario.time_zone,
            daily_quota=scenario.daily_quota,
            error_rate=scenario.error_rate,
            drop_rate=scenario.drop_rate,
            truncate_rate=scenario.truncate_rate,
            latency_seconds=scenario.latency_seconds,
            latency_jitter_seconds=scenario.latency_seconds,
        )
    )


def run_once(
    scenario: Scenario,
    sandbox: GongSandbox,
    config: dict[str, Any],
    state: dict | None,
    tmp_path: Path,
    *,
    kill: tuple[str, float] | None,
) -> RunEnd:
    sandbox.reset_log()
    command = tap_command(config, tmp_path, state, streams=scenario.streams)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as tap:
        killed_by = None
        if kill is not None:
            name, after = kill
            deadline = time.monotonic() + after
            while tap.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            if tap.poll() is None:
                tap.send_signal(signal.Signals[name])
                killed_by = name
        try:
            stdout, stderr = tap.communicate(timeout=RUN_BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            tap.kill()
            stdout, stderr = tap.communicate()
            stderr += f"\n[scenario] the run did not end within {RUN_BOUND_SECONDS} s: it hung"
            return RunEnd(-999, complete_messages(stdout), stderr, 0, killed_by)
    requests = len(sandbox.requests)
    return RunEnd(tap.returncode, complete_messages(stdout), stderr, requests, killed_by)


def run_problems(scenario: Scenario, number: int, run: RunEnd) -> list[str]:
    """Every promise this run broke."""
    where = f"run {number}"
    problems = []
    if run.returncode == -999:
        return [f"{where}: did not end within {RUN_BOUND_SECONDS} s"]
    if "Traceback" in run.stderr:
        problems.append(f"{where}: a traceback")
    if scenario.budget is not None and run.requests > scenario.budget:
        problems.append(f"{where}: {run.requests} requests, budget {scenario.budget}")
    endings = run.endings()
    selected = set(scenario.selected())
    if run.killed_by == "SIGKILL":
        expected_codes = {-9}
    elif run.killed_by == "SIGTERM":
        expected_codes = {143}
    elif run.error_lines():
        expected_codes = {1}
    else:
        expected_codes = {0}
    if run.returncode not in expected_codes:
        problems.append(f"{where}: exit {run.returncode}, expected {sorted(expected_codes)}")
    if run.returncode == 0:
        if set(endings) != selected:
            problems.append(f"{where}: exit 0 but its summary lists {sorted(endings)}")
        unfinished = {n: e for n, e in endings.items() if e not in ("finished", "stopped")}
        if unfinished:
            problems.append(f"{where}: exit 0 with streams {unfinished}")
    if run.returncode == 1 and len(run.error_lines()) != 1 + len(run.failed_streams()):
        problems.append(f"{where}: exit 1 without one Error line (and one per failed stream)")
    return problems


def finished(scenario: Scenario, run: RunEnd) -> bool:
    endings = run.endings()
    return run.returncode == 0 and all(
        endings.get(name) == "finished" for name in scenario.selected()
    )


def record_key(stream: str, record: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(record.get(key)) for key in STREAM_KEYS[stream])


def loss_problems(
    scenario: Scenario, sandbox: GongSandbox, start: dt.datetime, runs: list[RunEnd]
) -> list[str]:
    """Records Gong has that no run delivered, and records Gong never had."""
    delivered: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for run in runs:
        for message in run.messages:
            if message["type"] == "RECORD":
                delivered[message["stream"]].add(record_key(message["stream"], message["record"]))
    truth = gong_records(sandbox, start)
    # A day earlier: the company day that holds start_date may begin before it.
    anything_gong_has = gong_records(sandbox, start - dt.timedelta(days=1))
    problems = []
    for stream in scenario.selected():
        expected = {record_key(stream, record) for record in truth[stream]}
        known = {record_key(stream, record) for record in anything_gong_has[stream]}
        if missing := expected - delivered[stream]:
            problems.append(f"{stream}: {len(missing)} of {len(expected)} records never arrived")
        if invented := delivered[stream] - known:
            problems.append(f"{stream}: {len(invented)} records Gong does not have")
    for stream in set(delivered) - set(scenario.selected()):
        problems.append(f"{stream}: records of a stream not selected")
    return problems


def play(
    scenario: Scenario, tmp_path: Path, *, until_every_record_arrived: bool = False
) -> list[str]:
    """Run the scenario until a run finishes; every broken promise, or [] if none.

    `until_every_record_arrived`: until the runs together delivered everything instead (a
    budget below what one run re-reads never lets a single run finish every stream).
    """
    with sandbox_for(scenario) as sandbox:
        settings = {
            "max_concurrent_requests": scenario.max_concurrent_requests,
            "max_requests_per_run": scenario.budget,
        }
        config = tap_config(sandbox, **{k: v for k, v in settings.items() if v is not None})
        start = dt.datetime.fromisoformat(config["start_date"])
        runs: list[RunEnd] = []
        problems: list[str] = []
        state: dict | None = None
        while len(runs) < MOST_RUNS:
            kill = scenario.kill if not runs else None
            run = run_once(scenario, sandbox, config, state, tmp_path, kill=kill)
            runs.append(run)
            problems += run_problems(scenario, len(runs), run)
            if problems or finished(scenario, run):
                break
            if until_every_record_arrived and not loss_problems(scenario, sandbox, start, runs):
                break
            state = run.last_state() or state
            if "quota is spent" in run.stderr:
                sandbox.configure(daily_quota=None)  # the next company day
        else:
            problems.append(f"not finished after {MOST_RUNS} runs")
        if not problems:
            problems += loss_problems(scenario, sandbox, start, runs)
        if problems:
            tail = runs[-1].stderr.strip().splitlines()[-25:]
            problems.append(f"{scenario}\nthe last run's log ends:\n" + "\n".join(tail))
        return problems
