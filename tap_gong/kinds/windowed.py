"""A stream extracted window by window, a bookmark committed after each finished window."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Generator, Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_gong import sdk_seams, state
from tap_gong.budget import rereads_skipped
from tap_gong.errors import GongStateError
from tap_gong.fetching import StreamWindows, Window
from tap_gong.kinds.base import GongStream
from tap_gong.kinds.page_child import PageChildStream
from tap_gong.late_data import LATE_DATA, LateDataRereads
from tap_gong.progress import StreamProgress
from tap_gong.reconcile import Reconciliation
from tap_gong.request_estimate import RequestEstimate
from tap_gong.shared_pages import put_window_state

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_gong.access import GongRun


def first_value(window: Window) -> str:
    return next(iter(window.values()))


def last_value(window: Window) -> str:
    return list(window.values())[-1]


class WindowedStream(GongStream):
    """Extracted window by window, with a bookmark committed after each finished window.

    Subclasses say how the range is cut (`windows`), how a window becomes Gong's filter
    (`own_filter`, the window is the request's context) and which bookmark a finished
    window leaves (`window_bookmark`).
    """

    # Gong does not order records inside a range: the bookmark moves per finished window.
    is_sorted = False

    def __init__(self, tap: Tap, run: GongRun) -> None:
        super().__init__(tap, run)
        #: The streams whose records this run are in this one's pages (calls in
        #: call_details'): their window state is kept a copy of this one's.
        self.state_copies: list[WindowedStream] = []

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

    def resumes_empty_history_probe(self) -> bool:
        """Whether the previous run stopped while looking for where Gong's data starts."""
        return False

    def probed_cost(self, windows: int) -> RequestEstimate:
        """What the `windows` planned ones cost, their empty stretch probed."""
        raise NotImplementedError

    def skip_empty_history(self, progress: StreamProgress) -> None:
        """Commit the bookmark past the stretch with no data from the day after it (after
        an empty first window, or where the previous run's probe stopped)."""
        raise NotImplementedError

    def share_pages(self) -> None:
        """Before any request: make the streams this one's pages also hold its `state_copies`."""

    def records_of_shared_page(self, page: list[dict]) -> Iterable[dict]:
        """This stream's records in a page of the stream it shares pages with (`pages_from`)."""
        raise NotImplementedError

    def write_records_of_shared_page(self, page: list[dict]) -> None:
        """Write this stream's records from a page `pages_from` read (on the main thread)."""
        for item in self.records_of_shared_page(page):
            if (record := self.post_process(item)) is not None:
                sdk_seams.write_record_message(self, record)
                self.tally.records += 1

    @override
    def sync_page_children(self, page: list[dict]) -> None:
        super().sync_page_children(page)
        for stream in self.state_copies:
            stream.write_records_of_shared_page(page)

    def emit_state(self) -> None:
        """STATE now, the streams read from this one's pages given its window state first."""
        for stream in self.state_copies:
            put_window_state(stream.stream_state, self.stream_state)
        state.emit_state(self)

    def ended_with_pages_from(self) -> bool:
        """Whether this stream's turn has nothing left: it ended as `pages_from` did, which
        read its records (or stopped reading them, to go on next run): `ended_as`."""
        feeder = self.pages_from
        if feeder is None or not self.run.outcomes.ended_as(self.name, feeder.family()):
            return False
        self.logger.info("%s: read with %s, and ended with it.", self.name, feeder.name)
        return True

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        for stream in self.state_copies:
            self.logger.info(
                "%s: read from the pages of %s, no request of its own.", stream.name, self.name
            )
            # Before their first record, and before an ACTIVATE_VERSION.
            sdk_seams.write_schema_message(stream)
        state.mark_windows_resumable(self)
        progress = StreamProgress(
            self.name, self.logger, self.tally, self.requests_of_stream, pacer=self.pacer
        )
        # Stopped early, the unfinished window is dropped from progress, so the bookmark
        # stays at the last finished window and the next run resumes there.
        with self.recording_how_it_ends(lambda: state.forget_unfinished_window(self)):
            if self.rereads_skipped_by_budget:
                self.logger.warning(
                    "%s: re-reads nothing before its bookmark (lookback_window_days, late "
                    "data) while max_requests_per_run stops it: a run spent its share "
                    "re-reading and moved nothing. The re-reads are back once a run finishes.",
                    self.name,
                )
            probing = self.probes_empty_history()
            if self.resumes_empty_history_probe():
                self.plan_windows(progress, probed=True)
                self.skip_empty_history(progress)
            while True:
                self.plan_windows(progress, probed=probing)
                if not (yield from self.read_windows(progress, probing)):
                    break
                self.skip_empty_history(progress)
                probing = False
            self.request_share.check_not_stopped()
        progress.finish()

    def plan_windows(self, progress: StreamProgress, *, probed: bool = False) -> None:
        """Say the work ahead: how many windows, over which range (`probed`: for its empty
        stretch first)."""
        planned = list(self.windows())
        if planned:
            first, last = planned[0], planned[-1]
            cost = self.probed_cost(len(planned)) if probed else None
            progress.plan(
                len(planned), self.window_unit, first_value(first), last_value(last), probed=cost
            )
        else:
            progress.plan(0, self.window_unit, "", "")

    def read_windows(
        self, progress: StreamProgress, stop_if_first_is_empty: bool
    ) -> Generator[dict[str, Any], None, bool]:
        """Each window's records, then its bookmark committed.

        Returns:
            Whether it stopped after the first window, which had no records while
            `stop_if_first_is_empty` (the windows after it are not read).
        """
        # Closed on return: workers fetching the windows after an empty first one stop.
        with contextlib.closing(self.windows_with_records()) as windows:
            for window, records in windows:
                count, pages_before = 0, self.tally.pages
                try:
                    for record in records:
                        count += 1
                        yield record
                except BaseException:
                    progress.window_cut(count, self.tally.pages - pages_before)
                    raise
                state.record_bookmark(self, self.window_bookmark(window))
                self.emit_state()
                self.logger.debug("%s: %s done, %d records", self.name, window, count)
                progress.window_done(count)
                self.request_share.window_finished()
                if stop_if_first_is_empty and count == 0:
                    return True
                stop_if_first_is_empty = False
        return False

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
            self.windows_for_workers(),
            lambda after: self.request_share.windows(self.more_windows(after)),
            self.streams_fetched_next,
        )
        for fetched in fetched_in_order:
            self.fetched_window = fetched
            try:
                yield fetched.window, self.records_in_window(fetched.window)
            finally:
                self.fetched_window = None

    @override
    def windows_to_fetch(self) -> StreamWindows | None:
        # Nothing to fetch ahead of its turn for a stream whose records come in the pages
        # of `pages_from`: its turn has nothing to request, unless that stream failed.
        return None if self.pages_from is not None else self.windows_for_workers()

    def windows_for_workers(self) -> StreamWindows:
        """This stream's windows, for the run's workers to fetch (on the main thread)."""
        windows = self.windows()
        if (first := next(windows, None)) is not None:
            # Built here, not raced for by workers: the authenticator, content selectors.
            sdk_seams.prepare_request(self, first, self.get_new_paginator())
            windows = itertools.chain([first], windows)
        return StreamWindows(
            self.name,
            self.request_share.windows(windows),
            self.fetch_pages(),
            first_decides=self.probes_empty_history(),
        )

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

    def check_saved_state(self) -> None:
        """Refuse a state tap-gong did not write before any request.

        Raises:
            GongStateError: naming the value.
        """
        self.saved_bookmark()

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
        if self.saved_bookmark() is None:
            return True
        return self.late_data.is_due() and not self.rereads_skipped_by_budget

    @cached_property
    def rereads_skipped_by_budget(self) -> bool:
        """Whether the budget keeps this run from re-reading before the bookmark
        (tap_gong/budget.py, `REREADS_SKIPPED`): a run without one re-reads."""
        return self.pacer.budget is not None and rereads_skipped(self.stream_state)

    def lookback(self) -> dt.timedelta:
        """What this run re-reads before the bookmark: `lookback_window_days`, none while
        the budget skips re-reads."""
        return dt.timedelta() if self.rereads_skipped_by_budget else self.settings.lookback

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
            *self.state_copies,
        ]
        for stream in streams:
            sdk_seams.set_record_version(stream, version)
        return streams

    def own_windows_done(self, streams: list[WindowedStream | PageChildStream]) -> None:
        """Every window of this run is read: a complete reconcile activates its version,
        and the state notes the run (and its late-data re-read)."""
        if done := self.reconciliation.finish():
            for stream in streams:
                if stream.selected:
                    stream.activate_version(done)
        self.late_data.run_done(reread=self.rereads_late_data)
        self.emit_state()

    def activate_version(self, version: int) -> None:
        """ACTIVATE_VERSION, after this stream's last record of a complete re-read."""
        sdk_seams.write_activate_version_message(self, version)
