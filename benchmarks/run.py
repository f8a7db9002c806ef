"""tap-gong benchmarks: requests against Gong's floor, CPU per record and memory, in one table.

    python benchmarks/run.py            # the full run (about 2 minutes on 2 cores)
    python benchmarks/run.py --quick    # a smoke run with small numbers (about 15 s)
    python benchmarks/run.py --profile  # then: where the tap's time goes (cProfile)

The Gong sandbox (gong_sandbox) serves in this process; the installed `tap-gong`
next to this Python runs as a subprocess whose output goes to sink.py, a process that
reads and discards it as a target would. CPU and peak memory come from the OS (the
wait4 rusage of each child, see measure.py); the sandbox's own CPU is this process's.

The figures are printed, never judged: compare ratios from one run, not absolute
times across machines or runs.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import functools
import json
import math
import os
import platform
import pstats
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import tap_gong
from gong_sandbox import GongSandbox, RequestLogEntry, SandboxSettings

# What the benchmarks measure: the two streams every Gong rule applies to.
BENCHMARKED_STREAMS = ("calls", "interaction_stats")

HERE = Path(__file__).resolve().parent
SANDBOX_NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.timezone.utc)
GONG_PAGE_SIZE = 100
GONG_REQUESTS_PER_SECOND = 3
DEFAULT_LOOKBACK = dt.timedelta(days=1)  # the tap's lookback_window_days default
# In (3) and (4) the sandbox answers at once: the tap's own pacing must not be the limit.
UNPACED_REQUESTS_PER_SECOND = 1000
PROCESS_TIMEOUT_SECONDS = 600
# Gong's limit counts the requests of the last second: a run starting sooner after the
# previous one would be charged for that one's requests too.
ROLLING_SECOND_PAUSE = 1.1
CALLS_PATH = "/v2/calls"
RECORDS_PER_FIGURE = 10_000

Row = tuple[str, str, str, str]  # (section, measure, value, target)


@dataclass(frozen=True)
class Scale:
    """How big each measurement is."""

    backfill_calls: int  # also the smaller run of (4)
    backfill_days: int
    new_calls: int  # added in the half day before the incremental run
    cpu_calls: int  # also the larger run of (4)
    cpu_days: int
    repeats: int  # runs of the tap and of the bare loop in (3); the best of each counts


FULL = Scale(5_000, 30, 170, 100_000, 30, 3)
QUICK = Scale(1_000, 10, 100, 5_000, 10, 1)


@dataclass(frozen=True)
class ProcessRun:
    """One run of a child process, as the OS accounted for it."""

    started: float  # time.monotonic() when it started
    wall_seconds: float
    cpu_seconds: float  # user + sys
    max_rss_mb: float
    records: int  # RECORD messages the sink read
    stream_records: dict[str, int]  # the same, per stream
    state: dict | None  # the last STATE the sink read
    sandbox_cpu_seconds: float  # this process (the sandbox) meanwhile

    @property
    def cpu_per_figure(self) -> float:
        return self.cpu_seconds / self.records * RECORDS_PER_FIGURE


# -- running children ------------------------------------------------------------------------


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_or_kill(process: subprocess.Popen) -> None:
    """A hung child ends the benchmark instead of hanging it (with its process group)."""
    try:
        process.wait(timeout=PROCESS_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def run_into_sink(command: list[str], workdir: Path, name: str) -> ProcessRun:
    """Run `command` (through measure.py) with its stdout piped into sink.py, stderr to a log."""
    measure_file = workdir / f"{name}.measure.json"
    summary_file = workdir / f"{name}.sink.json"
    log_file = workdir / f"{name}.log"
    sandbox_cpu_before = own_cpu_seconds()
    with log_file.open("wb") as log:
        producer = subprocess.Popen(
            [sys.executable, str(HERE / "measure.py"), str(measure_file), *command],
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,  # a process group of its own, for wait_or_kill
        )
        sink = subprocess.Popen(
            [sys.executable, str(HERE / "sink.py"), str(summary_file)],
            stdin=producer.stdout,
            start_new_session=True,
        )
        assert producer.stdout is not None  # stdout=PIPE
        producer.stdout.close()  # the sink holds the only read end now
        wait_or_kill(producer)
        sandbox_cpu = own_cpu_seconds() - sandbox_cpu_before
        wait_or_kill(sink)
    if producer.returncode != 0 or sink.returncode != 0:
        log_end = log_file.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{command[0]} exited {producer.returncode}; its log ends:\n{log_end}")
    measured = json.loads(measure_file.read_text())
    summary = json.loads(summary_file.read_text())
    return ProcessRun(
        started=measured["started"],
        wall_seconds=measured["wall_seconds"],
        cpu_seconds=measured["cpu_seconds"],
        max_rss_mb=measured["max_rss_kib"] / 1024,
        records=summary["records"],
        stream_records=summary["streams"],
        state=summary["state"],
        sandbox_cpu_seconds=sandbox_cpu,
    )


def tap_executable() -> Path:
    """The installed `tap-gong`, its modules byte-compiled as `pip install` leaves them.

    An editable install is never compiled, and where PYTHONDONTWRITEBYTECODE is set (the
    machines of RESULTS.md) Python does not keep what it compiles: every run would
    recompile the tap's modules, 0.02-0.07 s of each start-up no installed tap pays.
    """
    tap = Path(sys.executable).parent / "tap-gong"
    if not tap.exists():
        sys.exit(f"{tap} is missing: install tap-gong into this Python's environment first.")
    compileall.compile_dir(Path(tap_gong.__file__).parent, quiet=1)
    return tap


def tap_config(sandbox: GongSandbox, **overrides: Any) -> dict[str, Any]:
    """A backfill of the sandbox's whole history, with the tap's clock set to the sandbox's."""
    return sandbox.tap_config(end_date=sandbox.now().isoformat(), **overrides)


