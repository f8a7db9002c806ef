"""Coaching and activity: `scorecards`, `answered_scorecards`, `user_activity`, `trackers`."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from gong_sandbox import GongSandbox
from tests.support import (
    TapRun,
    assert_as_gong_sent,
    assert_schema_valid,
    instant,
    run_tap,
    sandbox_settings,
    tap_config,
)

COACHING_STREAMS = ("scorecards", "answered_scorecards", "user_activity", "trackers")
# The coaching streams and interaction_stats, which learns the company zone they share.
COACHING_AND_ZONE = (*COACHING_STREAMS, "interaction_stats")
SCORECARDS_PATH = "/v2/settings/scorecards"
ANSWERED_PATH = "/v2/stats/activity/scorecards"
ACTIVITY_PATH = "/v2/stats/activity/day-by-day"
TRACKERS_PATH = "/v2/settings/trackers"
DAYS_PER_REQUEST = 30
ONE_DAY = dt.timedelta(days=1)
# Gong's local date-times, e.g. 2024-03-09T15:40:00-08:00.


def filters(sandbox: GongSandbox, path: str, since: int = 0) -> list[dict]:
    """The `filter` of each request to `path`, from the `since`-th request of the run on."""
    return [(r.body or {})["filter"] for r in sandbox.requests[since:] if r.path == path]


def request_count(sandbox: GongSandbox, path: str) -> int:
    return sum(1 for r in sandbox.requests if r.path == path)


def keyed(records: list[dict], *key: str) -> dict[tuple, dict]:
    by_key = {tuple(r[k] for k in key): r for r in records}
    assert len(by_key) == len(records), "a record arrived twice"
    return by_key


def raw_answer(sandbox: GongSandbox, path: str) -> str:
    config = sandbox.tap_config()
    response = requests.get(
        config["api_url"] + path,
        auth=(config["access_key"], config["access_key_secret"]),
        timeout=10,
    )
    response.raise_for_status()
    return response.text


@pytest.fixture(scope="module")
def backfill(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[GongSandbox, dict, TapRun]]:
    with GongSandbox(sandbox_settings()) as sandbox:
        config = tap_config(sandbox)
        run = run_tap(config, tmp_path_factory.mktemp("backfill"), streams=None)
        assert run.returncode == 0, run.stderr
        yield sandbox, config, run


def first_day(config: dict[str, Any]) -> dt.date:
    """The day that holds start_date at UTC-12: the first company day before the zone is known."""
    return (instant(config["start_date"]) - dt.timedelta(hours=12)).date()


def first_company_day(sandbox: GongSandbox, config: dict[str, Any]) -> dt.date:
    """The company day that holds start_date."""
    return instant(config["start_date"]).astimezone(ZoneInfo(sandbox.settings.time_zone)).date()


def latest_day_anywhere(now: dt.datetime) -> dt.date:
    """The current day at UTC+14, the first zone on Earth to start a day."""
    return (now + dt.timedelta(hours=14)).date()


# -- every stream ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", COACHING_STREAMS)
def test_records_are_valid_against_the_schema_the_tap_announces(
    backfill: tuple[GongSandbox, dict, TapRun], stream: str
) -> None:
    _, _, run = backfill
    assert run.records(stream)
    assert_schema_valid(run, stream)


# -- full-table streams ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "path", "key", "expected"),
    [
        ("scorecards", SCORECARDS_PATH, "scorecardId", GongSandbox.scorecards),
        ("trackers", TRACKERS_PATH, "trackerId", GongSandbox.trackers),
    ],
)
def test_settings_are_read_whole_in_one_request_equal_to_gong(
    backfill: tuple[GongSandbox, dict, TapRun], stream: str, path: str, key: str, expected: Any
) -> None:
    sandbox, _, run = backfill
    sent = {str(item[key]): item for item in expected(sandbox)}
    records = keyed(run.records(stream), key)
    assert {k for (k,) in records} == set(sent)
    for (record_key,), record in records.items():
        assert_as_gong_sent(record, sent[record_key], record_key)
    assert request_count(sandbox, path) == 1
    assert run.final_state["bookmarks"].get(stream, {}).get("replication_key_value") is None


@pytest.mark.parametrize(
    ("stream", "path", "items_key", "id_fields"),
    [
        ("scorecards", SCORECARDS_PATH, "scorecards", ("scorecardId", "updaterUserId")),
        ("answered_scorecards", ANSWERED_PATH, "answeredScorecards", ("answeredScorecardId",)),
    ],
)
def test_scorecard_ids_are_the_exact_digits_gong_sent_beyond_2_to_the_53(
    backfill: tuple[GongSandbox, dict, TapRun],
    stream: str,
    path: str,
    items_key: str,
    id_fields: tuple[str, ...],
) -> None:
    sandbox, config, run = backfill
    if path == SCORECARDS_PATH:
        raw = raw_answer(sandbox, path)
    else:
        raw = json.dumps({items_key: sandbox.answered_scorecards(review_from=first_day(config))})
    records = run.records(stream)
    emitted_ids = [record[field] for record in records for field in id_fields]
    assert any(int(value) > 2**53 for value in emitted_ids)  # beyond a double's integers
    for value in emitted_ids:
        assert isinstance(value, str)
        assert re.search(rf"[:\s]{value}[,}}]", raw), f"{value} is not a number Gong sent"


# -- answered_scorecards ----------------------------------------------------------------------


def test_answered_scorecards_backfill_reads_every_review_up_to_now_in_month_requests(
    backfill: tuple[GongSandbox, dict, TapRun],
) -> None:
    sandbox, config, run = backfill
    sent = {
        str(item["answeredScorecardId"]): item
        for item in sandbox.answered_scorecards(review_from=first_day(config))
    }
    records = keyed(run.records("answered_scorecards"), "answeredScorecardId")
    assert {k for (k,) in records} == set(sent)
    for (review_id,), record in records.items():
        assert_as_gong_sent(record, sent[review_id], review_id)

    today = sandbox.company_today()
    # Synced before interaction_stats learns the zone: up to the current day anywhere.
    latest_today = latest_day_anywhere(sandbox.now())
    asked = filters(sandbox, ANSWERED_PATH)
    windows = sorted({(f["reviewFromDate"], f["reviewToDate"]) for f in asked})
    days = (latest_today + ONE_DAY - first_day(config)).days
    assert len(windows) == math.ceil(days / DAYS_PER_REQUEST)
    assert windows[0][0] == first_day(config).isoformat()
    assert windows[-1][1] == (latest_today + ONE_DAY).isoformat()  # the current day included
    # The current day is still filling up: the bookmark is the last finished day.
    assert run.bookmark("answered_scorecards") == (today - ONE_DAY).isoformat()


def test_answered_scorecards_next_run_brings_edits_in_the_lookback_and_later_reviews_of_today(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings()) as sandbox:
        first = run_tap(tap_config(sandbox), tmp_path, streams=COACHING_AND_ZONE)
        assert first.returncode == 0, first.stderr
        today = sandbox.company_today()
        yesterday = today - ONE_DAY
        seen = {r["answeredScorecardId"] for r in first.records("answered_scorecards")}
        edited = sandbox.answered_scorecards(review_from=yesterday, review_to=today)[0]
        edited_now = sandbox.edit_answered_scorecard(edited["answeredScorecardId"])
        assert edited_now["answers"] != edited["answers"]
        sandbox.advance_clock(dt.timedelta(hours=10))
        assert sandbox.company_today() == today  # later the same company day
        requests_before = len(sandbox.requests)

        second = run_tap(
            tap_config(sandbox, end_date=sandbox.now().isoformat()),
            tmp_path,
            state=first.final_state,
            streams=COACHING_AND_ZONE,
        )

        assert second.returncode == 0, second.stderr
        records = keyed(second.records("answered_scorecards"), "answeredScorecardId")
        sent = {
            str(item["answeredScorecardId"]): item
            for item in sandbox.answered_scorecards(review_from=yesterday)
        }
        assert {k for (k,) in records} == set(sent)  # the lookback day and today, no more
        filed_later_today = set(sent) - seen
        assert filed_later_today
        assert all(instant(sent[k]["reviewTime"]).date() >= yesterday for k in filed_later_today)
        edited_record = records[(str(edited["answeredScorecardId"]),)]
        assert_as_gong_sent(edited_record, edited_now)
        new_filters = filters(sandbox, ANSWERED_PATH, since=requests_before)
        assert {(f["reviewFromDate"], f["reviewToDate"]) for f in new_filters} == {
            (yesterday.isoformat(), (today + ONE_DAY).isoformat())
        }
        assert second.bookmark("answered_scorecards") == yesterday.isoformat()


# -- user_activity ---------------------------------------------------------------------------


def expected_activity(sandbox: GongSandbox, config: dict[str, Any]) -> dict[tuple, dict]:
    """Gong's day-by-day entries keyed like the stream: (userId, company day)."""
    expected = {}
    day = first_company_day(sandbox, config)
    while day < sandbox.company_today():
        for user in sandbox.user_activity(day):
            for day_stats in user["userDailyActivityStats"]:
                expected[(user["userId"], day.isoformat())] = {**user, **day_stats}
        day += ONE_DAY
    return expected


