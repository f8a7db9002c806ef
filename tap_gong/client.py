"""The shared Gong stream (auth, base URL, answers, retries, pacing) and its three kinds.

- `DateTimeWindowStream`: a range of instants cut into windows (calls and the
  call-derived streams), the bookmark the end of the last finished window.
- `CompanyDayStream`: company days, complete days only (the stats streams), the
  bookmark the last finished day.
- `FullTableStream`: a list read whole on every run (users, workspaces, settings).

A stream is then a small declarative class: its endpoint, keys, and how a window
goes into the request.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import logging
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import backoff
import requests
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import (
    AbortedSyncFailedException,
    AbortedSyncPausedException,
    RetriableAPIError,
)
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.jsonpath import extract_jsonpath
from singer_sdk.streams import RESTStream, Stream
from typing_extensions import override

from tap_gong import state
from tap_gong.answers import (
    describe_request,
    gong_body,
    gong_error_text,
    is_no_data,
    names_missing_scope,
    next_cursor,
    request_body,
)
from tap_gong.budget import RequestShare
from tap_gong.errors import (
    RUN_FAULTS,
    CursorRefused,
    DayNotOverForGong,
    GongAuthError,
    GongCredentialsRefused,
    GongRequestRejected,
    GongStateError,
    GongUnreachable,
    PlannedStop,
    RequestBudgetSpent,
    StreamFailure,
)
from tap_gong.fetching import FetchedWindow, StreamWindows, Window
from tap_gong.late_data import LATE_DATA, LateDataRereads
from tap_gong.pagination import GongCursorPaginator, carries_cursor, post_body
from tap_gong.progress import StreamProgress, StreamTally
from tap_gong.reconcile import Reconciliation, send_activate_version
from tap_gong.records import RecordShaper
from tap_gong.retries import RetryPolicy, describe_fault, unreachable_host_reason
from tap_gong.transport import turn_before_writing
from tap_gong.windows import (
    company_day,
    company_zone,
    latest_company_day,
    parse_instant,
    time_windows,
    utc_iso,
)

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_gong.access import GongRun

CONNECT_TIMEOUT_SECONDS = 10
# Gong publishes a call only once it has processed it, hours after the call started:
# what started this long before a run's end may still appear (DateTimeWindowStream).
CALL_PROCESSING_ALLOWANCE = dt.timedelta(days=1)
ONE_DAY = dt.timedelta(days=1)
# Calls windows per worker a backfill is cut into at least (DateTimeWindowStream).
WINDOWS_PER_WORKER = 4
# ... but none shorter: each window costs a request even when it holds few calls, and a
# short backfill gains little from the overlap.
SHORTEST_BACKFILL_WINDOW = dt.timedelta(days=7)
# A backfill of more than this many company days looks for empty stretches first
# (CompanyDayStream.skip_empty_history); in a shorter one they would save little.
PROBED_HISTORY_DAYS = 31
# What the SDK's retry loop retries: its own list (streams/rest.py request_decorator).
RETRIED_FAULTS = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def day_key(day: dt.date) -> dt.datetime:
    """A company day as the instant a reconcile's range keeps it as (its start in UTC)."""
    return dt.datetime.combine(day, dt.time(), dt.timezone.utc)


def first_value(window: Window) -> str:
    return next(iter(window.values()))


def last_value(window: Window) -> str:
    return list(window.values())[-1]


def streams_run_in_turn(streams: Iterable[Stream]) -> list[GongStream]:
    """The selected top-level streams, in the order the SDK syncs them (tap_base.sync_all)."""
    return [
        stream
        for stream in streams
        if isinstance(stream, GongStream)
        and (stream.selected or stream.has_selected_descendents)
        and not stream.parent_stream_type
    ]


