"""When to retry a failed request, how long to wait, and when to give up.

Waits are not slept by the retry loop: they become a hold on the run's pacer, so no
request of the run starts before Gong's `Retry-After` has passed, and tests drive the
policy with the pacer's injectable clock and sleep.
"""

from __future__ import annotations

import datetime as dt
import random
import socket
import ssl
import time
from collections.abc import Callable, Generator

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_gong.answers import describe_request, gong_error_text, retry_after_seconds
from tap_gong.errors import GongQuotaExhausted, GongRetriesExhausted
from tap_gong.windows import utc_iso, utc_now

LONGEST_BACKOFF_SECONDS = 60


class RetryPolicy:
    """Gong's `Retry-After` for a 429, else exponential backoff with jitter; bounded.

    Bounded in tries (`max_retries`) and in time (`max_retry_time_seconds` per
    request); a `Retry-After` longer than `max_retry_wait_seconds` is Gong's daily quota.
    """

    def __init__(
        self,
        *,
        max_retries: int,
        max_retry_wait_seconds: int,
        max_retry_time_seconds: int,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_wait_seconds = max_retry_wait_seconds
        self.max_retry_time_seconds = max_retry_time_seconds
        self._clock = clock
        self._jitter = jitter

    def check_quota(self, response: requests.Response) -> None:
        """Stop at once when Gong asks for a longer wait than `max_retry_wait_seconds`.

        That is Gong's daily quota: sleeping for hours would hold a scheduler slot for
        nothing, and the emitted state already covers the finished windows.

        Raises:
            GongQuotaExhausted: when the wait is longer than the user allows.
        """
        wait = retry_after_seconds(response)
        limit = self.max_retry_wait_seconds
        if wait is not None and wait > limit:
            resume_at = utc_iso(utc_now() + dt.timedelta(seconds=wait))
            msg = (
                f"Gong's API quota is spent: Gong asks to wait {wait:.0f} s (until {resume_at}), "
                f"more than max_retry_wait_seconds={limit}. Finished work is in the emitted "
                "state: run again with it after that time."
            )
            raise GongQuotaExhausted(msg)

    def wait_before_retry(self, fault: BaseException | None, attempt: int) -> float:
        """Seconds to wait after the `attempt`-th failed try (1-based)."""
        response = getattr(fault, "response", None)
        if isinstance(response, requests.Response) and response.status_code == 401:
            return 0.0  # an expired OAuth token, already renewed: nothing to wait for
        if isinstance(response, requests.Response) and response.status_code == 429:
            wait = retry_after_seconds(response)
            if wait is not None:
                return wait  # exactly Gong's, never jittered
        backoff = min(LONGEST_BACKOFF_SECONDS, 2.0**attempt)
        return backoff * (0.5 + self._jitter() / 2)

    def waits(self, hold: Callable[[float], None]) -> Generator[float, BaseException | None, None]:
        """A backoff wait generator (the SDK's protocol: it is sent each fault).

        Each wait is handed to `hold` (the pacer), and 0 is yielded to the retry loop.

        Raises:
            GongRetriesExhausted: once the waits would pass `max_retry_time_seconds`.
        """
        started = self._clock()
        fault = yield 0.0  # primed by the retry loop before the first fault
        attempt = 0
        while True:
            attempt += 1
            wait = self.wait_before_retry(fault, attempt)
            spent = self._clock() - started
            if spent + wait > self.max_retry_time_seconds:
                msg = (
                    f"Gong kept failing for {spent:.0f} s "
                    f"(max_retry_time_seconds={self.max_retry_time_seconds}): "
                    f"{describe_fault(fault)}. Finished work is in the emitted state: "
                    "run again later."
                )
                raise GongRetriesExhausted(msg) from fault
            hold(wait)
            fault = yield 0.0


def describe_fault(fault: BaseException | None) -> str:
    """One short line about a failed try: the HTTP answer, or the network error."""
    if isinstance(fault, (RetriableAPIError, FatalAPIError)):
        response = getattr(fault, "response", None)
        if isinstance(response, requests.Response):
            return (
                f"HTTP {response.status_code} for {describe_request(response.request)}: "
                f"{gong_error_text(response)}"
            )
        return str(fault)
    if fault is None:
        return "unknown fault"
    return f"{type(fault).__name__}: {short_network_error(fault)}"


def short_network_error(fault: BaseException) -> str:
    """The innermost reason of a network error (requests nests urllib3's several deep)."""
    reason: BaseException = fault
    while True:
        first_arg = reason.args[0] if reason.args else None
        inner = first_arg if isinstance(first_arg, BaseException) else None
        inner = inner or getattr(reason, "reason", None) or reason.__cause__
        if not isinstance(inner, BaseException) or inner is reason:
            break
        reason = inner
    text = " ".join(str(reason).split())
    return text[:200]


# Faults that say the host is wrong (a name that does not resolve, a TLS or certificate
# failure), not that it is busy: retrying them only delays the one-line error.
UNREACHABLE_HOST_FAULTS: tuple[type[BaseException], ...] = (
    socket.gaierror,
    ssl.SSLError,
    requests.exceptions.SSLError,
)


def unreachable_host_reason(fault: BaseException) -> str | None:
    """Why the host cannot be reached, if the fault is one retrying cannot cure."""
    seen: set[int] = set()
    pending: list[BaseException] = [fault]
    while pending:
        cause = pending.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, UNREACHABLE_HOST_FAULTS):
            if isinstance(cause, socket.gaierror):
                return "the host name does not resolve"
            return f"TLS failed: {short_network_error(cause)}"
        if "NameResolutionError" in type(cause).__name__:
            return "the host name does not resolve"
        pending.extend(arg for arg in cause.args if isinstance(arg, BaseException))
        for linked in (getattr(cause, "reason", None), cause.__cause__, cause.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return None
