"""Late data: what Gong publishes or changes days after the date it is filed under.

Gong publishes a call once it has processed it, hours or days after the call started;
reviewers file and edit scorecards days after the review day; a company day's stats and
activity change as that day's calls are processed. Gong filters on those dates, never on
when it published or changed something, so only a re-read finds it.

Every run re-reads a little: the lookback (`lookback_window_days`; the call streams' last
day whatever it says). On top of it, a windowed stream re-reads what may have changed
since its previous *late-data re-read*: from LATE_DATA before it (company days: from the
company day that holds that moment). One is due on the first run REREAD_EVERY after the
previous one, or sooner when the next run, as far away as the previous one, would put them
more than ARRIVAL_DEADLINE (plus a late start's RUN_START_SLACK) apart. So on any schedule of runs
at least daily, data Gong publishes or changes up to LATE_DATA after its date arrives
within ARRIVAL_DEADLINE of the change (later only by how late a run starts).

A stream's state keeps, next to its bookmark:
- `late_data_reread_at`: the run end of its last complete late-data re-read (a backfill
  counts as one, from its first run);
- `last_run_at`: the run end of its last run that read all its windows.
Both move only once every window of the run is read. A re-read a run did not finish (a
budget, the quota, a kill) stays due and goes on where it stopped: `late_data_resume_from`
keeps the start of its first window not yet read, so a re-read longer than a run's
budget still ends, and the windows after it (new data) are reached.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from singer_sdk.streams import Stream

from tap_gong.errors import GongStateError
from tap_gong.windows import parse_instant, utc_iso

T = TypeVar("T")

# How late Gong may publish or change data after its date; what is later needs a
# reconcile (`reconcile_every_days`).
LATE_DATA = dt.timedelta(days=7)
# Re-reads are at most this often, as long as runs are at least daily...
REREAD_EVERY = dt.timedelta(hours=20)
# ... and never further apart than this, whatever the schedule (if it is regular).
ARRIVAL_DEADLINE = dt.timedelta(hours=24)
# How much later than its schedule a run may start and still not make the next re-read due.
RUN_START_SLACK = dt.timedelta(hours=1)

REREAD_AT = "late_data_reread_at"
LAST_RUN_AT = "last_run_at"
RESUME_FROM = "late_data_resume_from"


class LateDataRereads:
    """One windowed stream's late-data re-reads: whether one is due and where it starts."""

    def __init__(self, stream: Stream, run_end: dt.datetime) -> None:
        self.stream = stream
        self.run_end = run_end

    def is_due(self) -> bool:
        """Whether this run re-reads for late data (always when none is in the state)."""
        last = self._saved(REREAD_AT)
        if last is None or RESUME_FROM in self.stream.stream_state:
            return True
        since_last = self.run_end - last
        since_previous_run = self.run_end - (self._saved(LAST_RUN_AT) or last)
        return (
            since_last >= REREAD_EVERY
            or since_last + since_previous_run > ARRIVAL_DEADLINE + RUN_START_SLACK
        )

    def reads_from(self, bookmark: dt.datetime) -> dt.datetime:
        """The earliest instant whose data may have changed since the last re-read.

        A state from before late-data re-reads has none: the bookmark stands in for it.
        """
        return (self._saved(REREAD_AT) or bookmark) - LATE_DATA

    def resume_from(self, parse: Callable[[str], T]) -> T | None:
        """Where an unfinished re-read goes on (`parse`d as the stream's bookmarks), if one is."""
        value = self.stream.stream_state.get(RESUME_FROM)
        if value is None:
            return None
        try:
            return parse(value)
        except (TypeError, ValueError):
            raise GongStateError.not_written_by_tap(self.stream.name, RESUME_FROM, value) from None

    def read_until(self, resume_from: str) -> None:
        """A window of the re-read is read: a run stopped after it goes on from `resume_from`."""
        self.stream.stream_state[RESUME_FROM] = resume_from

    def backfill_started(self) -> None:
        """A backfill reads all there is now: the next re-read is due from here.

        Noted as it starts, so that a backfill killed and resumed does not re-read what
        it read before the kill (unless that was longer ago than REREAD_EVERY).
        """
        self.stream.stream_state.setdefault(REREAD_AT, utc_iso(self.run_end))

    def run_done(self, *, reread: bool) -> None:
        """Every window of the run is read: note the run (and its re-read, if it made one)."""
        state = self.stream.stream_state
        state[LAST_RUN_AT] = utc_iso(self.run_end)
        if reread:
            state[REREAD_AT] = utc_iso(self.run_end)
            state.pop(RESUME_FROM, None)

    def _saved(self, name: str) -> dt.datetime | None:
        value = self.stream.stream_state.get(name)
        if value is None:
            return None
        try:
            return parse_instant(value)
        except (TypeError, ValueError, AttributeError):
            raise GongStateError.not_written_by_tap(self.stream.name, name, value) from None
