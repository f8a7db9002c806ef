"""Periodic reconciliation: calls (and their reviews) deleted in Gong leave the warehouse.

No Gong endpoint reports deleted calls; they just stop appearing, so incremental runs
never learn of them. Singer's record versions can: every record carries its stream's
table version, and ACTIVATE_VERSION V, sent once the whole history was read in version
V, tells the target that rows of older versions are gone (target-postgres and
target-snowflake set `_sdc_deleted_at`, or delete them with `hard_delete`).

Every `reconcile_every_days` (unset: never; 0: every run) a run starts a re-read of the
whole history from start_date in a new version: the call streams, and answered
scorecards, whose company days it keeps as the instants they start at in UTC. What a
windowed stream's state keeps, next to its bookmark:

- `table_version`: the version every record carries, in every run (target-snowflake
  never marks a row whose version is NULL). It changes only when a re-read starts.
- `reconciled_at`: the run end at which the last complete re-read started.
- `reconcile`, while a re-read is unfinished: `started_at`, and the range
  [start_date, `until`) it re-reads besides the runs' own windows, read up to `read_to`.

A run of an unfinished re-read reads its own windows first, from the bookmark as usual
(new calls keep arriving and the bookmark moves on), then the rest of the re-read
range. `until` is where the first of those runs started reading, and every later run
starts at or after it with the bookmark, so once `read_to` reaches `until` at the end
of a run whose windows were all read, the whole history was read in the new version:
only then is ACTIVATE_VERSION due. An interrupted re-read sends none, and the next run
continues it in the same version.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from singer_sdk.streams import Stream

from tap_gong.errors import GongStateError
from tap_gong.windows import parse_instant, utc_iso

TABLE_VERSION = "table_version"
RECONCILED_AT = "reconciled_at"
RECONCILE = "reconcile"


class Reconciliation:
    """One windowed stream's table version and its re-read of the whole history."""

    def __init__(
        self,
        stream: Stream,
        every: dt.timedelta | None,
        first_instant: dt.datetime,
        run_end: dt.datetime,
    ) -> None:
        self.stream = stream
        self.every = every
        self.first_instant = first_instant  # start_date: where a re-read starts
        self.run_end = run_end

    @property
    def _state(self) -> dict[str, Any]:
        return self.stream.stream_state

    def begin(self, reads_from: dt.datetime) -> int:
        """The version this run's records carry: a new one when a re-read starts now.

        `reads_from` is where this run's own windows start; a re-read started now covers
        the history before it.

        Raises:
            GongStateError: when the state holds reconcile values tap-gong does not write.
        """
        version = self.version()
        if self.pending() is None and self.is_due():
            version = max(int(time.time()), (version or 0) + 1)
            self._state[RECONCILE] = {
                "started_at": utc_iso(self.run_end),
                "until": utc_iso(reads_from),
                "read_to": None,
            }
            self.stream.logger.info(
                "Reconciling '%s': re-reading the whole history in table version %d.",
                self.stream.name,
                version,
            )
        if version is None:
            version = int(time.time())
        self._state[TABLE_VERSION] = version
        return version

    def version(self) -> int | None:
        """The table version in the state (None before the first run that keeps one)."""
        value = self._state.get(TABLE_VERSION)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise self._state_error(TABLE_VERSION, value)

    def is_due(self) -> bool:
        """Whether `every` has passed since the last complete re-read started (or none did)."""
        if self.every is None:
            return False
        last = self._state.get(RECONCILED_AT)
        return last is None or self.run_end - self._instant(RECONCILED_AT, last) >= self.every

    def pending(self) -> dict[str, Any] | None:
        """The unfinished re-read in the state, if any."""
        pending = self._state.get(RECONCILE)
        if pending is None or (isinstance(pending, dict) and pending.get("started_at")):
            return pending
        raise self._state_error(RECONCILE, pending)

    def range_to_reread(self) -> tuple[dt.datetime, dt.datetime]:
        """What is left of the re-read range: empty when no re-read is unfinished."""
        if (pending := self.pending()) is None:
            return (self.first_instant, self.first_instant)
        read_to = pending.get("read_to")
        start = self.first_instant if read_to is None else self._instant("read_to", read_to)
        return (start, self._instant("until", pending.get("until")))

    def window_read(self, start: dt.datetime, end: dt.datetime) -> None:
        """Note a finished window: one of the re-read range moves `read_to` on."""
        left_from, until = self.range_to_reread()
        if start == left_from and end <= until:
            self._state[RECONCILE]["read_to"] = utc_iso(end)

    def finish(self) -> int | None:
        """After every window of the run was read: the version to activate, if now complete.

        The state then says the re-read is done and when it started.
        """
        if (pending := self.pending()) is None:
            return None
        left_from, until = self.range_to_reread()
        if left_from < until:
            return None
        self._state[RECONCILED_AT] = pending["started_at"]
        del self._state[RECONCILE]
        return self.version()

    def _instant(self, name: str, value: Any) -> dt.datetime:
        try:
            return parse_instant(value)
        except (TypeError, ValueError, AttributeError):
            raise self._state_error(name, value) from None

    def _state_error(self, name: str, value: Any) -> GongStateError:
        return GongStateError.not_written_by_tap(self.stream.name, name, value)
