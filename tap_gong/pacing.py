"""Gong's rate limit, kept on our side: one pacer for every request of a run."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from tap_gong.errors import RequestBudgetSpent

# Request starts are spaced by slightly more than a second per `rate` requests, so
# that jitter between our clock and the moment Gong counts a request never puts
# rate + 1 requests into one of Gong's rolling seconds.
PACING_WINDOW_SECONDS = 1.03


class RequestPacer:
    """At most `rate` request starts in any rolling second, and at most `budget` per run.

    Shared by all streams of a run and called inside the retry loop, so retries are
    paced too. A retry wait (`hold`) holds back every request of the run: Gong's
    `Retry-After` is about the company's allowance, not one request.
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
        self._not_before = 0.0
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        """No request of the run starts in the next `seconds`."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def seconds_held(self) -> float:
        """How long requests are still held back by the latest `hold`."""
        return max(0.0, self._not_before - self._clock())

    def wait_turn(self) -> None:
        """Block until a request may start, then count it.

        Raises:
            RequestBudgetSpent: when the run has used its request budget.
        """
        with self._lock:
            if self.budget is not None and self.requests_started >= self.budget:
                raise RequestBudgetSpent(self.budget)
            wait = self._not_before - self._clock()
            if len(self._recent_starts) == self.rate:
                wait = max(wait, self._recent_starts[0] + PACING_WINDOW_SECONDS - self._clock())
            if wait > 0:
                self._sleep(wait)
            self._recent_starts.append(self._clock())
            self.requests_started += 1
