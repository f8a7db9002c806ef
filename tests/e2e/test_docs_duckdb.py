"""The DuckDB guide's commands and queries, run as written on the file the pipeline loaded.

docs/duckdb.md's one-line look at the file runs in a shell in the file's folder, and its
SQL blocks run on the same file; each answer is compared with what the sandbox holds.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.docs import blocks, doc
from tests.e2e.pipeline_scenario import PipelineHistory, calls_hosted_per_user_day
from tests.e2e.warehouses import DuckDBWarehouse

GUIDE = doc("docs/duckdb.md")


@pytest.fixture(scope="module")
def gong(history_of) -> dict[str, dict[Any, dict[str, Any]]]:
    history: PipelineHistory = history_of("duckdb")
    return history.scheduled_run.gong.tables


def guide_block(language: str, first_words: str) -> str:
    (text,) = (
        block.text
        for block in blocks(GUIDE)
        if block.language == language and first_words in block.text
    )
    return text


def query(warehouse: DuckDBWarehouse, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        return connection.sql(sql).fetchall()


def test_the_one_line_look_at_the_file_counts_every_call(gong, duckdb_warehouse):
    look = guide_block("bash", "import duckdb")
    assert duckdb_warehouse.path.name == "warehouse.duckdb"  # the name the guide opens

    shown = subprocess.run(
        ["bash", "-euc", look],
        cwd=duckdb_warehouse.path.parent,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert shown.returncode == 0, shown.stderr
    assert re.findall(r"│\s*(\d+)\s*│", shown.stdout) == [str(len(gong["calls"]))]


def test_stats_days_join_the_calls_their_user_hosted_that_day(gong, duckdb_warehouse):
    calls_per_user_day = calls_hosted_per_user_day(gong)

    rows = query(duckdb_warehouse, guide_block("sql", "calls_hosted"))

    assert len(rows) == len(gong["interaction_stats"])
    assert {(email, day): count for email, day, count, *_ in rows} == {
        (email, day): calls_per_user_day[email, day] for email, day, *_ in rows
    }


def test_every_stat_of_a_day_is_a_row_of_its_own(gong, duckdb_warehouse):
    rows = query(duckdb_warehouse, guide_block("sql", "unnest(from_json("))

    assert sorted((user, day, name, value) for user, day, name, value in rows) == sorted(
        (user, day, stat["name"], stat["value"])
        for (user, day), s in gong["interaction_stats"].items()
        for stat in s["personinteractionstats"]
    )
