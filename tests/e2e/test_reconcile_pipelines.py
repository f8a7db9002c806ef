"""Calls deleted in Gong leave the warehouse: `reconcile_every_days` through Meltano.

target-postgres 0.8.1 and target-snowflake 0.20.4 soft-delete on ACTIVATE_VERSION with
the settings meltano.yml gives them (their defaults: activate_version /
process_activate_version_messages on, hard_delete off, add_record_metadata on): rows
whose `_sdc_table_version` is older than the activated one get `_sdc_deleted_at`.

Each warehouse lives through: a backfill of the call streams; calls deleted in Gong (an
old one, one inside the lookback, a conference call) and old calls revealed late; a
reconcile stopped by its request budget; the same reconcile finished by the next run;
then a normal run. Its own database and Meltano state id, apart from the other tests.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from gong_sandbox import GongSandbox
from tests.e2e.meltano_project import MeltanoProject
from tests.e2e.pipeline_scenario import SANDBOX_NOW, START_DATE, sandbox_settings, tap_environment
from tests.e2e.postgres_server import PostgresServer
from tests.e2e.snowflake.emulator import FakesnowServer, SnowflakeEmulatorWarehouse
from tests.e2e.warehouses import PostgresWarehouse

# Each table of the call streams, and the column naming the call a row belongs to.
CALL_TABLES = {
    "calls": "id",
    "call_details": "id",
    "call_participants": "callid",
    "call_transcripts": "callid",
}
SELECT_CALL_STREAMS = json.dumps([f"{table}.*" for table in CALL_TABLES])
STATE_ID_SUFFIX = "reconcile"

Tables = dict[str, list[dict[str, Any]]]
ReconciledWarehouse = PostgresWarehouse | SnowflakeEmulatorWarehouse


@dataclass(frozen=True)
class ReconcileHistory:
    backfill: Tables
    deleted: set[str]
    revealed_late: set[str]
    interrupted: Tables
    interrupted_requests: int
    reconciled: Tables
    after: Tables
    gong_calls: set[str]


def live_through_a_reconcile(
    project: MeltanoProject, warehouse: ReconciledWarehouse
) -> ReconcileHistory:
    with GongSandbox(sandbox_settings()) as sandbox:

        def run(label: str, **settings: str) -> Tables:
            sandbox.reset_log()
            project.meltano(
                "run",
                "--state-id-suffix",
                STATE_ID_SUFFIX,
                "tap-gong",
                warehouse.loader,
                label=f"{warehouse.name} reconcile: {label}",
                env={
                    **tap_environment(sandbox),
                    **{f"TAP_GONG_{name.upper()}": value for name, value in settings.items()},
                    "TAP_GONG__SELECT": SELECT_CALL_STREAMS,
                    **warehouse.loader_environment(),
                },
            )
            return {table: warehouse.rows(table) for table in CALL_TABLES}

        backfill = run("backfill")
        deleted = delete_calls(sandbox, backfill)
        revealed = sandbox.reveal_late_calls() + sandbox.add_calls(
            4, start=START_DATE + dt.timedelta(days=2), end=START_DATE + dt.timedelta(days=3)
        )
        interrupted = run(
            "stopped by its budget", reconcile_every_days="0", max_requests_per_run="3"
        )
        interrupted_requests = len(sandbox.requests)
        # Due since the backfill (no reconcile yet): the pending one goes on, no new one.
        reconciled = run("finished", reconcile_every_days="7")
        after = run("normal run", reconcile_every_days="7")
        gong_calls = {call["id"] for call in sandbox.calls(START_DATE, sandbox.now())}
    return ReconcileHistory(
        backfill,
        deleted,
        {call["id"] for call in revealed},
        interrupted,
        interrupted_requests,
        reconciled,
        after,
        gong_calls,
    )


def delete_calls(sandbox: GongSandbox, loaded: Tables) -> set[str]:
    """Delete an old call, one inside the lookback and a conference call, each with rows in
    every call table."""
    in_every_table = set.intersection(*(call_ids(rows, table) for table, rows in loaded.items()))
    calls = [call for call in sandbox.calls() if call["id"] in in_every_table]
    old = calls[0]
    recent = next(c for c in reversed(calls) if started(c) > SANDBOX_NOW - dt.timedelta(hours=20))
    conference = next(c for c in calls[1:] if c["direction"] == "Conference")
    deleted = {old["id"], recent["id"], conference["id"]}
    assert len(deleted) == 3
    sandbox.delete_calls(deleted)
    return deleted


def started(call: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(call["started"].replace("Z", "+00:00"))


def call_ids(rows: list[dict[str, Any]], table: str) -> set[str]:
    return {row[CALL_TABLES[table]] for row in rows}


def marked_deleted(rows: list[dict[str, Any]], table: str) -> set[str]:
    return {row[CALL_TABLES[table]] for row in rows if row["_sdc_deleted_at"] is not None}


def versions_and_marks(tables: Tables) -> dict[str, list[tuple[Any, ...]]]:
    """What a reconcile decides, per row: its key, table version and deletion mark."""
    return {
        table: sorted(
            (
                json.dumps(row.get("id")),
                row[CALL_TABLES[table]],
                row["_sdc_table_version"],
                row["_sdc_deleted_at"],
            )
            for row in rows
        )
        for table, rows in tables.items()
    }


@pytest.fixture(scope="module")
def reconcile_warehouses(
    meltano_project: MeltanoProject,
    postgres_server: PostgresServer,
    fakesnow_server: FakesnowServer,
) -> dict[str, Callable[[], ReconciledWarehouse]]:
    def postgres() -> ReconciledWarehouse:
        postgres_server.create_database("reconcile")
        return PostgresWarehouse(postgres_server, "reconcile")

    def snowflake() -> ReconciledWarehouse:
        return SnowflakeEmulatorWarehouse(fakesnow_server, "GONG_RECONCILE")

    return {"postgres": postgres, "snowflake": snowflake}


@pytest.fixture(scope="module", params=["postgres", "snowflake"])
def history(
    request: pytest.FixtureRequest,
    meltano_project: MeltanoProject,
    reconcile_warehouses: dict[str, Callable[[], ReconciledWarehouse]],
) -> ReconcileHistory:
    return live_through_a_reconcile(meltano_project, reconcile_warehouses[request.param]())


def test_the_backfill_loads_every_row_unmarked_with_a_table_version(history):
    for table, rows in history.backfill.items():
        assert rows, table
        assert marked_deleted(rows, table) == set(), table
        assert None not in {row["_sdc_table_version"] for row in rows}, table


def test_an_interrupted_reconcile_marks_nothing(history):
    assert history.interrupted_requests <= 3
    for table, rows in history.interrupted.items():
        assert marked_deleted(rows, table) == set(), table
        assert history.deleted <= call_ids(rows, table), table


def test_the_finished_reconcile_marks_exactly_the_deleted_calls_in_every_table(history):
    for table, rows in history.reconciled.items():
        assert marked_deleted(rows, table) == history.deleted, table
        unmarked = {row[CALL_TABLES[table]] for row in rows if row["_sdc_deleted_at"] is None}
        assert unmarked <= history.gong_calls, table
        assert len(rows) >= len(history.backfill[table]), f"{table}: rows deleted"


def test_the_finished_reconcile_brings_every_call_gong_holds_including_old_late_ones(history):
    assert history.revealed_late
    assert not history.revealed_late & call_ids(history.backfill["calls"], "calls")
    for table in ("calls", "call_details"):
        rows = history.reconciled[table]
        assert call_ids(rows, table) - history.deleted == history.gong_calls, table
        assert len(rows) == len(call_ids(rows, table)), f"{table}: one row per call"


def test_a_normal_run_after_the_reconcile_changes_no_version_and_no_mark(history):
    assert versions_and_marks(history.after) == versions_and_marks(history.reconciled)
