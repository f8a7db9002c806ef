"""The wheel alone runs the tap: a plain `pip install .` into a fresh virtualenv, on this
Python and on the lowest and newest supported ones (3.10, 3.13) where they are installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gong_sandbox import GongSandbox
from tests.support import tap_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Only what the wheel installed may be imported: no PYTHONPATH pointing into the checkout.
CLEAN_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
# The ends of `requires-python` and the classifiers in pyproject.toml.
LOWEST_AND_NEWEST = ("3.10", "3.13")
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def interpreter(version: str) -> str | None:
    """A `python<version>` that runs: pyenv's (newest patch first), else one on PATH."""
    candidates = [
        str(path / "bin" / f"python{version}")
        for path in sorted(PYENV_VERSIONS.glob(f"{version}.*"), reverse=True)
    ]
    candidates.append(shutil.which(f"python{version}") or "")
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def python_under_test(version: str | None) -> str:
    if version is None:
        return sys.executable
    found = interpreter(version)
    if found is None:
        pytest.skip(f"no Python {version} here (looked in {PYENV_VERSIONS} and on PATH)")
    return found


@pytest.mark.parametrize("version", [None, *LOWEST_AND_NEWEST], ids=["this", *LOWEST_AND_NEWEST])
def test_plain_install_into_a_fresh_virtualenv_runs_both_streams(
    version: str | None, sandbox: GongSandbox, tmp_path: Path
) -> None:
    env_dir = tmp_path / "fresh-venv"
    subprocess.run(
        [python_under_test(version), "-m", "venv", env_dir], check=True, timeout=120, env=CLEAN_ENV
    )
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
