"""Time in Gong's terms: instants, date windows and the company-day rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.timezone.utc

# The last time zone on Earth to finish a day. Until Gong tells us the company's
# zone, a day is treated as complete only once it is over there too.
LATEST_ZONE = dt.timezone(dt.timedelta(hours=-12))
# The first time zone on Earth to start a day: no company's current day is later than its.
EARLIEST_ZONE = dt.timezone(dt.timedelta(hours=14))


def parse_instant(value: str) -> dt.datetime:
    """Parse an ISO-8601 date or date-time; a value with no offset is taken as UTC.

    Raises:
        ValueError: when the value is not ISO-8601.
    """
    parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utc_now() -> dt.datetime:
    return dt.datetime.now(UTC)


def utc_iso(instant: dt.datetime) -> str:
    """The one format the tap emits and bookmarks instants in: UTC, `Z` suffix.

    Gong sends local offsets (`-08:00`); targets disagree on offsets and the SDK
    compares bookmarks as strings, so everything leaves the tap in UTC.
    """
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


# An epoch number this large is in milliseconds (1e11 s is the year 5138).
EPOCH_MILLISECONDS_FROM = 10**11


def to_utc(value: str | float | None) -> str | None:
    """Re-express one of Gong's date-times in UTC (None stays None).

    Gong documents ISO-8601 strings with an offset; an epoch number (seconds or
    milliseconds) is read too.

    Raises:
        ValueError: when the value is neither.
        TypeError: when it is not a string or a number.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= EPOCH_MILLISECONDS_FROM else value
        return utc_iso(dt.datetime.fromtimestamp(seconds, UTC))
    if not isinstance(value, str):
        msg = f"not a date-time: {value!r}"
        raise TypeError(msg)
    return utc_iso(parse_instant(value))


@dataclass(frozen=True)
class TimeWindow:
    """A half-open range [start, end) of instants, extracted as one resumable piece."""

    start: dt.datetime
    end: dt.datetime


def time_windows(start: dt.datetime, end: dt.datetime, size: dt.timedelta) -> Iterator[TimeWindow]:
    """Cut [start, end) into windows of `size`, oldest first (the last one may be shorter)."""
    while start < end:
        window_end = min(start + size, end)
        yield TimeWindow(start, window_end)
        start = window_end


def company_zone(name: str | None) -> dt.tzinfo | None:
    """The zone for Gong's `timeZone` name, or None when the name is unknown here."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def company_day(instant: dt.datetime, zone: dt.tzinfo | None) -> dt.date:
    """The company day that holds `instant`: at `now`, the latest `toDate` Gong accepts for stats.

    Without the company zone, the earliest day it is anywhere on Earth (UTC-12): a day
    complete there is complete for every company, and the day that holds `start_date`
    there starts no later than the company's own.
    """
    return instant.astimezone(zone or LATEST_ZONE).date()


def latest_company_day(instant: dt.datetime, zone: dt.tzinfo | None) -> dt.date:
    """The company day that contains `instant`; without the zone, the latest it is anywhere."""
    return instant.astimezone(zone or EARLIEST_ZONE).date()
