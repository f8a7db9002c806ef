"""The docs say what the tap does: README.md's settings table and every command the docs show.

Each fenced command or query of README.md and docs/*.md is run by a test (its marker names
which) or says why none can; the README's and docs/postgres.md's shell blocks run here.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gong_sandbox import GongSandbox
from tests.docs import MARKER, README, REPO_ROOT, blocks, doc, doc_files, section
from tests.support import tap_config, tap_executable

SDK_SETTINGS = ("stream_maps", "stream_map_config", "faker_config", "flattening_", "batch_config")
# What a shell, SQL engine or Python would run; yaml is configuration, bare blocks are output.
RUNNABLE = {"bash", "sh", "shell", "console", "cron", "sql", "python"}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# The README's config example points at Gong: the sandbox's URL and credentials replace these.
GONG_ACCOUNT = ("api_url", "access_key", "access_key_secret")
# What the windowed streams of the README's run read: a date window or company days each.
WINDOWED_PATHS = (
    "/v2/calls/extensive",
    "/v2/calls/transcript",
    "/v2/stats/interaction",
    "/v2/stats/activity/scorecards",
)


def about() -> dict[str, Any]:
    return json.loads(
        subprocess.run(
            [tap_executable(), "--about", "--format=json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def run_in(folder: Path, script: str) -> None:
    """A doc's shell block, as written, with the installed tap-gong first on PATH."""
    subprocess.run(
        ["bash", "-euc", script],
        cwd=folder,
        env={"PATH": f"{Path(tap_executable()).parent}:/usr/bin:/bin"},
        check=True,
        timeout=120,
    )


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for a doc's headings."""
    titles = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", path.read_text(), flags=re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-") for title in titles}


@pytest.mark.parametrize("path", doc_files(), ids=lambda path: path.name)
def test_every_command_and_query_a_doc_shows_is_run_by_a_test_or_says_why_not(
    path: Path,
) -> None:
    name = str(path.relative_to(REPO_ROOT))
    for block in blocks(path):
        if block.language not in RUNNABLE:
            continue
        marker = MARKER.match(block.marker)
        assert marker, f"{block.where}: no `<!-- run by tests/... -->` marker above the block"
        if marker["test"]:
            test = REPO_ROOT / marker["test"]
            assert test.is_file(), f"{block.where}: {marker['test']} does not exist"
            assert name in test.read_text(), f"{block.where}: {marker['test']} never reads {name}"


@pytest.mark.parametrize("path", doc_files(), ids=lambda path: path.name)
def test_every_link_of_a_doc_leads_to_a_file_and_heading_that_exist(path: Path) -> None:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    for link in LINK.findall(text):
        if re.match(r"\w+:", link):
            continue  # a web address
        target, _, anchor = link.partition("#")
        resolved = (path.parent / target).resolve() if target else path
        assert resolved.exists(), f"{path.name}: {link} leads nowhere"
        if anchor:
            assert anchor in anchors(resolved), f"{path.name}: {link} names no heading"


def test_the_readme_settings_table_is_what_about_reports() -> None:
    reported_settings = about()
    documented = {
        cells[0]: cells
        for line in section(README, "Settings").splitlines()
        if line.startswith("| ") and not line.startswith("| Setting")
        for cells in [[cell.strip() for cell in line.strip("|").split("|")]]
    }

    reported = {
        name: spec
        for name, spec in reported_settings["settings"]["properties"].items()
        if not name.startswith(SDK_SETTINGS)
    }
    assert set(documented) == set(reported)
    required_settings = reported_settings["settings"].get("required", [])
    for name, spec in reported.items():
        _, required, default, description = documented[name]
        assert required == ("yes" if name in required_settings else ""), name
        assert default == ("" if spec.get("default") is None else str(spec["default"])), name
        assert description == spec.get("description", ""), name


def test_the_readmes_config_and_run_commands_keep_the_state_between_runs(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    """README.md's config.json, pointed at the sandbox, then its run command twice."""
    write_config, each_run = (
        block.text
        for block in blocks(README)
        if block.text.startswith(("cat > config.json", "tap-gong --config"))
    )
    run_in(tmp_path, write_config)
    documented = json.loads((tmp_path / "config.json").read_text())
    assert set(documented) <= set(about()["settings"]["properties"])
    sandbox_config = tap_config(sandbox)
    # The sandbox's own history, not 2024's: a backfill of a few days, not of years.
    pointed_at_the_sandbox = {
        **documented,
        **{name: sandbox_config[name] for name in (*GONG_ACCOUNT, "start_date", "end_date")},
        "max_requests_per_second": sandbox_config["max_requests_per_second"],
    }
    (tmp_path / "config.json").write_text(json.dumps(pointed_at_the_sandbox))

    def windowed_requests() -> int:
        """Requests of the windowed streams (full tables cost the same every run)."""
        return sum(r.path in WINDOWED_PATHS for r in sandbox.requests)

    run_in(tmp_path, each_run)
    backfill_requests = windowed_requests()
    state = json.loads((tmp_path / "state.json").read_text())
    sandbox.reset_log()
    run_in(tmp_path, each_run)

    assert state["type"] == "STATE"
    assert state["value"]["bookmarks"]["calls"]["replication_key_value"]
    assert 0 < windowed_requests() < backfill_requests / 4  # incremental, not a backfill


def test_the_postgres_guides_env_file_sets_tap_gong_settings_by_their_variables(
    tmp_path: Path,
) -> None:
    """docs/postgres.md's `.env` lines name settings the tap has, as Meltano spells them."""
    (write_env,) = (
        block.text
        for block in blocks(doc("docs/postgres.md"))
        if block.text.startswith("cat >> .env")
    )
    run_in(tmp_path, write_env)
    variables = [line.partition("=")[0] for line in (tmp_path / ".env").read_text().splitlines()]

    settings = {f"TAP_GONG_{name.upper()}" for name in about()["settings"]["properties"]}
    assert variables
    assert set(variables) <= settings


def test_the_layout_names_every_module() -> None:
    layout = doc("docs/layout.md").read_text()
    modules = [
        path.relative_to(REPO_ROOT)
        for folder in ("tap_gong", "gong_sandbox", "demo", "benchmarks", "tests")
        for path in sorted((REPO_ROOT / folder).rglob("*.py"))
        if not (folder == "tests" and path.name.startswith(("test_", "__init__")))
    ]

    assert modules
    assert [str(module) for module in modules if f"`{module}`" not in layout] == []
