"""How `max_requests_per_run` is shared between the streams of a run.

The streams run one after the other. Without shares the first would take the whole
budget on every run (a backfill of empty old windows), and the streams after it would
never move. So each stream, when its turn comes, may start windows while it has used
less than an equal share of what is left: what is left divided by the streams still to
run, itself included, rounded up. A window it started is finished (within the run's
budget: the pacer keeps the last requests for the window being read), so a share too
small for a whole window still finishes one. What a stream leaves unused goes to the
streams after it. A list read whole (users, settings) is not cut by its share: a part of
it would be read again next run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

from tap_gong.errors import RequestBudgetSpent
from tap_gong.pacing import RequestPacer


class RequestShare:
    """One stream's share of the run's request budget (its page children's requests count)."""

    def __init__(
        self,
        pacer: RequestPacer,
        requests_used: Callable[[], int],
        streams_left: Callable[[], int],
    ) -> None:
        self._pacer = pacer
        self._requests_used = requests_used
        self._streams_left = streams_left
        self.limit: int | None = None
        self._used_before = 0
        self._windows_in_flight = 0
        self._stopped = False

    def begin(self) -> None:
        """The stream's turn: its share of what the streams before it left."""
        budget = self._pacer.budget
        if budget is None:
            return
        left = max(budget - self._pacer.requests_started, 0)
        self.limit = math.ceil(left / max(self._streams_left(), 1))
        self._used_before = self._requests_used()

    def windows(self, windows: Iterable[dict[str, str]]) -> Iterator[dict[str, str]]:
        """`windows` while the share allows starting another (each costs at least a request)."""
        for window in windows:
            if self.limit is not None:
                spent = self._requests_used() - self._used_before + self._windows_in_flight
                if spent >= self.limit:
                    self._stopped = True
                    return
            self._windows_in_flight += 1
            yield window

    def window_finished(self) -> None:
        self._windows_in_flight = max(self._windows_in_flight - 1, 0)

    def check_not_stopped(self) -> None:
        """Raises RequestBudgetSpent when the share, not the end of the range, ended the stream."""
        if self._stopped and self._pacer.budget is not None:
            raise RequestBudgetSpent(self._pacer.budget)