def test_user_activity_is_each_users_complete_company_days_with_counts(
    backfill: tuple[GongSandbox, dict, TapRun],
) -> None:
    sandbox, config, run = backfill
    expected = expected_activity(sandbox, config)
    records = keyed(run.records("user_activity"), "userId", "fromDate")
    assert set(records) == set(expected)
    for (_, day), record in records.items():
        sent = expected[(record["userId"], day)]
        assert record["userEmailAddress"] == sent["userEmailAddress"]
        assert record["toDate"] == (dt.date.fromisoformat(day) + ONE_DAY).isoformat()
        activity_lists = [name for name, value in sent.items() if isinstance(value, list)]
        activity_lists.remove("userDailyActivityStats")
        assert len(activity_lists) == 15
        for name in activity_lists:
            assert record[name] == sent[name]
            assert record[f"{name}Count"] == len(sent[name])
    assert any(r["callsAsHostCount"] > 0 for r in records.values())


def test_user_activity_asks_a_month_of_complete_days_per_request(
    backfill: tuple[GongSandbox, dict, TapRun],
) -> None:
    sandbox, config, run = backfill
    asked = filters(sandbox, ACTIVITY_PATH)
    windows = [
        (dt.date.fromisoformat(f["fromDate"]), dt.date.fromisoformat(f["toDate"])) for f in asked
    ]
    days = (sandbox.company_today() - first_day(config)).days
    assert len(windows) == math.ceil(days / DAYS_PER_REQUEST)  # one page per window here
    assert windows[0][0] == first_day(config)
    assert windows[-1][1] == sandbox.company_today()
    assert all(0 < (to - start).days <= DAYS_PER_REQUEST for start, to in windows)
    assert run.bookmark("user_activity") == (sandbox.company_today() - ONE_DAY).isoformat()


