"""Lint, format and types are part of the suite, so the README's test command (CI's) checks them.

Each tool runs from the environment running the tests (`.[test]` installs them), on the
whole tree, with the configuration in pyproject.toml.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECKS = {
    "ruff check": ["ruff", "check", "."],
    "ruff format": ["ruff", "format", "--check", "."],
    "mypy": ["mypy"],  # its files and options: [tool.mypy] in pyproject.toml
}


@pytest.mark.parametrize("check", list(CHECKS))
def test_the_tree_passes(check: str) -> None:
    command = CHECKS[check]
    try:
        result = subprocess.run(
            [sys.executable, "-m", *command],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"`{' '.join(command)}` took over {error.timeout} s", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` failed (exit {result.returncode}):\n"
            f"{result.stdout}{result.stderr}",
            pytrace=False,
        )
