"""How much of Gong's allowance the tap uses when each answer takes a while.

    python benchmarks/latency_sweep.py                   # latencies 0, 0.3, 1, 2 s (~10 min)
    python benchmarks/latency_sweep.py --scale year      # a year's backfill (~20 min)
    python benchmarks/latency_sweep.py --scale quick     # small numbers (~80 s)
    python benchmarks/latency_sweep.py --latencies 0 1   # only these latencies
    python benchmarks/latency_sweep.py --max-concurrent-requests 8   # that many in flight
    python benchmarks/latency_sweep.py --mix six-datasets   # every call stream and more (~6 min)

(1) A backfill of both streams (calls, interaction_stats), or of the six datasets of
`--mix six-datasets` (calls, call_details, call_transcripts, users, scorecards,
answered_scorecards over 3,000 calls in 30 days), once per answer latency, against the
sandbox enforcing Gong's 3 requests per rolling second. The share of the allowance used
is requests / (wall time x 3): with one request in flight it cannot exceed 1 / (3 x latency), and
several requests in flight are what would raise it. "tightest 4 arrivals" is the shortest
time any 4 consecutive requests took to reach the sandbox: under a second is a 429, and
what it has over a second is the margin left against jitter.

(2) A backfill whose first 400 days have no data: the interaction_stats requests spent
on them, against the days that have data. It runs unpaced, as only the count matters.

The installed `tap-gong` runs through run.py's Bench: its output goes into sink.py, its
peak RSS comes from measure.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from run import (
    CALLS_PATH,
    GONG_REQUESTS_PER_SECOND,
    ROLLING_SECOND_PAUSE,
    SANDBOX_NOW,
    UNPACED_REQUESTS_PER_SECOND,
    Bench,
    ProcessRun,
    days_between,
    machine,
    markdown_table,
    pages,
    run_into_sink,
    tap_config,
    tap_executable,
)

from gong_sandbox import GongSandbox, SandboxSettings
from tap_gong.windows import parse_instant

STATS_PATH = "/v2/stats/interaction"
# The tap's other streams would add requests the minimum below does not count.
SWEPT_STREAMS = ("calls", "interaction_stats")
# A company's usual selection, every call stream among them (issue 24, item 2).
SIX_DATASETS = (
    "calls",
    "call_details",
    "call_transcripts",
    "users",
    "scorecards",
    "answered_scorecards",
)
# Per page of calls: /v2/calls/extensive (whose pages hold calls too) and its transcript.
CALL_ENDPOINTS_IN_SIX = 2
# users and scorecards: a page each.
LISTS_IN_SIX = 2
DEFAULT_LATENCIES = (0.0, 0.3, 1.0, 2.0)
EMPTY_HISTORY = dt.timedelta(days=400)


@dataclass(frozen=True)
class Scale:
    calls: int
    days: int  # of history, all of it with calls (so with stats)


SCALES = {
    # 90 calls windows' pages + 60 stats days: 150 requests, 50 s at Gong's floor.
    "two-months": Scale(calls=9_000, days=60),
    # A first backfill of a year: 360 pages of calls + 365 stats days, 4 min at the floor.
    # A run's fixed costs (its last answers, one stream's end before the next begins)
    # weigh on it as on a real backfill, not five times as much as on two months.
    "year": Scale(calls=36_000, days=365),
    "quick": Scale(calls=1_000, days=10),
    "six-datasets": Scale(calls=3_000, days=30),
}
# What each --mix selects, and its scale unless --scale says otherwise.
MIXES = {
    "two-streams": (SWEPT_STREAMS, "two-months"),
    "six-datasets": (SIX_DATASETS, "six-datasets"),
}


def swept_streams_catalog(config: dict[str, Any], streams: tuple[str, ...]) -> dict[str, Any]:
    """The tap's catalog with only `streams` selected."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as config_file:
        json.dump(config, config_file)
        config_file.flush()
        discovered = subprocess.run(
            [str(tap_executable()), "--config", config_file.name, "--discover"],
            capture_output=True,
            check=True,
        )
    catalog = json.loads(discovered.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if not entry["breadcrumb"]:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in streams
    return catalog


def run_tap(bench: Bench, config: dict[str, Any], catalog: dict[str, Any]) -> ProcessRun:
    """run.py's Bench.tap, with a catalog."""
    command = [
        str(tap_executable()),
        "--config",
        str(bench.file("config", config)),
        "--catalog",
        str(bench.file("catalog", catalog)),
    ]
    return run_into_sink(command, bench.workdir, f"{bench.runs:02d}-tap")


def minimum_requests(sandbox: GongSandbox, config: dict, streams: tuple[str, ...]) -> int:
    """The least any extractor could make: the range's calls in one window, one per stats day.

    The tap's finer cut of a backfill (one partial page per extra window) counts as extra.
    """
    start = parse_instant(config["start_date"])
    calls = pages(len(sandbox.calls(start, parse_instant(config["end_date"]))))
    if streams == SIX_DATASETS:
        # Every review since the first company day in one filter.
        reviews = sandbox.answered_scorecards(review_from=start.date())
        return CALL_ENDPOINTS_IN_SIX * calls + LISTS_IN_SIX + pages(len(reviews))
    if "interaction_stats" not in streams:
        return calls
    return calls + days_between(start.date(), sandbox.company_today())


def extra_share(made: int, minimum: int) -> str:
    return f"{made} / {minimum} ({(made - minimum) / minimum:+.1%})"


def sweep_row(
    bench: Bench,
    sandbox: GongSandbox,
    streams: tuple[str, ...],
    latency: float,
    tap_settings: dict[str, Any],
) -> tuple[str, ...]:
    """One backfill at Gong's rate limit with answers taking `latency` seconds."""
    sandbox.configure(
        requests_per_second=GONG_REQUESTS_PER_SECOND, retry_after_seconds=1, latency_seconds=latency
    )
    sandbox.reset_log()
    time.sleep(ROLLING_SECOND_PAUSE)
    config = tap_config(sandbox, **tap_settings)
    run = run_tap(bench, config, swept_streams_catalog(config, streams))
    counters = sandbox.counters()
    allowance = run.wall_seconds * GONG_REQUESTS_PER_SECOND
    # Gong's limit is met while every 4 consecutive arrivals span at least a second.
    arrivals = sorted(entry.at for entry in sandbox.requests)
    tightest = min(arrivals[i + 3] - arrivals[i] for i in range(len(arrivals) - 3))
    # One request in flight at a time cannot start more than 1 / latency per second.
    one_in_flight = min(1.0, 1 / (latency * GONG_REQUESTS_PER_SECOND)) if latency else 1.0
    return (
        f"{latency:g} s",
        f"{run.wall_seconds:.1f} s",
        extra_share(counters["requests"], minimum_requests(sandbox, config, streams)),
        f"{counters['requests'] / allowance:.1%}",  # one decimal: 89.5 % is not 90 %
        f"{one_in_flight:.0%}",
        f"{counters['429']} ({counters['429'] / counters['requests'] * 100:.1f})",
        f"{tightest:.3f} s",
        f"{run.max_rss_mb:.0f} MB",
        f"{run.records:,}",
    )


def empty_history_rows(
    bench: Bench, sandbox: GongSandbox, catalog: dict[str, Any], tap_settings: dict[str, Any]
) -> list[tuple[str, ...]]:
    """A backfill from 400 days before the first call: what the empty days cost in stats."""
    sandbox.configure(requests_per_second=None, latency_seconds=0)
    sandbox.reset_log()
    data_start = SANDBOX_NOW - dt.timedelta(days=sandbox.settings.days)
    start = data_start - EMPTY_HISTORY
    config = tap_config(
        sandbox,
        start_date=start.isoformat(),
        max_requests_per_second=UNPACED_REQUESTS_PER_SECOND,
        **tap_settings,
    )
    run_tap(bench, config, catalog)
    log = sandbox.requests
    stats = [entry for entry in log if entry.path == STATS_PATH]
    calls = [entry for entry in log if entry.path == CALLS_PATH]
    today = sandbox.company_today()  # not over yet: not requested
    days_with_data = sum(start.date() <= day < today for day in sandbox.stats_days())
    days = days_between(start.date(), today)
    return [
        ("start_date", f"{start.date()} ({EMPTY_HISTORY.days} days before the first call)"),
        ("stats days in range / with data", f"{days} / {days_with_data}"),
        (
            "interaction_stats requests (404 'no stats')",
            f"{len(stats)} ({sum(entry.status == 404 for entry in stats)})",
        ),
        ("  of them on days with no data", str(len(stats) - days_with_data)),
        (
            "  at 3 per second",
            f"{len(stats) / GONG_REQUESTS_PER_SECOND:.0f} s, "
            f"{(len(stats) - days_with_data) / GONG_REQUESTS_PER_SECOND:.0f} s of them for nothing",
        ),
        (
            "calls requests (404 'no calls')",
            f"{len(calls)} ({sum(entry.status == 404 for entry in calls)})",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mix",
        choices=MIXES,
        default="two-streams",
        help="the streams selected (default: calls and interaction_stats)",
    )
    parser.add_argument(
        "--scale",
        choices=SCALES,
        help="the backfill's size (default: the mix's own; quick: a smoke run)",
    )
    parser.add_argument(
        "--latencies",
        type=float,
        nargs="+",
        default=DEFAULT_LATENCIES,
        metavar="SECONDS",
        help="answer latencies to sweep (default: 0 0.3 1 2)",
    )
    parser.add_argument(
        "--calls-only",
        action="store_true",
        help="select only calls: its last windows end the run, with no stream to follow",
    )
    parser.add_argument(
        "--max-concurrent-requests",
        type=int,
        metavar="N",
        help="the tap's max_concurrent_requests (default: the tap's default)",
    )
    args = parser.parse_args()
    tap_settings = (
        {"max_concurrent_requests": args.max_concurrent_requests}
        if args.max_concurrent_requests
        else {}
    )
    streams, scale_name = MIXES[args.mix]
    scale_name = args.scale or scale_name
    scale = SCALES[scale_name]
    streams = ("calls",) if args.calls_only else streams
    settings = SandboxSettings(calls=scale.calls, days=scale.days, now=SANDBOX_NOW)
    print(
        f"tap-gong latency sweep ({scale_name}, {', '.join(streams)}, "
        f"{tap_settings or 'default settings'}): {machine()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="tap-gong-sweep-") as folder:
        bench = Bench(Path(folder))
        with GongSandbox(settings) as sandbox:
            print(f"(1) backfill of {scale.calls:,} calls over {scale.days} days at 3 requests/s")
            rows = [
                sweep_row(bench, sandbox, streams, latency, tap_settings)
                for latency in args.latencies
            ]
            header = (
                "latency",
                "wall",
                "requests / minimum",
                "allowance used",
                "1-in-flight ceiling",
                "429s (per 100 requests)",
                "tightest 4 arrivals",
                "peak RSS",
                "records",
            )
            print(markdown_table(header, rows), flush=True)
            if "interaction_stats" not in streams:
                return
            print("\n(2) long empty history, unpaced (request counts only)")
            catalog = swept_streams_catalog(tap_config(sandbox), streams)
            empty = empty_history_rows(bench, sandbox, catalog, tap_settings)
            print(markdown_table(("measure", "value"), empty))


if __name__ == "__main__":
    main()
