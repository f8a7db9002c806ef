"""The README says what the tap does: its settings table and its commands are checked here."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from gong_sandbox import GongSandbox
from tests.support import tap_config, tap_executable

README = Path(__file__).parent.parent / "README.md"
SDK_SETTINGS = ("stream_maps", "stream_map_config", "faker_config", "flattening_", "batch_config")


def readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def bash_blocks(section: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_settings_table_is_what_about_reports() -> None:
    about = json.loads(
        subprocess.run(
            [tap_executable(), "--about", "--format=json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["settings"]
    documented = {
        cells[0]: cells
        for line in readme_section("Settings").splitlines()
        if line.startswith("| ") and not line.startswith("| Setting")
        for cells in [[cell.strip() for cell in line.strip("|").split("|")]]
    }

    reported = {
        name: spec
        for name, spec in about["properties"].items()
        if not name.startswith(SDK_SETTINGS)
    }
    assert set(documented) == set(reported)
    for name, spec in reported.items():
        _, required, default, description = documented[name]
        assert required == ("yes" if name in about.get("required", []) else ""), name
        assert default == ("" if spec.get("default") is None else str(spec["default"])), name
        assert description == spec.get("description", ""), name


def test_the_readmes_run_command_keeps_the_state_between_runs(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    each_run = bash_blocks(readme_section("Install and point it at Gong"))[1]
    (tmp_path / "config.json").write_text(json.dumps(tap_config(sandbox)))
    bin_dir = str(Path(tap_executable()).parent)

    def run_as_documented() -> None:
        subprocess.run(
            ["bash", "-euc", each_run],
            cwd=tmp_path,
            env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
            check=True,
            timeout=120,
        )

    run_as_documented()
    backfill_requests = len(sandbox.requests)
    state = json.loads((tmp_path / "state.json").read_text())
    sandbox.reset_log()
    run_as_documented()

    assert state["type"] == "STATE"
    assert state["value"]["bookmarks"]["calls"]["replication_key_value"]
    assert 0 < len(sandbox.requests) < backfill_requests / 2  # incremental, not a backfill
