"""The repo's Meltano project, copied to a temp dir and installed, run as users run it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.meltano_runner import MeltanoFailed, run_meltano

REPO_ROOT = Path(__file__).resolve().parents[2]
# What the copy leaves out: VCS, caches, local installs and outputs, secrets, tests.
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".meltano",
    ".env",
    "output",
    ".venv",
    "venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "*.duckdb",
    "*.duckdb.wal",
    "tests",
    "benchmarks",
    "demo",
)
# Within pytest-timeout's 600 s per test (pyproject.toml), and far above what they take.
INSTALL_TIMEOUT_SECONDS = 420
RUN_TIMEOUT_SECONDS = 180


# The projects whose commands' durations the end-to-end terminal summary lists.
MELTANO_PROJECTS = pytest.StashKey[list["MeltanoProject"]]()


def report_timings_of(config: pytest.Config, project: MeltanoProject) -> None:
    """List how long each of the project's meltano commands took at the end of the run."""
    config.stash.setdefault(MELTANO_PROJECTS, []).append(project)


class MeltanoCommandFailed(AssertionError):
    """A meltano command failed; a test failure, with the end of the command's log."""


@dataclass
class MeltanoProject:
    """A copy of the repo (its meltano.yml, and the tap it installs from) in `root`.

    State goes to files in `state_dir`; every command's log is kept in root/logs/ and
    its duration in `timings`.
    """

    root: Path
    executable: str
    state_dir: Path
    timings: list[tuple[str, float]] = field(default_factory=list)

    @classmethod
    def copy_of_repo(cls, destination: Path, executable: str) -> MeltanoProject:
        root = destination / "project"
        shutil.copytree(REPO_ROOT, root, ignore=NOT_COPIED)
        (root / "logs").mkdir()
        return cls(root=root, executable=executable, state_dir=destination / "state")

    def install(self) -> None:
        self.meltano("install", label="meltano install", timeout=INSTALL_TIMEOUT_SECONDS)

    def meltano(
        self,
        *args: str,
        label: str,
        env: dict[str, str] | None = None,
        timeout: int = RUN_TIMEOUT_SECONDS,
    ) -> str:
        """Run `meltano ARGS` in the project; returns its stdout."""
        try:
            seconds, output = run_meltano(
                self.executable,
                args,
                project=self.root,
                settings={"MELTANO_STATE_BACKEND_URI": self.state_dir.as_uri(), **(env or {})},
                log=self.root / "logs" / f"{len(self.timings):02d}-{label.replace(' ', '-')}.log",
                timeout=timeout,
            )
        except MeltanoFailed as failure:
            raise MeltanoCommandFailed(str(failure)) from None
        self.timings.append((label, seconds))
        return output