def unpaced_config(sandbox: GongSandbox) -> dict[str, Any]:
    return tap_config(sandbox, max_requests_per_second=UNPACED_REQUESTS_PER_SECOND)


@functools.cache
def discovered_catalog() -> str:
    """`tap-gong --discover` (it depends on no setting, but needs a config)."""
    return subprocess.run(
        [str(tap_executable()), "--config", "ENV", "--discover"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TAP_GONG_START_DATE": "2024-01-01", "TAP_GONG_ACCESS_TOKEN": "-"},
    ).stdout


class Bench:
    """Runs the tap and the bare loop, keeping their files in one work folder."""

    def __init__(self, workdir: Path, streams: tuple[str, ...] = BENCHMARKED_STREAMS) -> None:
        self.workdir = workdir
        self.streams = streams  # the streams the tap's catalog selects
        self.runs = 0

    def file(self, stem: str, content: dict) -> Path:
        self.runs += 1
        path = self.workdir / f"{self.runs:02d}-{stem}.json"
        path.write_text(json.dumps(content))
        return path

    def tap(
        self, config: dict[str, Any], state: dict | None = None, profile: Path | None = None
    ) -> ProcessRun:
        command = [str(tap_executable()), "--config", str(self.file("config", config))]
        command += ["--catalog", str(self.file("catalog", self.catalog))]
        if state is not None:
            command += ["--state", str(self.file("state", state))]
        if profile is not None:
            command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command]
        return run_into_sink(command, self.workdir, f"{self.runs:02d}-tap")

    @property
    def catalog(self) -> dict[str, Any]:
        """The tap's catalog with only `self.streams` selected."""
        catalog: dict[str, Any] = json.loads(discovered_catalog())
        for entry in catalog["streams"]:
            stream_level = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
            stream_level["metadata"]["selected"] = entry["tap_stream_id"] in self.streams
        return catalog

    def bare_loop(self, sandbox: GongSandbox, filters: list[RequestLogEntry]) -> ProcessRun:
        config = sandbox.tap_config()
        plan = {
            "url": config["api_url"],
            "access_key": config["access_key"],
            "access_key_secret": config["access_key_secret"],
            "streams": self.streams,
            "filters": [
                {
                    "method": entry.method,
                    "path": entry.path,
                    "query": entry.query,
                    "body": entry.body,
                }
                for entry in filters
            ],
        }
        command = [sys.executable, str(HERE / "bare_loop.py"), str(self.file("plan", plan))]
        return run_into_sink(command, self.workdir, f"{self.runs:02d}-bare")


