"""`meltano run tap-gong target-snowflake-emulated`: the real target-snowflake into fakesnow.

The loader is MeltanoLabs target-snowflake, installed by Meltano from meltano.yml, run
through launcher.py (its connection pointed at fakesnow, its stage plumbing replaced).
It lives the same history as the PostgreSQL and DuckDB pipelines and passes the same
checks (tests/e2e/test_meltano_pipelines.py). Here is what is Snowflake's own: the
column types target-snowflake creates, the queries of docs/snowflake.md (the join of stats
and calls on UTC bounds, one row per stat), no staging left behind, and the target's other
load path (overwrite).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gong_sandbox import GongSandbox
from tests.docs import blocks, doc
from tests.e2e.meltano_project import MeltanoProject
from tests.e2e.pipeline_scenario import (
    TABLE_KEYS,
    GongHolds,
    PipelineHistory,
    calls_hosted_per_user_day,
    sandbox_settings,
    table_differences,
    tap_environment,
)
from tests.e2e.snowflake.emulator import (
    LOADER,
    FakesnowServer,
    SnowflakeEmulatorWarehouse,
    loader_variable,
)
from tests.e2e.test_meltano_pipelines import CALLS_KEY, STATS_KEY


def guide_query(first_words: str) -> str:
    """One SQL block of docs/snowflake.md, as written."""
    (sql,) = (
        block.text
        for block in blocks(doc("docs/snowflake.md"))
        if block.language == "sql" and first_words in block.text
    )
    return sql


@pytest.fixture(scope="module")
def history(history_of) -> PipelineHistory:
    return history_of("snowflake")


def test_columns_get_snowflake_types_from_the_schemas(history, snowflake_warehouse):
    calls = snowflake_warehouse.column_types("calls")
    stats = snowflake_warehouse.column_types("interaction_stats")

    # Ids beyond int64 stay text; date-times are TIMESTAMP_NTZ holding UTC.
    assert [calls["id"], calls["primaryuserid"], calls["title"]] == ["TEXT"] * 3
    assert calls["started"] == calls["scheduled"] == "TIMESTAMP_NTZ"
    assert calls["duration"] == "NUMBER"
    assert calls["isprivate"] == "BOOLEAN"
    assert stats["userid"] == "TEXT"
    assert stats["fromdate"] == stats["todate"] == "DATE"
    assert stats["fromdatetime"] == "TIMESTAMP_NTZ"
    pivoted = ("longestmonologue", "longestcustomerstory", "interactivity", "patience")
    assert {stats[name] for name in (*pivoted, "questionrate")} == {"FLOAT"}
    assert stats["personinteractionstats"] == "VARIANT"


def test_new_streams_get_text_ids_utc_timestamps_and_variant_json(history, snowflake_warehouse):
    details = snowflake_warehouse.column_types("call_details")
    participants = snowflake_warehouse.column_types("call_participants")
    reviews = snowflake_warehouse.column_types("answered_scorecards")
    activity = snowflake_warehouse.column_types("user_activity")

    assert [details["id"], participants["callid"], participants["speakerid"]] == ["TEXT"] * 3
    assert [reviews["answeredscorecardid"], reviews["revieweduserid"]] == ["TEXT"] * 2
    assert details["started"] == reviews["reviewtime"] == "TIMESTAMP_NTZ"
    # The CRM `context` (its any-typed `value`s) and every nested object or array.
    assert {details[name] for name in ("context", "metadata", "parties", "content")} == {"VARIANT"}
    assert participants["context"] == reviews["answers"] == "VARIANT"
    assert activity["fromdate"] == "DATE"
    assert activity["callsashost"] == "VARIANT"
    assert activity["callsashostcount"] == "NUMBER"


def test_calls_join_their_hosts_stats_days_on_utc_instants(history, snowflake_warehouse):
    """Both tables hold UTC: a user's calls that started inside a stats row's
    [fromDateTime, toDateTime) are that user's calls of that company day."""
    joined = snowflake_warehouse.query(guide_query("calls_hosted"))
    stats = history.scheduled_run.gong.stats
    calls_per_user_day = calls_hosted_per_user_day(history.scheduled_run.gong.tables)

    assert len(joined) == len(stats)
    assert {(email, day): count for email, day, count, *_ in joined} == {
        (email, day): calls_per_user_day[email, day] for email, day, *_ in joined
    }
    assert min(count for _, _, count, *_ in joined) > 0


def test_every_stat_of_a_day_is_a_row_of_its_own(history, snowflake_warehouse):
    rows = snowflake_warehouse.query(guide_query("FLATTEN"))

    assert sorted((user, str(day), stat, value) for user, day, stat, value in rows) == sorted(
        (user, day, stat["name"], stat["value"])
        for (user, day), row in history.scheduled_run.gong.stats.items()
        for stat in row["personinteractionstats"]
    )


def test_loads_leave_no_staging_tables_behind(history, snowflake_warehouse):
    tables = snowflake_warehouse.query(
        "SELECT table_schema, table_name FROM information_schema.tables"
    )

    assert sorted(tables) == sorted(("GONG", table.upper()) for table in TABLE_KEYS)


def test_overwrite_load_method_reloads_every_row_once(
    meltano_project: MeltanoProject, fakesnow_server: FakesnowServer, tmp_path: Path
):
    """target-snowflake's other load path: TRUNCATE, then COPY (not MERGE) from the stage."""
    warehouse = SnowflakeEmulatorWarehouse(fakesnow_server, "GONG_OVERWRITE")
    environment = {
        **warehouse.loader_environment(),
        loader_variable("load_method"): "overwrite",
        "MELTANO_STATE_BACKEND_URI": tmp_path.as_uri(),  # not the history's state
        # The two streams it checks: the load path is the same for every table.
        "TAP_GONG__SELECT": json.dumps(["calls.*", "interaction_stats.*"]),
    }
    with GongSandbox(sandbox_settings()) as sandbox:

        def full_reload(label: str) -> None:
            meltano_project.meltano(
                *("run", "--full-refresh", "tap-gong", LOADER),
                label=f"{warehouse.name} overwrite, {label}",
                env={**tap_environment(sandbox), **environment},
            )

        full_reload("first full reload")
        sandbox.add_calls(10)
        full_reload("second full reload")
        gong = GongHolds.read(sandbox)

    # The emulator enforces primary keys: rows left from the first run would fail the COPY.
    assert table_differences(warehouse.rows("calls"), gong.calls, CALLS_KEY) == []
    assert table_differences(warehouse.rows("interaction_stats"), gong.stats, STATS_KEY) == []
