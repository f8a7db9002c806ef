"""The README's first command, `python -m demo`, run as written in a copy of the project.

No other test runs it: it once broke unseen when calls came to ride on call_details' pages.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from demo.__main__ import NEW_CALLS
from tests.e2e.meltano_project import REPO_ROOT, MeltanoProject

DEMO_TIMEOUT_SECONDS = 600
SANDBOX_CALLS = 300  # demo/__main__.py's sandbox


def rows_before_and_after(output: str) -> dict[str, tuple[int, int]]:
    """The incremental run's "gong.TABLE  BEFORE -> AFTER" lines, by table."""
    return {
        table: (int(before.replace(",", "")), int(after.replace(",", "")))
        for table, before, after in re.findall(r"gong\.(\w+)\s+([\d,]+) ->\s+([\d,]+)", output)
    }


def test_the_demo_loads_gong_into_duckdb_then_adds_only_the_new_calls_incrementally(
    meltano_project: MeltanoProject,
) -> None:
    # The README runs it from the repository root, which puts demo/ and tests/ on the path;
    # the project's copy has neither (meltano_project.NOT_COPIED).
    demo = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=meltano_project.root,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_SECONDS,
        check=False,
    )

    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    rows = rows_before_and_after(demo.stdout)
    assert rows["calls"] == (SANDBOX_CALLS, SANDBOX_CALLS + NEW_CALLS)
    assert rows["call_details"] == (SANDBOX_CALLS, SANDBOX_CALLS + NEW_CALLS)
    assert rows["interaction_stats"][1] > rows["interaction_stats"][0] > 0
    assert "The tap asked Gong only for calls from" in demo.stdout
    assert "Traceback" not in demo.stderr
