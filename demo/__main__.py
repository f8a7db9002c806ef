"""`python -m demo`: Gong -> Meltano -> DuckDB on this machine, no Gong account.

Run from the repository root (where meltano.yml is) after `pip install ".[demo]"`.
It starts the Gong sandbox, runs `meltano run tap-gong target-duckdb` in the repo's
Meltano project, shows what landed and the saved state, then lets a day pass in the
sandbox (new calls) and runs again: an incremental sync that adds only the new rows.
Everything it writes is under output/demo/ (recreated on every run); the plugins are
installed under .meltano/ the first time.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from gong_sandbox import GongSandbox, SandboxSettings
from tests.e2e.meltano_runner import (
    MeltanoFailed,
    meltano_executable,
    run_meltano,
    tap_gong_environment,
)

UTC = dt.timezone.utc
PIPELINE = ("tap-gong", "target-duckdb")
STATE_ID = "dev:tap-gong-to-target-duckdb"  # `meltano run` names state <environment>:<pair>
DEMO_HISTORY_DAYS = 30
NEW_CALLS = 12
DAY = dt.timedelta(days=1)
INSTALL_HINT = "pip install '.[demo]'"


class Demo:
    def __init__(self, project: Path, meltano: str, sandbox: GongSandbox) -> None:
        self.project = project
        self.meltano_path = meltano
        self.sandbox = sandbox
        self.output = project / "output" / "demo"
        self.database = self.output / "gong_demo.duckdb"

    def run(self) -> None:
        shutil.rmtree(self.output, ignore_errors=True)
        (self.output / "logs").mkdir(parents=True)
        self.install_plugins()
        say(f"Gong sandbox serving {len(self.sandbox.calls())} calls at {self.sandbox.url}")
        self.sync("1", "first run: the whole history")
        self.show_tables()
        self.show_state()

        last_end = self.sandbox.now()
        self.sandbox.advance_clock(DAY)
        new_calls = self.sandbox.add_calls(NEW_CALLS)
        say(f"\nA day passes in the sandbox: {len(new_calls)} new calls in Gong.")
        before = self.row_counts()
        self.sync("2", "incremental run: from the saved state")
        self.show_incremental(before, new_calls, last_end)
        self.show_state()
        say(
            f"\nDone. The tables are in {self.relative(self.database)}, "
            f"the Meltano logs in {self.relative(self.output / 'logs')}.\n"
            "Point the same pipeline at your Gong: see docs/postgres.md."
        )

    # -- Meltano -------------------------------------------------------------------------

    def install_plugins(self) -> None:
        venvs = [
            self.project / ".meltano" / "extractors" / "tap-gong" / "venv",
            self.project / ".meltano" / "loaders" / "target-duckdb" / "venv",
        ]
        if all(venv.exists() for venv in venvs):
            return
        say("Installing tap-gong and target-duckdb into .meltano/ (first time only)...")
        seconds, _ = self.meltano("install", *PIPELINE, log_name="install")
        say(f"  installed in {seconds:.0f} s")

    def sync(self, number: str, what: str) -> None:
        say(f"\n== meltano run {' '.join(PIPELINE)}  ({what})")
        self.sandbox.reset_log()
        seconds, _ = self.meltano("run", *PIPELINE, log_name=f"run-{number}")
        say(f"  finished in {seconds:.1f} s ({len(self.sandbox.requests)} requests to Gong)")

    def meltano(self, *args: str, log_name: str) -> tuple[float, str]:
        return run_meltano(
            self.meltano_path,
            args,
            project=self.project,
            settings=self.pipeline_settings(),
            log=self.output / "logs" / f"meltano-{log_name}.log",
        )

    def pipeline_settings(self) -> dict[str, str]:
        tap_config = self.sandbox.tap_config(
            # The sandbox's frozen clock: tap and sandbox agree on "now".
            end_date=self.sandbox.now().isoformat(),
            # The sandbox sets no rate limit; real Gong gets the default 3 per second.
            max_requests_per_second=20,
        )
        return {
            "MELTANO_STATE_BACKEND_URI": (self.output / "state").as_uri(),
            "TARGET_DUCKDB_PATH": str(self.database),
            **tap_gong_environment(tap_config),
        }

    # -- What landed ---------------------------------------------------------------------

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple]:
        import duckdb  # noqa: PLC0415 - a demo extra, not a dependency of the tap

        with duckdb.connect(str(self.database), read_only=True) as connection:
            return connection.execute(sql, list(parameters)).fetchall()

    def row_counts(self) -> dict[str, int]:
        """Rows of every table the pipeline loaded, by name."""
        tables = self.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'gong' ORDER BY table_name"
        )
        return {
            table: self.query(f"SELECT count(*) FROM gong.{table}")[0][0] for (table,) in tables
        }

    def show_tables(self) -> None:
        say(f"\nRows in {self.relative(self.database)}:")
        for table, count in self.row_counts().items():
            say(f"  gong.{table:<22} {count:>6,}")
        say("\ngong.calls, latest 5:")
        print_rows(
            ("id", "started (UTC)", "duration s", "direction", "title"),
            self.query(
                "SELECT id, started, duration, direction, title FROM gong.calls "
                "ORDER BY started DESC LIMIT 5"
            ),
        )
        say("\ngong.interaction_stats, latest day, 5 users:")
        print_rows(
            (
                "userid",
                "fromdate",
                "longest monologue",
                "interactivity",
                "patience",
                "question rate",
            ),
            self.query(
                "SELECT userid, fromdate, longestmonologue, interactivity, patience, questionrate "
                "FROM gong.interaction_stats ORDER BY fromdate DESC, userid LIMIT 5"
            ),
        )

    def show_state(self) -> None:
        _, output = self.meltano("state", "get", STATE_ID, log_name="state")
        state = json.loads(output)
        say(f"\nState Meltano saved for the next run ({STATE_ID}):")
        say(json.dumps(state, indent=2))

    def show_incremental(
        self, before: dict[str, int], new_calls: list[dict[str, Any]], last_end: dt.datetime
    ) -> None:
        after = self.row_counts()
        say("\nRows before -> after:")
        for table in after:
            say(f"  gong.{table:<22} {before.get(table, 0):>6,} -> {after[table]:>6,}")
        # Calls are read on /v2/calls, or in call_details' /v2/calls/extensive pages.
        call_filters = [
            request.query if request.body is None else request.body["filter"]
            for request in self.sandbox.requests
            if request.path in ("/v2/calls", "/v2/calls/extensive")
        ]
        asked_from = min(
            dt.datetime.fromisoformat(call_filter["fromDateTime"].replace("Z", "+00:00"))
            for call_filter in call_filters
        )
        read = len(self.sandbox.call_details(asked_from, self.sandbox.now()))
        lookback_days = (last_end - asked_from) / DAY
        say(
            f"The tap asked Gong only for calls from {asked_from:%Y-%m-%d %H:%M} UTC on (the "
            f"last run's end minus the {lookback_days:g}-day lookback), not the whole history.\n"
            f"It read {read} calls: the {len(new_calls)} new ones, and {read - len(new_calls)} "
            "from the lookback that were updated in place (upserted on the primary key),\n"
            "so the tables grew by the new calls and the stats of the newly completed day."
        )
        say("\nThe new calls in gong.calls:")
        new_ids = [call["id"] for call in new_calls]
        print_rows(
            ("id", "started (UTC)", "duration s", "title"),
            self.query(
                "SELECT id, started, duration, title FROM gong.calls "
                "WHERE list_contains(?, id) ORDER BY started",
                [new_ids],
            ),
        )

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.project))


def print_rows(headers: Sequence[str], rows: list[tuple]) -> None:
    """A plain text table, each column as wide as its widest value (titles cut at 40)."""
    cells = [[cell_text(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    for line in [list(headers), *cells]:
        say("  " + "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)))


def cell_text(value: object) -> str:
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def say(text: str) -> None:
    print(text, flush=True)


def main() -> None:
    project = Path.cwd()
    if not (project / "meltano.yml").is_file():
        sys.exit("Run the demo from the tap-gong repository root, where meltano.yml is.")
    meltano = meltano_executable()
    missing = [
        name for name, found in (("meltano", meltano), ("duckdb", find_spec("duckdb"))) if not found
    ]
    if missing or meltano is None:
        sys.exit(f"The demo needs {' and '.join(missing)}: {INSTALL_HINT}")
    # A frozen clock, which the tap gets as end_date. It starts a day back because the
    # demo moves it on a day, and the tap never asks for anything after the real now.
    sandbox = GongSandbox(
        SandboxSettings(
            calls=300,
            days=DEMO_HISTORY_DAYS,
            now=dt.datetime.now(UTC).replace(second=0, microsecond=0) - DAY,
        )
    )
    try:
        with sandbox:
            Demo(project, meltano, sandbox).run()
    except MeltanoFailed as problem:
        sys.exit(str(problem))
    except KeyboardInterrupt:
        sys.exit("Interrupted.")
    say("The sandbox is stopped.")


if __name__ == "__main__":
    main()