class GongStream(RESTStream[str | None]):
    """A Gong endpoint: paced, retried, its answers read by Gong's rules."""

    records_jsonpath = "$[*]"
    # Records are Gong's decoded JSON, shaped to the schema by RecordShaper: the SDK's
    # per-record conformance pass would only re-check every value.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: The OAuth scope Gong asks for this endpoint (named in a 401/403).
    required_scope: ClassVar[str]
    #: What a run costs when it grows with the company (per user, per workspace...), as
    #: `--about` says it; "" when a run costs a request or a few pages.
    request_cost: ClassVar[str] = ""

    def __init__(self, tap: Tap, run: GongRun) -> None:
        self.run = run
        self.settings = settings = run.settings
        self.pacer = run.pacer
        self.retry_policy = RetryPolicy(
            max_retries=settings.max_retries,
            max_retry_wait_seconds=settings.max_retry_wait_seconds,
            max_retry_time_seconds=settings.max_retry_time_seconds,
        )
        self.tally = StreamTally()
        #: Requests this stream started, from any thread.
        self.requests_sent = 0
        self._requests_sent_lock = threading.Lock()
        super().__init__(tap)

    @cached_property
    def shaper(self) -> RecordShaper:
        return RecordShaper(self.name, self.schema, tuple(self.primary_keys or ()), self.logger)

    @override
    @property
    def url_base(self) -> str:
        return self.run.access.base_url()

    @override
    @property
    def authenticator(self) -> APIAuthenticatorBase:
        return self.run.access.authenticator

    @override
    @property
    def http_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    @override
    @property
    def timeout(self) -> tuple[int, int]:  # type: ignore[override]  # (connect, read)
        return (CONNECT_TIMEOUT_SECONDS, self.settings.request_timeout_seconds)

    @override
    def get_new_paginator(self) -> GongCursorPaginator:
        return GongCursorPaginator()

    # Requests: paced, validated, retried.

    @override
    def request_decorator(
        self, func: Callable[..., requests.Response]
    ) -> Callable[..., requests.Response]:
        def paced(*args: Any, **kwargs: Any) -> requests.Response:
            # A retry's wait is a hold on the pacer, taken with the turn once connected: a
            # try whose connection fails (a closed port) must wait it out here, first.
            self.pacer.wait_out_hold()
            try:
                with turn_before_writing(self._take_turn):
                    return func(*args, **kwargs)
            except requests.exceptions.ConnectionError as exc:
                if reason := unreachable_host_reason(exc):
                    # A configuration problem, not a passing fault: no retries.
                    msg = (
                        f"Cannot reach Gong at {self.url_base} ({reason}): check api_url, "
                        "your company's Gong API base URL."
                    )
                    raise GongUnreachable(msg) from None
                raise

        # The pacer sits inside the retry loop, so every retry is paced too: each request
        # takes its turn on its connection, once connected (transport.py). The SDK's
        # own decorator also logs each retry through the backoff library (a second,
        # long line naming an internal function): ours logs one short line.
        retried: Callable[..., requests.Response] = backoff.on_exception(
            self.backoff_wait_generator,
            RETRIED_FAULTS,
            max_tries=self.backoff_max_tries,
            on_backoff=self.backoff_handler,
            jitter=None,
            logger=None,
        )(paced)
        return retried

    def _take_turn(self) -> None:
        self.pacer.wait_turn()
        with self._requests_sent_lock:
            self.requests_sent += 1

    @override
    @property
    def requests_session(self) -> requests.Session:
        return self.run.sessions.session()

    @override
    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400 or is_no_data(response):
            self.run.outcomes.gong_accepted()
        if is_no_data(response):
            return
        if status in (401, 403):
            self.refuse(response)
        if status == 429:
            self.retry_policy.check_quota(response)
            raise RetriableAPIError(self.response_error_message(response), response)
        if status >= 500:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status >= 400:
            msg = (
                f"Gong rejected {describe_request(response.request)} (HTTP {status}): "
                f"{gong_error_text(response)}."
            )
            if status == 400 and carries_cursor(response.request):
                raise CursorRefused(self.name, msg, gong_error_text(response))
            if status == 404:
                msg += " Check that api_url is your company's Gong API base URL."
            raise GongRequestRejected(self.name, msg)
        try:
            next_cursor(response)  # the whole body checked, the records not kept decoded
        except ValueError as exc:
            msg = f"Gong sent an incomplete or non-JSON body ({exc})"
            raise RetriableAPIError(msg, response) from exc

    def refuse(self, response: requests.Response) -> NoReturn:
        """A 401/403: a scope this stream lacks, an expired OAuth token, or the credentials.

        Gong's words say when it is a scope: that stream fails alone, and no refresh token
        is spent on it. Otherwise an OAuth token is renewed once; and a refusal once Gong
        has accepted another request of the run is about this stream, not the credentials.

        Raises:
            RetriableAPIError: the OAuth access token expired; the retry carries a new one.
            GongAuthError: this stream needs a scope the key or app lacks.
            GongCredentialsRefused: Gong accepted no request of the run: the credentials.
        """
        oauth = self.run.access.oauth
        if not names_missing_scope(response):
            if response.status_code == 401 and oauth and oauth.refresh_after_unauthorized(response):
                raise RetriableAPIError("Gong's OAuth access token expired", response)
            if not self.run.outcomes.credentials_accepted:
                msg = (
                    f"Gong refused the credentials (HTTP {response.status_code} at "
                    f"{self.url_base}): {gong_error_text(response)}. Check access_key and "
                    "access_key_secret (or access_token, or the OAuth app's settings), and that "
                    "api_url is your company's Gong API base URL."
                )
                raise GongCredentialsRefused(msg)
        msg = (
            f"Gong refused it (HTTP {response.status_code}): {gong_error_text(response)}. "
            f"It needs the API scope {self.required_scope}: grant it to the access key or "
            "OAuth app, or deselect the stream."
        )
        raise GongAuthError(self.name, msg)

    @override
    def response_error_message(self, response: requests.Response) -> str:
        return (
            f"{response.status_code} {response.reason} for {describe_request(response.request)}: "
            f"{gong_error_text(response)}"
        )

    @override
    def backoff_max_tries(self) -> int:
        return self.settings.max_retries + 1

    @override
    def backoff_wait_generator(self) -> Generator[float, Any, None]:
        return self.retry_policy.waits(hold=self.pacer.hold)

    @override
    def backoff_handler(self, details: Any) -> None:
        fault = details.get("exception")
        self.tally.retries += 1
        response = getattr(fault, "response", None)
        if isinstance(response, requests.Response) and response.status_code == 429:
            self.tally.rate_limited += 1
        self.logger.warning(
            "Retrying in %.1f s (try %d of %d) %s: %s",
            self.pacer.seconds_held(),
            details["tries"] + 1,
            self.backoff_max_tries(),
            self.name,
            describe_fault(fault),
        )

    @override
    def _write_request_duration_log(
        self,
        endpoint: str,
        response: requests.Response,
        context: Context | None,
        extra_tags: dict | None,
    ) -> None:
        # The SDK tags every 4xx "failed"; Gong's "no data" 404 is an empty answer.
        if is_no_data(response):
            response.status_code = 200
            try:
                super()._write_request_duration_log(endpoint, response, context, extra_tags)
            finally:
                response.status_code = 404
            return
        super()._write_request_duration_log(endpoint, response, context, extra_tags)

    @override
    def log_sync_costs(self) -> None:
        # The SDK calls this for every stream once all are synced: the last one closes
        # the run with its summary line.
        super().log_sync_costs()
        streams = list(self._tap.streams.values())
        if streams and streams[-1] is self and hasattr(self._tap, "log_run_summary"):
            self._tap.log_run_summary()

    def family(self) -> list[str]:
        """This stream and its page children (theirs too), those selected: they end together."""
        own = [self.name] if self.selected else []
        return own + [name for child in self.page_children() for name in child.family()]

    @contextlib.contextmanager
    def recording_how_it_ends(
        self, forget_unfinished_work: Callable[[], None] = lambda: None
    ) -> Iterator[None]:
        """Record how this stream (with its page children) ends; a refusal ends it alone.

        A planned stop or a stream's own refusal ends the stream and the run goes on; a
        fault about the run (quota, credentials, Gong down) stops every request of the
        run too: the streams after this one stop at their first request, without one.
        """
        outcomes = self.run.outcomes
        self.request_share.begin()
        try:
            yield
        except PlannedStop as stop:
            forget_unfinished_work()
            outcomes.stopped(self.family(), stop, self.logger)
            if isinstance(stop, RequestBudgetSpent):
                self.request_share.end(stopped_by_budget=True)
        except StreamFailure as failure:
            forget_unfinished_work()
            outcomes.failed(self.family(), failure, self.logger)
        except RUN_FAULTS as fault:
            forget_unfinished_work()
            self.pacer.stop(fault)
            outcomes.run_stopped(self.family(), fault)
        else:
            outcomes.finished(self.family())
            self.request_share.end(stopped_by_budget=False)

    @cached_property
    def request_share(self) -> RequestShare:
        """This stream's share of max_requests_per_run (tap_gong/budget.py)."""
        return RequestShare(
            self.pacer,
            self.requests_of_stream,
            lambda: len(self.streams_synced_from_here()),
            lambda: self.stream_state,
        )

    def streams_synced_from_here(self) -> list[GongStream]:
        """The top-level streams the SDK syncs from this one on, in its order.

        The SDK syncs the selected top-level streams in `Tap.streams` order (tap_base.sync_all).
        """
        synced = streams_run_in_turn(self._tap.streams.values())
        return synced[synced.index(self) :] if self in synced else []

    def requests_of_stream(self) -> int:
        """Requests started for this stream and its children (whose requests it makes)."""
        children = (c for c in self.child_streams if isinstance(c, GongStream))
        return self.requests_sent + sum(child.requests_of_stream() for child in children)

    # Pages.

    def fetch_answers(self, context: Context | None) -> Iterator[requests.Response]:
        """Every page Gong has for one window (or context), validated, in order.

        Gong's page cursors expire (each is a JWT with an `exp`; how soon, Gong does not
        say): a 400 to a request that carried one restarts the window from its first
        page, again only once the window got further. Records of the pages read before
        come again (targets upsert them); the bookmark moves only once the whole window
        is read, so none is lost.

        Workers run this too. Of the SDK (streams/rest.py `_prepare_request`, `_request`)
        a worker runs only what is safe from several threads: its thread's requests
        Session (`requests_session`), the run's authenticator (built on the main thread
        first, then only read; OAuth renewal takes a lock), `validate_response`, the SDK's
        metric log line and one warning (logging is thread-safe). Records, state and
        every message stay on the main thread.
        """
        paginator = self.get_new_paginator()
        request = self.request_decorator(self._request)
        # A cursor can expire again in a later wait (a worker holds one while the answers
        # ahead fill up): a window restarts as often as it got further than the last time
        # each time, so a cursor Gong refuses twice at the same page stops it.
        page, refused_at = 0, 0
        while not paginator.finished:
            prepared = self._prepare_request(context=context, page=paginator)
            try:
                answer = request(prepared, context)
            except CursorRefused as refused:
                if page <= refused_at:
                    raise
                page, refused_at = 0, page
                self.logger.warning(
                    "%s: Gong refused a page cursor (it may have expired: %s); reading %s "
                    "again from its first page, so some of its records come twice.",
                    self.name,
                    refused.gong_words,
                    json.dumps(context) if context else "this page of calls",
                )
                paginator = self.get_new_paginator()
                continue
            yield answer
            paginator.advance(answer)
            page += 1

    @override
    def request_records(self, context: Context | None) -> Iterable[dict]:
        # The SDK's page loop (streams/rest.py), restarting a window whose cursor expired.
        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(context)
            for answer in self.fetch_answers(context):
                request_counter.increment()
                self.update_sync_costs(answer.request, answer, context)
                yield from self.parse_response(answer)

    # Records.

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        # One page of Gong's items: the page children's records first, then this stream's.
        page = list(extract_jsonpath(self.records_jsonpath, gong_body(response)))
        self.sync_page_children(page)
        yield from page

    @override
    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        return self.shaper.shape(row)

    # Child streams: fed a whole page of this stream's answers, never one record.

    @override
    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> Iterable[Context | None]:
        # The SDK would sync each child once per record (a SCHEMA message and a metrics
        # line each time): children get whole pages from `sync_page_children` instead.
        return ()

    #: Whether a page child Gong refuses fails alone, this stream going on: only where no
    #: bookmark has to wait for the child's records (a list read whole).
    page_children_fail_alone: ClassVar[bool] = False

    def page_children(self) -> list[PageChildStream]:
        """This stream's page children that are selected, or have selected children."""
        return [
            child
            for child in self.child_streams
            if isinstance(child, PageChildStream)
            and (child.selected or child.has_selected_descendents)
        ]

    def needs_of_page_children(self) -> dict[str, Any]:
        """What the selected page children need in this stream's requests, merged."""
        needs: dict[str, Any] = {}
        for child in self.page_children():
            needs = merged_needs(needs, child.needs_from_parent)
        return needs

    def sync_page_children(self, page: list[dict]) -> None:
        """Hand one page of Gong's items to each selected `PageChildStream` of this stream."""
        for child in self.page_children():
            if child.refused:
                continue
            try:
                child.sync_page(page)
            except (AbortedSyncFailedException, AbortedSyncPausedException):
                continue  # a child's record limit stops that child only, as in the SDK
            except StreamFailure as failure:
                if not self.page_children_fail_alone:
                    raise
                child.refused = True
                self.run.outcomes.failed(child.family(), failure, child.logger)