# -- reading the sandbox's request log -------------------------------------------------------


def first_pages(log: list[RequestLogEntry]) -> list[RequestLogEntry]:
    """The first request of every filter (no cursor), once each, in order."""
    seen, firsts = set(), []
    for entry in log:
        if entry.status == 429 or "cursor" in entry.query or "cursor" in (entry.body or {}):
            continue
        key = json.dumps([entry.path, entry.query, entry.body], sort_keys=True)
        if key not in seen:
            seen.add(key)
            firsts.append(entry)
    return firsts


def calls_windows(log: list[RequestLogEntry]) -> int:
    return sum(1 for entry in first_pages(log) if entry.path == CALLS_PATH)


def pages(calls: int) -> int:
    """Requests for one filter: Gong answers even an empty range (with a 404)."""
    return max(1, math.ceil(calls / GONG_PAGE_SIZE))


def days_between(first: dt.date, end: dt.date) -> int:
    return max(0, (end - first).days)


def extra(made: int, minimum: int) -> str:
    return f"{made} / {minimum} ({made - minimum:+d})"


# -- the measurements ------------------------------------------------------------------------


def measure_backfill(bench: Bench, sandbox: GongSandbox) -> tuple[list[Row], ProcessRun]:
    """(1) A first run at Gong's rate limit, the tap paced by its defaults."""
    sandbox.configure(requests_per_second=GONG_REQUESTS_PER_SECOND, retry_after_seconds=1)
    sandbox.reset_log()
    time.sleep(ROLLING_SECOND_PAUSE)
    config = tap_config(sandbox)
    start = dt.datetime.fromisoformat(config["start_date"])
    run = bench.tap(config)
    log, counters = sandbox.requests, sandbox.counters()
    calls = len(sandbox.calls(start, sandbox.now()))
    days = days_between(start.date(), sandbox.company_today())
    minimum = math.ceil(calls / GONG_PAGE_SIZE) + days
    windows = calls_windows(log)
    floor_seconds = minimum / GONG_REQUESTS_PER_SECOND
    first_at, last_at = log[0].at, log[-1].at
    rows: list[Row] = [
        ("1 backfill", "calls N / stats days D", f"{calls:,} / {days}", ""),
        (
            "",
            "requests made / minimum ceil(N/100)+D",
            extra(counters["requests"], minimum),
            f"<= minimum + windows ({minimum + windows})",
        ),
        ("", "date windows (calls)", str(windows), "small"),
        (
            "",
            "wall time / floor time (minimum at 3 per s)",
            f"{run.wall_seconds:.1f} s / {floor_seconds:.1f} s",
            "",
        ),
        ("", "floor / wall", f"{floor_seconds / run.wall_seconds:.1%}", ">= 95 %"),
        (
            "",
            "wall = start-up + requests + finish",
            f"{first_at - run.started:.1f} + {last_at - first_at:.1f} + "
            f"{run.started + run.wall_seconds - last_at:.1f} s",
            "",
        ),
        ("", "429 answers", str(counters["429"]), "0"),
    ]
    return rows, run


