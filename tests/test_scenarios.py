"""Combinations, not cases: seeded scenarios of what a run may meet (tests/scenarios.py).

Each seed draws the streams, requests in flight, a budget, Gong's quota, faults, latency,
the company's zone and a kill; the scenario runs the installed tap until it finishes and
checks that every run ended, said honestly how, kept its budget and lost nothing. A seed
that once failed stays here. `python -m tests.soak` plays hundreds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios import Scenario, play

# A few drawn seeds covering every stream selection, a kill of each kind, a budget, the
# quota and faults; and the seeds that once found a bug (each with what it found).
SEEDS = {
    1: "every stream, faults, SIGTERM",
    3: "a mix of streams",
    4: "a page child alone",
    5: "found: a UTC+14 company's first run missed the current day's reviews",
    7: "a budget",
}


@pytest.mark.parametrize("seed", list(SEEDS), ids=[f"seed{s}" for s in SEEDS])
def test_every_run_ends_says_how_keeps_its_budget_and_loses_nothing(
    seed: int, tmp_path: Path
) -> None:
    problems = play(Scenario.draw(seed), tmp_path)

    assert not problems, f"replay with: python -m tests.soak --seed {seed}\n" + "\n".join(problems)
