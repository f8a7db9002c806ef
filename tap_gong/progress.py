"""Readable progress on long syncs: the work ahead, done/total with an ETA, summaries."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable

from tap_gong.pacing import RequestPacer
from tap_gong.request_estimate import (
    DAILY_QUOTA,
    RequestEstimate,
    counted,
    how_long,
    left_after_run,
)

# Progress lines at most this often: one per window would flood a long backfill.
PROGRESS_EVERY_SECONDS = 30.0


@dataclasses.dataclass
class StreamTally:
    """What one stream did in this run."""

    records: int = 0
    #: Pages of its own answers read (a window cut by the budget reads them again).
    pages: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    #: What the stream's planned windows still need once the run ends (None: nothing).
    left: RequestEstimate | None = None

    def summary(self) -> str:
        return (
            f"{counted(self.records, 'record')}, {counted(self.requests, 'request')}, "
            f"{counted(self.retries, 'retry', 'retries')} ({self.rate_limited} x 429), "
            f"{self.seconds:.1f} s"
        )


class StreamProgress:
    """Logs a stream's windows: the plan up front, done/total with an ETA, then a summary."""

    def __init__(
        self,
        stream_name: str,
        logger: logging.Logger,
        tally: StreamTally,
        requests_sent: Callable[[], int],
        *,
        clock: Callable[[], float] = time.monotonic,
        pacer: RequestPacer | None = None,
    ) -> None:
        self.stream_name = stream_name
        self.logger = logger
        self.tally = tally
        # The stream's own count: its first windows may be fetched before its turn.
        self._requests_sent = requests_sent
        self._clock = clock
        self._started = clock()
        self._last_line = self._started
        # The run's pacer: what is left of the budget, and of Gong's quota for all the tap knows.
        self._pacer = pacer
        self._windows_total: int | None = None
        self._windows_done = 0
        #: What is left while the plan's empty stretch is yet to be probed (None: it is not).
        self._probe_left: RequestEstimate | None = None
        #: Pages of windows stopped before their end: the next run reads them again.
        self._pages_to_reread = 0

    def plan(
        self,
        windows: int,
        unit: str,
        first: str,
        last: str,
        *,
        probed: RequestEstimate | None = None,
    ) -> None:
        """Say the work ahead: how many windows over which range, what they cost in requests
        (`probed`: what they cost, their empty stretch probed), and in runs and days beyond
        what the run's budget or Gong's quota leaves; said again after a probe skipped an
        empty stretch, with what the stream made so far."""
        made = self._requests_sent() if self._windows_total is not None else 0
        self._windows_total = windows
        self._windows_done = 0
        self._probe_left = probed
        if not windows:
            self.logger.info("%s: nothing new to extract.", self.stream_name)
            return
        ahead = probed or RequestEstimate(windows)
        cost = f"{ahead.describe()}, one more per 100 records beyond the first page of each"
        if probed:
            cost += (
                " (the days before Gong's first day with data are probed, about 2 x log2 of "
                "them, not read one by one)"
            )
        if made:
            cost += f"; {made:,} made so far: {(ahead + RequestEstimate(made)).describe()} in all"
        if runs_and_days := self._how_long(ahead.least):
            cost += f"; that is {runs_and_days}"
        self.logger.info(
            "%s: %d %s to extract, %s to %s: %s.",
            self.stream_name,
            windows,
            unit,
            first,
            last,
            cost,
        )

    def _how_long(self, requests: int) -> str:
        if self._pacer is None:
            return ""
        started, budget = self._pacer.requests_started, self._pacer.budget
        run_left = None if budget is None else max(budget - started, 0)
        return how_long(requests, run_left, budget, max(DAILY_QUOTA - started, 0))

    def left(self) -> RequestEstimate | None:
        """What the planned windows not done still need (None: nothing)."""
        reread = RequestEstimate(self._pages_to_reread)
        if self._probe_left is not None:
            # The days without data are not all known: the next run probes on.
            return self._probe_left + reread
        windows_left = max((self._windows_total or 0) - self._windows_done, 0)
        return RequestEstimate(windows_left) + reread if windows_left else None

    def probing(self, left: RequestEstimate | None) -> None:
        """The probe moved on: what it and the days after it still need (None: it is over)."""
        self._probe_left = left

    def window_cut(self, records: int, pages: int) -> None:
        """A window stopped before its end (a budget, a fault): its records written count,
        and its pages read are read again next run (a bookmark passes whole windows)."""
        self.tally.records += records
        self._pages_to_reread += pages

    def window_done(self, records: int) -> None:
        self._windows_done += 1
        # A window with data: the rest of the plan is read day by day, not probed.
        if records:
            self._probe_left = None
        self.tally.records += records
        now = self._clock()
        total = max(self._windows_total or 0, self._windows_done)
        if now - self._last_line < PROGRESS_EVERY_SECONDS or self._windows_done == total:
            return
        self._last_line = now
        elapsed = now - self._started
        eta = elapsed / self._windows_done * (total - self._windows_done)
        self.logger.info(
            "%s: %d/%d windows (%d%%), %s records, %d requests, about %s left.",
            self.stream_name,
            self._windows_done,
            total,
            100 * self._windows_done // total,
            f"{self.tally.records:,}",
            self._requests_sent(),
            _duration(eta),
        )

    def finish(self) -> StreamTally:
        self.tally.requests = self._requests_sent()
        self.tally.seconds = self._clock() - self._started
        self.tally.left = self.left()
        self.logger.info("%s: done: %s.", self.stream_name, self.tally.summary())
        return self.tally


def left_after_streams(tallies: Iterable[StreamTally], budget: int | None) -> str:
    """What every stream's planned windows still need, for the run summary's first line."""
    lefts = [tally.left for tally in tallies if tally.left is not None]
    if not lefts:
        return "no planned window left"
    return left_after_run(sum(lefts[1:], lefts[0]), budget)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
