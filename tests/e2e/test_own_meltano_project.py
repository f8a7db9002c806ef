"""tap-gong in a Meltano project that is not ours, as README.md adds it and runs it.

A fresh `meltano init` project takes the README's `meltano add tap-gong --from-ref ...`
(the Hub definition in this checkout: offline, the same file as the raw URL), installs
tap-gong from this checkout instead of the git URL (docs/meltano.md), and target-postgres
from the definition in meltano.yml (a user would add it from the Hub). Then:

- one pipeline loads a Gong sandbox into PostgreSQL, and after a day of changes in Gong
  runs again from its state;
- docs/many-companies.md's layout, merged in as written, runs two sandbox
  companies side by side, their state in a shared PostgreSQL system database.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gong_sandbox import GongSandbox, RequestLogEntry, SandboxSettings
from tap_gong.late_data import LATE_DATA
from tests import docs
from tests.e2e.meltano_project import REPO_ROOT, MeltanoProject, report_timings_of
from tests.e2e.meltano_runner import meltano_executable, tap_gong_environment
from tests.e2e.pipeline_scenario import (
    SANDBOX_NOW,
    START_DATE,
    TABLE_KEYS,
    GongHolds,
    Snapshot,
    change_gong,
    sandbox_settings,
    table_differences,
    tap_environment,
)
from tests.e2e.postgres_server import PostgresServer
from tests.e2e.warehouses import PostgresWarehouse

MANY_COMPANIES = docs.doc("docs/many-companies.md")
HUB_DEFINITION = REPO_ROOT / "meltano-hub" / "extractors" / "tap-gong.yml"
RAW_URL = "https://raw.githubusercontent.com/tap-gong/tap-gong/main/"
README_ADD = re.compile(r"^meltano add tap-gong --from-ref (\S+)$", re.MULTILINE)
CALLS_KEY = ("id",)
STATS_KEY = ("userid", "fromdate")
# Gong's limit, enforced by each company's sandbox; each tap paces at its default, the same.
GONG_REQUESTS_PER_SECOND = 3
# The tap spaces every 3 starts 1.03 s apart (tap_gong/pacing.py). With two pipelines,
# their targets and both sandboxes on two busy cores, a start can reach its sandbox more
# than 30 ms late and the next on time: a 429 at the edge of Gong's second (measured: 2 or
# 3 of about 75 requests per company), retried after its Retry-After with nothing lost (the
# tables equal Gong). A tap paced at twice its company's limit would see about half refused.
RARE_429_SHARE = 0.1


def readme_add_reference() -> str:
    """Where the README's `meltano add tap-gong --from-ref` takes the definition from."""
    section = docs.section(docs.README, "Add tap-gong to your own Meltano project")
    (reference,) = README_ADD.findall(section)
    return reference


def readme_companies_layout() -> dict[str, Any]:
    """The YAML block of docs/many-companies.md."""
    (block,) = (block for block in docs.blocks(MANY_COMPANIES) if block.language == "yaml")
    return yaml.safe_load(block.text)


def docs_select_command() -> list[str]:
    """docs/meltano.md's `meltano config set tap-gong _select ...`, as meltano's arguments."""
    (line,) = (
        line
        for line in (REPO_ROOT / "docs" / "meltano.md").read_text().splitlines()
        if line.startswith("meltano config set tap-gong _select ")
    )
    return shlex.split(line)[1:]


def project_yml(project: MeltanoProject) -> dict[str, Any]:
    return yaml.safe_load((project.root / "meltano.yml").read_text())


def edit_project_yml(project: MeltanoProject, definition: dict[str, Any]) -> None:
    """Write meltano.yml as a user edits it (a fresh project's holds no comments to keep)."""
    (project.root / "meltano.yml").write_text(yaml.safe_dump(definition, sort_keys=False))


