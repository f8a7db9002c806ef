"""The shared Gong REST stream: auth, base URL, errors, retries, pacing and resumable windows."""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import requests
from singer_sdk.authenticators import BasicAuthenticator, BearerTokenAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.jsonpath import extract_jsonpath
from singer_sdk.streams import RESTStream

from tap_gong.errors import (
    GongAuthError,
    GongQuotaExhausted,
    GongRequestRejected,
    GongRetriesExhausted,
    GongStateError,
    PlannedStop,
)
from tap_gong.pagination import GongCursorPaginator, gong_body
from tap_gong.windows import parse_instant, to_utc, utc_iso

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_gong.pacing import RequestPacer

# Gong says "no data in this range" with a 404 and a message such as
# "No calls found for the specified period"; any other 404 is a wrong URL.
NO_DATA_MESSAGE = re.compile(r"\bno\b.*\bfound\b", re.IGNORECASE)

CONNECT_TIMEOUT_SECONDS = 10
LONGEST_BACKOFF_SECONDS = 60
ERROR_TEXT_LIMIT = 300

Window = dict[str, str]
WINDOW_PROGRESS_NOTE = "Records of the window in progress; the bookmark is its last finished one."


def retry_after_seconds(response: requests.Response) -> float | None:
    """Gong's `Retry-After` (seconds or an HTTP date) as seconds from now, if given."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def gong_error_text(response: requests.Response) -> str:
    """Gong's `errors[]` joined, or the start of a body that is not Gong's JSON, on one line."""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        errors = None
    text = "; ".join(map(str, errors)) if isinstance(errors, list) and errors else response.text
    text = " ".join(text.split())
    return text[:ERROR_TEXT_LIMIT] + ("..." if len(text) > ERROR_TEXT_LIMIT else "")


def describe_request(request: requests.PreparedRequest) -> str:
    """`METHOD /path?query` plus the JSON body: what the user needs to reproduce a request.

    Credentials travel only in the Authorization header, which is never shown.
    """
    parts = urlsplit(request.url or "")
    target = parts.path + (f"?{unquote(parts.query)}" if parts.query else "")
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    return f"{request.method} {target}" + (f" {body}" if body else "")


class GongStream(RESTStream[str | None]):
    """A Gong endpoint, extracted window by window with a bookmark committed after each.

    Subclasses say how the range is cut (`date_windows`), how a window becomes a
    request (`get_url_params` / `prepare_request_payload`) and which bookmark a
    finished window leaves (`window_bookmark`).
    """

    records_jsonpath = "$[*]"
    # Records are Gong's decoded JSON plus our UTC strings, already JSON types, and
    # get_records drops fields the schema lacks: the SDK's per-record conformance pass
    # would only re-check every value (a quarter of the tap's CPU, benchmarks/RESULTS.md).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @property
    def url_base(self) -> str:
        return str(self.setting("api_url")).rstrip("/")

    @cached_property
    def authenticator(self) -> BasicAuthenticator | BearerTokenAuthenticator:
        if token := self.config.get("access_token"):
            return BearerTokenAuthenticator(token=token)
        return BasicAuthenticator(
            username=self.config["access_key"],
            password=self.config["access_key_secret"],
        )

    @property
    def http_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    @property
    def timeout(self) -> tuple[int, int]:  # type: ignore[override]
        return (CONNECT_TIMEOUT_SECONDS, self.setting("request_timeout_seconds"))

    @property
    def pacer(self) -> RequestPacer:
        return self._tap.request_pacer  # type: ignore[attr-defined]

    def setting(self, name: str) -> Any:
        return self._tap.setting(name)  # type: ignore[attr-defined]

    def lookback(self) -> dt.timedelta:
        """How far before the saved bookmark a run re-reads, for late or updated data."""
        return dt.timedelta(days=self.setting("lookback_window_days"))

    def first_instant(self) -> dt.datetime:
        return parse_instant(self.config["start_date"])

    @cached_property
    def last_instant(self) -> dt.datetime:
        """`end_date`, or the moment the stream started; never later than now."""
        now = dt.datetime.now(dt.timezone.utc)
        end_date = self.config.get("end_date")
        return min(parse_instant(end_date), now) if end_date else now

    def utc_or_original(self, value: str | None, field: str) -> str | None:
        """Gong's date-time in UTC; a value that does not parse is kept as sent, with a warning."""
        try:
            return to_utc(value)
        except (TypeError, ValueError):
            self.logger.warning("%s: %s=%r is not an ISO-8601 date-time", self.name, field, value)
            return value

    def get_new_paginator(self) -> GongCursorPaginator:
        return GongCursorPaginator()

    # Requests: paced, validated, retried.

    def request_decorator(
        self, func: Callable[..., requests.Response]
    ) -> Callable[..., requests.Response]:
        def paced(*args: Any, **kwargs: Any) -> requests.Response:
            self.pacer.wait_turn()
            return func(*args, **kwargs)

        # The pacer sits inside the retry loop, so every retry is paced too.
        return super().request_decorator(paced)

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status == 404 and NO_DATA_MESSAGE.search(gong_error_text(response)):
            return
        if status in (401, 403):
            msg = (
                f"Gong rejected the credentials (HTTP {status}) at {self.url_base}: check "
                "access_key and access_key_secret (or access_token), and that api_url is "
                "your company's Gong API base URL."
            )
            raise GongAuthError(msg)
        if status == 429:
            self.check_retry_after(response)
            raise RetriableAPIError(self.response_error_message(response), response)
        if status >= 500:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status >= 400:
            msg = (
                f"Gong rejected {describe_request(response.request)} (HTTP {status}): "
                f"{gong_error_text(response)}"
            )
            if status == 404:
                msg += " Check that api_url is your company's Gong API base URL."
            raise GongRequestRejected(msg)
        try:
            gong_body(response)
        except ValueError as exc:
            msg = f"Gong sent an incomplete or non-JSON body ({exc})"
            raise RetriableAPIError(msg, response) from exc

    def check_retry_after(self, response: requests.Response) -> None:
        """Stop at once when Gong asks for a longer wait than `max_retry_wait_seconds`.

        That is Gong's daily quota: sleeping for hours would hold a scheduler slot
        for nothing, and the emitted state already covers the finished windows.
        """
        wait = retry_after_seconds(response)
        limit = self.setting("max_retry_wait_seconds")
        if wait is not None and wait > limit:
            resume_at = utc_iso(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=wait))
            msg = (
                f"Gong's API quota is spent: Gong asks to wait {wait:.0f} s (until {resume_at}), "
                f"more than max_retry_wait_seconds={limit}. Finished work is in the emitted "
                "state: run again with it after that time."
            )
            raise GongQuotaExhausted(msg)

    def response_error_message(self, response: requests.Response) -> str:
        return (
            f"{response.status_code} {response.reason} for {describe_request(response.request)}: "
            f"{gong_error_text(response)}"
        )

    def backoff_max_tries(self) -> int:
        return self.setting("max_retries") + 1

    def backoff_jitter(self, value: float) -> float:
        return value  # jitter is applied in retry_waits, never to Gong's Retry-After

    def backoff_wait_generator(self) -> Generator[float, Any, None]:  # type: ignore[override]
        return self.retry_waits()

    def retry_waits(self) -> Generator[float, Any, None]:
        """Waits between tries: Gong's Retry-After for a 429, else exponential with jitter.

        Bounded in time as well as in tries: once the waits would pass
        `max_retry_time_seconds`, the run stops with the last fault.
        """
        started = time.monotonic()
        limit = self.setting("max_retry_time_seconds")
        exc = yield  # type: ignore[misc]
        attempt = 0
        while True:
            attempt += 1
            response = getattr(exc, "response", None)
            wait = retry_after_seconds(response) if response is not None else None
            if wait is None or response.status_code != 429:
                wait = min(LONGEST_BACKOFF_SECONDS, 2.0**attempt) * random.uniform(0.5, 1.0)
            if time.monotonic() - started + wait > limit:
                msg = (
                    f"Gong kept failing for {time.monotonic() - started:.0f} s "
                    f"(max_retry_time_seconds={limit}): {describe_fault(exc)}. Finished work "
                    "is in the emitted state: run again later."
                )
                raise GongRetriesExhausted(msg) from exc
            exc = yield wait

    def backoff_handler(self, details: dict) -> None:  # type: ignore[override]
        self.logger.warning(
            "Retrying in %.1f s (try %d of %d): %s",
            details.get("wait", 0.0),
            details.get("tries", 0) + 1,
            self.backoff_max_tries(),
            describe_fault(details.get("exception")),
        )

    # Records.

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        yield from extract_jsonpath(self.records_jsonpath, gong_body(response))

    def date_windows(self) -> Iterator[Window]:
        """The windows still to extract in this run, oldest first."""
        raise NotImplementedError

    def window_bookmark(self, window: Window) -> str:
        """The bookmark a finished window leaves: where the next run continues."""
        raise NotImplementedError

    def records_in_window(self, window: Window) -> Iterable[dict]:
        """Every record Gong has for one window, across its pages."""
        return self.request_records(window)

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        # Where the SDK keeps the max-so-far of the window in progress (never promoted:
        # the bookmark is committed per finished window). Said here so the SDK does not
        # warn that progress is not resumable: it is, window by window.
        self.stream_state.setdefault("progress_markers", {"Note": WINDOW_PROGRESS_NOTE})
        try:
            for window in self.date_windows():
                count = 0
                for record in self.records_in_window(window):
                    count += 1
                    yield self.schema_fields_only(record)
                self.commit_bookmark(self.window_bookmark(window))
                self.log_window(window, count)
        except PlannedStop as stop:
            # The unfinished window is dropped from progress, so the bookmark stays at
            # the last finished window and the next run resumes there.
            self.forget_unfinished_window()
            self.logger.warning("Stopped '%s': %s.", self.name, stop)

    @cached_property
    def schema_fields(self) -> frozenset[str]:
        return frozenset(self.schema["properties"])

    @cached_property
    def unknown_fields_reported(self) -> set[str]:
        """Fields Gong sent that the schema lacks, warned about already in this run."""
        return set()

    def schema_fields_only(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record without fields the schema lacks, as targets expect (said once a run).

        The SDK drops them only at TYPE_CONFORMANCE_LEVEL RECURSIVE or ROOT_ONLY.
        """
        unknown = record.keys() - self.schema_fields
        if not unknown:
            return record
        if new_fields := unknown - self.unknown_fields_reported:
            self.unknown_fields_reported.update(new_fields)
            self.logger.warning(
                "%s: Gong sent fields the schema lacks, not emitted: %s",
                self.name,
                ", ".join(sorted(new_fields)),
            )
        return {name: value for name, value in record.items() if name in self.schema_fields}

    def log_window(self, window: Window, count: int) -> None:
        self.logger.info(
            "%s: %s done, %d records (%d requests so far)",
            self.name,
            " to ".join(window.values()),
            count,
            self.pacer.requests_started,
        )

    # State: one bookmark per stream, committed after each finished window.

    def commit_bookmark(self, value: str) -> None:
        """Record that everything up to `value` is extracted, and emit STATE now.

        Pages inside a window are not sorted, so a bookmark is only known to be
        safe once the whole window is extracted.
        """
        state = self.stream_state
        self.forget_unfinished_window()
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = value
        self.state_manager.is_flushed = False
        self._write_state_message()

    def forget_unfinished_window(self) -> None:
        """Drop the SDK's max-so-far for the current window, never to be promoted."""
        markers = self.stream_state.get("progress_markers", {})
        markers.pop("replication_key", None)
        markers.pop("replication_key_value", None)

    def saved_bookmark(self) -> Any:
        """The bookmark the previous run committed, parsed; None on a first run.

        Raises:
            GongStateError: when the state holds a value tap-gong does not write.
        """
        value = self.stream_state.get("replication_key_value")
        if value is None:
            return None
        try:
            return self.parse_bookmark(value)
        except (TypeError, ValueError):
            msg = (
                f"The state's bookmark for '{self.name}' is {value!r}, not a value tap-gong "
                "writes: pass the state the tap emitted, or no state to start from start_date."
            )
            raise GongStateError(msg) from None

    def parse_bookmark(self, value: str) -> Any:
        """Parse a bookmark this stream wrote."""
        raise NotImplementedError


def describe_fault(exc: BaseException | None) -> str:
    """One line about a failed try: the HTTP answer, or the network error."""
    if isinstance(exc, (RetriableAPIError, FatalAPIError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if exc else "unknown fault"
