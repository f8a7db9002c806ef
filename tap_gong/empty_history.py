"""Where Gong's data starts: a stretch of empty company days found in a few requests.

Gong answers 404 "No stats found" for a range with nothing in it. From the first day,
ranges twice as long each time are asked until one has data, then that range is halved
down to its first day with data: about 2 x log2(empty days) requests, not one per day.

A probe stopped part-way (a run's budget) goes on in the next run from where it stood
(`Probe`, kept in the stream's state), not from its first range again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator

# The first range asked, in days: the day before it was found empty already.
FIRST_PROBE_DAYS = 2


@dataclasses.dataclass(frozen=True)
class Probe:
    """Where a probe stands: the days before `first` are empty.

    It next asks `days` days from `first`, or, once a range [first, data_before) is
    known to hold data, the first half of that range.
    """

    first: dt.date
    days: int = FIRST_PROBE_DAYS
    data_before: dt.date | None = None

    def is_over(self, end: dt.date) -> bool:
        """Whether `first` is Gong's first day with data, or `end` (none before it)."""
        if self.data_before is not None:
            return (self.data_before - self.first).days <= 1
        return self.first >= end

    def next_range(self, end: dt.date) -> tuple[dt.date, dt.date]:
        """The days [first, end) the next request asks about."""
        if self.data_before is not None:
            return self.first, self.first + (self.data_before - self.first) // 2
        return self.first, min(self.first + dt.timedelta(days=self.days), end)

    def after(self, asked_end: dt.date, has_data: bool) -> Probe:
        """Where the probe stands once Gong answered for [first, asked_end)."""
        if has_data:
            return dataclasses.replace(self, data_before=asked_end)
        if self.data_before is not None:
            return dataclasses.replace(self, first=asked_end)
        return Probe(asked_end, self.days * 2)


def probe_steps(
    probe: Probe, end: dt.date, has_data: Callable[[dt.date, dt.date], bool]
) -> Iterator[Probe]:
    """Where the probe stands after each request, until it is over (`Probe.is_over`).

    Each is yielded as soon as it is known, so that the caller can commit its bookmark
    (the day before `first`) and the probe before the next request. `has_data(first,
    end)` asks Gong whether it has anything for the days [first, end).
    """
    while not probe.is_over(end):
        first, asked_end = probe.next_range(end)
        probe = probe.after(asked_end, has_data(first, asked_end))
        yield probe
