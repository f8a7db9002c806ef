"""Shared fixtures: a Gong sandbox serving on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gong_sandbox import GongSandbox
from tests.support import sandbox_settings


@pytest.fixture
def sandbox() -> Iterator[GongSandbox]:
    with GongSandbox(sandbox_settings()) as running:
        yield running