def merged_needs(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two page children's needs of a request as one: objects merged, lists joined."""
    merged = dict(first)
    for name, value in second.items():
        mine = merged.get(name)
        if isinstance(mine, dict) and isinstance(value, dict):
            merged[name] = merged_needs(mine, value)
        elif isinstance(mine, list) and isinstance(value, list):
            merged[name] = [*mine, *(item for item in value if item not in mine)]
        else:
            merged[name] = value
    return merged


class FullTableStream(GongStream):
    """A Gong list read whole on every run (users, workspaces, settings): no bookmark."""

    page_children_fail_alone = True

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        progress = StreamProgress(self.name, self.logger, self.tally, self.requests_of_stream)
        # Stopped early, nothing to resume: the next run reads the whole list again.
        with self.recording_how_it_ends():
            for record in super().get_records(context):
                self.tally.records += 1
                yield record
        progress.finish()


class PageChildStream(GongStream):
    """Records derived from each page of items its parent stream reads (`parent_stream_type`).

    The parent's bookmark covers them: a page's child records are emitted before the
    parent commits the window holding it, so a run stopped anywhere resumes with nothing
    lost, and the child keeps no state per parent item or page.
    """

    is_sorted = False
    #: What this child needs in its parent's requests (e.g. a part of call_details'
    #: content selector): an unselected parent, read only for its children, asks Gong for
    #: what they need merged, and no more.
    needs_from_parent: ClassVar[dict[str, Any]] = {}

    def __init__(self, tap: Tap, run: GongRun) -> None:
        super().__init__(tap, run)
        # One state for the stream, not one partition per context (the SDK's default).
        self.state_partitioning_keys = ()
        self.page: list[dict] = []
        self.schema_sent = False
        #: Gong refused it, its parent going on (`page_children_fail_alone`): no more pages.
        self.refused = False
        self.logger.addFilter(self.said_once_a_run)

    # What the SDK's sync() logs each time: here each page. Once a run is enough.
    SYNC_LINES = ("Beginning sync of", "Starting incremental sync of")

    def said_once_a_run(self, record: logging.LogRecord) -> bool:
        """A logging filter: the SDK's per-sync lines only until the first page is out."""
        return not (self.schema_sent and str(record.msg).startswith(self.SYNC_LINES))

    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        """This stream's records for one page of the parent's items."""
        raise NotImplementedError

    def sync_page(self, page: list[dict]) -> None:
        """Emit the records of one page of the parent's items (memory: one page)."""
        self.page = page
        try:
            self.sync()
        finally:
            self.page = []

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        for record in self.records_of_page(self.page):
            self.tally.records += 1
            yield record

    @override
    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        # No bookmark of its own: a max-so-far over unsorted pages would overstate what
        # is extracted. Where to resume is the parent's bookmark.
        return

    def activate_version(self, version: int) -> None:
        """ACTIVATE_VERSION after the parent's complete re-read, whose pages held every record."""
        self._write_schema_message()  # a target refuses a stream it got no SCHEMA for
        send_activate_version(self, version)

    @override
    def _write_schema_message(self) -> None:
        # `sync` writes SCHEMA each time, here once per page: once a run is enough (some
        # targets flush their batches on every SCHEMA).
        if not self.schema_sent:
            super()._write_schema_message()
            self.schema_sent = True


class WindowedStream(GongStream):
    """Extracted window by window, with a bookmark committed after each finished window.

    Subclasses say how the range is cut (`windows`), how a window becomes a request
    (`get_url_params` / `prepare_request_payload`, the window is the context) and which
    bookmark a finished window leaves (`window_bookmark`).
    """

    # Gong does not order records inside a range: the bookmark moves per finished window.
    is_sorted = False

    def __init__(self, tap: Tap, run: GongRun) -> None:
        super().__init__(tap, run)
        #: The window whose answers workers fetched, while the main thread reads it.
        self.fetched_window: FetchedWindow | None = None

    def windows(self) -> Iterator[Window]:
        """The windows still to extract in this run, oldest first."""
        raise NotImplementedError

    def window_bookmark(self, window: Window) -> str:
        """The bookmark a finished window leaves: where the next run continues."""
        raise NotImplementedError

    def parse_bookmark(self, value: str) -> Any:
        """Parse a bookmark this stream wrote (ValueError if it did not)."""
        raise NotImplementedError

    def records_in_window(self, window: Window) -> Iterable[dict]:
        """Every record Gong has for one window, across its pages."""
        return self.request_records(window)

    def more_windows(self, after: Window) -> Iterator[Window]:
        """Windows after `after` that only the answers read since can reveal (none here)."""
        return iter(())

    def probes_empty_history(self) -> bool:
        """Whether an empty first window makes this run look for where Gong's data starts."""
        return False

    def skip_empty_history(self, after: Window) -> None:
        """Commit the bookmark past the stretch with no data after `after` (an empty window)."""
        raise NotImplementedError

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        state.mark_windows_resumable(self)
        progress = StreamProgress(self.name, self.logger, self.tally, self.requests_of_stream)
        # Stopped early, the unfinished window is dropped from progress, so the bookmark
        # stays at the last finished window and the next run resumes there.
        with self.recording_how_it_ends(lambda: state.forget_unfinished_window(self)):
            probing = self.probes_empty_history()
            while True:
                self.plan_windows(progress)
                empty_first_window = yield from self.read_windows(progress, probing)
                if empty_first_window is None:
                    break
                self.skip_empty_history(after=empty_first_window)
                probing = False
            self.request_share.check_not_stopped()
        progress.finish()

    def plan_windows(self, progress: StreamProgress) -> None:
        """Say the work ahead: how many windows, over which range."""
        planned = list(self.windows())
        if planned:
            first, last = planned[0], planned[-1]
            progress.plan(len(planned), self.window_unit, first_value(first), last_value(last))
        else:
            progress.plan(0, self.window_unit, "", "")

    def read_windows(
        self, progress: StreamProgress, stop_if_first_is_empty: bool
    ) -> Generator[dict[str, Any], None, Window | None]:
        """Each window's records, then its bookmark committed.

        Returns:
            The first window, when it had no records and `stop_if_first_is_empty`
            (the windows after it are not read); else None once every window is read.
        """
        # Closed on return: workers fetching the windows after an empty first one stop.
        with contextlib.closing(self.windows_with_records()) as windows:
            for window, records in windows:
                count = 0
                for record in records:
                    count += 1
                    yield record
                state.commit_bookmark(self, self.window_bookmark(window))
                self.logger.debug("%s: %s done, %d records", self.name, window, count)
                progress.window_done(count)
                self.request_share.window_finished()
                if stop_if_first_is_empty and count == 0:
                    return window
                stop_if_first_is_empty = False
        return None

    def windows_with_records(self) -> Generator[tuple[Window, Iterable[dict]], None, None]:
        """Each window, oldest first, with its records: read on this (the main) thread.

        With `max_concurrent_requests` above 1, the run's workers fetch the next windows'
        answers meanwhile (tap_gong/fetching.py); everything else stays on this thread.
        """
        if self.settings.max_concurrent_requests == 1:
            for window in self.request_share.windows(self.windows()):
                yield window, self.records_in_window(window)
            return
        fetched_in_order = self.run.fetcher.in_order(
            self.windows_to_fetch(),
            lambda after: self.request_share.windows(self.more_windows(after)),
            self.windows_synced_next,
        )
        for fetched in fetched_in_order:
            self.fetched_window = fetched
            try:
                yield fetched.window, self.records_in_window(fetched.window)
            finally:
                self.fetched_window = None

    def windows_to_fetch(self) -> StreamWindows:
        """This stream's windows, for the run's workers to fetch (on the main thread)."""
        windows = self.windows()
        if (first := next(windows, None)) is not None:
            # Built here, not raced for by workers: the authenticator, content selectors.
            self._prepare_request(context=first, page=self.get_new_paginator())
            windows = itertools.chain([first], windows)
        return StreamWindows(
            self.name,
            self.request_share.windows(windows),
            self.fetch_answers,
            first_decides=self.probes_empty_history(),
        )

    def windows_synced_next(self) -> StreamWindows | None:
        """The windows of the windowed stream synced after this one, if any.

        Workers start that stream's first windows as this one ends; not with a request
        budget, whose share for that stream is known only once this one is done.
        """
        if self.settings.max_requests_per_run is not None:
            return None
        later = self.streams_synced_from_here()[1:]
        following = next((s for s in later if isinstance(s, WindowedStream)), None)
        return following.windows_to_fetch() if following is not None else None

    @override
    def request_records(self, context: Context | None) -> Iterable[dict]:
        fetched = self.fetched_window
        if fetched is None or context != fetched.window:
            yield from super().request_records(context)
            return
        for answer in fetched.answers():
            yield from self.parse_response(answer)

    #: What a window is called in progress lines.
    window_unit = "windows"

    def saved_bookmark(self) -> Any:
        """The bookmark the previous run committed, parsed; None on a first run.

        Raises:
            GongStateError: when the state holds a value tap-gong does not write.
        """
        value = state.saved_bookmark_value(self)
        if value is None:
            return None
        try:
            return self.parse_bookmark(value)
        except (TypeError, ValueError):
            raise GongStateError.not_written_by_tap(self.name, "bookmark", value) from None

    @cached_property
    def last_instant(self) -> dt.datetime:
        """`end_date`, or the moment the stream started; never later than now."""
        return self.settings.last_instant(dt.datetime.now(dt.timezone.utc))

    @cached_property
    def late_data(self) -> LateDataRereads:
        return LateDataRereads(self, self.last_instant)

    @cached_property
    def rereads_late_data(self) -> bool:
        """Whether this run reads what Gong published late: a backfill reads everything."""
        return self.saved_bookmark() is None or self.late_data.is_due()

    def begin_late_data_reread(self, first: str) -> None:
        """Say so when this run re-reads for late data (never silently); note a backfill's."""
        if self.saved_bookmark() is None:
            self.late_data.backfill_started()
        elif self.rereads_late_data:
            self.logger.info(
                "%s: re-reading from %s: what Gong published or changed late (up to %d days "
                "after its date) since the last such re-read.",
                self.name,
                first,
                LATE_DATA.days,
            )

    @cached_property
    def reconciliation(self) -> Reconciliation:
        """This stream's table version and its re-reads of the whole history."""
        raise NotImplementedError

    def begin_table_version(
        self, reads_from: dt.datetime
    ) -> list[WindowedStream | PageChildStream]:
        """The run's table version (a new one if a reconcile starts now) on every record.

        Returns:
            The streams carrying it: this one and its page children.
        """
        version = self.reconciliation.begin(reads_from)
        streams: list[WindowedStream | PageChildStream] = [
            self,
            *(child for child in self.child_streams if isinstance(child, PageChildStream)),
        ]
        # The SDK writes `_stream_version` into each RECORD (streams/core.py
        # `_generate_record_messages`) but sets it only for FULL_TABLE streams.
        for stream in streams:
            stream._stream_version = version
        return streams

    def own_windows_done(self, streams: list[WindowedStream | PageChildStream]) -> None:
        """Every window of this run is read: a complete reconcile activates its version,
        and the state notes the run (and its late-data re-read)."""
        if done := self.reconciliation.finish():
            for stream in streams:
                if stream.selected:
                    stream.activate_version(done)
        self.late_data.run_done(reread=self.rereads_late_data)
        state.emit_state(self)

    def activate_version(self, version: int) -> None:
        """ACTIVATE_VERSION, after this stream's last record of a complete re-read."""
        send_activate_version(self, version)


class DateTimeWindowStream(WindowedStream):
    """Instants cut into windows of `calls_window_days`, the bookmark behind a window's end.

    Gong filters calls by `fromDateTime`/`toDateTime` and does not sort a range, so the
    bookmark is the filter's bound, never a record's value. Gong publishes a call only
    once it has processed it, so the bookmark stays `CALL_PROCESSING_ALLOWANCE` behind
    the run's end: what started in that allowance is read again next run, whatever
    `lookback_window_days` says, and no setting can lose a call Gong publishes late.
    """

    replication_key = "started"
    window_unit = "date windows"

    def rereads(self) -> dt.timedelta:
        """How far before the bookmark a run starts: the lookback beyond the allowance."""
        return max(self.settings.lookback - CALL_PROCESSING_ALLOWANCE, dt.timedelta())

    @override
    def parse_bookmark(self, value: str) -> dt.datetime:
        return parse_instant(value)

    @cached_property
    def fresh_from(self) -> dt.datetime:
        """Where this run's new data starts: the saved bookmark minus the rereads."""
        start = self.settings.first_instant
        if (bookmark := self.saved_bookmark()) is not None:
            start = max(start, bookmark - self.rereads())
        return start

    def reads_from(self) -> dt.datetime:
        """Where this run's own windows start: `fresh_from`, or a late-data re-read's start."""
        if (bookmark := self.saved_bookmark()) is None or not self.rereads_late_data:
            return self.fresh_from
        late_from = self.late_data.resume_from(self.parse_bookmark)
        late_from = late_from or self.late_data.reads_from(bookmark)
        return max(self.settings.first_instant, min(self.fresh_from, late_from))

    @cached_property
    def own_spans(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """This run's own ranges: its new data first, then a late-data re-read before it.

        New calls first, so that they arrive in this run even when a budget stops the
        re-read (it goes on next run, `late_data_resume_from`).
        """
        spans = [(self.fresh_from, self.last_instant)]
        if (start := self.reads_from()) < self.fresh_from:
            spans.append((start, self.fresh_from))
        return spans

    @override
    def windows(self) -> Iterator[Window]:
        # The run's own windows first, so that new calls arrive during a long reconcile.
        spans = [*self.own_spans, self.reconciliation.range_to_reread()]
        for start, end in spans:
            for window in time_windows(start, end, self.window_length(start, end)):
                yield {"fromDateTime": utc_iso(window.start), "toDateTime": utc_iso(window.end)}

    def window_length(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """`calls_window_days`; in a backfill, short enough to keep every worker busy.

        A window's pages come one after the other: workers need several windows to
        overlap, and the windows read later are held in memory meanwhile, so many small
        windows beat a few large ones. Each extra cut costs at most one request (a
        window's last, partial page), so an incremental run (a bookmark), and a run with
        one request in flight, keep theirs.
        """
        calls_window = self.settings.calls_window
        if self.saved_bookmark() is not None or self.settings.max_concurrent_requests == 1:
            return calls_window
        windows = WINDOWS_PER_WORKER * self.settings.max_concurrent_requests
        shortest = min(SHORTEST_BACKFILL_WINDOW, calls_window)
        return max(min(calls_window, (end - start) / windows), shortest)

    @override
    @cached_property
    def reconciliation(self) -> Reconciliation:
        settings = self.settings
        return Reconciliation(
            self, settings.reconcile_every, settings.first_instant, self.last_instant
        )

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        streams = self.begin_table_version(self.reads_from())
        self.own_windows_read = self.reads_from() >= self.last_instant
        self.begin_late_data_reread(utc_iso(self.reads_from()))
        yield from super().get_records(context)
        # Reached after a planned stop too (budget, record limit): its windows are unread.
        if self.own_windows_read:
            self.own_windows_done(streams)

    @override
    def window_bookmark(self, window: Window) -> str:
        start, end = parse_instant(window["fromDateTime"]), parse_instant(window["toDateTime"])
        self.reconciliation.window_read(start, end)
        self.own_windows_read = self.own_windows_read or end == self.own_spans[-1][1]
        published_until = self.last_instant - CALL_PROCESSING_ALLOWANCE
        bookmark = min(end, published_until)
        if (saved := self.saved_bookmark()) is not None:
            if self.rereads_late_data and end < saved:
                self.late_data.read_until(utc_iso(end))
            bookmark = max(bookmark, saved)  # a bookmark never moves back
        return utc_iso(bookmark)


class CompanyDayStream(WindowedStream):
    """Company days, each requested only once it is over in the company's time zone.

    The zone is learned from Gong's answers (`timeZone`) and kept in the stream's state;
    until then a day counts as over only once it is over at UTC-12. The bookmark is the
    last finished day; a lookback of N re-reads the N latest finished days.

    An endpoint that answers day by day for a range is asked `days_per_window` days at a
    time; one that accepts the current day (`reads_current_day`) reads it on every run,
    while the bookmark stays at the last finished day.
    """

    replication_key = "fromDate"
    http_method = "POST"
    window_unit = "company-day windows"
    #: Days per request (and per STATE): more than one where Gong answers day by day.
    days_per_window: ClassVar[int] = 1
    #: Whether Gong accepts the current company day (`to` = the next day) for this endpoint.
    reads_current_day: ClassVar[bool] = False
    #: The names the endpoint's filter gives a window's first day and its end (exclusive).
    day_filter_names: ClassVar[tuple[str, str]] = ("fromDate", "toDate")
    #: Whether `reconcile_every_days` re-reads its whole history too (records Gong deletes).
    reconciled: ClassVar[bool] = False

    @override
    def parse_bookmark(self, value: str) -> dt.date:
        return dt.date.fromisoformat(value)

    def __init__(self, tap: Tap, run: GongRun) -> None:
        super().__init__(tap, run)
        #: The first day not yet known to be empty (`skip_empty_history`).
        self.first_unread_day = dt.date.min
        #: The first day of this run's own windows (set as it starts).
        self.run_first_day = dt.date.min

    @override
    def windows(self) -> Iterator[Window]:
        # The run's own windows first, then what is left of a reconcile's re-read.
        start, until = self.reconciliation.range_to_reread()
        return itertools.chain(
            self.windows_from(self.first_day_to_read()),
            self.windows_from(start.date(), until.date()),
        )

    def first_day_to_read(self) -> dt.date:
        """The day after the bookmark minus the lookback, or a late-data re-read's first."""
        day = self.first_day()
        if (bookmark := self.saved_bookmark()) is not None:
            rereads_from = bookmark + ONE_DAY - self.settings.lookback
            if self.rereads_late_data:
                rereads_from = min(rereads_from, self.late_data_first_day(bookmark))
            day = max(day, rereads_from)
        return max(day, self.first_unread_day)

    def late_data_first_day(self, bookmark: dt.date) -> dt.date:
        """A late-data re-read's first day: the company day LATE_DATA before the last one.

        A day's data changes until LATE_DATA after the day ends (a call started late in
        it, published LATE_DATA after it started): one that changed since the previous
        re-read ended after LATE_DATA before it. A state from before late-data re-reads
        stands in the day after the bookmark for the previous re-read.
        """
        if (resume := self.late_data.resume_from(self.parse_bookmark)) is not None:
            return resume
        stand_in = day_key(bookmark + ONE_DAY)
        return company_day(self.late_data.reads_from(stand_in), self.company_zone)

    @override
    @cached_property
    def reconciliation(self) -> Reconciliation:
        every = self.settings.reconcile_every if self.reconciled else None
        return Reconciliation(self, every, day_key(self.first_day()), self.last_instant)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        self.run_first_day = self.first_day_to_read()
        streams = self.begin_table_version(day_key(self.run_first_day))
        self.own_windows_read = self.run_first_day > self.last_day_to_read()
        self.begin_late_data_reread(self.run_first_day.isoformat())
        yield from super().get_records(context)
        # Reached after a planned stop too (budget, a day Gong says is not over).
        if self.own_windows_read:
            self.own_windows_done(streams)

    @override
    def more_windows(self, after: Window) -> Iterator[Window]:
        # Learning the company zone from the answers may have made a later day complete
        # (not after a reconcile's window: those end before the run's own).
        day = dt.date.fromisoformat(after["toDate"])
        return self.windows_from(day) if day > self.run_first_day else iter(())

    def windows_from(self, day: dt.date, end: dt.date | None = None) -> Iterator[Window]:
        """The windows from `day` on, up to `end` (exclusive), or the last day to read."""
        # Re-evaluated after every window: the company zone is learned from answers.
        while day < (stop := end or self.last_day_to_read() + ONE_DAY):
            next_day = min(day + dt.timedelta(days=self.days_per_window), stop)
            yield {"fromDate": day.isoformat(), "toDate": next_day.isoformat()}
            day = next_day

    @override
    def probes_empty_history(self) -> bool:
        # A backfill over a long range, asked day by day.
        if self.days_per_window > 1 or self.saved_bookmark() is not None:
            return False
        return (self.last_day_to_read() - self.first_day()).days >= PROBED_HISTORY_DAYS

    @override
    def skip_empty_history(self, after: Window) -> None:
        """A stretch with no data costs a few requests, not one per day.

        Gong answers 404 "No stats found" for a range with nothing in it. After the
        empty first day, ranges twice as long each time are asked until one has data,
        then that range is halved down to its first day with data: about 2 x log2(empty
        days) requests. The bookmark is committed past every empty range. The first day
        is read as an ordinary window: a history with data from its first day pays
        nothing for the probe.
        """
        day = self.first_unread_day = dt.date.fromisoformat(after["toDate"])
        days = 2
        while day <= self.last_day_to_read():
            probe_end = min(day + dt.timedelta(days=days), self.last_day_to_read() + ONE_DAY)
            if self.has_data(day, probe_end):
                break
            self.skip_empty(day, probe_end)
            day, days = probe_end, days * 2
        else:
            return
        while (probe_end - day).days > 1:
            middle = day + (probe_end - day) // 2
            if self.has_data(day, middle):
                probe_end = middle
            else:
                self.skip_empty(day, middle)
                day = middle

    def has_data(self, first_day: dt.date, end_day: dt.date) -> bool:
        """Whether Gong has anything for the days [first_day, end_day) (one request)."""
        window = {"fromDate": first_day.isoformat(), "toDate": end_day.isoformat()}
        item = next(iter(self.request_records(window)), None)
        if item is None:
            return False
        self.learn_company_zone(item.get("timeZone"))
        return True

    def skip_empty(self, first_day: dt.date, end_day: dt.date) -> None:
        """Commit the bookmark past days Gong has no data for: not read again."""
        self.logger.info("%s: no data from %s to %s.", self.name, first_day, end_day - ONE_DAY)
        window = {"fromDate": first_day.isoformat(), "toDate": end_day.isoformat()}
        state.commit_bookmark(self, self.window_bookmark(window))
        self.first_unread_day = end_day

    def first_day(self) -> dt.date:
        """The company day that contains `start_date`: nothing at or after it is skipped."""
        return company_day(self.settings.first_instant, self.company_zone)

    def last_day_to_read(self) -> dt.date:
        """The last company day this run reads: the current one only if Gong accepts it.

        Gong accepts a `to` beyond the current day there, so before the zone is known the
        current day is the latest one anywhere (UTC+14): none of today's data waits.
        """
        if self.reads_current_day:
            return latest_company_day(self.last_instant, self.company_zone)
        return self.company_today() - ONE_DAY

    @override
    def window_bookmark(self, window: Window) -> str:
        first_day, end = (dt.date.fromisoformat(window[k]) for k in ("fromDate", "toDate"))
        self.reconciliation.window_read(day_key(first_day), day_key(end))
        self.own_windows_read = self.own_windows_read or end > self.last_day_to_read()
        # The last finished day, never the current one (still filling up).
        bookmark = min(end - ONE_DAY, self.company_today() - ONE_DAY)
        if (saved := self.saved_bookmark()) is not None:
            if self.rereads_late_data and end - ONE_DAY < saved:
                self.late_data.read_until(end.isoformat())
            bookmark = max(bookmark, saved)  # a re-read never moves it back
        return bookmark.isoformat()

    @override
    def validate_response(self, response: requests.Response) -> None:
        if response.status_code == 400 and self.is_day_not_over(response):
            # Our clock runs ahead of Gong's: the day is complete next run, not an error.
            first, end = self.day_filter_names
            request_filter = json.loads(request_body(response.request) or "{}").get("filter", {})
            msg = (
                f"Gong says the period {request_filter.get(first)} to {request_filter.get(end)} "
                f"is not over yet in the company's time zone ({gong_error_text(response)}); "
                "it is extracted next run"
            )
            raise DayNotOverForGong(msg)
        super().validate_response(response)

    def is_day_not_over(self, response: requests.Response) -> bool:
        """Whether Gong's 400 refuses a window's end because the day is not over there.

        Gong names its `toDate` (`reviewToDate`...) rule; only a window that ends on or
        after the company's current day can meet it. A 400 about an older window is an
        error: waiting for the next run would stop the stream on every run.
        """
        # Gong's words name `toDate` (or `reviewToDate`, where the filter names its days
        # after what it filters).
        if "todate" not in gong_error_text(response).lower():
            return False
        end = self.day_filter_names[1]
        request_filter = json.loads(request_body(response.request) or "{}").get("filter", {})
        try:
            window_end = dt.date.fromisoformat(str(request_filter.get(end)))
        except ValueError:
            return False
        return window_end >= self.company_today()

    def company_today(self) -> dt.date:
        """Gong accepts no `toDate` beyond the company's current day (in its own zone)."""
        return company_day(self.last_instant, self.company_zone)

    @property
    def company_zone(self) -> dt.tzinfo | None:
        """The company's zone, once a stats answer has reported it."""
        return company_zone(self.company_zone_name)

    @property
    def company_zone_name(self) -> str | None:
        """The company zone Gong reported, kept in state so later runs know it up front.

        Some endpoints never report it (day-by-day activity, answered scorecards): they
        use the zone another company-day stream learned, found in the tap's state.
        """
        if own := self.stream_state.get("company_time_zone"):
            return str(own)
        bookmarks = self.tap_state.get("bookmarks", {}).values()
        return next(
            (str(b["company_time_zone"]) for b in bookmarks if b.get("company_time_zone")), None
        )

    def learn_company_zone(self, name: str | None) -> None:
        if name and name != self.stream_state.get("company_time_zone") and company_zone(name):
            self.logger.info("Gong reports the company time zone %s", name)
            self.stream_state["company_time_zone"] = name

    @override
    def prepare_request_payload(
        self, context: Context | None, next_page_token: str | None
    ) -> dict[str, Any]:
        return post_body(self.request_filter(dict(context or {})), next_page_token)

    def request_filter(self, window: Window) -> dict[str, Any]:
        """The body's `filter` for one window (subclasses add their own fields)."""
        first, end = self.day_filter_names
        return {first: window["fromDate"], end: window["toDate"]}
