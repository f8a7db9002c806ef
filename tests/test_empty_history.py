"""Where Gong's data starts: empty stretches found in a few requests, not one per day."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from tap_gong.empty_history import empty_stretches

FIRST = dt.date(2024, 1, 1)


class FakeGong:
    """Has data for every day from `data_from` on (none at all when None); counts requests."""

    def __init__(self, data_from: dt.date | None) -> None:
        self.data_from = data_from
        self.asked: list[tuple[dt.date, dt.date]] = []

    def has_data(self, first: dt.date, end: dt.date) -> bool:
        self.asked.append((first, end))
        return self.data_from is not None and end > self.data_from


def days(n: int) -> dt.date:
    return FIRST + dt.timedelta(days=n)


def skipped_days(stretches: list[tuple[dt.date, dt.date]]) -> list[dt.date]:
    return [
        first + dt.timedelta(days=n) for first, end in stretches for n in range((end - first).days)
    ]


@pytest.mark.parametrize("empty_days", [0, 1, 2, 3, 5, 17, 100, 365, 1000])
def test_every_empty_day_before_the_first_with_data_is_skipped_and_no_other(
    empty_days: int,
) -> None:
    gong = FakeGong(data_from=days(empty_days))

    stretches = list(empty_stretches(FIRST, days(3000), gong.has_data))

    assert skipped_days(stretches) == [days(n) for n in range(empty_days)]


@pytest.mark.parametrize("empty_days", [1, 2, 3, 5, 17, 100, 365, 1000, 2999])
def test_finding_it_costs_about_twice_log2_of_the_empty_days(empty_days: int) -> None:
    gong = FakeGong(data_from=days(empty_days))

    list(empty_stretches(FIRST, days(3000), gong.has_data))

    assert len(gong.asked) <= 2 * math.ceil(math.log2(empty_days + 1)) + 1


def test_data_from_the_first_day_asked_costs_two_requests_and_skips_nothing() -> None:
    gong = FakeGong(data_from=FIRST)

    assert list(empty_stretches(FIRST, days(3000), gong.has_data)) == []
    assert gong.asked == [(FIRST, days(2)), (FIRST, days(1))]


def test_with_no_data_at_all_every_day_up_to_the_end_is_skipped_in_log2_requests() -> None:
    gong = FakeGong(data_from=None)

    stretches = list(empty_stretches(FIRST, days(1000), gong.has_data))

    assert skipped_days(stretches) == [days(n) for n in range(1000)]
    assert len(gong.asked) == math.ceil(math.log2(1000 / 2 + 1))


def test_nothing_past_the_end_is_asked() -> None:
    gong = FakeGong(data_from=days(50))

    list(empty_stretches(FIRST, days(40), gong.has_data))

    assert all(FIRST <= first < end <= days(40) for first, end in gong.asked)


def test_each_stretch_is_known_before_the_next_request() -> None:
    # The caller commits its bookmark past each stretch as it comes: a run stopped in the
    # middle of the probe resumes after the stretches already found.
    gong = FakeGong(data_from=days(100))
    stretches = empty_stretches(FIRST, days(3000), gong.has_data)

    first_stretch = next(stretches)

    assert first_stretch == (FIRST, days(2))
    assert gong.asked == [(FIRST, days(2))]
