"""One Meltano pipeline's life against the Gong sandbox, and what Gong holds at each step.

1. `meltano run tap-gong <loader>`: the first, full load.
2. The same again with nothing new in Gong.
3. Gong moves on a day: new calls, late calls revealed inside the lookback, and calls
   backdated onto the last loaded company day (so a loaded stats day changes). Then
   `meltano schedule run <schedule>`, which runs the pipeline's job with the state of
   the runs before.

After each run the warehouse's tables are read back next to what the sandbox holds,
with the requests the run made, so the tests compare the two.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from demo.meltano_runner import tap_gong_environment
from tap_gong.sandbox import GongSandbox, RequestLogEntry, SandboxSettings
from tests.e2e.meltano_project import REPO_ROOT, MeltanoProject
from tests.e2e.warehouses import Warehouse

UTC = dt.timezone.utc
# 11:00 in the company zone (America/Los_Angeles): the company day and the UTC day differ.
SANDBOX_NOW = dt.datetime(2024, 3, 20, 18, 0, tzinfo=UTC)
HISTORY_DAYS = 30
START_DATE = SANDBOX_NOW - dt.timedelta(days=HISTORY_DAYS + 1)
LOOKBACK = dt.timedelta(days=1)  # lookback_window_days' default, as meltano.yml sets it
CALL_PROPERTIES = json.loads((REPO_ROOT / "schemas" / "calls.json").read_text())["properties"]


def sandbox_settings() -> SandboxSettings:
    return SandboxSettings(
        seed=11, users=8, workspaces=2, calls=300, days=HISTORY_DAYS, now=SANDBOX_NOW, late_calls=6
    )


def utc_naive(value: str | None) -> dt.datetime | None:
    """An ISO-8601 instant with any offset as the UTC wall-clock a warehouse column holds."""
    if value is None:
        return None
    instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return instant.astimezone(UTC).replace(tzinfo=None)


def expected_call_row(call: dict[str, Any]) -> dict[str, Any]:
    """A call as its warehouse row: every schema field (absent ones NULL), instants in UTC."""
    return {
        name.lower(): utc_naive(call.get(name))
        if schema.get("format") == "date-time"
        else call.get(name)
        for name, schema in CALL_PROPERTIES.items()
    }


def expected_stats_row(item: dict[str, Any], day: dt.date) -> dict[str, Any]:
    """One user's company day as its warehouse row: Gong's item plus each stat pivoted."""
    row = {
        "userid": item["userId"],
        "fromdate": day.isoformat(),
        "todate": (day + dt.timedelta(days=1)).isoformat(),
        "useremailaddress": item["userEmailAddress"],
        "timezone": item["timeZone"],
        "fromdatetime": utc_naive(item["fromDateTime"]),
        "todatetime": utc_naive(item["toDateTime"]),
        "personinteractionstats": item["personInteractionStats"],
    }
    for stat in item["personInteractionStats"]:
        row[stat["name"].replace(" ", "").lower()] = stat["value"]
    return row


@dataclass(frozen=True)
class GongHolds:
    """What the sandbox holds for the pipeline's range: calls by id, stats by (user, day)."""

    calls: dict[str, dict[str, Any]]
    stats: dict[tuple[str, str], dict[str, Any]]

    @classmethod
    def read(cls, sandbox: GongSandbox) -> GongHolds:
        end = sandbox.now()
        complete_days = [
            day
            for day in sandbox.stats_days()
            if START_DATE.date() <= day < sandbox.company_today()
        ]
        return cls(
            calls={call["id"]: expected_call_row(call) for call in sandbox.calls(START_DATE, end)},
            stats={
                (item["userId"], day.isoformat()): expected_stats_row(item, day)
                for day in complete_days
                for item in sandbox.interaction_stats(day)
            },
        )


@dataclass(frozen=True)
class Snapshot:
    """After one run: the warehouse's tables, what Gong holds, and what the run asked Gong."""

    calls: list[dict[str, Any]]
    stats: list[dict[str, Any]]
    gong: GongHolds
    requests: list[RequestLogEntry]

    def earliest_calls_request(self) -> dt.datetime | None:
        """The earliest fromDateTime the run asked Gong's calls for (None: no request)."""
        return min(
            (
                dt.datetime.fromisoformat(r.query["fromDateTime"].replace("Z", "+00:00"))
                for r in self.requests
                if r.path == "/v2/calls"
            ),
            default=None,
        )

    def earliest_stats_request(self) -> dt.date | None:
        """The earliest fromDate the run asked Gong's stats for (None: no request)."""
        return min(
            (
                dt.date.fromisoformat(r.body["filter"]["fromDate"])
                for r in self.requests
                if r.path == "/v2/stats/interaction" and r.body
            ),
            default=None,
        )


