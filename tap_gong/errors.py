"""Errors a user can act on: each message is one line saying what happened and what to do."""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError


class GongTapError(Exception):
    """An error the tap reports as one line, without a traceback."""


class GongStateError(GongTapError):
    """The state given to the tap is not one it wrote."""

    @classmethod
    def not_written_by_tap(cls, stream: str, name: str, value: object) -> GongStateError:
        return cls(
            f"The state's {name} for '{stream}' is {value!r}, not a value tap-gong writes: "
            "pass the state the tap emitted, or no state to start from start_date."
        )


class GongAuthError(GongTapError, FatalAPIError):
    """Gong rejected the credentials (HTTP 401 or 403)."""


class GongRequestRejected(GongTapError, FatalAPIError):
    """Gong answered 400 (or another non-retriable 4xx) to a request."""


class CursorRefused(GongRequestRejected):
    """Gong answered 400 to a request for a later page: its cursor may have expired."""

    def __init__(self, message: str, gong_words: str) -> None:
        super().__init__(message)
        self.gong_words = gong_words


class GongQuotaExhausted(GongTapError, FatalAPIError):
    """Gong asked the tap to wait longer than the user allows (the daily quota is spent)."""


class GongUnreachable(GongTapError):
    """Gong's host does not resolve or fails TLS: api_url is wrong, retrying cannot help."""


class GongRetriesExhausted(GongTapError):
    """A fault outlasted the retry budget (tries or time)."""


class PlannedStop(Exception):
    """Stop extracting a stream at the last finished window; the next run goes on from there."""


class RequestBudgetSpent(PlannedStop):
    """The run used `max_requests_per_run` requests."""

    def __init__(self, budget: int) -> None:
        super().__init__(
            f"the run used max_requests_per_run={budget} requests; the next run goes on "
            "from the emitted state"
        )


class DayNotOverForGong(PlannedStop):
    """Gong says a day is not over yet in the company's zone (our clock runs ahead of Gong's)."""
