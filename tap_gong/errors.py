"""Errors a user can act on: each message is one line saying what happened and what to do."""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError


class GongTapError(Exception):
    """An error the tap reports as one line, without a traceback."""


class GongStateError(GongTapError):
    """The state given to the tap is not one it wrote."""


class GongAuthError(GongTapError, FatalAPIError):
    """Gong rejected the credentials (HTTP 401 or 403)."""


class GongRequestRejected(GongTapError, FatalAPIError):
    """Gong answered 400 (or another non-retriable 4xx) to a request."""


class GongQuotaExhausted(GongTapError, FatalAPIError):
    """Gong asked the tap to wait longer than the user allows (the daily quota is spent)."""


class GongRetriesExhausted(GongTapError):
    """A fault outlasted the retry budget (tries or time)."""


class RequestBudgetSpent(Exception):
    """The run used `max_requests_per_run` requests: a planned stop, exit 0."""
