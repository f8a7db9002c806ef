"""Readable progress on long syncs: the work ahead, done/total with an ETA, summaries."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

# Progress lines at most this often: one per window would flood a long backfill.
PROGRESS_EVERY_SECONDS = 30.0


@dataclasses.dataclass
class StreamTally:
    """What one stream did in this run."""

    records: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.records:,} records, {self.requests:,} requests, {self.retries} retries "
            f"({self.rate_limited} x 429), {self.seconds:.1f} s"
        )


class StreamProgress:
    """Logs a stream's windows: the plan up front, done/total with an ETA, then a summary."""

    def __init__(
        self,
        stream_name: str,
        logger: logging.Logger,
        tally: StreamTally,
        requests_sent: Callable[[], int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream_name = stream_name
        self.logger = logger
        self.tally = tally
        # The stream's own count: its first windows may be fetched before its turn.
        self._requests_sent = requests_sent
        self._clock = clock
        self._started = clock()
        self._last_line = self._started
        self._windows_total: int | None = None
        self._windows_done = 0

    def plan(self, windows: int, unit: str, first: str, last: str) -> None:
        """Say the work ahead: how many windows, and the range (again after a skip)."""
        self._windows_total = windows
        self._windows_done = 0
        if windows:
            self.logger.info(
                "%s: %d %s to extract, %s to %s: at least %d requests, one more per 100 "
                "records beyond the first page of each.",
                self.stream_name,
                windows,
                unit,
                first,
                last,
                windows,
            )
        else:
            self.logger.info("%s: nothing new to extract.", self.stream_name)

    def window_done(self, records: int) -> None:
        self._windows_done += 1
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
        self.logger.info("%s: done: %s.", self.stream_name, self.tally.summary())
        return self.tally


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
