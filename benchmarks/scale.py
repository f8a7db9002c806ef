"""Scale: the call streams' backfill of a company of 5,000, 50,000 and 250,000 calls.

    python benchmarks/scale.py                              # 5,000 / 50,000 / 250,000 calls
    python benchmarks/scale.py --calls 5000 50000           # smaller companies only
    python benchmarks/scale.py --calls 300 900 --days 5     # a smoke run (tests/test_benchmarks.py)

Each company's calls span the same `--days` (default 90), so a bigger company has more
calls per date window, not more windows. The tap backfills calls, call_details and
call_transcripts (the streams whose cost grows with the company) against the sandbox with
no rate limit and no latency (`max_requests_per_second: 1000`): what is measured is the
tap's own work, not Gong's pacing. For each company it prints:

- requests made against the minimum: ceil(N/100) for each paged endpoint read
  (/v2/calls/extensive, whose pages hold calls too, and one transcript request per page
  of 100 calls); each date window may add one partly filled page;
- the records of each stream against the sandbox's own count (nothing dropped);
- the tap's peak RSS (bounded: it must not grow with the company);
- the tap's CPU per 10,000 records against a bare `requests` + `json` loop
  (bare_loop.py) replaying exactly the same pages, and the load average around each run,
  since the machine may be shared.

The sandbox serves in this process and builds each page's content when it is asked for
(only the calls' compact summaries are kept; its peak RSS is printed too); the tap is
measured alone (measure.py), its output read and discarded by sink.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import resource
import tempfile
from collections import Counter
from pathlib import Path

from run import (
    GONG_PAGE_SIZE,
    SANDBOX_NOW,
    Bench,
    ProcessRun,
    first_pages,
    machine,
    markdown_table,
    unpaced_config,
)

from gong_sandbox import GongSandbox, SandboxSettings

SCALED_STREAMS = ("calls", "call_details", "call_transcripts")
DEFAULT_SIZES = (5_000, 50_000, 250_000)
DEFAULT_DAYS = 90
# The endpoints the scaled streams read, each paged by 100 calls.
PAGED_PATHS = ("/v2/calls/extensive", "/v2/calls/transcript")
# Requests sent for each page of calls, not per date window: no window of their own.
PER_PAGE_PATHS = ("/v2/calls/transcript",)


def load() -> str:
    """The machine's 1-minute load average: other agents' work shows up here."""
    return f"{os.getloadavg()[0]:.1f}"


def expected_records(sandbox: GongSandbox, start: str) -> Counter[str]:
    """What the sandbox holds since `start`: a record per call, and per transcript.

    calls and call_details both come from /extensive, which filters on a call's start.
    """
    counts = sandbox.call_counts(dt.datetime.fromisoformat(start), sandbox.now())
    return Counter(
        calls=counts["started"],
        call_details=counts["started"],
        call_transcripts=counts["transcripts"],
    )


def measure_company(bench: Bench, calls: int, days: int, bare: bool) -> list[tuple[str, ...]]:
    settings = SandboxSettings(calls=calls, days=days, now=SANDBOX_NOW)
    with GongSandbox(settings) as sandbox:
        config = unpaced_config(sandbox)
        expected = expected_records(sandbox, config["start_date"])
        load_before = load()
        tap = bench.tap(config)
        load_after_tap = load()
        log = sandbox.requests
        made = Counter(entry.path for entry in log)
        firsts = first_pages(log)
        windows = Counter(entry.path for entry in firsts if entry.path not in PER_PAGE_PATHS)
        baseline: ProcessRun | None = None
        if bare:
            baseline = bench.bare_loop(sandbox, firsts)
            if baseline.records != tap.records:
                raise RuntimeError(f"bare loop {baseline.records:,} records, tap {tap.records:,}")
    minimum = len(PAGED_PATHS) * math.ceil(calls / GONG_PAGE_SIZE)
    requests = sum(made[path] for path in PAGED_PATHS)
    dropped = {
        stream: (tap.stream_records.get(stream, 0), count)
        for stream, count in expected.items()
        if tap.stream_records.get(stream, 0) != count
    }
    if dropped:
        raise RuntimeError(f"records (tap, sandbox) differ: {dropped}")
    cpu_ratio = "-"
    bare_cpu = "-"
    if baseline is not None:
        bare_cpu = f"{baseline.cpu_per_figure:.2f}"
        cpu_ratio = f"{tap.cpu_per_figure / baseline.cpu_per_figure:.2f}x"
    return [
        (
            f"{calls:,}",
            f"{requests:,} / {minimum:,} ({requests - minimum:+d}; "
            f"{sum(windows.values())} windows)",
            " / ".join(f"{expected[stream]:,}" for stream in SCALED_STREAMS),
            f"{tap.max_rss_mb:.0f} MB",
            f"{tap.cpu_seconds:.0f} s / {tap.wall_seconds:.0f} s",
            f"{tap.cpu_per_figure:.2f}",
            bare_cpu,
            cpu_ratio,
            f"{load_before} / {load_after_tap}",
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--calls", type=int, nargs="+", default=DEFAULT_SIZES, help="company sizes, in calls"
    )
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="the calls' span")
    parser.add_argument(
        "--no-bare-loop", action="store_true", help="skip the bare loop (no CPU ratio)"
    )
    args = parser.parse_args()
    print(f"tap-gong scale benchmark, {', '.join(SCALED_STREAMS)}: {machine()}", flush=True)
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="tap-gong-scale-") as folder:
        bench = Bench(Path(folder), SCALED_STREAMS)
        for calls in args.calls:
            rows += measure_company(bench, calls, args.days, bare=not args.no_bare_loop)
            print(f"  {calls:,} calls measured", flush=True)
    print(
        f"\nEach company's calls over {args.days} days, the sandbox unpaced; "
        f"records: {' / '.join(SCALED_STREAMS)}\n"
    )
    print(
        markdown_table(
            (
                "calls",
                "requests / minimum (extra; date windows)",
                "records",
                "tap peak RSS",
                "tap CPU / wall",
                "tap CPU s per 10k records",
                "bare loop",
                "tap / bare loop",
                "load average (before / after the tap)",
                "sandbox peak RSS (so far)",
            ),
            rows,
        )
    )


if __name__ == "__main__":
    main()
