"""Gong's rules, each checked where it lives: Retry-After, the company day, windows, settings."""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from gong_sandbox import GongSandbox
from tap_gong.answers import retry_after_seconds
from tap_gong.windows import company_day, time_windows, utc_iso
from tests.support import run_tap, tap_config

UTC = dt.timezone.utc


def answer_with(headers: dict[str, str]) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    return response


def test_retry_after_in_seconds_is_taken_as_is() -> None:
    assert retry_after_seconds(answer_with({"Retry-After": "17"})) == 17


def test_retry_after_as_an_http_date_is_the_time_until_then() -> None:
    later = dt.datetime.now(UTC) + dt.timedelta(seconds=120)
    header = email.utils.format_datetime(later, usegmt=True)

    seconds = retry_after_seconds(answer_with({"Retry-After": header}))
    assert seconds is not None
    assert 115 <= seconds <= 120


def test_missing_or_garbled_retry_after_is_unknown() -> None:
    assert retry_after_seconds(answer_with({})) is None
    assert retry_after_seconds(answer_with({"Retry-After": "soon"})) is None


@pytest.mark.parametrize(
    ("utc_now", "zone", "today"),
    [
        ("2024-03-10T11:30:00Z", "Pacific/Kiritimati", "2024-03-11"),  # UTC+14: already tomorrow
        ("2024-03-10T11:30:00Z", "Etc/GMT+12", "2024-03-09"),  # UTC-12: still yesterday
        ("2024-03-10T11:30:00Z", None, "2024-03-09"),  # zone unknown: the latest zone on Earth
        ("2024-03-10T23:30:00Z", None, "2024-03-10"),
    ],
)
def test_company_today_is_the_day_in_the_company_zone(
    utc_now: str, zone: str | None, today: str
) -> None:
    now = dt.datetime.fromisoformat(utc_now.replace("Z", "+00:00"))

    assert company_day(now, ZoneInfo(zone) if zone else None).isoformat() == today


def test_windows_cover_the_range_oldest_first_without_gaps() -> None:
    start = dt.datetime(2024, 1, 1, 6, tzinfo=UTC)
    end = dt.datetime(2024, 1, 8, 0, tzinfo=UTC)

    windows = list(time_windows(start, end, dt.timedelta(days=3)))

    assert [utc_iso(w.start) for w in windows] == [
        "2024-01-01T06:00:00Z",
        "2024-01-04T06:00:00Z",
        "2024-01-07T06:00:00Z",
    ]
    assert windows[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))


def test_settings_come_from_tap_gong_env_vars(sandbox: GongSandbox, tmp_path: Path) -> None:
    config = tap_config(sandbox)
    env = {f"TAP_GONG_{name.upper()}": str(value) for name, value in config.items()}

    run = run_tap({}, tmp_path, env=env, extra_args=("--config", "ENV"))

    assert run.returncode == 0, run.stderr
    assert {r["id"] for r in run.records("calls")} == {c["id"] for c in sandbox.calls()}
