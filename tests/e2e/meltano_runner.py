"""Running meltano as a user would: the end-to-end tests' runner, which the demo uses too.

It lives with the tests, outside the wheel: only a clone of the repository (where
meltano.yml is) can use it, and the demo runs from there (`python -m demo` puts the
repository root on sys.path, so `tests.e2e` imports; nothing here needs pytest).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MELTANO_TIMEOUT_SECONDS = 900
LOG_TAIL_LINES = 40
# Variables a shell may hold that would point the pipeline elsewhere or change it.
FOREIGN_PREFIXES = ("MELTANO_", "TAP_GONG_", "TARGET_")


class MeltanoFailed(RuntimeError):
    """A meltano command exited non-zero or timed out; the message ends with its log."""


def meltano_executable() -> str | None:
    """The `meltano` installed next to this Python, else one on PATH."""
    beside = Path(sys.executable).parent / "meltano"
    return str(beside) if beside.exists() else shutil.which("meltano")


def meltano_environment(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment for meltano, minus pipeline settings from the shell.

    Meltano makes no network call of its own with these: no version check, no usage
    stats. `settings` (plugin settings as env vars, the state backend...) go on top.
    """
    inherited = {
        name: value for name, value in os.environ.items() if not name.startswith(FOREIGN_PREFIXES)
    }
    return {
        **inherited,
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        **settings,
    }


def run_meltano(
    meltano: str,
    args: Sequence[str],
    *,
    project: Path,
    settings: dict[str, str],
    log: Path,
    timeout: int = MELTANO_TIMEOUT_SECONDS,
) -> tuple[float, str]:
    """Run `meltano ARGS` in `project`: (seconds taken, its stdout); its logs go to `log`."""
    started = time.monotonic()
    with log.open("w") as log_file:
        try:
            completed = subprocess.run(
                [meltano, *args],
                cwd=project,
                env=meltano_environment(settings),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
                timeout=timeout,
                check=False,
            )
            failure = f"exited {completed.returncode}" if completed.returncode else None
        except subprocess.TimeoutExpired:
            failure = f"did not finish in {timeout} s"
    seconds = time.monotonic() - started
    if failure:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
        raise MeltanoFailed(f"`meltano {' '.join(args)}` {failure}; the end of {log}:\n{tail}")
    return seconds, completed.stdout


def tap_gong_environment(config: Mapping[str, Any]) -> dict[str, str]:
    """A tap-gong config as the TAP_GONG_* variables Meltano reads its settings from."""
    return {
        f"TAP_GONG_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
        for name, value in config.items()
    }
