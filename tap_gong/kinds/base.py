"""The shared Gong stream: auth, base URL, answers, retries, pacing, pages and page children.

Every kind of stream (tap_gong/kinds/) derives from `GongStream`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, cast

import backoff
import requests
from singer_sdk import SchemaDirectory, StreamSchema
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

from tap_gong import sdk_seams
from tap_gong.answers import (
    describe_request,
    gong_body,
    gong_error_text,
    is_no_data,
    names_missing_scope,
    next_cursor,
)
from tap_gong.budget import RequestShare
from tap_gong.errors import (
    RUN_FAULTS,
    BudgetNeverMovesStream,
    CursorRefused,
    GongAuthError,
    GongCredentialsRefused,
    GongRequestRejected,
    GongUnreachable,
    PlannedStop,
    RequestBudgetSpent,
    StreamFailure,
)
from tap_gong.fetching import (
    ChildJob,
    FetchAnswers,
    FetchedPage,
    FetchedWindow,
    StreamWindows,
    Window,
)
from tap_gong.pagination import GongCursorPaginator, carries_cursor, post_body
from tap_gong.progress import StreamTally
from tap_gong.records import RecordShaper
from tap_gong.retries import RetryPolicy, describe_fault, unreachable_host_reason
from tap_gong.transport import turn_before_writing

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_gong.access import GongRun
    from tap_gong.kinds.page_child import PageChildStream


def schema_directory() -> Path:
    """The JSON schemas: shipped in the wheel as tap_gong/schemas, or ../schemas in a checkout."""
    package = Path(__file__).parent.parent
    packaged = package / "schemas"
    return packaged if packaged.is_dir() else package.parent / "schemas"


SCHEMAS = SchemaDirectory(schema_directory())
CONNECT_TIMEOUT_SECONDS = 10
# What the SDK's retry loop retries: its own list (streams/rest.py request_decorator).
RETRIED_FAULTS = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


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
    #: Each stream's schema is schemas/<its name>.json.
    schema = StreamSchema(SCHEMAS)
    # Records are Gong's decoded JSON, shaped to the schema by RecordShaper: the SDK's
    # per-record conformance pass would only re-check every value.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: The OAuth scope Gong asks for this endpoint (named in a 401/403).
    required_scope: ClassVar[str]
    #: What a run costs when it grows with the company (per user, per workspace...), as
    #: `--about` says it; "" when a run costs a request or a few pages.
    request_cost: ClassVar[str] = ""
    #: Whether `workspace_id` limits this stream: its filter then has `workspaceId`.
    filters_by_workspace: ClassVar[bool] = False
    #: Whether `user_ids` limits this stream: its filter then has `userIds`.
    filters_by_user_ids: ClassVar[bool] = False
    #: Whether a budget that stops it before a window is finished halves its windows.
    windows_can_be_halved: ClassVar[bool] = False

    def __init__(self, tap: Tap, run: GongRun) -> None:
        #: The tap this stream belongs to (the SDK keeps it private).
        self.tap = tap
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
        self.schema_sent = False
        #: The stream whose pages hold this one's records this run (calls in call_details'):
        #: it then makes no request of its own (tap_gong/shared_pages.py).
        self.pages_from: GongStream | None = None
        self._requests_sent_lock = threading.Lock()
        #: The window whose answers workers fetched, while the main thread reads it.
        self.fetched_window: FetchedWindow | None = None
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

    # Requests: built here from what the stream declares, for every page.

    @override
    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        # Gong reads a GET's filter and cursor in the query; a value the path names (a
        # user's id) goes in the path instead (the SDK's `get_url`).
        if self.http_method != "GET":
            return {}
        request_filter = self.request_filter(context)
        query = {
            name: value for name, value in request_filter.items() if f"{{{name}}}" not in self.path
        }
        return {**query, "cursor": next_page_token}

    @override
    def prepare_request_payload(
        self, context: Context | None, next_page_token: str | None
    ) -> dict[str, Any] | None:
        if self.http_method != "POST":
            return None
        return post_body(self.request_filter(context), next_page_token, **self.body_parts())

    def request_filter(self, context: Context | None) -> dict[str, Any]:
        """Gong's filter for one request: the stream's own, then the settings it declares."""
        request_filter = self.own_filter(context)
        if self.filters_by_workspace and self.settings.workspace_id:
            request_filter["workspaceId"] = self.settings.workspace_id
        if self.filters_by_user_ids and self.settings.user_ids:
            request_filter["userIds"] = list(self.settings.user_ids)
        return request_filter

    def own_filter(self, context: Context | None) -> dict[str, Any]:
        """The filter the request's context makes (a window, an item): the context itself."""
        return dict(context or {})

    def body_parts(self) -> dict[str, Any]:
        """What a POST's body holds beside its filter and cursor (a content selector...)."""
        return {}

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
                with turn_before_writing(self._take_turn, self.pacer.written):
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
    def _write_schema_message(self) -> None:
        # Once a run: `sync` writes it each time, and a page child syncs once a page; calls
        # read from call_details' pages got it then (some targets flush on every SCHEMA).
        if not self.schema_sent:
            super()._write_schema_message()
            self.schema_sent = True

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
        except RequestBudgetSpent as spent:
            forget_unfinished_work()
            if self.request_share.end(stopped_by_budget=True):
                # Said of a selected stream: a list read only for its page children is not.
                never = BudgetNeverMovesStream(self.family()[0], self.name, spent.budget)
                outcomes.failed(self.family(), never, self.logger)
            else:
                outcomes.stopped(self.family(), spent, self.logger)
        except PlannedStop as stop:
            forget_unfinished_work()
            outcomes.stopped(self.family(), stop, self.logger)
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
            self.streams_sharing_the_budget,
            lambda: self.stream_state,
            rereads=self.rereads_before_bookmark,
            halves_windows=self.windows_can_be_halved,
        )

    def rereads_before_bookmark(self) -> bool:
        """Whether this run re-reads what its bookmark says is extracted (a windowed
        stream's lookback or late data; a list has no bookmark)."""
        return False

    def streams_sharing_the_budget(self) -> int:
        """Streams synced from here on that make requests of their own, this one included:
        one whose records come in the pages of a later one (`pages_from`) costs none."""
        synced = self.streams_synced_from_here()
        return sum(1 for stream in synced if stream is self or stream.pages_from not in synced)

    def streams_synced_from_here(self) -> list[GongStream]:
        """The top-level streams the SDK syncs from this one on, in its order.

        The SDK syncs the selected top-level streams in `Tap.streams` order (tap_base.sync_all).
        """
        synced = streams_run_in_turn(self.tap.streams.values())
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

        Workers run this too. Of the SDK (`sdk_seams.prepare_request`, `request_sender`)
        a worker runs only what is safe from several threads: its thread's requests
        Session (`requests_session`), the run's authenticator (built on the main thread
        first, then only read; OAuth renewal takes a lock), `validate_response`, the SDK's
        metric log line and one warning (logging is thread-safe). Records, state and
        every message stay on the main thread.
        """
        paginator = self.get_new_paginator()
        request = self.request_decorator(sdk_seams.request_sender(self))
        # A cursor can expire again in a later wait (a worker holds one while the answers
        # ahead fill up): a window restarts as often as it got further than the last time
        # each time, so a cursor Gong refuses twice at the same page stops it.
        page, refused_at = 0, 0
        while not paginator.finished:
            prepared = sdk_seams.prepare_request(self, context, paginator)
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
        fetched = self.fetched_window
        if fetched is not None and context == fetched.window:
            # Fetched by the run's workers: each page with its page children's answers.
            for page in fetched.answers():
                yield from self.records_of_fetched_page(page)
            return
        # The SDK's page loop (streams/rest.py), restarting a window whose cursor expired.
        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(context)
            for answer in self.fetch_answers(context):
                request_counter.increment()
                self.update_sync_costs(answer.request, answer, context)
                self.tally.pages += 1
                yield from self.parse_response(answer)

    # Fetched by the run's workers (tap_gong/fetching.py).

    def records_of_fetched_page(self, page: FetchedPage) -> Iterable[dict]:
        """The records of a page a worker fetched, its page children's answers handed on."""
        self.tally.pages += 1
        children = page.children_answers()
        for child in self.page_children():
            child.answers_ahead = children.get(child.name, {})
        yield from self.parse_response(page.answer)

    def windows_to_fetch(self) -> StreamWindows | None:
        """This stream's windows, for the run's workers to fetch (on the main thread); None
        when the main thread requests them itself."""
        return None

    def fetch_pages(self) -> FetchAnswers:
        """How a worker fetches a window: each page, with each of its page children's
        requests as a job of its own, for any worker (the children chosen here, on the main
        thread; the requests told from the page's answer, on the worker)."""
        children = page_children_tree(self)

        def pages(window: Window) -> Iterator[FetchedPage]:
            for answer in self.fetch_answers(window):
                yield fetched_page(answer, children)

        return pages

    def streams_fetched_next(self) -> Iterator[StreamWindows]:
        """The windows of the streams synced after this one that workers fetch, in turn.

        Workers start their first windows as this one ends; not with a request budget,
        whose share for each stream is known only once the streams before it are done.
        """
        if self.settings.max_requests_per_run is not None:
            return
        for later in self.streams_synced_from_here()[1:]:
            if (windows := later.windows_to_fetch()) is not None:
                yield windows

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

    #: Whether the parent hands this stream each page it reads (a `PageChildStream`).
    fed_parent_pages: ClassVar[bool] = False

    #: Whether a page child Gong refuses fails alone, this stream going on: only where no
    #: bookmark has to wait for the child's records (a list read whole).
    page_children_fail_alone: ClassVar[bool] = False

    def page_children(self) -> list[PageChildStream]:
        """This stream's page children that are selected, or have selected children."""
        return [
            cast("PageChildStream", child)
            for child in self.child_streams
            if isinstance(child, GongStream)
            and child.fed_parent_pages
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


#: A stream's page children, each with its own (`page_children_tree`).
PageChildrenTree = list[tuple["PageChildStream", "PageChildrenTree"]]


def page_children_tree(stream: GongStream) -> PageChildrenTree:
    """The stream's page children and theirs, chosen on the main thread for the workers."""
    return [(child, page_children_tree(child)) for child in stream.page_children()]


def fetched_page(answer: requests.Response, children: PageChildrenTree) -> FetchedPage:
    """A page as a worker fetched it: each request its page children make for it a job
    of its own, whose answers carry their own children's jobs (a grandchild's requests)."""
    jobs = [
        ChildJob(functools.partial(child.answers_for, context, grandchildren))
        for child, grandchildren in children
        for context in child.requests_for_answer(answer) or ()
    ]
    return FetchedPage(answer, jobs)


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
