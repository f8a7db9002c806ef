"""Company days, complete days only (the stats streams), the bookmark the last finished day."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from typing_extensions import override

from tap_gong import state
from tap_gong.answers import gong_error_text, request_body
from tap_gong.empty_history import Probe, probe_steps
from tap_gong.errors import DayNotOverForGong, GongStateError
from tap_gong.fetching import Window
from tap_gong.kinds.windowed import WindowedStream
from tap_gong.progress import StreamProgress
from tap_gong.reconcile import Reconciliation
from tap_gong.request_estimate import RequestEstimate, probe_left, probed_history
from tap_gong.windows import company_day, company_zone, latest_company_day

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_gong.access import GongRun

ONE_DAY = dt.timedelta(days=1)
# A backfill of more than this many company days looks for empty stretches first
# (CompanyDayStream.skip_empty_history); in a shorter one they would save little.
PROBED_HISTORY_DAYS = 31
# The stream's state key: where a probe a run did not finish stands (from the day after
# the bookmark); absent once it found Gong's first day with data, or the end.
EMPTY_HISTORY_PROBE = "empty_history_probe"


def day_key(day: dt.date) -> dt.datetime:
    """A company day as the instant a reconcile's range keeps it as (its start in UTC)."""
    return dt.datetime.combine(day, dt.time(), dt.timezone.utc)


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
        if (probe := self.saved_probe()) is not None:
            # Days up to the bookmark were found empty: re-reads wait for the probe's end.
            return probe.first
        day = self.first_day()
        if (bookmark := self.saved_bookmark()) is not None:
            rereads_from = bookmark + ONE_DAY - self.lookback()
            if self.rereads_late_data:
                rereads_from = min(rereads_from, self.late_data_first_day(bookmark))
            day = max(day, rereads_from)
        return max(day, self.first_unread_day)

    @override
    def rereads_before_bookmark(self) -> bool:
        bookmark = self.saved_bookmark()
        return bookmark is not None and self.first_day_to_read() <= bookmark

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
    def rereads_late_data(self) -> bool:
        # An unfinished probe goes on first; the run after it re-reads (first_day_to_read).
        return super().rereads_late_data and self.saved_probe() is None

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
    def resumes_empty_history_probe(self) -> bool:
        return self.saved_probe() is not None

    @override
    def probed_cost(self, windows: int) -> RequestEstimate:
        if (probe := self.saved_probe()) is not None:
            return probe_left(probe, self.last_day_to_read() + ONE_DAY)
        return probed_history(windows)

    @override
    def skip_empty_history(self, progress: StreamProgress) -> None:
        """A stretch with no data costs a few requests, not one per day (empty_history.py).

        The bookmark and where the probe stands are committed after every request: a run
        stopped part-way leaves the next one to probe on. The first day is read as an
        ordinary window: a history with data from its first day pays nothing for the probe.
        """
        end = self.last_day_to_read() + ONE_DAY
        probe = self.saved_probe() or Probe(self.saved_bookmark() + ONE_DAY)
        self.probe_reached(probe, end, progress)
        self.emit_state()
        for step in probe_steps(probe, end, self.has_data):
            self.probe_reached(step, end, progress)
            if step.first > probe.first:
                self.skip_empty(probe.first, step.first)  # emits the state
            else:
                self.emit_state()
            probe = step

    def probe_reached(self, probe: Probe, end: dt.date, progress: StreamProgress) -> None:
        """Note where the probe stands in the state (dropped once it is over), and say what
        the probe and the days after it still need."""
        self.first_unread_day = probe.first
        if probe.is_over(end):
            self.stream_state.pop(EMPTY_HISTORY_PROBE, None)
            progress.probing(None)
        else:
            data_before = probe.data_before and probe.data_before.isoformat()
            self.stream_state[EMPTY_HISTORY_PROBE] = {
                "next_days": probe.days,
                **({"data_before": data_before} if data_before else {}),
            }
            progress.probing(probe_left(probe, end))

    @override
    def check_saved_state(self) -> None:
        super().check_saved_state()
        self.saved_probe()

    def saved_probe(self) -> Probe | None:
        """The probe a previous run did not finish, on from the day after its bookmark.

        Raises:
            GongStateError: when the state holds one tap-gong does not write.
        """
        saved = self.stream_state.get(EMPTY_HISTORY_PROBE)
        bookmark = self.saved_bookmark()
        if saved is None or bookmark is None:
            return None
        try:
            first, days = bookmark + ONE_DAY, saved["next_days"]
            data_before = saved.get("data_before")
            probe = Probe(first, days, data_before and dt.date.fromisoformat(data_before))
            if type(days) is not int or days < 1 or (probe.data_before or dt.date.max) <= first:
                raise ValueError(saved)
        except (TypeError, ValueError, KeyError, AttributeError):
            raise GongStateError.not_written_by_tap(self.name, EMPTY_HISTORY_PROBE, saved) from None
        return probe

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
        state.record_bookmark(self, self.window_bookmark(window))
        self.emit_state()

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
    def own_filter(self, context: Context | None) -> dict[str, Any]:
        """A window's days, by the names the endpoint's filter gives them."""
        window = context or {}
        first, end = self.day_filter_names
        return {first: window["fromDate"], end: window["toDate"]}
