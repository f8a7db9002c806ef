"""One Meltano pipeline's life against the Gong sandbox, and what Gong holds at each step.

1. `meltano run tap-gong <loader>`: the first, full load.
2. The same again with nothing new in Gong.
3. Gong moves on a day: new calls, late calls revealed inside the lookback, calls
   backdated onto the last loaded company day (so a loaded stats day changes), and an
   answered scorecard of that day edited. Then `meltano schedule run <schedule>`, which
   runs the pipeline's job with the state of the runs before.

After each run every stream's table is read back next to what the sandbox holds, with
the requests the run made, so the tests compare the two.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from gong_sandbox import GongSandbox, RequestLogEntry, SandboxSettings
from tap_gong.streams import LOG_TYPES, STREAM_TYPES, log_id, period_end, period_start
from tap_gong.windows import parse_instant, utc_iso
from tests.e2e.meltano_project import REPO_ROOT, MeltanoProject
from tests.e2e.meltano_runner import tap_gong_environment
from tests.e2e.warehouses import Warehouse

UTC = dt.timezone.utc
# 11:00 in the company zone (America/Los_Angeles): the company day and the UTC day differ.
SANDBOX_NOW = dt.datetime(2024, 3, 20, 18, 0, tzinfo=UTC)
HISTORY_DAYS = 30
START_DATE = SANDBOX_NOW - dt.timedelta(days=HISTORY_DAYS + 1)
LOOKBACK = dt.timedelta(days=1)
OFFSET_INSTANT = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$"
)  # lookback_window_days' default, as meltano.yml sets it
# Each stream's table and its primary key, as the warehouses name the columns (lower case).
TABLE_KEYS = {
    # Read from each class's own attributes: the SDK types them per instance.
    vars(stream)["name"]: tuple(key.lower() for key in vars(stream)["primary_keys"])
    for stream in STREAM_TYPES
}


def sandbox_settings() -> SandboxSettings:
    return SandboxSettings(
        seed=11, users=8, workspaces=2, calls=300, days=HISTORY_DAYS, now=SANDBOX_NOW, late_calls=6
    )


def utc_naive(value: str | None) -> dt.datetime | None:
    """An ISO-8601 instant with any offset as the UTC wall-clock a warehouse column holds."""
    if value is None:
        return None
    instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return instant.astimezone(UTC).replace(tzinfo=None)


def schema_properties(stream: str) -> dict[str, Any]:
    return json.loads((REPO_ROOT / "schemas" / f"{stream}.json").read_text())["properties"]


def expected_row(
    record: dict[str, Any], properties: dict[str, Any], empty_text_as_null: bool
) -> dict[str, Any]:
    """A record as its warehouse row: every schema field (absent ones NULL), lower-case
    names, top-level instants as UTC wall-clock, ids Gong sends as numbers as their digits,
    empty text NULL where the warehouse loads it so. Nested values stay Gong's;
    `same_value` compares them."""
    by_name = {name.lower(): value for name, value in record.items()}
    row = {}
    for name, schema in properties.items():
        value = by_name.get(name.lower())
        if schema.get("format") == "date-time":
            value = utc_naive(value)
        elif schema["type"] in ("string", ["string", "null"]) and type(value) is int:
            value = str(value)
        elif value == "" and empty_text_as_null:
            value = None
        row[name.lower()] = value
    return row


def stats_record(item: dict[str, Any], day: dt.date) -> dict[str, Any]:
    """One user's company day: Gong's item, the day, and each stat pivoted into a column."""
    record = {**item, "fromDate": day.isoformat(), "toDate": next_day(day)}
    for stat in item["personInteractionStats"]:
        record[stat["name"].replace(" ", "")] = stat["value"]
    return record


def activity_records(user: dict[str, Any], day: dt.date) -> list[dict[str, Any]]:
    """One user's activity of one company day: Gong's lists, each with its count."""
    return [
        {
            **user,
            **day_stats,
            **{f"{name}Count": len(v) for name, v in day_stats.items() if isinstance(v, list)},
            "fromDate": day.isoformat(),
            "toDate": next_day(day),
        }
        for day_stats in user["userDailyActivityStats"]
    ]


def next_day(day: dt.date) -> str:
    return (day + dt.timedelta(days=1)).isoformat()


def call_parts(call: dict[str, Any]) -> dict[str, Any]:
    """A /v2/calls/extensive item as a call_details record: its id and start on top."""
    return {**call, "id": call["metaData"]["id"], "started": call["metaData"]["started"]}


def crm_object_records(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each CRM object linked to each call, per timing: call_crm_objects' rows."""
    return [
        {
            "callId": call["id"],
            "timing": crm_object["timing"],
            "system": link["system"],
            "objectType": crm_object["objectType"],
            "objectId": crm_object["objectId"],
            "started": call["started"],
            "fields": crm_object.get("fields"),
        }
        for call in details
        for link in call.get("context") or []
        for crm_object in link["objects"]
    ]


