"""Shared fixtures (a Gong sandbox serving on 127.0.0.1), which tests are slow, and the
Meltano timings of tests/e2e when a pytest-xdist worker ran them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gong_sandbox import GongSandbox
from tests.support import MELTANO_TIMINGS, sandbox_settings

# What `pytest -m "not slow"` runs, in under a minute: Gong's rules, the sandbox and the
# schemas, tested in-process. Every other module starts programs (the installed tap,
# Meltano, warehouses, ruff and mypy, fresh virtualenvs) or replays many runs: its tests
# are marked slow. A new module is slow until it is fast enough to be listed here.
QUICK_MODULES = frozenset(
    {
        "test_answers",
        "test_core",
        "test_empty_history",
        "test_garbage",
        "test_oauth",
        "test_package_independence",
        "test_records",
        "test_requests",
        "test_retries",
        "test_sandbox",
        "test_sandbox_endpoints",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem not in QUICK_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist: tests/e2e all on one worker, every other test wherever one is free.

    The end-to-end tests share one installed Meltano project and one PostgreSQL server
    (session fixtures): on two workers both would be built twice. (xdist's own `loadgroup`
    cannot group them under pytest 9.2: it renames node ids through an attribute pytest no
    longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415  # only under xdist

    class EndToEndOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "tests/e2e" if nodeid.startswith("tests/e2e/") else nodeid

    return EndToEndOnOneWorker(config, log)


@pytest.fixture
def sandbox() -> Iterator[GongSandbox]:
    with GongSandbox(sandbox_settings()) as running:
        yield running


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist: keep the Meltano timings the worker that ran tests/e2e measured."""
    timings = node.workeroutput.get("meltano_timings")
    if timings:
        node.config.stash[MELTANO_TIMINGS] = [(label, seconds) for label, seconds in timings]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    timings = terminalreporter.config.stash.get(MELTANO_TIMINGS, [])
    if timings:
        terminalreporter.section("Meltano timings")
        for label, seconds in timings:
            terminalreporter.write_line(f"{seconds:7.1f} s  {label}")