def measure_incremental(
    bench: Bench, sandbox: GongSandbox, backfill: ProcessRun, new_calls: int
) -> list[Row]:
    """(2) Half a day after the backfill: new calls, then a run from the backfill's state.

    The minimum follows from what the backfill extracted, not from the tap's bookmarks:
    the calls up to its end_date and the stats of every company day before its company
    day; the new data since, plus one day (the default lookback) before each. Sooner
    than a late-data re-read is due (benchmarks/late_data.py measures those).
    """
    calls_extracted_until = sandbox.now()  # the backfill's end_date
    first_new_day = sandbox.company_today()
    sandbox.advance_clock(dt.timedelta(hours=12))
    sandbox.add_calls(new_calls)
    sandbox.reset_log()
    time.sleep(ROLLING_SECOND_PAUSE)
    run = bench.tap(tap_config(sandbox), state=backfill.state)
    counters = sandbox.counters()
    calls = len(sandbox.calls(calls_extracted_until - DEFAULT_LOOKBACK, sandbox.now()))
    days = days_between(first_new_day - DEFAULT_LOOKBACK, sandbox.company_today())
    return [
        (
            "2 incremental",
            "calls / stats days: new + 1 day lookback",
            f"{calls} / {days}",
            "",
        ),
        ("", "requests made / minimum", extra(counters["requests"], pages(calls) + days), "+0"),
        ("", "records emitted", f"{run.records:,}", ""),
        ("", "429 answers", str(counters["429"]), "0"),
    ]


def measure_cpu(bench: Bench, sandbox: GongSandbox, repeats: int) -> tuple[list[Row], ProcessRun]:
    """(3) The tap against the bare loop on the same pages, the sandbox unlimited and instant.

    Runs alternate, and the best of each counts: on a shared machine, other work
    only ever adds CPU time.
    """
    config = unpaced_config(sandbox)
    taps: list[ProcessRun] = []
    bares: list[ProcessRun] = []
    for _ in range(repeats):
        sandbox.reset_log()
        taps.append(bench.tap(config))
        if not bares:
            filters = first_pages(sandbox.requests)
        bares.append(bench.bare_loop(sandbox, filters))
    tap = min(taps, key=lambda run: run.cpu_per_figure)
    bare = min(bares, key=lambda run: run.cpu_per_figure)
    best = f"best of {repeats}" if repeats > 1 else "1 run"
    sandbox_share = tap.sandbox_cpu_seconds / (tap.sandbox_cpu_seconds + tap.cpu_seconds)
    rows: list[Row] = [
        ("3 CPU", "records (tap / bare loop)", f"{tap.records:,} / {bare.records:,}", "equal"),
        ("", f"tap CPU s per 10k records ({best})", f"{tap.cpu_per_figure:.2f}", ""),
        ("", "bare loop CPU s per 10k records", f"{bare.cpu_per_figure:.2f}", ""),
        ("", "tap / bare loop", f"{tap.cpu_per_figure / bare.cpu_per_figure:.1f}x", "<= 2x"),
        (
            "",
            "tap CPU / wall (busy share)",
            f"{tap.cpu_seconds:.1f} / {tap.wall_seconds:.1f} s "
            f"({tap.cpu_seconds / tap.wall_seconds:.0%})",
            "",
        ),
        (
            "",
            "sandbox CPU in that run",
            f"{tap.sandbox_cpu_seconds:.1f} s ({sandbox_share:.0%} of tap + sandbox)",
            "not the bottleneck",
        ),
    ]
    return rows, max(taps, key=lambda run: run.max_rss_mb)


def memory_rows(small: ProcessRun, large: ProcessRun) -> list[Row]:
    """(4) Peak RSS of the tap on the smaller and the larger company, same settings."""
    return [
        (
            "4 memory",
            f"tap peak RSS at {small.records:,} / {large.records:,} records",
            f"{small.max_rss_mb:.0f} / {large.max_rss_mb:.0f} MB",
            "",
        ),
        ("", "larger / smaller", f"{large.max_rss_mb / small.max_rss_mb:.2f}x", "<= 1.2x"),
    ]


def run_benchmark(bench: Bench, scale: Scale, profile: Path | None) -> list[Row]:
    smaller = SandboxSettings(calls=scale.backfill_calls, days=scale.backfill_days, now=SANDBOX_NOW)
    with GongSandbox(smaller) as sandbox:
        small = bench.tap(unpaced_config(sandbox))  # (4), before the rate limit is switched on
        backfill_rows, backfill = measure_backfill(bench, sandbox)
        incremental_rows = measure_incremental(bench, sandbox, backfill, scale.new_calls)
    larger = SandboxSettings(calls=scale.cpu_calls, days=scale.cpu_days, now=SANDBOX_NOW)
    with GongSandbox(larger) as sandbox:
        cpu_rows, large = measure_cpu(bench, sandbox, scale.repeats)
        if profile is not None:
            bench.tap(unpaced_config(sandbox), profile=profile)
    return [*backfill_rows, *incremental_rows, *cpu_rows, *memory_rows(small, large)]


