"""End-to-end fixtures: the repo's Meltano project installed once, real warehouses."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.e2e.meltano_project import MELTANO_PROJECTS, MeltanoProject, report_timings_of
from tests.e2e.meltano_runner import meltano_executable
from tests.e2e.pipeline_scenario import PipelineHistory, run_pipeline_history
from tests.e2e.postgres_server import PostgresServer, PostgresUnavailable, throwaway_postgres
from tests.e2e.snowflake.emulator import (
    EmulatorUnavailable,
    FakesnowServer,
    SnowflakeEmulatorWarehouse,
    add_emulated_snowflake,
    running_fakesnow,
)
from tests.e2e.warehouses import DuckDBWarehouse, PostgresWarehouse
from tests.support import MELTANO_TIMINGS


@pytest.fixture(scope="session")
def meltano_project(request: pytest.FixtureRequest) -> Iterator[MeltanoProject]:
    """A temp copy of the repo's Meltano project with every plugin installed (once)."""
    executable = meltano_executable()
    if executable is None:
        pytest.fail("meltano is not installed: pip install '.[test]'", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="tap-gong-meltano-"))
    try:
        project = MeltanoProject.copy_of_repo(base, executable)
        report_timings_of(request.config, project)
        project.install()
        yield project
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        with throwaway_postgres() as server:
            yield server
    except PostgresUnavailable as problem:
        pytest.fail(f"PostgreSQL for the end-to-end tests: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def fakesnow_server(meltano_project: MeltanoProject) -> Iterator[FakesnowServer]:
    with ExitStack() as stop_at_the_end, pytest.MonkeyPatch.context() as environment:
        # The tests' own Snowflake connector would probe cloud metadata services at login.
        environment.setenv("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
        try:
            executable = add_emulated_snowflake(meltano_project)
            server = stop_at_the_end.enter_context(running_fakesnow(executable))
        except EmulatorUnavailable as problem:
            pytest.fail(f"Snowflake emulator for the end-to-end tests: {problem}", pytrace=False)
        yield server


@pytest.fixture(scope="session")
def postgres_warehouse(postgres_server: PostgresServer) -> PostgresWarehouse:
    postgres_server.create_database("warehouse")
    return PostgresWarehouse(postgres_server, "warehouse")


@pytest.fixture(scope="session")
def duckdb_warehouse() -> Iterator[DuckDBWarehouse]:
    with tempfile.TemporaryDirectory(prefix="tap-gong-duckdb-") as folder:
        yield DuckDBWarehouse(Path(folder) / "warehouse.duckdb")


@pytest.fixture(scope="session")
def snowflake_warehouse(fakesnow_server: FakesnowServer) -> SnowflakeEmulatorWarehouse:
    return SnowflakeEmulatorWarehouse(fakesnow_server, "GONG_WAREHOUSE")


@pytest.fixture(scope="session")
def history_of(
    request: pytest.FixtureRequest, meltano_project: MeltanoProject
) -> Callable[[str], PipelineHistory]:
    """Each warehouse's history, lived once per session however many modules check it."""
    histories: dict[str, PipelineHistory] = {}

    def history(warehouse: str) -> PipelineHistory:
        if warehouse not in histories:
            target = request.getfixturevalue(f"{warehouse}_warehouse")
            histories[warehouse] = run_pipeline_history(meltano_project, target)
        return histories[warehouse]

    return history


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The figures the issue asks for: how long meltano install and each run took, said
    by tests/conftest.py's summary (from a pytest-xdist worker: through its output)."""
    timings = [
        timing
        for project in session.config.stash.get(MELTANO_PROJECTS, [])
        for timing in project.timings
    ]
    if not timings:
        return
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:
        worker_output["meltano_timings"] = timings
    else:
        session.config.stash[MELTANO_TIMINGS] = timings
