"""What the work ahead costs in requests, and so in runs and in days of Gong's quota.

Each window costs one request, and one more per 100 records beyond its first page: an
estimate counts first pages, so it is the least the work takes. A stats backfill whose
first day has no data probes for the day Gong's data starts
(`CompanyDayStream.skip_empty_history`) and reads only the days from there: until the
probe has found that day, the cost is a range.

Gong allows a company 10,000 requests a day, shared with its other integrations, and
`max_requests_per_run` caps a run: work beyond what either leaves is said in runs and days,
as the least it takes (the other integrations' share is unknown to the tap).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

from tap_gong.empty_history import Probe

# Gong's daily quota of requests per company (shared with its other integrations).
DAILY_QUOTA = 10_000
GONG_QUOTA = (
    f"Gong's daily quota ({DAILY_QUOTA:,} requests, shared with the company's other integrations)"
)


@dataclasses.dataclass(frozen=True)
class RequestEstimate:
    """At least `least` requests; at most `most` where a probe leaves it open (first pages)."""

    least: int
    most: int | None = None

    @property
    def upper(self) -> int:
        return self.least if self.most is None else self.most

    def describe(self) -> str:
        if self.upper == self.least:
            return f"at least {counted(self.least, 'request')}"
        return f"between {self.least:,} and {counted(self.upper, 'request')}"

    def __add__(self, other: RequestEstimate) -> RequestEstimate:
        if self.most is None and other.most is None:
            return RequestEstimate(self.least + other.least)
        return RequestEstimate(self.least + other.least, self.upper + other.upper)


def probed_history(days: int) -> RequestEstimate:
    """A backfill of `days` company days whose empty stretch before Gong's data is probed:
    its first day, read as an ordinary window, then the probe from the next day on."""
    first_probed = dt.date.min + dt.timedelta(days=1)  # only the days between count
    return RequestEstimate(1) + probe_left(Probe(first_probed), dt.date.min + dt.timedelta(days))


def probe_left(probe: Probe, end: dt.date) -> RequestEstimate:
    """The days from where `probe` stands to `end` (exclusive): the rest of the probe,
    then each day from Gong's first day with data.

    Still doubling, fewest when Gong has no data at all (the doubling ranges up to the
    end), most when it has data from `first` (that range halved down to it, then every
    day). Halving [first, data_before), fewest when the data starts on its last day,
    most when on its first.
    """
    days = (end - probe.first).days
    if probe.data_before is None:
        least, covered = 0, 0
        while covered < days:
            least, covered = least + 1, covered + probe.days * 2**least
        most = days + 1 + math.floor(math.log2(min(probe.days, days))) if days > 0 else 0
        return RequestEstimate(least, most)
    with_data = (probe.data_before - probe.first).days
    least = math.ceil(math.log2(with_data)) + days - with_data + 1
    return RequestEstimate(least, math.floor(math.log2(with_data)) + days)


def how_long(requests: int, run_left: int | None, budget: int | None, quota_left: int) -> str:
    """The runs and days `requests` take at least, when this run leaves `run_left` of
    `budget` (max_requests_per_run) and today `quota_left` of Gong's quota; "" within both."""
    parts = []
    if budget is not None and run_left is not None and requests > run_left:
        runs = at_least(requests, run_left, budget)
        parts.append(
            f"{counted(runs, 'run')} of {counted(budget, 'request')} (max_requests_per_run)"
        )
    if requests > quota_left:
        days = at_least(requests, quota_left, DAILY_QUOTA)
        parts.append(f"{counted(days, 'day')} of {GONG_QUOTA}")
    return "at least " + " and ".join(parts) if parts else ""


def left_after_run(left: RequestEstimate, budget: int | None) -> str:
    """What the next runs have left: requests, and the runs and days they take at least."""
    runs_and_days = how_long(left.least, budget, budget, DAILY_QUOTA)
    return f"{left.describe()} left" + (f": {runs_and_days}" if runs_and_days else "")


def at_least(requests: int, first: int, then: int) -> int:
    """Runs (or days) `requests` take when the first allows `first` of them, each next `then`."""
    return 1 + math.ceil(max(requests - first, 0) / then)


def counted(number: int, noun: str, nouns: str = "") -> str:
    """`number` `noun`s (or `nouns`), singular for one: "1 request", "2 requests"."""
    return f"{number:,} {noun if number == 1 else nouns or noun + 's'}"
