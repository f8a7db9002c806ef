"""CPU per record of the record shaping (tap_gong/records.py), stream by stream.

    python benchmarks/shaping.py            # about 20 s
    python benchmarks/shaping.py --repeat 3

Gong's answers come from the sandbox (no server, no HTTP): each stream's records are
shaped by the stream's own `post_process`, the tap's path for every record. A fresh
copy of the records is made outside the timed part (shaping works in place). Figures
are the best of `--repeat` rounds, in microseconds per record; compare ratios from
one machine, not absolute times.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from gong_sandbox import GongSandbox, SandboxSettings
from tap_gong.tap import TapGong

SANDBOX_NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.timezone.utc)
ROUNDS_PER_REPEAT = 5


def gong_items(sandbox: GongSandbox) -> dict[str, list[dict[str, Any]]]:
    """Each stream's records as its post_process receives them (before shaping)."""
    details = sandbox.call_details()
    return {
        "calls": sandbox.calls(),
        "call_details": [
            {"id": c["metaData"]["id"], "started": c["metaData"]["started"], **c} for c in details
        ],
        "call_participants": [
            {**party, "callId": c["metaData"]["id"], "started": c["metaData"]["started"]}
            for c in details
            for party in c.get("parties", [])
        ],
        "call_transcripts": sandbox.transcripts(),
        "scorecards": sandbox.scorecards(),
        "answered_scorecards": sandbox.answered_scorecards(),
        "trackers": sandbox.trackers(),
        "users": sandbox.users(),
    }


def best_microseconds(shape: Callable[[dict], Any], records: list[dict], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        batches = [copy.deepcopy(records) for _ in range(ROUNDS_PER_REPEAT)]
        started = time.process_time()
        for batch in batches:
            for record in batch:
                shape(record)
        elapsed = time.process_time() - started
        best = min(best, elapsed / (ROUNDS_PER_REPEAT * len(records)))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    settings = SandboxSettings(seed=7, users=8, calls=450, days=20, now=SANDBOX_NOW)
    with GongSandbox(settings) as sandbox:
        items = gong_items(sandbox)
        tap = TapGong(config=sandbox.tap_config(start_date="2024-01-01"), parse_env_config=False)
    print(f"{'stream':<22}{'records':>8}{'µs/record':>12}")
    for name, records in items.items():
        stream = tap.streams[name]
        figure = best_microseconds(stream.post_process, records, args.repeat)
        print(f"{name:<22}{len(records):>8}{figure:>12.1f}")


if __name__ == "__main__":
    main()