def test_user_activity_resumes_after_the_lookback_days(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings(days=70, calls=600)) as sandbox:
        config = tap_config(sandbox)
        first = run_tap(config, tmp_path, streams=COACHING_AND_ZONE)
        states = [
            s["bookmarks"]["user_activity"]
            for s in first.states
            if "user_activity" in s.get("bookmarks", {})
        ]
        committed = sorted(
            {s["replication_key_value"] for s in states if "replication_key_value" in s}
        )
        assert len(committed) == 3  # STATE after each of the three month windows
        sandbox.advance_clock(dt.timedelta(days=2))
        requests_before = len(sandbox.requests)

        second = run_tap(
            tap_config(sandbox, end_date=sandbox.now().isoformat()),
            tmp_path,
            state=first.final_state,
            streams=COACHING_AND_ZONE,
        )

        assert second.returncode == 0, second.stderr
        today = sandbox.company_today()
        new_filters = filters(sandbox, ACTIVITY_PATH, since=requests_before)
        # Two days on, a late-data re-read is due: from the company day 7 days before the
        # previous run (tap_gong/late_data.py), up to the days finished since.
        assert [(f["fromDate"], f["toDate"]) for f in new_filters] == [
            ((today - 9 * ONE_DAY).isoformat(), today.isoformat())
        ]
        days = {r["fromDate"] for r in second.records("user_activity")}
        assert days <= {(today - n * ONE_DAY).isoformat() for n in range(1, 10)}
        assert second.bookmark("user_activity") == (today - ONE_DAY).isoformat()


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])  # UTC+14, UTC-12
@pytest.mark.parametrize("utc_hour", [0, 6, 11, 12, 18, 23])
def test_company_days_reach_the_company_today_but_never_beyond_it(
    zone: str, utc_hour: int, tmp_path: Path
) -> None:
    now = dt.datetime(2024, 3, 10, utc_hour, 30, tzinfo=dt.timezone.utc)
    with GongSandbox(sandbox_settings(now=now, time_zone=zone, days=5, calls=200)) as sandbox:
        config = tap_config(sandbox)
        today = sandbox.company_today()
        first = run_tap(config, tmp_path, streams=COACHING_AND_ZONE)
        # The SDK syncs streams by name: answered_scorecards runs before interaction_stats
        # has learned the zone, so on a first run it reads up to the day at UTC+14.
        first_reviews = filters(sandbox, ANSWERED_PATH)
        second_run_from = len(sandbox.requests)
        second = run_tap(config, tmp_path, state=first.final_state, streams=COACHING_AND_ZONE)

        for run in (first, second):
            assert run.returncode == 0, run.stderr
            assert run.bookmark("user_activity") == (today - ONE_DAY).isoformat()
            assert run.bookmark("answered_scorecards") < today.isoformat()
        assert sandbox.counters()["400"] == 0
        # Complete days only for activity, the zone learned the same run; the current
        # day too for reviews once the zone is known.
        assert max(f["toDate"] for f in filters(sandbox, ACTIVITY_PATH)) == today.isoformat()
        assert (
            max(f["reviewToDate"] for f in first_reviews)
            == (latest_day_anywhere(now) + ONE_DAY).isoformat()
        )
        second_reviews = filters(sandbox, ANSWERED_PATH, since=second_run_from)
        assert max(f["reviewToDate"] for f in second_reviews) == (today + ONE_DAY).isoformat()
        assert second.bookmark("answered_scorecards") == (today - ONE_DAY).isoformat()
        assert {(r["userId"], r["fromDate"]) for r in first.records("user_activity")} == set(
            expected_activity(sandbox, config)
        )


