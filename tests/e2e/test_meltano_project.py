"""The Meltano project as a fresh clone gets it: the guides' commands, its jobs, its plugins.

A fresh copy of the repo (nothing installed, no output/ folder) takes every `meltano config
set` command of the docs (docs/postgres.md, docs/snowflake.md), is installed and runs its
DuckDB job as docs/duckdb.md says, then its JSON-lines job, against the Gong sandbox.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from gong_sandbox import GongSandbox
from tests.docs import block_starting, doc, doc_files
from tests.e2e.meltano_project import REPO_ROOT, MeltanoProject
from tests.e2e.meltano_runner import meltano_executable
from tests.e2e.pipeline_scenario import (
    GongHolds,
    sandbox_settings,
    table_differences,
    tap_environment,
)
from tests.e2e.warehouses import DuckDBWarehouse
from tests.support import discovered_catalog

HUB_DEFINITION = REPO_ROOT / "meltano-hub" / "extractors" / "tap-gong.yml"
# Meltano Hub's schemas for an extractor definition (meltano/hub, schemas/plugin_definitions/
# extractors.schema.json and the schemas it refers to): keys, required keys, setting kinds.
HUB_EXTRACTOR_KEYS = {
    *("name", "pip_url", "variant", "namespace", "label", "description", "executable"),
    *("settings", "docs", "repo", "logo_url", "hidden", "settings_group_validation"),
    *("commands", "capabilities", "metadata", "schema", "select", "maintenance_status"),
    *("quality", "domain_url", "keywords", "requires", "definition", "next_steps"),
    *("settings_preamble", "usage", "prereq", "supported_python_versions", "log_parser"),
}
HUB_REQUIRED = {"name", "namespace", "variant", "label", "quality"}
HUB_SETTING_KEYS = {
    *("name", "aliases", "label", "value", "placeholder", "kind", "description", "tooltip"),
    *("documentation", "protected", "env", "value_processor", "value_post_processor"),
    *("oauth", "options", "docs", "sensitive"),
}
HUB_SETTING_KINDS = {
    *("oauth", "hidden", "password", "date_iso8601", "file", "email", "integer", "options"),
    *("object", "array", "boolean", "string"),
}
# The Meltano kinds a setting of each JSON type may have (`password`: a secret's).
SETTING_KINDS = {
    "string": {"string", "password", "date_iso8601"},
    "integer": {"integer"},
    "boolean": {"boolean"},
    "array": {"array"},
    "object": {"object"},
}
CONFIG_SET = "meltano config set "
DUCKDB_PIN = "duckdb==1.2.2"
CALLS_KEY = ("id",)


@dataclass(frozen=True)
class ConfigSet:
    plugin: str
    setting: str
    value: str


def docs_config_commands() -> list[ConfigSet]:
    """Every `meltano config set` line of the docs' shell blocks, `$VARS` as examples."""
    commands = []
    for line in (line for path in doc_files() for line in path.read_text().splitlines()):
        if not line.startswith(CONFIG_SET):
            continue
        words = shlex.split(line, comments=True)[len(CONFIG_SET.split()) :]
        plugin, setting, value = (re.sub(r"\$(\w+)", r"example-\1", word) for word in words)
        if setting.startswith("_"):
            continue  # an extra (`_select`): docs/meltano.md's, for a project not ours, run there
        commands.append(ConfigSet(plugin, setting, value))
    return commands


def plugins_by_name(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        plugin["name"]: plugin for plugins in definition["plugins"].values() for plugin in plugins
    }


def is_sensitive(plugin: dict[str, Any], setting: str) -> bool:
    return any(s["name"] == setting and s.get("sensitive") for s in plugin["settings"])


@dataclass(frozen=True)
class FreshProject:
    project: MeltanoProject
    commands: list[ConfigSet]
    original_yml: str


