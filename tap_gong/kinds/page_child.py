"""Records derived from each page of items a parent stream reads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.helpers.jsonpath import extract_jsonpath
from typing_extensions import override

from tap_gong import sdk_seams
from tap_gong.answers import gong_body
from tap_gong.errors import RUN_FAULTS, StreamFailure
from tap_gong.fetching import ChildAnswers, FetchedPage, context_key
from tap_gong.kinds.base import GongStream, PageChildrenTree, fetched_page

if TYPE_CHECKING:
    import requests
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_gong.access import GongRun


class PageChildStream(GongStream):
    """Records derived from each page of items its parent stream reads (`parent_stream_type`).

    The parent's bookmark covers them: a page's child records are emitted before the
    parent commits the window holding it, so a run stopped anywhere resumes with nothing
    lost, and the child keeps no state per parent item or page.

    A child that makes requests for a page says which from the parent's raw answer
    (`requests_for_answer`): each is a job of its own (`answers_for`, run by an idle
    worker, or by the main thread if none took it yet), and the main thread reads their
    answers with the page.
    """

    is_sorted = False
    fed_parent_pages = True
    #: What this child needs in its parent's requests (e.g. a part of call_details'
    #: content selector): an unselected parent, read only for its children, asks Gong for
    #: what they need merged, and no more.
    needs_from_parent: ClassVar[dict[str, Any]] = {}

    def __init__(self, tap: Tap, run: GongRun) -> None:
        super().__init__(tap, run)
        # One state for the stream, not one partition per context (the SDK's default).
        self.state_partitioning_keys = ()
        self.page: list[dict] = []
        #: Gong refused it, its parent going on (`page_children_fail_alone`): no more pages.
        self.refused = False
        #: What workers fetched for the page being read (`answers_for`).
        self.answers_ahead: ChildAnswers = {}
        #: Gong refused a request a worker made for it: workers make no more.
        self.refused_ahead = threading.Event()
        self.logger.addFilter(self.said_once_a_run)

    # What the SDK's sync() logs each time: here each page. Once a run is enough.
    SYNC_LINES = ("Beginning sync of", "Starting incremental sync of")

    def said_once_a_run(self, record: logging.LogRecord) -> bool:
        """A logging filter: the SDK's per-sync lines only until the first page is out."""
        return not (self.schema_sent and str(record.msg).startswith(self.SYNC_LINES))

    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        """This stream's records for one page of the parent's items."""
        raise NotImplementedError

    def requests_for_answer(self, answer: requests.Response) -> list[Context] | None:
        """The contexts of the requests this child makes for the page of the parent's
        `answer`, told from the answer alone, on a worker; None: it cannot tell, the main
        thread makes them (the default; most children make none)."""
        return None

    def answers_for(self, context: Context, children: PageChildrenTree) -> dict[str, ChildAnswers]:
        """In a job of its own (`fetching.ChildJob`), once the parent's page is fetched:
        the answers of one of this child's requests for it, by its name, each with the
        jobs of its own page `children`.

        A fault is kept and raised when the child asks for that request on the main
        thread, just where it would have made it; one about the whole run stops the run's
        requests at once, as a fault on the main thread does. Once Gong refused one, the
        workers make no more: the main thread makes them, and meets the refusal first.
        """
        if self.refused_ahead.is_set():
            return {}
        try:
            got: list[FetchedPage] | Exception = [
                fetched_page(answer, children) for answer in self.fetch_answers(context)
            ]
        except Exception as fault:  # raised on the main thread, in its turn
            got = fault
            if isinstance(fault, StreamFailure):
                self.refused_ahead.set()
            if isinstance(fault, RUN_FAULTS):
                self.pacer.stop(fault)
        return {self.name: {context_key(context): got}}

    @override
    def request_records(self, context: Context | None) -> Iterable[dict]:
        # A request a worker made for the page at hand is read from its answers.
        ahead = self.answers_ahead.pop(context_key(context), None)
        if ahead is None:
            yield from super().request_records(context)
            return
        if isinstance(ahead, Exception):
            raise ahead
        for page in ahead:
            yield from self.records_of_fetched_page(page)

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
        sdk_seams.write_schema_message(self)  # a target refuses a stream it got no SCHEMA for
        sdk_seams.write_activate_version_message(self, version)


class PerItemRequestsStream(PageChildStream):
    """A page child that asks Gong once per item of its parent's page (a user, a workspace,
    a folder): the items, and so the requests, are told from the page's raw answer on the
    worker that fetched it, and workers make them side by side."""

    def __init__(self, tap: Tap, run: GongRun) -> None:
        super().__init__(tap, run)
        #: Its first job's request is answered (`wait_for_first_answer`).
        self.first_answered = threading.Event()
        self._first_lock = threading.Lock()
        self._first_taken = False

    def requests_of_items(self, items: list[dict]) -> list[Context]:
        """The context of each request this child makes for these items of the parent's."""
        raise NotImplementedError

    def item_record(self, context: Context, record: dict) -> dict | None:
        """What it emits for one of Gong's records answered to `context` (None: nothing)."""
        raise NotImplementedError

    @override
    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        for context in self.requests_of_items(page):
            for record in self.request_records(context):
                if (emitted := self.item_record(context, record)) is not None:
                    yield emitted

    @override
    def answers_for(self, context: Context, children: PageChildrenTree) -> dict[str, ChildAnswers]:
        self.wait_for_first_answer()
        try:
            return super().answers_for(context, children)
        finally:
            self.first_answered.set()

    def wait_for_first_answer(self) -> None:
        """The first of this child's jobs in a run goes alone; the others wait for its answer.

        Gong refuses a stream that lacks its scope on every request: one refusal is enough,
        not one per worker. (A page's transcript request, one per page of call details,
        needs no such wait: its pages come one at a time.)
        """
        with self._first_lock:
            first, self._first_taken = not self._first_taken, True
        if not first:
            self.first_answered.wait()

    @override
    def requests_for_answer(self, answer: requests.Response) -> list[Context] | None:
        items = self.parent_items(answer)
        return None if items is None else self.requests_of_items(items)

    def parent_items(self, answer: requests.Response) -> list[dict] | None:
        """The items of the parent's raw `answer`, decoded as the main thread will read
        them (the body is decoded once); None if it is not a page of them."""
        parent = self.parent_stream_type
        if parent is None or not issubclass(parent, GongStream):
            return None
        try:
            return list(extract_jsonpath(parent.records_jsonpath, gong_body(answer)))
        except ValueError:
            return None  # the main thread meets what is wrong with it, in its turn
