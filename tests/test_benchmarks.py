"""The benchmark runs end to end: `benchmarks/run.py --quick` prints its one table.

Benchmarks print figures and are never pass/fail on them: this checks that every
measurement of issue 7 is produced, not how fast anything was.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
SECTIONS = ("1 backfill", "2 incremental", "3 CPU", "4 memory")


def quick_benchmark_table() -> list[list[str]]:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in completed.stdout.splitlines()
        if line.startswith("|")
    ]


def test_quick_benchmark_prints_a_value_for_every_measurement():
    header, _rule, *rows = quick_benchmark_table()
    assert header == ["", "measure", "value", "target"]
    assert [section for section, *_ in rows if section] == list(SECTIONS)
    assert all(value for _, _, value, _ in rows)
    records = next(value for _, measure, value, _ in rows if measure.startswith("records (tap"))
    tap_records, bare_loop_records = records.split(" / ")
    assert tap_records == bare_loop_records  # the bare loop replayed exactly the tap's pages
