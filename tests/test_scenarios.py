"""Combinations, not cases: seeded scenarios of what a run may meet (tests/scenarios.py).

Each seed draws the streams, requests in flight, a budget, Gong's quota, faults, latency,
the company's zone and a kill; the scenario runs the installed tap until it finishes and
checks that every run ended, said honestly how, kept its budget and lost nothing. A seed
that once failed stays here. `python -m tests.soak` plays hundreds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.scenarios import ALL_STREAMS, Scenario, play

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


def test_a_budget_below_what_a_run_rereads_still_moves_every_stream_over_the_runs(
    tmp_path: Path,
) -> None:
    # Found by seed 22 (before its budget draw was made to fit a run): with 9 requests
    # for 9 streams, interaction_stats spent its share on the lookback's day every run
    # and workspaces, last, never had one. Stopped streams now go first, with more.
    # The library is left out: read whole, it needs 1 + 2 workspaces + 8 folders = 11
    # requests in one run, more than 9 (a budget below a whole list never completes it);
    # so are the lists read whole with a request per user or per profile (issue 26).
    per_item = ("user_settings_history", "engage_flows", "permission_profile")
    streams = tuple(s for s in ALL_STREAMS if not s.startswith(("library_", *per_item)))
    scenario = dataclasses.replace(Scenario.draw(22), streams=streams, budget=9, kill=None)

    problems = play(scenario, tmp_path, until_every_record_arrived=True)

    assert not problems, "\n".join(problems)


def test_calls_read_in_call_details_pages_under_a_quota_and_a_kill_lose_no_call(
    tmp_path: Path,
) -> None:
    # Found after calls came to ride on call_details' pages: a web conference started a
    # minute before start_date and scheduled after it was counted lost, as Gong's
    # /v2/calls lists it and /extensive does not. `calls` now holds what both lists hold
    # at start_date (tests/e2e/pipeline_scenario.gong_records).
    scenario = Scenario(
        seed=904,
        streams=("call_details", "calls", "interaction_stats"),
        max_concurrent_requests=8,
        budget=None,
        daily_quota=12,
        error_rate=0.0,
        drop_rate=0.02,
        truncate_rate=0.02,
        latency_seconds=0.0,
        time_zone="America/Los_Angeles",
        kill=("SIGTERM", 0.8),
    )

    problems = play(scenario, tmp_path, until_every_record_arrived=True)

    assert not problems, "\n".join(problems)
