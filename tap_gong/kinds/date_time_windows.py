"""A range of instants cut into windows (calls and the call-derived streams)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_gong.budget import windows_halved
from tap_gong.fetching import Window
from tap_gong.kinds.windowed import WindowedStream
from tap_gong.reconcile import Reconciliation
from tap_gong.windows import parse_instant, time_windows, utc_iso

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

# Gong publishes a call only once it has processed it, hours after the call started:
# what started this long before a run's end may still appear (DateTimeWindowStream).
CALL_PROCESSING_ALLOWANCE = dt.timedelta(days=1)
# Calls windows per worker a backfill is cut into at least (DateTimeWindowStream).
WINDOWS_PER_WORKER = 4
# ... but none shorter: each window costs a request even when it holds few calls, and a
# short backfill gains little from the overlap. Unless a worker would get no window: a
# backfill of a few weeks is still cut into one window per worker (a window's pages
# come one after the other: 4 windows of a week of 100 calls a day leave half of 8
# workers idle, and the allowance with them), down to windows of a day: a backfill of
# hours gains nothing from a window per worker.
SHORTEST_BACKFILL_WINDOW = dt.timedelta(days=7)
SHORTEST_WINDOW_PER_WORKER = dt.timedelta(days=1)
# Windows halved for a small max_requests_per_run (tap_gong/budget.py) are never shorter:
# a minute of more calls than a run's budget reads is no company's.
SHORTEST_WINDOW_UNDER_BUDGET = dt.timedelta(minutes=1)


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
    windows_can_be_halved = True

    def rereads(self) -> dt.timedelta:
        """How far before the bookmark a run starts: the lookback beyond the allowance."""
        return max(self.lookback() - CALL_PROCESSING_ALLOWANCE, dt.timedelta())

    @override
    def rereads_before_bookmark(self) -> bool:
        return (bookmark := self.saved_bookmark()) is not None and self.reads_from() < bookmark

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
        one request in flight, keep theirs. A budget that stopped the stream before it
        finished a window halves them (`windows_halved`).
        """
        length = self.unhalved_window_length(start, end)
        if halvings := windows_halved(self.stream_state):
            return max(length / 2**halvings, SHORTEST_WINDOW_UNDER_BUDGET)
        return length

    def unhalved_window_length(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        calls_window = self.settings.calls_window
        if self.saved_bookmark() is not None or self.settings.max_concurrent_requests == 1:
            return calls_window
        workers = self.settings.max_concurrent_requests
        per_worker = max((end - start) / workers, SHORTEST_WINDOW_PER_WORKER)
        shortest = min(SHORTEST_BACKFILL_WINDOW, calls_window, per_worker)
        return max(min(calls_window, (end - start) / (WINDOWS_PER_WORKER * workers)), shortest)

    @override
    @cached_property
    def reconciliation(self) -> Reconciliation:
        settings = self.settings
        return Reconciliation(
            self, settings.reconcile_every, settings.first_instant, self.last_instant
        )

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        if self.ended_with_pages_from():
            return
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
