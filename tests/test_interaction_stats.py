"""The `interaction_stats` stream: one record per user per complete company day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gong_sandbox import GongSandbox
from tests.support import (
    expected_stats,
    instant,
    json_body,
    run_tap,
    sandbox_settings,
    tap_config,
)

PIVOTED = {
    "Longest Monologue": "longestMonologue",
    "Longest Customer Story": "longestCustomerStory",
    "Interactivity": "interactivity",
    "Patience": "patience",
    "Question Rate": "questionRate",
}


def stats_requests(sandbox: GongSandbox) -> list[dict]:
    return [json_body(r)["filter"] for r in sandbox.requests if r.path == "/v2/stats/interaction"]


def test_stats_records_equal_what_gong_computes_per_user_and_company_day(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = tap_config(sandbox)
    run = run_tap(config, tmp_path)

    assert run.returncode == 0, run.stderr
    expected = expected_stats(sandbox, config)
    records = {(r["userId"], r["fromDate"]): r for r in run.records("interaction_stats")}
    assert len(records) == len(run.records("interaction_stats")), "a user-day arrived twice"
    assert set(records) == set(expected)
    for key, record in records.items():
        item = expected[key]
        assert record["personInteractionStats"] == item["personInteractionStats"]
        for stat in item["personInteractionStats"]:
            assert record[PIVOTED[stat["name"]]] == stat["value"]
        assert record["userEmailAddress"] == item["userEmailAddress"]
        assert record["timeZone"] == item["timeZone"] == "America/Los_Angeles"
        next_day = dt.date.fromisoformat(record["fromDate"]) + dt.timedelta(days=1)
        assert record["toDate"] == next_day.isoformat()
        assert record["fromDateTime"].endswith("Z")
        assert instant(record["fromDateTime"]) == instant(item["fromDateTime"])
        assert instant(record["toDateTime"]) == instant(item["toDateTime"])


def test_stats_are_requested_one_company_day_at_a_time_oldest_first(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = tap_config(sandbox, max_concurrent_requests=1)  # in order: one at a time
    run_tap(config, tmp_path)

    filters = stats_requests(sandbox)
    days = [dt.date.fromisoformat(f["fromDate"]) for f in filters]
    first_day = dt.date.fromisoformat(config["start_date"][:10])
    assert len(days) == (sandbox.company_today() - first_day).days > 0  # every day, once
    assert days == sorted(days)
    for request_filter in filters:
        from_date = dt.date.fromisoformat(request_filter["fromDate"])
        assert dt.date.fromisoformat(request_filter["toDate"]) == from_date + dt.timedelta(days=1)


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])  # UTC+14, UTC-12
@pytest.mark.parametrize("utc_hour", [0, 6, 11, 12, 18, 23])
def test_stats_reach_the_company_today_but_never_beyond_it(
    zone: str, utc_hour: int, tmp_path: Path
) -> None:
    now = dt.datetime(2024, 3, 10, utc_hour, 30, tzinfo=dt.timezone.utc)
    with GongSandbox(sandbox_settings(now=now, time_zone=zone, days=5, calls=200)) as sandbox:
        run = run_tap(tap_config(sandbox), tmp_path)

        assert run.returncode == 0, run.stderr
        assert sandbox.counters()["400"] == 0
        last_to_date = max(f["toDate"] for f in stats_requests(sandbox))
        assert last_to_date == sandbox.company_today().isoformat()  # every complete day, no more


def test_user_ids_filter_reaches_gong(sandbox: GongSandbox, tmp_path: Path) -> None:
    user_id = sandbox.calls()[0]["primaryUserId"]
    run = run_tap(tap_config(sandbox, user_ids=[user_id]), tmp_path)

    assert {r["userId"] for r in run.records("interaction_stats")} == {user_id}
    assert all(f["userIds"] == [user_id] for f in stats_requests(sandbox))


def test_day_without_stats_is_not_an_error(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings(calls=12, days=20, users=2)) as sandbox:
        config = tap_config(sandbox)
        run = run_tap(config, tmp_path)

        assert run.returncode == 0, run.stderr
        assert sandbox.counters()["404"] > 0
        keys = {(r["userId"], r["fromDate"]) for r in run.records("interaction_stats")}
        assert keys == set(expected_stats(sandbox, config))
        last_complete_day = sandbox.company_today() - dt.timedelta(days=1)
        assert run.bookmark("interaction_stats") == last_complete_day.isoformat()
