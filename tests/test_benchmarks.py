"""The benchmarks run end to end: `benchmarks/run.py --quick` and `benchmarks/scale.py`
on small companies print their tables.

Benchmarks print figures and are never pass/fail on them: this checks that every
measurement of issue 7 is produced, not how fast anything was.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SECTIONS = ("1 backfill", "2 incremental", "3 CPU", "4 memory")


def benchmark_table(script: str, *args: str) -> list[list[str]]:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
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
    header, _rule, *rows = benchmark_table("run.py", "--quick")
    assert header == ["", "measure", "value", "target"]
    assert [section for section, *_ in rows if section] == list(SECTIONS)
    assert all(value for _, _, value, _ in rows)
    records = next(value for _, measure, value, _ in rows if measure.startswith("records (tap"))
    tap_records, bare_loop_records = records.split(" / ")
    assert tap_records == bare_loop_records  # the bare loop replayed exactly the tap's pages


def test_scale_benchmark_prints_a_row_per_company_once_every_record_arrived():
    # scale.py stops with an error when a stream's records differ from the sandbox's count
    # or the bare loop's, so a table means nothing was dropped.
    header, _rule, *rows = benchmark_table("scale.py", "--calls", "300", "900", "--days", "5")
    assert header[:3] == ["calls", "requests / minimum (extra; date windows)", "records"]
    assert [row[0] for row in rows] == ["300", "900"]
    # calls / call_details / call_transcripts: calls and call_details from the same pages
    # (the company's calls since start_date, each once), transcripts at most as many.
    counts = [[int(n.replace(",", "")) for n in row[2].split(" / ")] for row in rows]
    assert all(calls == details >= transcripts for calls, details, transcripts in counts)
    assert [calls for calls, _, _ in counts] == sorted({calls for calls, _, _ in counts})
