"""Gong's rate limit, kept on our side: one pacer for every request of a run."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

from tap_gong.errors import RequestBudgetSpent

# Request starts are spaced by slightly more than a second per `rate` requests, so
# that jitter between our clock and the moment Gong counts a request never puts
# rate + 1 requests into one of Gong's rolling seconds.
PACING_WINDOW_SECONDS = 1.03


class RequestPacer:
    """At most `rate` request starts in any rolling second, and at most `budget` per run.

    Shared by all streams of a run (streams run one after another), and called
    inside the retry loop, so retries are paced too.
    """

    def __init__(
        self,
        rate: int,
        budget: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.budget = budget
        self.requests_started = 0
        self._clock = clock
        self._sleep = sleep
        self._recent_starts: collections.deque[float] = collections.deque(maxlen=rate)

    def wait_turn(self) -> None:
        """Block until a request may start, then count it.

        Raises:
            RequestBudgetSpent: when the run has used its request budget.
        """
        if self.budget is not None and self.requests_started >= self.budget:
            raise RequestBudgetSpent(self.budget)
        if len(self._recent_starts) == self.rate:
            wait = self._recent_starts[0] + PACING_WINDOW_SECONDS - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._recent_starts.append(self._clock())
        self.requests_started += 1