@pytest.fixture(scope="module")
def fresh_project() -> Iterator[FreshProject]:
    """A fresh copy of the repo after the docs' config commands, then installed."""
    executable = meltano_executable()
    if executable is None:
        pytest.fail("meltano is not installed: pip install '.[test]'", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="tap-gong-fresh-"))
    try:
        project = MeltanoProject.copy_of_repo(base, executable)
        original_yml = (project.root / "meltano.yml").read_text()
        commands = docs_config_commands()
        for command in commands:
            project.meltano(
                "config",
                "set",
                command.plugin,
                command.setting,
                command.value,
                label=f"config set {command.plugin} {command.setting}",
            )
        install_as_the_duckdb_guide_says, _ = duckdb_guide_commands()
        project.meltano(*install_as_the_duckdb_guide_says, label="fresh meltano install")
        project.meltano("install", "target-jsonl", label="fresh target-jsonl install")
        yield FreshProject(project, commands, original_yml)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def duckdb_guide_commands() -> list[list[str]]:
    """docs/duckdb.md's install and run commands, each as meltano's arguments."""
    block = block_starting(doc("docs/duckdb.md"), "meltano install")
    return [shlex.split(line, comments=True)[1:] for line in block.text.splitlines()]


def tap_gong_about() -> dict[str, Any]:
    """What `tap-gong --about --format=json` reports: capabilities, settings."""
    tap = Path(sys.executable).parent / "tap-gong"
    return json.loads(
        subprocess.run(
            [str(tap), "--about", "--format=json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )


def repo_tap_gong() -> dict[str, Any]:
    return plugins_by_name(yaml.safe_load((REPO_ROOT / "meltano.yml").read_text()))["tap-gong"]


def hub_tap_gong() -> dict[str, Any]:
    return yaml.safe_load(HUB_DEFINITION.read_text())


# Each of tap-gong's Meltano definitions: this project's, and the one other projects add.
@pytest.fixture(params=[repo_tap_gong, hub_tap_gong], ids=["meltano.yml", "hub-definition"])
def tap_gong_definition(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.param()


def test_definition_declares_the_capabilities_tap_gong_reports(tap_gong_definition):
    declared = tap_gong_definition["capabilities"]
    assert sorted(declared) == sorted(tap_gong_about()["capabilities"])


def test_definition_declares_every_setting_tap_gong_reports_and_marks_its_secrets(
    tap_gong_definition,
):
    reported = tap_gong_about()["settings"]["properties"]
    declared = {setting["name"]: setting for setting in tap_gong_definition["settings"]}
    assert sorted(declared) == sorted(reported)
    assert {name: setting.get("value") for name, setting in declared.items()} == {
        name: schema.get("default") for name, schema in reported.items()
    }
    secrets = {name for name, schema in reported.items() if schema.get("secret")}
    assert secrets >= {"access_key_secret", "access_token", "client_secret", "refresh_token"}
    assert {name for name, setting in declared.items() if setting.get("sensitive")} == secrets


def test_definition_gives_each_setting_the_kind_of_its_type(tap_gong_definition):
    reported = tap_gong_about()["settings"]["properties"]
    for setting in tap_gong_definition["settings"]:
        schema = reported[setting["name"]]
        kind = setting.get("kind", "string")
        if "enum" in schema:
            assert kind == "options", setting["name"]
            assert [option["value"] for option in setting["options"]] == schema["enum"]
        else:
            (json_type,) = set(schema["type"]) - {"null"}
            assert kind in SETTING_KINDS[json_type], setting["name"]


def test_definition_selects_every_stream_tap_gong_selects_by_default(tap_gong_definition):
    selected = tap_gong_definition["select"]
    catalog = json.loads(discovered_catalog())
    not_by_default = sorted(
        entry["tap_stream_id"]
        for entry in catalog["streams"]
        for metadata in entry["metadata"]
        if metadata["breadcrumb"] == [] and not metadata["metadata"]["selected-by-default"]
    )
    assert selected[0] == "*.*"
    assert sorted(rule.removeprefix("!").removesuffix(".*") for rule in selected[1:]) == (
        not_by_default
    )


def test_hub_definition_describes_each_setting_in_the_taps_own_words():
    reported = tap_gong_about()["settings"]["properties"]
    assert {s["name"]: s["description"] for s in hub_tap_gong()["settings"]} == {
        name: schema["description"] for name, schema in reported.items()
    }


def test_hub_definition_is_in_meltano_hubs_format():
    definition = hub_tap_gong()
    assert HUB_REQUIRED <= set(definition) <= HUB_EXTRACTOR_KEYS
    assert definition["name"] == "tap-gong"
    assert definition["pip_url"].startswith("git+https://")
    assert definition["supported_python_versions"] == tap_gong_about()["supported_python_versions"]
    for setting in definition["settings"]:
        assert set(setting) <= HUB_SETTING_KEYS, setting["name"]
        assert setting["kind"] in HUB_SETTING_KINDS, setting["name"]
        # Hub's secrets: `sensitive`, with the `password` kind older Meltanos read.
        assert (setting["kind"] == "password") == bool(setting.get("sensitive")), setting["name"]


def test_the_docs_config_commands_change_only_the_values_they_set(fresh_project):
    assert len(fresh_project.commands) >= 5, "the docs' config commands were not found"
    root = fresh_project.project.root
    after_yml = (root / "meltano.yml").read_text()
    changed = difflib.unified_diff(
        fresh_project.original_yml.splitlines(), after_yml.splitlines(), lineterm="", n=0
    )
    removed = [line for line in changed if line.startswith("-") and not line.startswith("---")]
    assert removed == []

    expected = plugins_by_name(yaml.safe_load(fresh_project.original_yml))
    after = plugins_by_name(yaml.safe_load(after_yml))
    dotenv = (root / ".env").read_text().splitlines()
    for command in fresh_project.commands:
        plugin = expected[command.plugin]
        written = after[command.plugin].get("config", {})
        if is_sensitive(plugin, command.setting):
            variable = f"{command.plugin}_{command.setting}".upper().replace("-", "_")
            assert f"{variable}='{command.value}'" in dotenv
            assert command.setting not in written
        else:
            assert str(written[command.setting]) == command.value
            plugin.setdefault("config", {})[command.setting] = written[command.setting]
    assert after == expected
    assert DUCKDB_PIN in after["target-duckdb"]["pip_url"].split()


def test_duckdb_job_and_schedule_run_in_a_fresh_clone_into_the_default_file(fresh_project):
    project = fresh_project.project
    assert not (project.root / "output").exists()
    with GongSandbox(sandbox_settings()) as sandbox:
        settings = tap_environment(sandbox)
        _, run_as_the_duckdb_guide_says = duckdb_guide_commands()
        project.meltano(*run_as_the_duckdb_guide_says, label="fresh gong-to-duckdb", env=settings)
        project.meltano(
            "schedule", "run", "gong-to-duckdb-daily", label="fresh schedule", env=settings
        )
        gong = GongHolds.read(sandbox)
    warehouse = DuckDBWarehouse(project.root / "warehouse.duckdb")
    assert table_differences(warehouse.rows("calls"), gong.calls, CALLS_KEY) == []


def test_jsonl_job_writes_every_call_to_a_file_per_stream(fresh_project):
    project = fresh_project.project
    with GongSandbox(sandbox_settings()) as sandbox:
        project.meltano(
            "run", "gong-to-jsonl", label="fresh gong-to-jsonl", env=tap_environment(sandbox)
        )
        gong = GongHolds.read(sandbox)
    (calls_file,) = (project.root / "output" / "jsonl").glob("calls-*.jsonl")
    ids = [json.loads(line)["id"] for line in calls_file.read_text().splitlines()]
    assert sorted(ids) == sorted(gong.calls)


def test_calls_only_extractor_loads_just_calls_and_interaction_stats(
    meltano_project: MeltanoProject, tmp_path: Path
):
    warehouse = DuckDBWarehouse(tmp_path / "calls-only.duckdb")
    with GongSandbox(sandbox_settings()) as sandbox:
        meltano_project.meltano(
            *("run", "tap-gong--calls-only", "target-duckdb"),
            label="tap-gong--calls-only run",
            env={
                **tap_environment(sandbox),
                **warehouse.loader_environment(),
                "MELTANO_STATE_BACKEND_URI": tmp_path.as_uri(),  # not the histories' state
            },
        )
        gong = GongHolds.read(sandbox, warehouse.empty_text_lands_as_null)
    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        tables = {
            name
            for (name,) in connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
    assert tables == {"calls", "interaction_stats"}
    assert table_differences(warehouse.rows("calls"), gong.calls, CALLS_KEY) == []