@pytest.mark.parametrize("utc_hour", [0, 11, 23])
def test_without_a_known_company_zone_days_wait_until_over_everywhere(
    utc_hour: int, tmp_path: Path
) -> None:
    now = dt.datetime(2024, 3, 10, utc_hour, 30, tzinfo=dt.timezone.utc)
    settings = sandbox_settings(now=now, time_zone="Pacific/Kiritimati", days=5, calls=200)
    with GongSandbox(settings) as sandbox:
        config = tap_config(sandbox)
        run = run_tap(
            config,
            tmp_path,
            streams=(
                "user_activity",
                "answered_scorecards",
            ),
        )

        assert run.returncode == 0, run.stderr
        assert sandbox.counters()["400"] == 0
        assert not run.records("interaction_stats")
        earliest_today = (now - dt.timedelta(hours=12)).date()  # the day at UTC-12
        assert (
            max(f["toDate"] for f in filters(sandbox, ACTIVITY_PATH)) == earliest_today.isoformat()
        )
        # Gong accepts a future reviewToDate: reviews read up to the current day anywhere.
        last_review_day = max(f["reviewToDate"] for f in filters(sandbox, ANSWERED_PATH))
        assert last_review_day == (latest_day_anywhere(now) + ONE_DAY).isoformat()


def test_request_budget_spent_before_a_settings_list_is_a_planned_stop(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings()) as sandbox:
        config = tap_config(sandbox, max_requests_per_run=1)

        run = run_tap(
            config,
            tmp_path,
            streams=(
                "scorecards",
                "trackers",
            ),
        )

        assert run.returncode == 0, run.stderr
        assert request_count(sandbox, SCORECARDS_PATH) == 1
        assert request_count(sandbox, TRACKERS_PATH) == 0
        assert len(run.records("scorecards")) == len(sandbox.scorecards())
        assert not run.records("trackers")
        assert "trackers: stopped by the budget" in run.stderr


def test_days_gong_says_are_not_over_are_left_for_the_next_run(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings()) as sandbox:
        # The tap's clock a day ahead of Gong's: Gong refuses the window's last day.
        config = tap_config(sandbox, end_date=(sandbox.now() + ONE_DAY).isoformat())

        run = run_tap(
            config,
            tmp_path,
            streams=(
                "answered_scorecards",
                "user_activity",
            ),
        )

        assert run.returncode == 0, run.stderr
        # Gong accepts a future reviewToDate: only the activity window is refused.
        assert sandbox.counters()["400"] == 1
        warnings = [line for line in run.stderr.splitlines() if "WARNING" in line]
        assert sum("is not over yet" in line for line in warnings) == 1
        assert "replication_key_value" not in run.final_state["bookmarks"]["user_activity"]
        assert run.records("answered_scorecards")


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])  # UTC+14, UTC-12
def test_a_first_run_reads_every_review_from_start_date_to_now_in_any_company_zone(
    zone: str, tmp_path: Path
) -> None:
    # 23:30 on the 10th at UTC+14, 21:30 on the 8th at UTC-12.
    now = dt.datetime(2024, 3, 10, 9, 30, tzinfo=dt.timezone.utc)
    start = dt.datetime(2024, 3, 6, 0, 30, tzinfo=dt.timezone.utc)  # 12:30 on the 5th at UTC-12
    with GongSandbox(sandbox_settings(now=now, time_zone=zone, days=6, calls=400)) as sandbox:
        config = tap_config(sandbox, start_date=start.isoformat())

        run = run_tap(config, tmp_path, streams=("answered_scorecards",))

        assert run.returncode == 0, run.stderr
        since_start = {
            str(review["answeredScorecardId"]): review
            for review in sandbox.answered_scorecards()
            if instant(review["reviewTime"]) >= start
        }
        today = sandbox.company_today()
        reviewed_today = {
            str(review["answeredScorecardId"])
            for review in sandbox.answered_scorecards(review_from=today)
        }
        assert reviewed_today
        records = keyed(run.records("answered_scorecards"), "answeredScorecardId")
        assert set(since_start) | reviewed_today <= {key for (key,) in records}
