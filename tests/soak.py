"""Play many seeded run scenarios and print a summary (tests/scenarios.py).

    python -m tests.soak                  # 200 scenarios from seed 1000
    python -m tests.soak --count 500 --first 1
    python -m tests.soak --seed 1234      # replay one, with its whole report

A failing seed is a test to keep: add it to SEEDS in tests/test_scenarios.py.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

from tests.scenarios import Scenario, play


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=1000, help="first seed")
    parser.add_argument("--count", type=int, default=200, help="scenarios to play")
    parser.add_argument("--seed", type=int, help="replay this one seed, with its whole report")
    args = parser.parse_args()
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.count)
    failed: dict[int, list[str]] = {}
    kinds: collections.Counter[str] = collections.Counter()
    started = time.monotonic()
    for seed in seeds:
        scenario = Scenario.draw(seed)
        kinds[
            "every stream" if scenario.streams is None else f"{len(scenario.streams)} streams"
        ] += 1
        with tempfile.TemporaryDirectory() as scratch:
            problems = play(scenario, Path(scratch))
        print(f"seed {seed}: {'ok' if not problems else problems[0]}", flush=True)
        if problems:
            failed[seed] = problems
            if args.seed is not None:
                print("\n".join(problems[1:]))
    took = time.monotonic() - started
    print(f"\n{len(seeds)} scenarios in {took:.0f} s, {len(failed)} failed; {dict(kinds)}")
    for seed, problems in failed.items():
        print(f"  seed {seed}: {problems[0]}  (replay: python -m tests.soak --seed {seed})")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