def tracker_hit_records(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each tracker that fired on each call (count above 0): call_trackers' rows."""
    return [
        {**tracker, "callId": call["id"], "trackerId": tracker["id"], "started": call["started"]}
        for call in details
        for tracker in (call.get("content") or {}).get("trackers") or []
        if tracker["count"] > 0
    ]


def library_records(sandbox: GongSandbox) -> dict[str, list[dict[str, Any]]]:
    """library_folders (each workspace's, with its id) and library_folder_calls."""
    folders = [
        {**folder, "workspaceId": workspace["id"]}
        for workspace in sandbox.workspaces()
        for folder in sandbox.library_folders(workspace["id"])
    ]
    return {
        "library_folders": folders,
        "library_folder_calls": [
            {**call, "folderId": folder["id"], "callId": call["id"]}
            for folder in folders
            for call in sandbox.library_folder_calls(folder["id"])
        ],
    }


def rest_api_records(sandbox: GongSandbox, start: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """Issue 26's streams: weekly activity from the week holding start_date's company day,
    settings history, logs, permission profiles and their users, each Engage flow once."""
    first_day = start.astimezone(ZoneInfo(sandbox.settings.time_zone)).date()
    monday = period_start(first_day, "WEEK")
    workspaces = [workspace["id"] for workspace in sandbox.workspaces()]
    profiles = [
        {**profile, "workspaceId": workspace_id}
        for workspace_id in workspaces
        for profile in sandbox.permission_profiles(workspace_id)
    ]
    flows = {
        flow["id"]: flow
        for user in sandbox.users()
        for flow in sandbox.engage_flows(user["emailAddress"]) or []
    }
    return {
        "activity_by_period": [
            {
                **{k: v for k, v in counts.items() if k not in ("fromDate", "toDate")},
                "userId": item["userId"],
                "userEmailAddress": item["userEmailAddress"],
                "aggregationPeriod": "WEEK",
                "fromDate": (week := period_start(day_of(counts["fromDate"]), "WEEK")).isoformat(),
                "toDate": period_end(week, "WEEK").isoformat(),
                "fromDateTime": counts["fromDate"],
                "toDateTime": counts["toDate"],
            }
            for item in sandbox.activity_by_period("WEEK", monday, sandbox.company_today())
            for counts in item["userAggregateActivity"]
        ],
        "user_settings_history": [
            {**change, "userId": user["id"], "time": utc_iso(parse_instant(change["time"]))}
            for user in sandbox.users()
            for change in sandbox.settings_history(user["id"])
        ],
        "audit_logs": [
            {**entry, "logType": log_type, "logId": log_id(log_type, entry)}
            for log_type in LOG_TYPES
            for entry in sandbox.log_entries(log_type, start, sandbox.now())
        ],
        "permission_profiles": profiles,
        "permission_profile_users": [
            {"profileId": profile["id"], "userId": user["id"], **user}
            for profile in profiles
            for user in sandbox.permission_profile_users(profile["id"])
        ],
        "engage_flows": list(flows.values()),
    }


def calls_filter(request: RequestLogEntry) -> dict[str, Any] | None:
    """The range a request for a stretch of calls asked for (None: no such request)."""
    if request.path == "/v2/calls":
        return request.query
    if request.path == "/v2/calls/extensive" and request.body:
        filter_: dict[str, Any] = request.body["filter"]
        return filter_
    return None


def day_of(instant: str) -> dt.date:
    """The calendar day of an ISO-8601 instant in its own offset (the company's)."""
    return dt.datetime.fromisoformat(instant).date()


def gong_records(
    sandbox: GongSandbox, start: dt.datetime = START_DATE
) -> dict[str, list[dict[str, Any]]]:
    """Every stream's records from `start` on (the pipeline's range), as the sandbox sends them."""
    end = sandbox.now()
    complete_days = [
        start.date() + dt.timedelta(days=n)
        for n in range((sandbox.company_today() - start.date()).days)
    ]
    details = [call_parts(call) for call in sandbox.call_details(start, end)]
    started = {call["id"]: call["started"] for call in details}
    # At start_date Gong's two lists of calls disagree: `GET /v2/calls` takes a web
    # conference by its scheduled time, `/extensive` by its start, and `calls` reads either
    # (call_details' pages while it runs). A call both list is in `calls` whichever is read.
    listed_by_both = [call for call in sandbox.calls(start, end) if call["id"] in started]
    reviews = sandbox.answered_scorecards(review_from=start.date())
    scorecards = sandbox.scorecards()
    return {
        "calls": listed_by_both,
        "interaction_stats": [
            stats_record(item, day)
            for day in complete_days
            for item in sandbox.interaction_stats(day)
        ],
        "call_details": details,
        "call_participants": [
            {**party, "callId": call["id"], "started": call["started"]}
            for call in details
            for party in call.get("parties") or []
        ],
        "call_transcripts": [
            {**item, "started": started[item["callId"]]} for item in sandbox.transcripts(start, end)
        ],
        "users": sandbox.users(),
        "workspaces": sandbox.workspaces(),
        "scorecards": scorecards,
        "answered_scorecards": reviews,
        "user_activity": [
            record
            for day in complete_days
            for user in sandbox.user_activity(day)
            for record in activity_records(user, day)
        ],
        "trackers": sandbox.trackers(),
        "call_crm_objects": crm_object_records(details),
        "call_trackers": tracker_hit_records(details),
        "scorecard_questions": [
            {**question, "scorecardId": card["scorecardId"]}
            for card in scorecards
            for question in card["questions"]
        ],
        "answered_scorecard_answers": [
            {**answer, **{name: review[name] for name in REVIEW_KEYS}}
            for review in reviews
            for answer in review["answers"]
        ],
        **library_records(sandbox),
        **rest_api_records(sandbox, start),
    }


# What each answer row keeps of its review.
REVIEW_KEYS = ("answeredScorecardId", "scorecardId", "callId", "reviewTime")


def key_of(row: dict[str, Any], key_columns: tuple[str, ...]) -> Any:
    return row[key_columns[0]] if len(key_columns) == 1 else tuple(row[c] for c in key_columns)


@dataclass(frozen=True)
class GongHolds:
    """What the sandbox holds for the pipeline's range: each stream's rows by primary key."""

    tables: dict[str, dict[Any, dict[str, Any]]]

    @property
    def calls(self) -> dict[Any, dict[str, Any]]:
        return self.tables["calls"]

    @property
    def stats(self) -> dict[Any, dict[str, Any]]:
        return self.tables["interaction_stats"]

    @classmethod
    def read(cls, sandbox: GongSandbox, empty_text_as_null: bool = False) -> GongHolds:
        """Every stream's rows; `empty_text_as_null` for a warehouse that loads "" so."""
        tables = {}
        for stream, records in gong_records(sandbox).items():
            properties = schema_properties(stream)
            rows = (expected_row(record, properties, empty_text_as_null) for record in records)
            tables[stream] = {key_of(row, TABLE_KEYS[stream]): row for row in rows}
        return cls(tables)

    def as_last_read(self, earlier: GongHolds, calls_read_from: dt.datetime) -> GongHolds:
        """What a run that re-read calls from `calls_read_from` on holds: details of older
        calls as the earlier run read them (comments posted on them since are not re-read)."""
        since = utc_naive(calls_read_from.isoformat())
        assert since is not None
        details = {
            call_id: row
            if row["started"] >= since
            else earlier.tables["call_details"].get(call_id, row)
            for call_id, row in self.tables["call_details"].items()
        }
        return GongHolds({**self.tables, "call_details": details})


@dataclass(frozen=True)
class Snapshot:
    """After one run: the warehouse's tables, what Gong holds, and what the run asked Gong."""

    tables: dict[str, list[dict[str, Any]]]
    gong: GongHolds
    requests: list[RequestLogEntry]

    @property
    def calls(self) -> list[dict[str, Any]]:
        return self.tables["calls"]

    @property
    def stats(self) -> list[dict[str, Any]]:
        return self.tables["interaction_stats"]

    def earliest_calls_request(self) -> dt.datetime | None:
        """The earliest fromDateTime the run asked Gong's calls for (None: no request):
        on /v2/calls, or on /v2/calls/extensive, whose pages hold the calls too."""
        return min(
            (
                dt.datetime.fromisoformat(call_filter["fromDateTime"].replace("Z", "+00:00"))
                for r in self.requests
                if (call_filter := calls_filter(r)) is not None
            ),
            default=None,
        )

    def requests_per_path(self) -> Counter[str]:
        return Counter(r.path for r in self.requests)

    def earliest_stats_request(self) -> dt.date | None:
        """The earliest fromDate the run asked Gong's stats for (None: no request)."""
        return min(
            (
                dt.date.fromisoformat(r.body["filter"]["fromDate"])
                for r in self.requests
                if r.path == "/v2/stats/interaction" and r.body
            ),
            default=None,
        )


@dataclass(frozen=True)
class GongChanges:
    new_calls: list[dict[str, Any]]
    late_calls: list[dict[str, Any]]
    backdated_calls: list[dict[str, Any]]
    changed_day: dt.date
    # An answered scorecard of the changed day, before and after its answers were edited.
    scorecard_before_edit: dict[str, Any]
    scorecard_after_edit: dict[str, Any]


@dataclass(frozen=True)
class PipelineHistory:
    warehouse: str
    first_run: Snapshot
    rerun: Snapshot
    changes: GongChanges
    scheduled_run: Snapshot


def run_pipeline_history(project: MeltanoProject, warehouse: Warehouse) -> PipelineHistory:
    with GongSandbox(sandbox_settings()) as sandbox:

        def run(label: str, earlier: Snapshot | None, *meltano_args: str) -> Snapshot:
            sandbox.reset_log()
            project.meltano(
                *meltano_args,
                label=f"{warehouse.name} {label}",
                env={**tap_environment(sandbox), **warehouse.loader_environment()},
            )
            requests = sandbox.requests
            gong = GongHolds.read(sandbox, warehouse.empty_text_lands_as_null)
            calls_read_from = Snapshot({}, gong, requests).earliest_calls_request()
            if earlier is not None and calls_read_from is not None:
                gong = gong.as_last_read(earlier.gong, calls_read_from)
            return Snapshot(
                tables={table: warehouse.rows(table) for table in TABLE_KEYS},
                gong=gong,
                requests=requests,
            )

        pipeline = ("run", "tap-gong", warehouse.loader)
        first_run = run("run 1 (full load)", None, *pipeline)
        rerun = run("run 2 (no new data)", first_run, *pipeline)
        changes = change_gong(sandbox)
        scheduled_run = run(
            "run 3 (schedule, after changes)", rerun, "schedule", "run", warehouse.schedule
        )
    return PipelineHistory(warehouse.name, first_run, rerun, changes, scheduled_run)


def tap_environment(sandbox: GongSandbox, every_stream: bool = True) -> dict[str, str]:
    """tap-gong's settings for Meltano: the sandbox, and the sandbox's clock as end_date;
    every stream selected, or (`every_stream=False`) the plugin's own selection."""
    config = sandbox.tap_config(
        # Fixed for the whole history, while the sandbox's clock moves on.
        start_date=START_DATE.isoformat(),
        # Tap and sandbox agree on "now", so the tap asks only for days the sandbox has closed.
        end_date=sandbox.now().isoformat(),
        # The sandbox sets no rate limit here: no need to pace at Gong's 3 per second.
        max_requests_per_second=50,
    )
    if not every_stream:
        return tap_gong_environment(config)
    # Every stream, those not selected by default too (meltano.yml leaves three out).
    return {**tap_gong_environment(config), "TAP_GONG__SELECT": json.dumps(["*.*"])}


def change_gong(sandbox: GongSandbox) -> GongChanges:
    """A day passes in Gong: new calls, late calls appear, a loaded day gets more calls
    and one of its answered scorecards is edited."""
    today = sandbox.company_today()
    loaded_day = today - dt.timedelta(days=1)
    # Reviewed on the last finished company day the last run loaded: inside the lookback.
    scorecard = sandbox.answered_scorecards(review_from=loaded_day, review_to=today)[0]
    edited = sandbox.edit_answered_scorecard(scorecard["answeredScorecardId"])
    # Inside the calls lookback (the last run's end minus a day) and on the last company
    # day the last run loaded stats for, so that day's stats change.
    backdated = sandbox.add_calls(
        5, start=SANDBOX_NOW - dt.timedelta(hours=23), end=SANDBOX_NOW - dt.timedelta(hours=15)
    )
    late = sandbox.reveal_late_calls()
    sandbox.advance_clock(dt.timedelta(days=1))
    new = sandbox.add_calls(20)  # the day since the last run
    return GongChanges(new, late, backdated, loaded_day, scorecard, edited)


def duplicates(keys: Iterable[Any]) -> list[Any]:
    return [key for key, count in Counter(keys).items() if count > 1]


def table_differences(
    rows: list[dict[str, Any]], expected: dict[Any, dict[str, Any]], key_columns: tuple[str, ...]
) -> list[str]:
    """How the table differs from what Gong holds: duplicates, missing, extra, changed rows."""

    problems = []
    if repeated := duplicates(key_of(row, key_columns) for row in rows):
        problems.append(f"{len(repeated)} keys loaded more than once, e.g. {repeated[:3]}")
    loaded = {key_of(row, key_columns): row for row in rows}
    if missing := sorted(set(expected) - set(loaded)):
        problems.append(f"{len(missing)} rows missing, e.g. {missing[:3]}")
    if extra := sorted(set(loaded) - set(expected)):
        problems.append(f"{len(extra)} rows Gong does not hold, e.g. {extra[:3]}")
    for key in sorted(set(expected) & set(loaded)):
        wrong = {
            column: (loaded[key].get(column, "<no column>"), value)
            for column, value in expected[key].items()
            if not same_value(loaded[key].get(column, "<no column>"), value)
        }
        if wrong:
            problems.append(f"row {key}: column: (loaded, Gong's) {wrong}")
    return problems


def same_value(loaded: Any, expected: Any) -> bool:
    """Equal, and of the same kind: a boolean is not 0/1, a number is not its text.

    Inside JSON columns an instant is the same one in UTC (`...Z`), a number Gong
    sends where the schema declares an id is its exact digits, and a number Gong sends
    as a string where the schema declares an integer (scorecard ranges) is that integer."""
    if isinstance(expected, dict):
        return (
            isinstance(loaded, dict)
            and loaded.keys() == expected.keys()
            and all(same_value(loaded[name], value) for name, value in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(loaded, list)
            and len(loaded) == len(expected)
            and all(same_value(a, b) for a, b in zip(loaded, expected, strict=True))
        )
    if isinstance(expected, str) and isinstance(loaded, str) and OFFSET_INSTANT.match(expected):
        return loaded.endswith("Z") and utc_naive(loaded) == utc_naive(expected)
    if isinstance(expected, int) and not isinstance(expected, bool) and isinstance(loaded, str):
        return loaded == str(expected)
    if isinstance(expected, str) and type(loaded) is int:
        return str(loaded) == expected
    return (
        loaded == expected
        and isinstance(loaded, bool) == isinstance(expected, bool)
        and isinstance(loaded, str) == isinstance(expected, str)
    )


def calls_hosted_per_user_day(
    tables: dict[str, dict[Any, dict[str, Any]]],
) -> Counter[tuple[str | None, dt.date]]:
    """The calls each user hosted on each company day, by the user's email: what the
    guides' "each user's company day" queries count (their stats rows carry the email)."""
    zone = ZoneInfo(sandbox_settings().time_zone)
    email_of = {
        user: row["useremailaddress"] for (user, _), row in tables["interaction_stats"].items()
    }
    return Counter(
        (
            email_of.get(call["primaryuserid"]),
            call["started"].replace(tzinfo=UTC).astimezone(zone).date(),
        )
        for call in tables["calls"].values()
    )