@dataclass(frozen=True)
class GongChanges:
    new_calls: list[dict[str, Any]]
    late_calls: list[dict[str, Any]]
    backdated_calls: list[dict[str, Any]]
    changed_day: dt.date


@dataclass(frozen=True)
class PipelineHistory:
    warehouse: str
    first_run: Snapshot
    rerun: Snapshot
    changes: GongChanges
    scheduled_run: Snapshot


def run_pipeline_history(project: MeltanoProject, warehouse: Warehouse) -> PipelineHistory:
    with GongSandbox(sandbox_settings()) as sandbox:

        def run(label: str, *meltano_args: str) -> Snapshot:
            sandbox.reset_log()
            project.meltano(
                *meltano_args,
                label=f"{warehouse.name} {label}",
                env={**tap_environment(sandbox), **warehouse.loader_environment()},
            )
            return Snapshot(
                calls=warehouse.rows("calls"),
                stats=warehouse.rows("interaction_stats"),
                gong=GongHolds.read(sandbox),
                requests=sandbox.requests,
            )

        pipeline = ("run", "tap-gong", warehouse.loader)
        first_run = run("run 1 (full load)", *pipeline)
        rerun = run("run 2 (no new data)", *pipeline)
        changes = change_gong(sandbox)
        scheduled_run = run(
            "run 3 (schedule, after changes)", "schedule", "run", warehouse.schedule
        )
    return PipelineHistory(warehouse.name, first_run, rerun, changes, scheduled_run)


def tap_environment(sandbox: GongSandbox) -> dict[str, str]:
    """tap-gong's settings for Meltano: the sandbox, and the sandbox's clock as end_date."""
    config = sandbox.tap_config(
        # Fixed for the whole history, while the sandbox's clock moves on.
        start_date=START_DATE.isoformat(),
        # Tap and sandbox agree on "now", so the tap asks only for days the sandbox has closed.
        end_date=sandbox.now().isoformat(),
        # The sandbox sets no rate limit here: no need to pace at Gong's 3 per second.
        max_requests_per_second=50,
    )
    return tap_gong_environment(config)


def change_gong(sandbox: GongSandbox) -> GongChanges:
    """A day passes in Gong: new calls, late calls appear, a loaded day gets more calls."""
    loaded_day = sandbox.company_today() - dt.timedelta(days=1)
    # Inside the calls lookback (the last run's end minus a day) and on the last company
    # day the last run loaded stats for, so that day's stats change.
    backdated = sandbox.add_calls(
        5, start=SANDBOX_NOW - dt.timedelta(hours=23), end=SANDBOX_NOW - dt.timedelta(hours=15)
    )
    late = sandbox.reveal_late_calls()
    sandbox.advance_clock(dt.timedelta(days=1))
    new = sandbox.add_calls(20)  # the day since the last run
    return GongChanges(new, late, backdated, loaded_day)


def duplicates(keys: Iterable[Any]) -> list[Any]:
    return [key for key, count in Counter(keys).items() if count > 1]


def table_differences(
    rows: list[dict[str, Any]], expected: dict[Any, dict[str, Any]], key_columns: tuple[str, ...]
) -> list[str]:
    """How the table differs from what Gong holds: duplicates, missing, extra, changed rows."""

    def key_of(row: dict[str, Any]) -> Any:
        return row[key_columns[0]] if len(key_columns) == 1 else tuple(row[c] for c in key_columns)

    problems = []
    if repeated := duplicates(key_of(row) for row in rows):
        problems.append(f"{len(repeated)} keys loaded more than once, e.g. {repeated[:3]}")
    loaded = {key_of(row): row for row in rows}
    if missing := sorted(set(expected) - set(loaded)):
        problems.append(f"{len(missing)} rows missing, e.g. {missing[:3]}")
    if extra := sorted(set(loaded) - set(expected)):
        problems.append(f"{len(extra)} rows Gong does not hold, e.g. {extra[:3]}")
    for key in sorted(set(expected) & set(loaded)):
        wrong = {
            column: (loaded[key].get(column, "<no column>"), value)
            for column, value in expected[key].items()
            if not same_value(loaded[key].get(column, "<no column>"), value)
        }
        if wrong:
            problems.append(f"row {key}: column: (loaded, Gong's) {wrong}")
    return problems


def same_value(loaded: Any, expected: Any) -> bool:
    """Equal, and of the same kind: a boolean is not 0/1, a number is not its text."""
    return (
        loaded == expected
        and isinstance(loaded, bool) == isinstance(expected, bool)
        and isinstance(loaded, str) == isinstance(expected, str)
    )
