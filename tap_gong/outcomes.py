"""How each stream of a run ended, said once: the run summary and what the run exits with.

An operator reading one log should know what the next run will do: each selected stream
is finished, stopped by the budget, stopped by the quota, stopped with the run, or
failed (and why). A stream Gong refuses fails alone; the run then exits non-zero with
one line per failed stream, after every other stream has run to its end.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
from collections.abc import Callable, Iterable

from tap_gong.errors import (
    GongQuotaExhausted,
    GongTapError,
    PlannedStop,
    RequestBudgetSpent,
    StreamFailure,
)


class StreamEnd(enum.Enum):
    FINISHED = "finished"
    BUDGET = "stopped by the budget (max_requests_per_run); the next run goes on from its state"
    QUOTA = "stopped by Gong's daily quota; the next run goes on from its state"
    STOPPED = "stopped"
    FAILED = "failed"


# How a stream ends that ends a stream read from its pages the same way (`ended_as`).
SHARED_ENDS = (StreamEnd.FINISHED, StreamEnd.BUDGET, StreamEnd.QUOTA)


@dataclasses.dataclass(frozen=True)
class StreamOutcome:
    end: StreamEnd
    why: str = ""

    def describe(self) -> str:
        return f"{self.end.value}: {self.why}" if self.why else self.end.value


class RunOutcomes:
    """What each stream of the run came to, recorded on the main thread as streams end."""

    def __init__(self) -> None:
        self.streams: dict[str, StreamOutcome] = {}
        #: The fault that ended the whole run (quota, credentials, Gong down), if any.
        self.run_fault: BaseException | None = None
        self._accepted = threading.Event()
        self._budget_said = False

    # Whether Gong accepted this run's credentials: set from any thread.

    def gong_accepted(self) -> None:
        """Gong answered a request of this run (data or "no data"): the credentials work."""
        self._accepted.set()

    @property
    def credentials_accepted(self) -> bool:
        return self._accepted.is_set()

    # Recorded as each stream (with its page children) ends.

    def finished(self, family: Iterable[str]) -> None:
        for name in family:
            self.streams.setdefault(name, StreamOutcome(StreamEnd.FINISHED))

    def stopped(self, family: Iterable[str], stop: PlannedStop, logger: logging.Logger) -> None:
        """A planned stop: said once for the run when it is the budget, per stream otherwise."""
        if isinstance(stop, RequestBudgetSpent):
            outcome = StreamOutcome(StreamEnd.BUDGET)
            if not self._budget_said:
                self._budget_said = True
                logger.warning("Stopped: %s.", stop)
        else:
            outcome = StreamOutcome(StreamEnd.STOPPED, str(stop))
            logger.warning("Stopped: %s.", stop)
        self._record(family, outcome)

    def failed(self, family: Iterable[str], failure: StreamFailure, logger: logging.Logger) -> None:
        """One stream refused: it fails, the rest of its family stops with it."""
        logger.error("'%s' failed: %s", failure.stream, failure)
        for name in family:
            if name == failure.stream:
                self._record([name], StreamOutcome(StreamEnd.FAILED, str(failure)))
            else:
                why = f"with {failure.stream}, whose records it is read with"
                self._record([name], StreamOutcome(StreamEnd.STOPPED, why))

    def run_stopped(self, family: Iterable[str], fault: BaseException) -> None:
        """The run cannot go on: this stream, and every stream after it, stops with it."""
        if self.run_fault is None:
            self.run_fault = fault
        if isinstance(self.run_fault, GongQuotaExhausted):
            outcome = StreamOutcome(StreamEnd.QUOTA)
        else:
            outcome = StreamOutcome(StreamEnd.STOPPED, "with the run (see the error below)")
        self._record(family, outcome)

    def ended_as(self, name: str, family: list[str]) -> bool:
        """`name` ends as `family` did (a stream and its page children, those selected), whose
        pages held its records: finished, or stopped by the budget or the quota (all go on
        next run). False otherwise: one failed, or they stopped with the run; `name` then
        goes on alone."""
        ends = [self.streams[m] for m in family if m in self.streams]
        if not ends or len(ends) < len(family) or any(o.end not in SHARED_ENDS for o in ends):
            return False
        self._record([name], ends[0])
        return True

    def _record(self, family: Iterable[str], outcome: StreamOutcome) -> None:
        for name in family:
            self.streams[name] = outcome

    # Said at the end.

    def summary_lines(self, details: Callable[[str], str]) -> list[str]:
        """One line per stream: how it ended, then `details(name)` (its records, requests)."""
        return [
            f"  {name}: {outcome.describe()} ({details(name)})"
            for name, outcome in sorted(self.streams.items())
        ]

    def exit_error(self, one_line: Callable[[BaseException], str]) -> GongTapError | None:
        """What the run exits non-zero with: the run's fault, then one line per failed stream."""
        lines = [one_line(self.run_fault)] if self.run_fault is not None else []
        lines += [
            f"'{name}' failed: {outcome.why}"
            for name, outcome in sorted(self.streams.items())
            if outcome.end is StreamEnd.FAILED
        ]
        return GongTapError("\n".join(lines)) if lines else None
