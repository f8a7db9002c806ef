"""The wheel alone runs the tap: a plain `pip install .` into a fresh virtualenv."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

from tap_gong.sandbox import GongSandbox
from tests.support import tap_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Only what the wheel installed may be imported: no PYTHONPATH pointing into the checkout.
CLEAN_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}


def test_plain_install_into_a_fresh_virtualenv_runs_both_streams(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    env_dir = tmp_path / "fresh-venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(PROJECT_ROOT)],
        check=True,
        timeout=600,
        cwd=tmp_path,  # not the checkout: only the installed wheel may be found
        env=CLEAN_ENV,
    )
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(tap_config(sandbox)))

    run = subprocess.run(
        [env_dir / "bin" / "tap-gong", "--config", config_file],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=CLEAN_ENV,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    streams = {json.loads(line).get("stream") for line in run.stdout.splitlines()}
    assert {"calls", "interaction_stats"} <= streams
    installed = subprocess.run(
        [python, "-c", "import tap_gong, pathlib; print(pathlib.Path(tap_gong.__file__).parent)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=CLEAN_ENV,
    ).stdout.strip()
    assert (Path(installed) / "schemas" / "calls.json").is_file()
