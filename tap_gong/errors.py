"""Errors a user can act on: each message is one line saying what happened and what to do.

Two families, by how much of a run they end:
- `StreamFailure`: Gong refuses one stream in a way no retry can fix (a scope the key
  lacks, a request it rejects). That stream and its page children stop at their last
  finished window; the other streams run to the end; the run exits non-zero.
- Everything else (`RUN_FAULTS`): the run cannot go on (the credentials, the quota,
  Gong down or out of reach). No request of the run starts any more.
"""

from __future__ import annotations

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError


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


class StreamFailure(GongTapError, FatalAPIError):
    """Gong refused one stream's request; retrying cannot help, the other streams go on."""

    def __init__(self, stream: str, message: str) -> None:
        super().__init__(message)
        #: The stream whose request Gong refused (a page child's, inside its parent's sync).
        self.stream = stream


class GongAuthError(StreamFailure):
    """Gong refused one stream (HTTP 401 or 403): the key or app lacks the stream's scope."""


class GongRequestRejected(StreamFailure):
    """Gong answered 400 (or another non-retriable 4xx) to one stream's request."""


class BudgetNeverMovesStream(StreamFailure):
    """`max_requests_per_run` is less than one window of a stream needs: no run moves it."""

    def __init__(self, stream: str, read: str, budget: int) -> None:
        """`stream` fails: the selected stream read in `read`'s windows (itself, or a page
        child of a list read only for it, such as users for engage_flows)."""
        super().__init__(
            stream,
            f"max_requests_per_run={budget} is fewer requests than one window of {read} "
            "needs (it had the whole budget and moved nothing, and its windows cannot be cut "
            "shorter): raise max_requests_per_run",
        )


class GongCredentialsRefused(GongTapError, FatalAPIError):
    """Gong refused the credentials (or api_url) before it accepted any request of the run."""


class CursorRefused(GongRequestRejected):
    """Gong answered 400 to a request for a later page: its cursor may have expired."""

    def __init__(self, stream: str, message: str, gong_words: str) -> None:
        super().__init__(stream, message)
        self.gong_words = gong_words


class GongQuotaExhausted(GongTapError, FatalAPIError):
    """Gong asked the tap to wait longer than the user allows (the daily quota is spent)."""


class GongUnreachable(GongTapError):
    """Gong's host does not resolve or fails TLS: api_url is wrong, retrying cannot help."""


class GongRetriesExhausted(GongTapError):
    """A fault outlasted the retry budget (tries or time)."""


# What ends the whole run when it leaves a stream (a StreamFailure ends only its stream):
# besides the tap's own, a retriable answer or network fault that outlasted max_retries.
RUN_FAULTS: tuple[type[BaseException], ...] = (
    GongCredentialsRefused,
    GongQuotaExhausted,
    GongUnreachable,
    GongRetriesExhausted,
    RetriableAPIError,
    requests.RequestException,
)


class PlannedStop(Exception):
    """Stop extracting a stream at the last finished window; the next run goes on from there."""


class RequestBudgetSpent(PlannedStop):
    """The run used `max_requests_per_run` requests."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        super().__init__(
            f"the run's request budget is spent (max_requests_per_run={budget}, shared by "
            "its streams); the next run goes on from the emitted state"
        )


class DayNotOverForGong(PlannedStop):
    """Gong says a day is not over yet in the company's zone (our clock runs ahead of Gong's)."""
