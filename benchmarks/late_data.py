"""What late-data re-reads cost and bring: a simulated fortnight of scheduled runs.

    python benchmarks/late_data.py           # twice-daily and hourly runs (about 5 minutes)
    python benchmarks/late_data.py --quick   # twice-daily only, 3 days (under a minute)

A company of 48 calls a day; Gong publishes a call 2 to 7 days after it started every 4
hours, and a reviewer changes the answers of a review 3 to 6 days after its review day
every 6 hours (tests/fortnight.py). Every stream selected, runs in this process against
the sandbox on its clock; the backfill before the fortnight is left out. Each schedule
runs twice: as shipped, and without late-data re-reads (each run's lookback only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fortnight import Fortnight, simulate

DAY = dt.timedelta(days=1)


def row(label: str, fortnight: Fortnight) -> str:
    calls = fortnight.late("calls")
    answers = fortnight.late("answered_scorecards")
    return (
        f"| {label} | {fortnight.runs} | {fortnight.requests} | "
        f"{fortnight.requests_per_day:.1f} | "
        f"{fortnight.arrived_within('calls', DAY)} of {len(calls)} | "
        f"{fortnight.arrived_within('answered_scorecards', DAY)} of {len(answers)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="twice-daily runs over 3 days")
    args = parser.parse_args()
    days = 3 if args.quick else 14
    schedules = (12,) if args.quick else (12, 1)
    print(
        "| schedule | runs | requests | a day | late calls in 24 h | late answers in 24 h |\n"
        "|---|---|---|---|---|---|"
    )
    for every in schedules:
        name = "twice daily" if every == 12 else f"every {every} h"
        shipped = simulate(every, days)
        baseline = simulate(every, days, rereads=False)
        print(row(f"{name}, {days} days", shipped))
        print(row(f"{name}, {days} days, without late-data re-reads", baseline))
        extra = shipped.requests_per_day - baseline.requests_per_day
        bound = max(0.3 * baseline.requests_per_day, 20)
        share = extra / baseline.requests_per_day
        print(
            f"| {name}: cost of the re-reads | | {shipped.requests - baseline.requests} | "
            f"+{extra:.1f} (+{share:.0%}; bound {bound:.1f}) | | |"
        )


if __name__ == "__main__":
    main()
