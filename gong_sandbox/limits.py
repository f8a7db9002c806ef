"""Gong's limits: requests in any rolling second, and the company's daily quota.

Not thread-safe: the sandbox admits one request at a time under its lock.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from datetime import date, timedelta

from gong_sandbox.clock import SandboxClock
from gong_sandbox.data.dataset import midnight
from gong_sandbox.protocol import Reply, error_reply
from gong_sandbox.settings import SandboxSettings

# Past a second, an arrival no longer counts; kept a second longer for requests counted late.
ARRIVALS_KEPT_SECONDS = 2.0


class Limits:
    """Counts requests as they arrive and answers 429 past a limit, as Gong does."""

    def __init__(self, settings: SandboxSettings, clock: SandboxClock) -> None:
        self._settings = settings
        self._clock = clock
        self._arrivals: list[float] = []  # time.monotonic(), sorted
        self._quota_day: date | None = None
        self._quota_used = 0
        self._request_count = 0

    def admit(self, arrived: float) -> tuple[str, Reply | None]:
        """Count a request as it arrives: its id, and a 429 past a limit.

        `arrived` is when its handler read it: the count waits for the sandbox's lock,
        which other requests hold while their answers are built (tens of ms for big pages),
        but what arrived in the second before it does not.
        """
        self._request_count += 1
        request_id = hashlib.blake2b(
            f"{self._settings.seed}:{self._request_count}".encode(), digest_size=8
        ).hexdigest()
        return request_id, self._limit_reply(request_id, arrived)

    def _limit_reply(self, request_id: str, arrived: float) -> Reply | None:
        settings = self._settings
        today = self._clock.company_today()
        if today != self._quota_day:
            self._quota_day, self._quota_used = today, 0
        self._quota_used += 1
        if settings.daily_quota is not None and self._quota_used > settings.daily_quota:
            return self.quota_exceeded(request_id)
        # Every arrival counts in the window, rejected ones included, as Gong does. Requests
        # are counted in arrival order give or take a few ms: the arrivals stay sorted.
        arrivals = self._arrivals
        del arrivals[: bisect.bisect_right(arrivals, arrived - ARRIVALS_KEPT_SECONDS)]
        bisect.insort(arrivals, arrived)
        in_the_second_before = bisect.bisect_right(arrivals, arrived) - bisect.bisect_right(
            arrivals, arrived - 1.0
        )
        limit = settings.requests_per_second
        if limit is not None and in_the_second_before > limit:
            return self.rate_limited(request_id)
        return None

    def quota_exceeded(self, request_id: str) -> Reply:
        clock = self._clock
        next_midnight = midnight(clock.company_today() + timedelta(days=1), clock.zone)
        seconds_left = math.ceil((next_midnight - clock.now()).total_seconds())
        return error_reply(
            429, request_id, ["API daily quota exceeded"], retry_after=max(1, seconds_left)
        )

    def rate_limited(self, request_id: str) -> Reply:
        return error_reply(
            429,
            request_id,
            ["API request limit exceeded"],
            retry_after=self._settings.retry_after_seconds,
        )