# -- output ----------------------------------------------------------------------------------


def machine() -> str:
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("tap-gong", "singer-sdk", "requests", "simplejson", "msgspec")
    )
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--", "tap_gong"):
        commit += " with uncommitted changes in tap_gong/"
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {versions}, commit {commit}"
    )


def git(*args: str) -> str:
    """git's answer about the checkout this file is in; empty outside one."""
    completed = subprocess.run(
        ["git", "-C", str(HERE.parent), *args], capture_output=True, text=True, check=False
    )
    return completed.stdout.strip()


def markdown_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [header, tuple("-" * width for width in widths), *rows]
    return "\n".join(
        "| "
        + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        + " |"
        for line in lines
    )


ROUND_TRIPS = "HTTP round trips (requests, urllib3, waiting)"
DECODING = "JSON decoding of pages (tap)"
RECORD_LOOP = "the record loop: messages, metrics, generators"
# Where a tap's time goes: (part, file, function whose cumulative time it is).
PROFILE_PARTS = (
    ("SDK: building requests", "singer_sdk/streams/rest.py", "_prepare_request"),
    (ROUND_TRIPS, "singer_sdk/streams/rest.py", "_request"),
    (DECODING, "tap_gong/pagination.py", "gong_body"),
    ("post_process: UTC date-times (tap)", "tap_gong/streams.py", "post_process"),
    ("SDK: field selection", "singer_sdk/helpers/_catalog.py", "pop_deselected_record_properties"),
    ("SDK: type conformance", "singer_sdk/helpers/_typing.py", "conform_record_data_types"),
    ("SDK: message writer (JSON, write, flush)", "singer_sdk/plugin_base.py", "write_message"),
    ("SDK: state bookkeeping", "singer_sdk/streams/core.py", "_increment_stream_state"),
    (RECORD_LOOP, "singer_sdk/streams/core.py", "_sync_records"),
)


def profile_table(profile: Path) -> str:
    """The tap's profiled run cut into parts, each without the parts nested in it."""
    # (file, line, function) -> (cc, nc, tt, ct, callers). Typeshed leaves the attribute out.
    stats: dict[tuple[str, int, str], tuple[Any, ...]]
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    total = max(entry[3] for entry in stats.values())
    cumulative = {
        part: sum(
            entry[3]
            for (filename, _, function), entry in stats.items()
            if function == name and filename.endswith(suffix)
        )
        for part, suffix, name in PROFILE_PARTS
    }
    own = dict(cumulative)
    own[ROUND_TRIPS] -= cumulative[DECODING]  # decoded in validate_response, inside the trip
    own[RECORD_LOOP] -= sum(
        seconds for part, seconds in cumulative.items() if part not in (RECORD_LOOP, DECODING)
    )
    own["start-up: imports, discovery"] = total - cumulative[RECORD_LOOP]
    rows = [(part, f"{seconds:.1f} s", f"{seconds / total:.0%}") for part, seconds in own.items()]
    return markdown_table(("part of the tap's run (cProfile)", "time", "share"), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small numbers: a smoke run")
    parser.add_argument("--profile", action="store_true", help="then profile the tap of (3)")
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    print(f"tap-gong benchmark ({'quick' if args.quick else 'full'}): {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="tap-gong-bench-") as folder:
        profile = Path(folder) / "tap.prof" if args.profile else None
        rows = run_benchmark(Bench(Path(folder)), scale, profile)
        print(markdown_table(("", "measure", "value", "target"), rows))
        if profile is not None:
            print()
            print(profile_table(profile))


if __name__ == "__main__":
    main()
