"""Where Gong's data starts: a stretch of empty company days found in a few requests.

Gong answers 404 "No stats found" for a range with nothing in it. From the first day,
ranges twice as long each time are asked until one has data, then that range is halved
down to its first day with data: about 2 x log2(empty days) requests, not one per day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

# The first range asked, in days: the day before it was found empty already.
FIRST_PROBE_DAYS = 2


def empty_stretches(
    first: dt.date, end: dt.date, has_data: Callable[[dt.date, dt.date], bool]
) -> Iterator[tuple[dt.date, dt.date]]:
    """The ranges [first, end) of days with no data from `first` on, oldest first.

    They join up from `first` to the first day with data (or to `end`, exclusive, when
    there is none), each yielded as soon as it is known, so that the caller can commit
    its bookmark past it before the next request. `has_data(first, end)` asks Gong
    whether it has anything for the days [first, end).
    """
    day, days = first, FIRST_PROBE_DAYS
    while day < end:
        probe_end = min(day + dt.timedelta(days=days), end)
        if has_data(day, probe_end):
            break
        yield day, probe_end
        day, days = probe_end, days * 2
    else:
        return
    while (probe_end - day).days > 1:
        middle = day + (probe_end - day) // 2
        if has_data(day, middle):
            probe_end = middle
        else:
            yield day, middle
            day = middle
