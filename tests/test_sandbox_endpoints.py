"""The sandbox's endpoints beyond /v2/calls and /v2/stats/interaction, over real sockets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from gong_sandbox import GongSandbox, SandboxSettings

NOW = datetime(2024, 3, 10, 12, tzinfo=timezone.utc)
ZONE = ZoneInfo("America/Los_Angeles")
AUTH = ("sandbox-key", "sandbox-secret")
CONTENT_PARTS = (
    "structure", "topics", "trackers", "trackerOccurrences", "pointsOfInterest", "brief",
    "outline", "highlights", "callOutcome", "keyPoints",
)  # fmt: skip
EVERYTHING_AND_MEDIA = {
    "context": "Extended",
    "contextTiming": ["Now", "TimeOfCall"],
    "exposedFields": {
        "parties": True,
        "content": dict.fromkeys(CONTENT_PARTS, True),
        "interaction": dict.fromkeys(
            ("speakers", "video", "personInteractionStats", "questions"), True
        ),
        "collaboration": {"publicComments": True},
        "media": True,
    },
}
INT53 = 2**53


def make_settings(**overrides: Any) -> SandboxSettings:
    return SandboxSettings(
        **{"seed": 7, "calls": 150, "days": 10, "now": NOW, "page_size": 25, **overrides}
    )


@pytest.fixture
def sandbox() -> Iterator[GongSandbox]:
    with GongSandbox(make_settings()) as running:
        yield running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = AUTH
        yield session


def post(http: requests.Session, sandbox: GongSandbox, path: str, body: dict) -> requests.Response:
    return http.post(f"{sandbox.url}{path}", json=body, timeout=10)


def fetch_all(
    http: requests.Session, sandbox: GongSandbox, path: str, items_key: str, body: dict
) -> list[dict]:
    """Every page of a POST endpoint, the cursor in the body as Gong wants it."""
    items: list[dict] = []
    while True:
        answer = post(http, sandbox, path, body)
        assert answer.status_code == 200, answer.text
        items.extend(answer.json()[items_key])
        cursor = answer.json()["records"].get("cursor")
        if cursor is None:
            return items
        body = {**body, "cursor": cursor}


def extensive(http, sandbox, selector=None, **call_filter) -> list[dict]:
    body: dict[str, Any] = {"filter": call_filter}
    if selector is not None:
        body["contentSelector"] = selector
    return fetch_all(http, sandbox, "/v2/calls/extensive", "calls", body)


def transcripts(http, sandbox, **call_filter) -> list[dict]:
    return fetch_all(
        http, sandbox, "/v2/calls/transcript", "callTranscripts", {"filter": call_filter}
    )


def started(call: dict) -> datetime:
    return datetime.fromisoformat(call["started"])


# -- /v2/calls/extensive ---------------------------------------------------------------------


def test_extensive_pages_hold_every_call_started_in_the_range_once(sandbox, http):
    start, end = NOW - timedelta(days=4), NOW - timedelta(days=1)
    served = extensive(http, sandbox, fromDateTime=start.isoformat(), toDateTime=end.isoformat())

    ids = [call["metaData"]["id"] for call in served]
    assert len(ids) == len(set(ids)) > 25  # more than one page
    assert set(ids) == {call["id"] for call in sandbox.calls() if start <= started(call) < end}
    assert set(ids) == {item["metaData"]["id"] for item in sandbox.call_details(start, end)}


def test_extensive_filters_conference_calls_on_started_not_scheduled(sandbox, http):
    drifted = next(
        call
        for call in sandbox.calls()
        if call["direction"] == "Conference" and call["scheduled"] != call["started"]
    )
    second = timedelta(seconds=1)

    def served_ids(at: datetime) -> set[str]:
        answer = post(
            http,
            sandbox,
            "/v2/calls/extensive",
            {"filter": {"fromDateTime": at.isoformat(), "toDateTime": (at + second).isoformat()}},
        )
        return {c["metaData"]["id"] for c in answer.json()["calls"]} if answer.ok else set()

    assert drifted["id"] in served_ids(started(drifted))
    assert drifted["id"] not in served_ids(datetime.fromisoformat(drifted["scheduled"]))


def test_extensive_metadata_is_the_calls_object_of_that_call(sandbox, http):
    calls = {call["id"]: call for call in sandbox.calls()}
    for item in extensive(http, sandbox):
        assert item["metaData"] == calls[item["metaData"]["id"]]
        assert set(item) == {"metaData"}  # nothing asked, nothing more


def test_extensive_answers_only_the_parts_asked_for(sandbox, http):
    selector = {"exposedFields": {"parties": True, "interaction": {"personInteractionStats": True}}}
    items = extensive(http, sandbox, selector)

    assert {key for item in items for key in item} == {"metaData", "parties", "interaction"}
    assert {key for item in items if "interaction" in item for key in item["interaction"]} == {
        "interactionStats"
    }
    imported = [item for item in items if item["metaData"].get("customData") == "imported"]
    assert imported
    assert all("parties" not in item for item in imported)  # imported calls have no parties


def test_every_part_is_served_when_asked_and_available(sandbox, http):
    items = extensive(http, sandbox, EVERYTHING_AND_MEDIA)
    assert {key for item in items for key in item} == {
        "metaData", "context", "parties", "content", "interaction", "collaboration", "media",
    }  # fmt: skip
    content_keys = {key for item in items for key in item.get("content", {})}
    assert content_keys == {
        "structure", "topics", "trackers", "pointsOfInterest", "brief", "outline",
        "highlights", "callOutcome", "keyPoints",
    }  # fmt: skip
    assert any("brief" not in item.get("content", {}) for item in items)  # not every call has one
    assert any(item["collaboration"] == {} for item in items)
    assert any(item["context"] == [] for item in items)


def test_media_urls_change_on_every_request(sandbox, http):
    selector = {"exposedFields": {"media": True}}
    first = {i["metaData"]["id"]: i["media"] for i in extensive(http, sandbox, selector)}
    second = {i["metaData"]["id"]: i["media"] for i in extensive(http, sandbox, selector)}
    assert first.keys() == second.keys()
    assert all(first[call_id]["audioUrl"] != second[call_id]["audioUrl"] for call_id in first)


def test_parties_speaker_ids_are_the_transcripts_and_internal_parties_are_users(sandbox, http):
    parties_by_call = {
        item["metaData"]["id"]: item["parties"]
        for item in extensive(http, sandbox, {"exposedFields": {"parties": True}})
        if "parties" in item
    }
    user_ids = {user["id"] for user in sandbox.users()}
    checked = 0
    for transcript in transcripts(http, sandbox):
        parties = parties_by_call.get(transcript["callId"])
        if parties is None:
            continue
        speaker_ids = {party["speakerId"] for party in parties if party["speakerId"]}
        assert {monologue["speakerId"] for monologue in transcript["transcript"]} <= speaker_ids
        checked += 1
    assert checked > 50
    for parties in parties_by_call.values():
        internal = [party for party in parties if party["affiliation"] == "Internal"]
        assert internal
        assert all(party["userId"] in user_ids for party in internal)
        assert all("userId" not in party for party in parties if party not in internal)


def test_parties_carry_their_crm_links_only_when_the_selector_asks_for_context(sandbox, http):
    def parties(selector):
        return [p for item in extensive(http, sandbox, selector) for p in item.get("parties", [])]

    assert not any("context" in party for party in parties({"exposedFields": {"parties": True}}))
    extended = {"context": "Extended", "exposedFields": {"parties": True}}
    linked = [party["context"] for party in parties(extended) if "context" in party]
    assert linked
    assert all(crm_object["fields"] for links in linked for crm_object in links[0]["objects"])


def test_call_trackers_join_the_keyword_trackers(sandbox):
    tracker_ids = {tracker["trackerId"] for tracker in sandbox.trackers()}
    call_trackers = [
        tracker
        for item in sandbox.call_details()
        for tracker in item.get("content", {}).get("trackers", [])
    ]
    keyword = [tracker["id"] for tracker in call_trackers if tracker["type"] == "KEYWORD"]
    assert keyword
    assert set(keyword) <= tracker_ids
    assert {t["id"] for t in call_trackers if t["type"] == "SMART"}.isdisjoint(tracker_ids)


def test_crm_field_values_come_in_every_json_type(sandbox):
    values = [
        field["value"]
        for item in sandbox.call_details()
        for system in item.get("context", [])
        for crm_object in system["objects"]
        for field in crm_object["fields"]
    ]
    assert {type(value) for value in values} == {str, int, float, bool, dict, list, type(None)}


def test_comment_times_carry_the_company_offset(sandbox):
    posted = [
        comment["posted"]
        for item in sandbox.call_details()
        for comment in item["collaboration"].get("publicComments", [])
    ]
    assert posted
    assert all(re.search(r"-0[78]:00$", value) for value in posted)
    assert all(datetime.fromisoformat(value) <= NOW for value in posted)


def test_extensive_empty_range_answers_404_and_empty_call_ids_400(sandbox, http):
    empty = post(
        http,
        sandbox,
        "/v2/calls/extensive",
        {"filter": {"fromDateTime": "2020-01-01T00:00:00Z", "toDateTime": "2020-01-02T00:00:00Z"}},
    )
    assert empty.status_code == 404
    assert empty.json()["errors"] == ["No calls found corresponding to the provided filters"]

    no_ids = post(http, sandbox, "/v2/calls/extensive", {"filter": {"callIds": []}})
    assert no_ids.status_code == 400


def test_extensive_filters_on_call_ids_and_hosts(sandbox, http):
    calls = sandbox.calls()
    host = calls[0]["primaryUserId"]
    wanted = [call["id"] for call in calls[:5]]
    assert {c["metaData"]["id"] for c in extensive(http, sandbox, callIds=wanted)} == set(wanted)
    by_host = extensive(http, sandbox, primaryUserIds=[host])
    assert {c["metaData"]["id"] for c in by_host} == {
        call["id"] for call in calls if call["primaryUserId"] == host
    }


# -- /v2/calls/transcript --------------------------------------------------------------------


def test_transcripts_hold_the_knobs_sentences_and_some_calls_have_none(sandbox, http):
    sandbox.configure(transcript_sentences=7)
    served = transcripts(http, sandbox)

    assert {item["callId"]: item for item in served} == {
        item["callId"]: item for item in sandbox.transcripts()
    }
    assert all(
        sum(len(monologue["sentences"]) for monologue in item["transcript"]) == 7 for item in served
    )
    assert 0 < len(served) < len(sandbox.calls())


def test_transcripts_take_up_to_100_call_ids(sandbox, http):
    ids = [call["id"] for call in sandbox.calls()]
    assert post(http, sandbox, "/v2/calls/transcript", {"filter": {"callIds": ids[:100]}}).ok
    too_many = post(http, sandbox, "/v2/calls/transcript", {"filter": {"callIds": ids[:101]}})
    assert too_many.status_code == 400
    assert too_many.json()["errors"] == ["filter.callIds accepts at most 100 call ids, got 101"]


def test_transcripts_of_an_empty_range_answer_404(sandbox, http):
    answer = post(
        http, sandbox, "/v2/calls/transcript", {"filter": {"toDateTime": "2020-01-01T00:00:00Z"}}
    )
    assert answer.status_code == 404
    assert answer.json()["errors"] == ["No calls found corresponding to the provided filters"]


# -- users, workspaces, trackers, scorecards ---------------------------------------------------


def test_users_are_paged_with_the_cursor_in_the_query(http):
    with GongSandbox(make_settings(users=7, page_size=3)) as sandbox:
        users, params = [], {}
        while True:
            answer = http.get(f"{sandbox.url}/v2/users", params=params, timeout=10)
            assert answer.status_code == 200
            users += answer.json()["users"]
            if "cursor" not in answer.json()["records"]:
                break
            params = {"cursor": answer.json()["records"]["cursor"]}
        with_avatars = http.get(
            f"{sandbox.url}/v2/users", params={"includeAvatars": "true"}, timeout=10
        ).json()

    assert users == sandbox.users()
    assert len(users) == 7
    assert with_avatars["records"]["totalRecords"] == 8
    assert {user["managerId"] for user in users} - {None} <= {user["id"] for user in users}
    assert all(re.search(r"[+-]\d\d:\d\d$", user["created"]) for user in users)


def test_unpaged_settings_answer_200(sandbox, http):
    for path, key, expected in (
        ("/v2/workspaces", "workspaces", sandbox.workspaces()),
        ("/v2/settings/trackers", "keywordTrackers", sandbox.trackers()),
        ("/v2/settings/scorecards", "scorecards", sandbox.scorecards()),
    ):
        answer = http.get(f"{sandbox.url}{path}", timeout=10)
        assert answer.status_code == 200
        assert answer.json()[key] == expected
        assert "records" not in answer.json()
    workspace_id = sandbox.workspaces()[1]["id"]
    one = http.get(
        f"{sandbox.url}/v2/settings/trackers", params={"workspaceId": workspace_id}, timeout=10
    )
    assert {t["workspaceId"] for t in one.json()["keywordTrackers"]} == {workspace_id}
    unknown = http.get(f"{sandbox.url}/v2/settings/trackers", params={"workspaceId": "1"})
    assert unknown.status_code == 404


def test_scorecard_ids_are_json_numbers_beyond_double_precision(sandbox, http):
    raw = http.get(f"{sandbox.url}/v2/settings/scorecards", timeout=10).text
    exact = json.loads(raw)["scorecards"]
    through_doubles = json.loads(raw, parse_int=float)["scorecards"]

    assert re.search(r'"scorecardId":\d{17,}', raw)
    assert all(card["scorecardId"] > INT53 for card in exact)
    assert [int(card["scorecardId"]) for card in through_doubles] != [
        card["scorecardId"] for card in exact
    ]


# -- /v2/stats/activity/scorecards -------------------------------------------------------------


def answered(http, sandbox, **scorecard_filter) -> requests.Response:
    return post(http, sandbox, "/v2/stats/activity/scorecards", {"filter": scorecard_filter})


def test_answered_scorecards_are_filtered_on_the_review_company_day(sandbox, http):
    day = NOW.astimezone(ZONE).date() - timedelta(days=3)
    next_day = day + timedelta(days=1)
    served = fetch_all(
        http,
        sandbox,
        "/v2/stats/activity/scorecards",
        "answeredScorecards",
        {"filter": {"reviewFromDate": day.isoformat(), "reviewToDate": next_day.isoformat()}},
    )
    expected = sandbox.answered_scorecards(review_from=day, review_to=next_day)
    assert served
    assert sorted(served, key=lambda a: a["answeredScorecardId"]) == sorted(
        expected, key=lambda a: a["answeredScorecardId"]
    )
    assert {datetime.fromisoformat(a["reviewTime"]).date() for a in served} == {day}
    calls = {call["id"]: call for call in sandbox.calls()}
    for item in served:
        call = calls[str(item["callId"])]
        assert item["reviewedUserId"] == int(call["primaryUserId"])
        assert datetime.fromisoformat(item["reviewTime"]) > started(call)


def test_answered_scorecard_ids_are_json_numbers_in_the_raw_body(sandbox, http):
    raw = answered(http, sandbox).text
    for name in ("answeredScorecardId", "scorecardId", "callId", "reviewerUserId", "questionId"):
        assert re.search(rf'"{name}":\d{{16,}}[,}}]', raw), name
    assert not re.search(r'"answeredScorecardId":"', raw)


def test_review_to_date_may_be_in_the_future(sandbox, http):
    today = sandbox.company_today()
    tomorrow = answered(http, sandbox, reviewToDate=(today + timedelta(days=1)).isoformat())
    later = answered(http, sandbox, reviewToDate=(today + timedelta(days=2)).isoformat())
    assert tomorrow.status_code == 200
    assert later.status_code == 200
    assert later.json()["records"]["totalRecords"] == tomorrow.json()["records"]["totalRecords"]


def test_no_answered_scorecards_answers_404_with_gongs_wording(sandbox, http):
    answer = answered(http, sandbox, reviewFromDate="2020-01-01", reviewToDate="2020-01-02")
    assert answer.status_code == 404
    assert answer.json()["errors"] == [
        "No answered scorecards found corresponding to the provided filters."
    ]


def test_an_edited_answer_keeps_its_id_and_is_served_with_new_values(sandbox, http):
    before = sandbox.answered_scorecards()[-1]
    review_day = datetime.fromisoformat(before["reviewTime"]).date()
    window = {
        "reviewFromDate": review_day.isoformat(),
        "reviewToDate": (review_day + timedelta(days=1)).isoformat(),
    }

    edited = sandbox.edit_answered_scorecard(before["answeredScorecardId"])

    served = {
        a["answeredScorecardId"]: a
        for a in answered(http, sandbox, **window).json()["answeredScorecards"]
    }
    assert served[before["answeredScorecardId"]] == edited
    assert edited["answers"] != before["answers"]
    assert edited["reviewTime"] == before["reviewTime"]


# -- /v2/stats/activity/day-by-day -------------------------------------------------------------


def day_by_day(http, sandbox, from_day: date, to_day: date, **extra) -> requests.Response:
    stats_filter = {"fromDate": from_day.isoformat(), "toDate": to_day.isoformat(), **extra}
    return post(http, sandbox, "/v2/stats/activity/day-by-day", {"filter": stats_filter})


def test_day_by_day_lists_the_calls_each_user_hosted_that_company_day(sandbox, http):
    day = sandbox.stats_days()[-3]
    items = day_by_day(http, sandbox, day, day + timedelta(days=1)).json()[
        "usersDetailedActivities"
    ]
    assert items == sandbox.user_activity(day)
    hosted = {
        item["userId"]: set(item["userDailyActivityStats"][0]["callsAsHost"]) for item in items
    }
    for call in sandbox.calls():
        if started(call).astimezone(ZONE).date() == day:
            assert call["id"] in hosted[call["primaryUserId"]]
    assert sum(map(len, hosted.values())) == sum(
        started(call).astimezone(ZONE).date() == day for call in sandbox.calls()
    )
    assert items[0]["userDailyActivityStats"][0]["fromDate"] == f"{day}T00:00:00-08:00"


def test_day_by_day_has_one_entry_per_active_day(http):
    with GongSandbox(make_settings(calls=40)) as sandbox:
        today = sandbox.company_today()
        items = day_by_day(http, sandbox, today - timedelta(days=6), today).json()[
            "usersDetailedActivities"
        ]
    for item in items:
        days = [entry["fromDate"] for entry in item["userDailyActivityStats"]]
        assert days == sorted(set(days))
        assert all(
            any(entry[kind] for kind in entry if kind not in ("fromDate", "toDate"))
            for entry in item["userDailyActivityStats"]
        )
    assert any(len(item["userDailyActivityStats"]) < 6 for item in items)


def test_day_by_day_rules_for_dates(sandbox, http):
    today = sandbox.company_today()
    assert day_by_day(http, sandbox, today, today + timedelta(days=1)).status_code == 400
    empty = day_by_day(http, sandbox, date(2020, 1, 1), date(2020, 1, 2))
    assert empty.status_code == 404
    assert empty.json()["errors"] == ["No users found corresponding to the provided filters"]


# -- deleted and added calls -------------------------------------------------------------------


def test_deleted_calls_vanish_from_every_endpoint(sandbox, http):
    reviewed = {str(item["callId"]) for item in sandbox.answered_scorecards()}
    victim = next(call for call in sandbox.calls() if call["id"] in reviewed)
    day = started(victim).astimezone(ZONE).date()
    hosted_before = {
        i["userId"]: i["userDailyActivityStats"][0]["callsAsHost"]
        for i in sandbox.user_activity(day)
    }
    assert victim["id"] in hosted_before[victim["primaryUserId"]]

    sandbox.delete_calls([victim["id"]])

    every = {"fromDateTime": "2024-01-01T00:00:00Z", "toDateTime": "2024-04-01T00:00:00Z"}
    served_calls = http.get(f"{sandbox.url}/v2/calls", params=every, timeout=10).json()
    assert victim["id"] not in {call["id"] for call in served_calls["calls"]}
    assert victim["id"] not in {c["metaData"]["id"] for c in extensive(http, sandbox)}
    assert victim["id"] not in {t["callId"] for t in transcripts(http, sandbox)}
    assert victim["id"] not in {str(a["callId"]) for a in sandbox.answered_scorecards()}
    gone = post(http, sandbox, "/v2/calls/extensive", {"filter": {"callIds": [victim["id"]]}})
    assert gone.status_code == 404
    activity = json.dumps(sandbox.user_activity(day))
    assert victim["id"] not in activity
    assert victim["id"] not in json.dumps(sandbox.interaction_stats(day))


def test_calls_added_long_after_they_started_show_up_in_every_call_endpoint(sandbox, http):
    start, end = NOW - timedelta(days=8), NOW - timedelta(days=7)
    added = sandbox.add_calls(6, start=start, end=end)
    added_ids = {call["id"] for call in added}
    window = {
        "fromDateTime": (start - timedelta(hours=1)).isoformat(),
        "toDateTime": end.isoformat(),
    }

    assert added_ids <= {c["metaData"]["id"] for c in extensive(http, sandbox, **window)}
    with_transcript = {t["callId"] for t in sandbox.transcripts() if t["callId"] in added_ids}
    assert with_transcript <= {t["callId"] for t in transcripts(http, sandbox, **window)}
    assert with_transcript


def test_content_is_the_same_for_the_same_settings():
    first, second = GongSandbox(make_settings()), GongSandbox(make_settings())
    assert first.call_details() == second.call_details()
    assert first.transcripts() == second.transcripts()
    assert first.answered_scorecards() == second.answered_scorecards()
    assert first.users() == second.users()
    assert first.trackers() == second.trackers()
