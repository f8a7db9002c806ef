"""`tap-gong`, the command: stopped before the tap has started, it still says so.

Importing the SDK takes most of a second, and the SDK answers SIGTERM and Ctrl-C only once
the tap is built: a signal before that (an orchestrator's timeout, a scheduler stopping a
run as it starts) would otherwise end the process by the signal itself, or with a
traceback for Ctrl-C. Nothing is extracted yet, so there is no state to write.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from tap_gong.garbage import no_collection_at_exit


def stopped_before_start(signum: int, frame: FrameType | None) -> None:
    print(
        f"Interrupted by {signal.Signals(signum).name} before the run started: nothing was "
        "extracted.",
        file=sys.stderr,
    )
    sys.exit(128 + signum)  # as a run interrupted later exits (the tap's termination handler)


def main() -> None:
    """Answer SIGTERM and Ctrl-C from the first instant, then run the tap."""
    signal.signal(signal.SIGTERM, stopped_before_start)
    signal.signal(signal.SIGINT, stopped_before_start)
    from tap_gong.tap import TapGong  # noqa: PLC0415  # after the handlers, on purpose

    try:
        TapGong.cli()
    finally:
        no_collection_at_exit()
