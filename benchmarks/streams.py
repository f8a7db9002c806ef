"""What each stream costs: requests and time for a backfill and an hourly run, and memory.

    python benchmarks/streams.py           # the benchmark company (about 4 minutes)
    python benchmarks/streams.py --quick   # small numbers (about 1 minute)

(1) Each stream alone backfills the benchmark company (5,000 calls over 30 days, run.py's
backfill) against the sandbox enforcing Gong's 3 requests per rolling second, then runs
again an hour later (12 new calls) with its state: the requests of each run, their time,
and the records. Wall time at Gong's floor is requests / 3.

(2) call_transcripts alone, unpaced, on a company and on one five times larger: peak RSS
of the tap (transcripts stream through; nothing is collected per window).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from run import (
    FULL,
    GONG_REQUESTS_PER_SECOND,
    QUICK,
    ROLLING_SECOND_PAUSE,
    SANDBOX_NOW,
    Bench,
    discovered_catalog,
    machine,
    markdown_table,
    tap_config,
    unpaced_config,
)

from gong_sandbox import GongSandbox, SandboxSettings

HOURLY_NEW_CALLS = 12  # an hour of a company with about 300 calls a day
LARGER = 5  # the larger company of (2), in multiples of the smaller


def stream_names() -> list[str]:
    return [entry["tap_stream_id"] for entry in json.loads(discovered_catalog())["streams"]]


def stream_rows(bench: Bench, calls: int, days: int) -> list[tuple[str, ...]]:
    """(1) Each stream alone: a backfill, then an hourly run with its state."""
    settings = SandboxSettings(calls=calls, days=days, now=SANDBOX_NOW, requests_per_second=3)
    rows: list[tuple[str, ...]] = []
    with GongSandbox(settings) as sandbox:
        for stream in stream_names():
            bench.streams = (stream,)
            sandbox.reset_log()
            backfill = bench.tap(tap_config(sandbox))
            backfill_requests = len(sandbox.requests)
            backfill_429s = sandbox.counters()["429"]
            # An hour later; the wait only leaves Gong's rolling second to the next run.
            time.sleep(ROLLING_SECOND_PAUSE)
            sandbox.advance_clock(dt.timedelta(hours=1))
            sandbox.add_calls(HOURLY_NEW_CALLS, start=sandbox.now() - dt.timedelta(hours=1))
            sandbox.reset_log()
            hourly = bench.tap(tap_config(sandbox), state=backfill.state)
            rows.append(
                (
                    stream,
                    f"{backfill_requests} ({backfill_requests / GONG_REQUESTS_PER_SECOND:.0f} s)",
                    f"{backfill.wall_seconds:.1f} s",
                    f"{backfill.records:,}",
                    f"{len(sandbox.requests)}",
                    f"{hourly.records:,}",
                    f"{backfill_429s + sandbox.counters()['429']}",
                )
            )
            # Gong counts a rolling second: leave it before the next stream starts.
            time.sleep(ROLLING_SECOND_PAUSE)
    return rows


def memory_rows(bench: Bench, calls: int, days: int) -> list[tuple[str, ...]]:
    """(2) call_transcripts' peak RSS on a company and on one LARGER times the size."""
    bench.streams = ("call_transcripts",)
    runs = []
    for size in (calls, calls * LARGER):
        settings = SandboxSettings(calls=size, days=days, now=SANDBOX_NOW)
        with GongSandbox(settings) as sandbox:
            runs.append(bench.tap(unpaced_config(sandbox)))
    small, large = runs
    return [
        (
            f"call_transcripts, {small.records:,} / {large.records:,} transcripts",
            f"{small.max_rss_mb:.0f} / {large.max_rss_mb:.0f} MB",
            f"{large.max_rss_mb / small.max_rss_mb:.2f}x",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small numbers, a smoke run")
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    print(f"tap-gong streams benchmark ({'quick' if args.quick else 'full'}): {machine()}")
    with tempfile.TemporaryDirectory(prefix="tap-gong-streams-") as folder:
        bench = Bench(Path(folder))
        costs = stream_rows(bench, scale.backfill_calls, scale.backfill_days)
        memory = memory_rows(bench, scale.backfill_calls, scale.backfill_days)
    print(
        f"\n(1) each stream alone, {scale.backfill_calls:,} calls over {scale.backfill_days} "
        "days, the sandbox enforcing 3 requests per rolling second\n"
    )
    print(
        markdown_table(
            (
                "stream",
                "backfill requests (floor)",
                "backfill wall",
                "records",
                "hourly-run requests",
                "hourly-run records",
                "429s",
            ),
            costs,
        )
    )
    print("\n(2) memory of a transcript backfill, unpaced\n")
    print(markdown_table(("run", "tap peak RSS", "larger / smaller"), memory))


if __name__ == "__main__":
    main()
