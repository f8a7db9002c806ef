"""Where Gong's data starts: empty stretches found in a few requests, not one per day."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from tap_gong.empty_history import Probe, probe_steps

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


def skipped_days(end: dt.date, gong: FakeGong, probe: Probe | None = None) -> list[dt.date]:
    """The days a probe from `probe` (FIRST: a new one) finds empty, once it is over."""
    start = probe or Probe(FIRST)
    last = start
    for last in probe_steps(start, end, gong.has_data):  # noqa: B007 (the last one counts)
        pass
    assert last.is_over(end)
    return [FIRST + dt.timedelta(days=n) for n in range((last.first - FIRST).days)]


@pytest.mark.parametrize("empty_days", [0, 1, 2, 3, 5, 17, 100, 365, 1000])
def test_every_empty_day_before_the_first_with_data_is_skipped_and_no_other(
    empty_days: int,
) -> None:
    gong = FakeGong(data_from=days(empty_days))

    assert skipped_days(days(3000), gong) == [days(n) for n in range(empty_days)]


@pytest.mark.parametrize("empty_days", [1, 2, 3, 5, 17, 100, 365, 1000, 2999])
def test_finding_it_costs_about_twice_log2_of_the_empty_days(empty_days: int) -> None:
    gong = FakeGong(data_from=days(empty_days))

    skipped_days(days(3000), gong)

    assert len(gong.asked) <= 2 * math.ceil(math.log2(empty_days + 1)) + 1


def test_data_from_the_first_day_asked_costs_two_requests_and_skips_nothing() -> None:
    gong = FakeGong(data_from=FIRST)

    assert skipped_days(days(3000), gong) == []
    assert gong.asked == [(FIRST, days(2)), (FIRST, days(1))]


def test_with_no_data_at_all_every_day_up_to_the_end_is_skipped_in_log2_requests() -> None:
    gong = FakeGong(data_from=None)

    assert skipped_days(days(1000), gong) == [days(n) for n in range(1000)]
    assert len(gong.asked) == math.ceil(math.log2(1000 / 2 + 1))


def test_nothing_past_the_end_is_asked() -> None:
    gong = FakeGong(data_from=days(50))

    skipped_days(days(40), gong)

    assert all(FIRST <= first < end <= days(40) for first, end in gong.asked)


def test_each_step_is_known_before_the_next_request() -> None:
    # The caller commits its bookmark and the probe as they come: a run stopped in the
    # middle of the probe goes on from the last step it committed.
    gong = FakeGong(data_from=days(100))
    steps = probe_steps(Probe(FIRST), days(3000), gong.has_data)

    first_step = next(steps)

    assert first_step == Probe(days(2), days=4)
    assert gong.asked == [(FIRST, days(2))]


@pytest.mark.parametrize("empty_days", [0, 1, 5, 100, 365, 2999, 3000])
def test_a_probe_resumed_from_any_step_asks_what_it_would_have_asked_in_one_go(
    empty_days: int,
) -> None:
    whole = FakeGong(data_from=days(empty_days) if empty_days < 3000 else None)
    steps = list(probe_steps(Probe(FIRST), days(3000), whole.has_data))

    for stopped_after, step in enumerate(steps, start=1):
        resumed = FakeGong(whole.data_from)
        skipped = skipped_days(days(3000), resumed, probe=step)

        assert whole.asked[:stopped_after] + resumed.asked == whole.asked
        assert skipped == [days(n) for n in range(empty_days)]