def plugin(definition: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    (found,) = (entry for entry in definition["plugins"][kind] if entry["name"] == name)
    return found


@dataclass(frozen=True)
class OwnProject:
    project: MeltanoProject
    # tap-gong as `meltano add` wrote it into meltano.yml, before its pip_url was changed.
    added: dict[str, Any]
    plugin_names: dict[str, list[str]]


@pytest.fixture(scope="module")
def own_project(request: pytest.FixtureRequest) -> Iterator[OwnProject]:
    """A fresh Meltano project with tap-gong added from its Hub definition, installed."""
    executable = meltano_executable()
    if executable is None:
        pytest.fail("meltano is not installed: pip install '.[test]'", pytrace=False)
    with tempfile.TemporaryDirectory(prefix="tap-gong-own-project-") as base:
        project = MeltanoProject(Path(base) / "project", executable, Path(base) / "state")
        (project.root / "logs").mkdir(parents=True)
        report_timings_of(request.config, project)
        project.meltano("init", ".", label="own meltano init")
        project.meltano(
            *("add", "tap-gong", "--from-ref", str(HUB_DEFINITION), "--no-install"),
            label="own meltano add tap-gong",
        )
        # Offline there is no Hub: the loader comes from this repo's definition of it.
        loader = Path(base) / "target-postgres.yml"
        repo_loader = plugin(
            yaml.safe_load((REPO_ROOT / "meltano.yml").read_text()), "loaders", "target-postgres"
        )
        loader.write_text(yaml.safe_dump(repo_loader))
        project.meltano(
            *("add", "target-postgres", "--from-ref", str(loader), "--no-install"),
            label="own meltano add target-postgres",
        )
        added = dict(plugin(project_yml(project), "extractors", "tap-gong"))
        # docs/meltano.md: `--from-ref` leaves the definition's `select` out; set it back.
        project.meltano(*docs_select_command(), label="own meltano config set _select")
        definition = project_yml(project)
        plugin_names = {
            kind: [entry["name"] for entry in entries]
            for kind, entries in definition["plugins"].items()
        }
        # docs/meltano.md: install from a clone (or a wheel) by changing pip_url.
        plugin(definition, "extractors", "tap-gong")["pip_url"] = str(REPO_ROOT)
        edit_project_yml(project, definition)
        project.meltano("install", label="own meltano install", timeout=420)
        yield OwnProject(project, added, plugin_names)


def test_readme_adds_tap_gong_from_the_hub_definition_in_this_repository():
    assert readme_add_reference() == RAW_URL + HUB_DEFINITION.relative_to(REPO_ROOT).as_posix()


def test_meltano_add_from_the_definition_adds_one_extractor_with_its_settings(own_project):
    definition = yaml.safe_load(HUB_DEFINITION.read_text())
    added = own_project.added
    # `meltano add extractor tap-gong --from-ref` would add a utility named tap-gong too.
    assert own_project.plugin_names == {
        "extractors": ["tap-gong"],
        "loaders": ["target-postgres"],
    }
    assert (
        added["pip_url"] == definition["pip_url"] == "git+https://github.com/tap-gong/tap-gong.git"
    )
    assert added["variant"] == "tap-gong"
    assert added["capabilities"] == definition["capabilities"]
    assert "select" not in added  # what docs/meltano.md's select command is for
    selected = plugin(project_yml(own_project.project), "extractors", "tap-gong")["select"]
    assert selected == definition["select"]
    assert [s["name"] for s in added["settings"]] == [s["name"] for s in definition["settings"]]
    secrets = {s["name"] for s in added["settings"] if s.get("sensitive")}
    assert secrets == {"access_key_secret", "access_token", "client_secret", "refresh_token"}


def snapshot(
    project: MeltanoProject,
    sandbox: GongSandbox,
    warehouse: PostgresWarehouse,
    *,
    label: str,
    env: dict[str, str],
    earlier: Snapshot | None = None,
) -> Snapshot:
    """Run `meltano run tap-gong target-postgres`; the tables, Gong's data, the requests."""
    sandbox.reset_log()
    project.meltano("run", "tap-gong", "target-postgres", label=label, env=env)
    gong = GongHolds.read(sandbox, warehouse.empty_text_lands_as_null)
    calls_read_from = Snapshot({}, gong, sandbox.requests).earliest_calls_request()
    if earlier is not None and calls_read_from is not None:
        gong = gong.as_last_read(earlier.gong, calls_read_from)
    selected = [table for table in TABLE_KEYS if warehouse_has(warehouse, table)]
    return Snapshot({table: warehouse.rows(table) for table in selected}, gong, sandbox.requests)


def warehouse_has(warehouse: PostgresWarehouse, table: str) -> bool:
    return bool(warehouse.column_types(table))


@pytest.fixture(scope="module")
def system_database(postgres_server: PostgresServer) -> dict[str, str]:
    """Meltano's system database (so its state backend) in the e2e PostgreSQL."""
    postgres_server.create_database("meltano")
    uri = f"postgresql+psycopg://{postgres_server.user}@{postgres_server.host}:{postgres_server.port}/meltano"
    return {"MELTANO_DATABASE_URI": uri, "MELTANO_STATE_BACKEND_URI": "systemdb"}


def test_added_tap_gong_loads_its_default_streams_then_runs_incrementally_from_its_state(
    own_project, postgres_server
):
    project = own_project.project
    postgres_server.create_database("own_project")
    warehouse = PostgresWarehouse(postgres_server, "own_project")
    definition = yaml.safe_load(HUB_DEFINITION.read_text())
    not_selected = {
        rule.removeprefix("!").removesuffix(".*")
        for rule in definition["select"]
        if rule.startswith("!")
    }
    with GongSandbox(sandbox_settings()) as sandbox:
        settings = {
            **warehouse.loader_environment(),
            **tap_environment(sandbox, every_stream=False),
        }
        first = snapshot(project, sandbox, warehouse, label="own run 1 (full load)", env=settings)
        changes = change_gong(sandbox)
        settings = {
            **warehouse.loader_environment(),
            **tap_environment(sandbox, every_stream=False),
        }
        second = snapshot(
            project, sandbox, warehouse, label="own run 2 (from state)", env=settings, earlier=first
        )
        state = json.loads(
            project.meltano(
                "state", "get", "dev:tap-gong-to-target-postgres", label="own state get"
            )
        )

    assert set(first.tables) == set(TABLE_KEYS) - not_selected
    for run in (first, second):
        for table, rows in run.tables.items():
            assert table_differences(rows, run.gong.tables[table], TABLE_KEYS[table]) == [], table
    added_calls = changes.new_calls + changes.late_calls + changes.backdated_calls
    assert len(second.calls) == len(first.calls) + len(added_calls)
    # The second run reads only what is new or late: from its state, not start_date.
    assert first.earliest_calls_request() == START_DATE
    assert second.earliest_calls_request() == SANDBOX_NOW - LATE_DATA
    assert len(second.requests) < len(first.requests)
    bookmarks = state["singer_state"]["bookmarks"]
    assert set(bookmarks) >= {"calls", "call_details", "interaction_stats"}


def company_sandbox(
    name: str, zone: str, *, seed: int, users: int, workspaces: int, calls: int
) -> SandboxSettings:
    """A Gong company of its own: its data, zone and credentials, enforcing Gong's limit."""
    return SandboxSettings(
        days=30,
        now=SANDBOX_NOW,
        time_zone=zone,
        access_key=f"{name}-key",
        access_key_secret=f"{name}-secret",
        requests_per_second=GONG_REQUESTS_PER_SECOND,
        seed=seed,
        users=users,
        workspaces=workspaces,
        calls=calls,
    )


# Two Gong companies: their own data, users, credentials and time zones.
COMPANY_SANDBOXES = {
    "acme": company_sandbox(
        "acme", "America/Los_Angeles", seed=11, users=8, workspaces=2, calls=300
    ),
    "globex": company_sandbox("globex", "Asia/Tokyo", seed=23, users=5, workspaces=1, calls=120),
}
NEW_CALLS = {"acme": 20, "globex": 7}


@dataclass(frozen=True)
class CompanyPipeline:
    """One README company: its job, extractor and the schema its loader writes to."""

    company: str
    job: str
    extractor: str
    schema: str

    def tap_environment(self, sandbox: GongSandbox) -> dict[str, str]:
        """The company's tap settings as its own variables (TAP_GONG__ACME_API_URL, ...),
        paced at the tap's default (Gong's 3 per second)."""
        config = sandbox.tap_config(
            start_date=START_DATE.isoformat(), end_date=sandbox.now().isoformat()
        )
        prefix = self.extractor.upper().replace("-", "_")
        return {
            name.replace("TAP_GONG", prefix, 1): value
            for name, value in tap_gong_environment(config).items()
        }


def readme_pipelines(layout: dict[str, Any]) -> list[CompanyPipeline]:
    loaders = {loader["name"]: loader for loader in layout["plugins"]["loaders"]}
    pipelines = []
    for job in layout["jobs"]:
        ((extractor, loader),) = (task.split() for task in job["tasks"])
        pipelines.append(
            CompanyPipeline(
                company=extractor.removeprefix("tap-gong--"),
                job=job["name"],
                extractor=extractor,
                schema=loaders[loader]["config"]["default_target_schema"],
            )
        )
    return pipelines


@dataclass(frozen=True)
class CompanyRuns:
    pipeline: CompanyPipeline
    first: Snapshot
    second: Snapshot
    new_calls: int


@dataclass(frozen=True)
class CompaniesHistory:
    runs: dict[str, CompanyRuns]
    # state_id -> its singer_state, as the system database holds it after each round.
    state_after_first: dict[str, dict[str, Any]]
    state_after_second: dict[str, dict[str, Any]]
    readme_layout: dict[str, Any]


def system_database_state(server: PostgresServer) -> dict[str, dict[str, Any]]:
    with server.connect("meltano") as connection:
        rows = connection.execute("SELECT state_id, completed_state FROM state").fetchall()
    return {state_id: json.loads(state)["singer_state"] for state_id, state in rows}


@pytest.fixture(scope="module")
def companies_history(own_project, postgres_server, system_database) -> CompaniesHistory:
    """The README's companies layout merged into the project, each company's pipeline run
    at the same time as the other's, twice (a day of new calls in between)."""
    project = own_project.project
    layout = readme_companies_layout()
    definition = project_yml(project)
    for kind, plugins in layout["plugins"].items():
        definition["plugins"][kind].extend(plugins)
    definition["jobs"] = layout["jobs"]
    edit_project_yml(project, definition)
    postgres_server.create_database("companies")
    loader_settings = PostgresWarehouse(postgres_server, "companies").loader_environment()
    # Migrations create the system database's tables: once, before the pipelines race.
    project.meltano("state", "list", label="companies system database", env=system_database)
    pipelines = readme_pipelines(layout)
    sandboxes = {p.company: GongSandbox(COMPANY_SANDBOXES[p.company]) for p in pipelines}

    def run_side_by_side(round_label: str) -> dict[str, Snapshot]:
        def run(pipeline: CompanyPipeline) -> Snapshot:
            sandbox = sandboxes[pipeline.company]
            project.meltano(
                "run",
                pipeline.job,
                label=f"{pipeline.job} {round_label}",
                env={
                    **system_database,
                    **loader_settings,
                    **pipeline.tap_environment(sandbox),
                },
            )
            warehouse = PostgresWarehouse(postgres_server, "companies", pipeline.schema)
            return Snapshot(
                {table: warehouse.rows(table) for table in ("calls", "interaction_stats")},
                GongHolds.read(sandbox),
                sandbox.requests,
            )

        for sandbox in sandboxes.values():
            sandbox.reset_log()
        with ThreadPoolExecutor(max_workers=len(pipelines)) as pool:
            results = pool.map(run, pipelines)
            return {p.company: snapshot for p, snapshot in zip(pipelines, results, strict=True)}

    for sandbox in sandboxes.values():
        sandbox.start()
    try:
        first = run_side_by_side("run 1 (side by side)")
        state_after_first = system_database_state(postgres_server)
        for company, sandbox in sandboxes.items():
            sandbox.advance_clock(dt.timedelta(days=1))
            sandbox.add_calls(NEW_CALLS[company])
        second = run_side_by_side("run 2 (side by side, from state)")
        state_after_second = system_database_state(postgres_server)
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()
    return CompaniesHistory(
        runs={
            p.company: CompanyRuns(p, first[p.company], second[p.company], NEW_CALLS[p.company])
            for p in pipelines
        },
        state_after_first=state_after_first,
        state_after_second=state_after_second,
        readme_layout=layout,
    )


def arrivals(requests: list[RequestLogEntry]) -> list[float]:
    return sorted(request.at for request in requests)


def while_all_ran(runs: list[Snapshot]) -> tuple[float, float]:
    """From the last first request of the runs to the first last one."""
    return (
        max(arrivals(run.requests)[0] for run in runs),
        min(arrivals(run.requests)[-1] for run in runs),
    )


def most_requests_at_the_limit(arrived: list[float]) -> float:
    """The most requests Gong's limit lets arrive from the first to the last of `arrived`:
    3 in any second, so 3 more per second after the first 3. Measured over a whole run, not
    second by second, where the sandbox's clock jitters on a busy machine."""
    return GONG_REQUESTS_PER_SECOND * (arrived[-1] - arrived[0] + 1)


def test_readme_companies_are_two_pipelines_of_inherited_plugins_into_their_own_schemas():
    layout = readme_companies_layout()
    pipelines = readme_pipelines(layout)
    assert [p.company for p in pipelines] == sorted(COMPANY_SANDBOXES)
    assert {plugin["inherit_from"] for plugin in layout["plugins"]["extractors"]} == {"tap-gong"}
    assert {plugin["inherit_from"] for plugin in layout["plugins"]["loaders"]} == {
        "target-postgres"
    }
    assert len({p.schema for p in pipelines}) == len(pipelines)
    section = MANY_COMPANIES.read_text()
    assert "MELTANO_DATABASE_URI=postgresql+psycopg://" in section
    # The variables the README names are those the test sets.
    with GongSandbox(COMPANY_SANDBOXES["acme"]) as sandbox:
        acme_settings = pipelines[0].tap_environment(sandbox)
    for setting in ("API_URL", "ACCESS_KEY", "ACCESS_KEY_SECRET"):
        assert f"`TAP_GONG__ACME_{setting}`" in section
        assert f"TAP_GONG__ACME_{setting}" in acme_settings


def test_each_company_lands_in_its_own_schema_equal_to_its_gong(companies_history):
    runs = companies_history.runs
    # Different data: no call of one company is in the other's.
    assert not set(runs["acme"].first.gong.calls) & set(runs["globex"].first.gong.calls)
    for company in runs.values():
        for run in (company.first, company.second):
            assert run.calls
            assert run.stats
            assert table_differences(run.calls, run.gong.calls, CALLS_KEY) == []
            assert table_differences(run.stats, run.gong.stats, STATS_KEY) == []


def test_company_days_are_each_companys_own_zone(companies_history):
    """Kolkata's last finished company day at SANDBOX_NOW (23:30 there) is a day later
    than Los Angeles' (11:00): each tap learnt its own company's zone."""
    last_day = {
        name: max(row["fromdate"] for row in company.first.stats)
        for name, company in companies_history.runs.items()
    }
    assert dt.date.fromisoformat(last_day["globex"]) - dt.date.fromisoformat(
        last_day["acme"]
    ) == dt.timedelta(days=1)


def test_pipelines_run_at_the_same_time_each_within_its_own_companys_limit(companies_history):
    for round_of in ("first", "second"):
        runs = [getattr(company, round_of) for company in companies_history.runs.values()]
        start, end = while_all_ran(runs)
        assert start < end, f"the {round_of} runs did not overlap"
        for run in runs:
            refused = [request for request in run.requests if request.status == 429]
            assert len(refused) <= RARE_429_SHARE * len(run.requests)
            assert len(run.requests) <= most_requests_at_the_limit(arrivals(run.requests))


def test_backfills_side_by_side_go_faster_together_than_one_companys_limit(companies_history):
    """Each tap is paced by its own company's allowance, not by one they share."""
    runs = [company.first for company in companies_history.runs.values()]
    start, end = while_all_ran(runs)
    together = sorted(at for run in runs for at in arrivals(run.requests) if start <= at <= end)
    assert len(together) > most_requests_at_the_limit(together)


def test_each_companys_gong_sees_only_its_own_companys_credentials(companies_history):
    for company in companies_history.runs.values():
        for run in (company.first, company.second):
            assert run.requests
            assert {request.auth for request in run.requests} == {"basic"}


def test_second_run_of_each_company_continues_from_its_own_state_in_the_system_database(
    companies_history,
):
    first_state = companies_history.state_after_first
    second_state = companies_history.state_after_second
    state_ids = {
        f"dev:{company.pipeline.extractor}-to-target-postgres--{name}"
        for name, company in companies_history.runs.items()
    }
    assert set(first_state) == set(second_state) == state_ids
    for name, company in companies_history.runs.items():
        state_id = f"dev:{company.pipeline.extractor}-to-target-postgres--{name}"
        assert first_state[state_id] != second_state[state_id]
        first, second = company.first, company.second
        assert first.earliest_calls_request() == START_DATE
        assert second.earliest_calls_request() == SANDBOX_NOW - LATE_DATA
        assert len(second.requests) < len(first.requests)
        assert len(second.calls) == len(first.calls) + company.new_calls
