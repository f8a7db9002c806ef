"""The Gong streams, one small class each."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from typing_extensions import override

from tap_gong.answers import call_ids, gong_body, is_owner_without_engage
from tap_gong.errors import GongStateError
from tap_gong.fetching import Window
from tap_gong.kinds.base import GongStream
from tap_gong.kinds.company_days import ONE_DAY, CompanyDayStream
from tap_gong.kinds.date_time_windows import DateTimeWindowStream
from tap_gong.kinds.full_table import FullTableStream
from tap_gong.kinds.page_child import PageChildStream, PerItemRequestsStream
from tap_gong.kinds.windowed import WindowedStream
from tap_gong.shared_pages import merged_window_state, put_window_state, same_window_state
from tap_gong.state import BOOKMARK
from tap_gong.windows import parse_instant, time_windows, utc_iso

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_gong.access import GongRun


# Where Gong's spec puts a stats answer's period: at the top, next to the items.
PERIOD_FIELDS = ("timeZone", "fromDateTime", "toDateTime")

# Gong's stat names and the columns they are pivoted into. A stat Gong adds
# later still lands in the raw `personInteractionStats` array.
STAT_COLUMNS = {
    "longestmonologue": "longestMonologue",
    "longestcustomerstory": "longestCustomerStory",
    "interactivity": "interactivity",
    "patience": "patience",
    "questionrate": "questionRate",
}


class CallsStream(DateTimeWindowStream):
    """Every call in Gong (CallBasicData), one record per call.

    Read from call_details' pages (their `metaData`) while that stream runs, from
    `/v2/calls` otherwise (tap_gong/shared_pages.py). `/v2/calls` filters conference
    calls by `scheduled` and others by `started`.
    """

    name = "calls"
    path = "/v2/calls"
    primary_keys = ("id",)
    records_jsonpath = "$.calls[*]"
    required_scope = "api:calls:read:basic"
    filters_by_workspace = True
    #: Synced right after the stream whose pages may hold its records.
    synced_after: ClassVar[str] = "call_details"

    @override
    def records_of_shared_page(self, page: list[dict]) -> Iterable[dict]:
        # A copy: call_details' record holds the same metaData, shaped by its own schema.
        return [dict(call.get("metaData") or {}) for call in page]


class InteractionStatsStream(CompanyDayStream):
    """Each user's interaction stats for each company day, one record per user and day."""

    name = "interaction_stats"
    path = "/v2/stats/interaction"
    primary_keys = ("userId", "fromDate")
    records_jsonpath = "$.peopleInteractionStats[*]"
    required_scope = "api:stats:interaction"
    filters_by_user_ids = True

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        # Gong's spec puts the period at the top of the answer; an item that carries
        # its own keeps it.
        body = gong_body(response)
        period = {name: body[name] for name in PERIOD_FIELDS if name in body}
        for item in super().parse_response(response):
            yield {**period, **item}

    @override
    def records_in_window(self, window: Window) -> Iterable[dict]:
        for item in self.request_records(window):
            self.learn_company_zone(item.get("timeZone"))
            yield self.stats_record(item, window)

    def stats_record(self, item: dict, window: Window) -> dict:
        """One user's day: Gong's item, the day, and each known stat in its own column."""
        record = {**item, "fromDate": window["fromDate"], "toDate": window["toDate"]}
        for stat in item.get("personInteractionStats") or []:
            column = STAT_COLUMNS.get(str(stat.get("name", "")).replace(" ", "").lower())
            if column:
                record[column] = stat.get("value")
        return record


# Coaching and activity: scorecards, their answers, daily user activity, trackers.

# What each answer row keeps of its review (answered_scorecard_answers).
REVIEW_KEYS = ("answeredScorecardId", "scorecardId", "callId", "reviewTime")

# Company days per day-by-day request: Gong answers each day of a range separately.
ACTIVITY_DAYS_PER_REQUEST = 30
# Company days per answered-scorecards request: reviews are few, so a month is one page
# or a few.
REVIEW_DAYS_PER_REQUEST = 30


class ScorecardsStream(FullTableStream):
    """Every scorecard definition with its questions, read whole on every run."""

    name = "scorecards"
    path = "/v2/settings/scorecards"
    primary_keys = ("scorecardId",)
    records_jsonpath = "$.scorecards[*]"
    required_scope = "api:settings:scorecards:read"


class ScorecardQuestionsStream(PageChildStream):
    """Every question of every scorecard revision, from the scorecards' answer."""

    name = "scorecard_questions"
    parent_stream_type = ScorecardsStream
    primary_keys = ("scorecardId", "questionId", "questionRevisionId")
    required_scope = "api:settings:scorecards:read"

    @override
    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        for scorecard in page:
            for question in scorecard.get("questions") or []:
                yield {"scorecardId": scorecard.get("scorecardId"), **question}


class TrackersStream(FullTableStream):
    """Every keyword tracker of every workspace, read whole on every run."""

    name = "trackers"
    path = "/v2/settings/trackers"
    primary_keys = ("trackerId",)
    records_jsonpath = "$.keywordTrackers[*]"
    required_scope = "api:settings:trackers:read"


class AnsweredScorecardsStream(CompanyDayStream):
    """Every answered scorecard (one review of one call), by the company day of its review.

    Gong filters on the review's company day (`reviewFromDate`, `reviewToDate`
    exclusive) and accepts the current day, so each run reads up to now. Answers are
    edited after `reviewTime` and reviews are filed all day, so the bookmark is a company
    day, never a review's instant: the last finished day (`YYYY-MM-DD`), which sorts
    before the `reviewTime` of every review not yet extracted. The current day is read
    again next run, and a lookback of N re-reads the N finished days before it.
    """

    name = "answered_scorecards"
    path = "/v2/stats/activity/scorecards"
    primary_keys = ("answeredScorecardId",)
    replication_key = "reviewTime"
    records_jsonpath = "$.answeredScorecards[*]"
    required_scope = "api:stats:scorecards"
    days_per_window = REVIEW_DAYS_PER_REQUEST
    reads_current_day = True
    day_filter_names = ("reviewFromDate", "reviewToDate")
    reconciled = True


class AnsweredScorecardAnswersStream(PageChildStream):
    """Every answer to each question of each review, from answered_scorecards' answers."""

    name = "answered_scorecard_answers"
    parent_stream_type = AnsweredScorecardsStream
    primary_keys = ("answeredScorecardId", "questionId")
    replication_key = "reviewTime"
    required_scope = "api:stats:scorecards"

    @override
    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        for review in page:
            of_review = {name: review.get(name) for name in REVIEW_KEYS}
            for answer in review.get("answers") or []:
                yield {**answer, **of_review}


class UserActivityStream(CompanyDayStream):
    """Each user's activity for each complete company day, one record per user and day.

    Gong answers a range day by day, so a request covers up to a month of days. Its
    answers carry no time zone: the company days are those of the zone another stats
    stream learned (see `CompanyDayStream.company_zone_name`), UTC-12 until then.
    """

    name = "user_activity"
    path = "/v2/stats/activity/day-by-day"
    primary_keys = ("userId", "fromDate")
    records_jsonpath = "$.usersDetailedActivities[*]"
    required_scope = "api:stats:user-actions:detailed"
    days_per_window = ACTIVITY_DAYS_PER_REQUEST
    filters_by_user_ids = True

    @override
    def records_in_window(self, window: Window) -> Iterable[dict]:
        for user in self.request_records(window):
            for day_stats in user.get("userDailyActivityStats") or []:
                yield self.day_record(user, day_stats)

    def day_record(self, user: dict, day_stats: dict) -> dict:
        """One user's day: Gong's activity lists, each with its count, on the company day."""
        day = self.company_day(day_stats.get("fromDate"))
        record = {
            **day_stats,
            "userId": user.get("userId"),
            "userEmailAddress": user.get("userEmailAddress"),
            # No day, no key: the record is then not emitted (RecordShaper says so once).
            "fromDate": day and day.isoformat(),
            "toDate": day and (day + ONE_DAY).isoformat(),
        }
        for activity, count_column in self.count_columns.items():
            record[count_column] = len(day_stats.get(activity) or ())
        return record

    def company_day(self, day_start: Any) -> dt.date | None:
        """The company day that starts at Gong's `fromDate` (an instant in the company's
        offset); None when it is not an instant.
        """
        try:
            start = parse_instant(day_start)
        except (AttributeError, ValueError):
            return None
        zone = self.company_zone
        return (start.astimezone(zone) if zone else start).date()

    @cached_property
    def count_columns(self) -> dict[str, str]:
        """Each activity list and its count column, as the schema declares them."""
        fields = self.schema["properties"]
        return {name: f"{name}Count" for name in fields if f"{name}Count" in fields}


# The whole call: details, participants and transcripts from one listing; users, workspaces.

# What /v2/calls/extensive sends of each call besides its metaData, all of it by default.
CALL_PARTS = ("context", "parties", "content", "interaction", "collaboration", "media")
CALL_CONTENT_FIELDS = (
    "structure", "topics", "trackers", "trackerOccurrences", "pointsOfInterest",
    "brief", "outline", "highlights", "callOutcome", "keyPoints",
)  # fmt: skip
CALL_INTERACTION_FIELDS = ("speakers", "video", "personInteractionStats", "questions")
# The CRM links of the call and of each party, with their fields as they are now and as
# they were at the time of the call.
CRM_CONTEXT: dict[str, Any] = {"context": "Extended", "contextTiming": ["Now", "TimeOfCall"]}
EVERY_CALL_DETAIL: dict[str, Any] = {
    **CRM_CONTEXT,
    "exposedFields": {
        "parties": True,
        "content": dict.fromkeys(CALL_CONTENT_FIELDS, True),
        "interaction": dict.fromkeys(CALL_INTERACTION_FIELDS, True),
        "collaboration": {"publicComments": True},
    },
}


# What call_trackers keeps of each tracker hit, besides its id.
TRACKER_HIT_FIELDS = ("name", "type", "count", "occurrences", "phrases")


def call_id_and_start(call: dict) -> tuple[Any, Any]:
    """The call's `id` and `started`, from its metaData."""
    meta = call.get("metaData") or {}
    return meta.get("id"), meta.get("started")


class CallDetailsStream(DateTimeWindowStream):
    """Every call with all its details (CallData), one record per call.

    Gong's /extensive filters on the call's start, so each call is in exactly one
    window. Its pages also feed its page children (call_participants, call_transcripts,
    call_crm_objects, call_trackers), which is why it runs, unselected and asking Gong
    only for what they need, when only they are selected.
    """

    name = "call_details"
    path = "/v2/calls/extensive"
    http_method = "POST"
    primary_keys = ("id",)
    records_jsonpath = "$.calls[*]"
    required_scope = "api:calls:read:extensive"
    filters_by_workspace = True

    @cached_property
    def content_selector(self) -> dict[str, Any]:
        if not self.selected:
            # Read for its page children only: what they need (ids and starts always come).
            return self.needs_of_page_children()
        if self.settings.call_details_media:
            exposed = {**EVERY_CALL_DETAIL["exposedFields"], "media": True}
            return {**EVERY_CALL_DETAIL, "exposedFields": exposed}
        return EVERY_CALL_DETAIL

    @override
    def body_parts(self) -> dict[str, Any]:
        return {"contentSelector": self.content_selector}

    @override
    def share_pages(self) -> None:
        calls = self.tap.streams.get(CallsStream.name)
        runs = self.selected or self.has_selected_descendents
        if not (runs and isinstance(calls, CallsStream) and calls.selected):
            return
        merged = merged_window_state(calls.stream_state, self.stream_state)
        if merged is None:
            self.logger.info(
                "calls reads /v2/calls this run: its state and call_details' cannot be one (each "
                "re-reads the whole history in a version of its own, or holds a value tap-gong "
                "does not write)."
            )
            return
        if not same_window_state(merged, self.stream_state):
            self.logger.info(
                "call_details reads from where calls' state is (bookmark %s), behind its own: "
                "calls, read from call_details' pages from now on, misses nothing.",
                merged.get(BOOKMARK, "none: from start_date"),
            )
        put_window_state(self.stream_state, merged)
        put_window_state(calls.stream_state, merged)
        self.state_copies = [calls]
        calls.pages_from = self

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        for call in super().parse_response(response):
            call_id, started = call_id_and_start(call)
            yield {
                "id": call_id,
                "started": started,
                **{part: call[part] for part in CALL_PARTS if part in call},
                "metaData": call.get("metaData"),
            }


class CallParticipantsStream(PageChildStream):
    """Every participant of every call, one record per party, from call_details' answers."""

    name = "call_participants"
    parent_stream_type = CallDetailsStream
    primary_keys = ("callId", "id")
    replication_key = "started"
    required_scope = "api:calls:read:extensive"
    # The parties with their CRM links: a row is the same whether or not call_details is
    # selected.
    needs_from_parent: ClassVar[dict[str, Any]] = {
        **CRM_CONTEXT,
        "exposedFields": {"parties": True},
    }

    @override
    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        for call in page:
            call_id, started = call_id_and_start(call)
            for party in call.get("parties") or []:
                yield {**party, "callId": call_id, "started": started}


class CallTranscriptsStream(PageChildStream):
    """Every call's transcript, one record per call: one request per page of calls.

    Gong's transcript items carry no time, so each page of calls call_details reads
    (its ids and starts) becomes one transcript request by `callIds` (at most 100, a
    page): never one request per call, and memory holds one page.
    """

    name = "call_transcripts"
    parent_stream_type = CallDetailsStream
    path = "/v2/calls/transcript"
    http_method = "POST"
    primary_keys = ("callId",)
    replication_key = "started"
    records_jsonpath = "$.callTranscripts[*]"
    required_scope = "api:calls:read:transcript"

    @override
    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        started = dict(map(call_id_and_start, page))
        if not started:
            return
        request = self.request_of_page([call_id for call_id, _ in map(call_id_and_start, page)])
        for item in self.request_records(request):
            yield {**item, "started": started.get(item.get("callId"))}

    @override
    def requests_for_answer(self, answer: requests.Response) -> list[Context] | None:
        ids = call_ids(answer)
        return None if ids is None else [self.request_of_page(ids)] if ids else []

    @staticmethod
    def request_of_page(ids: list[Any]) -> Context:
        """The request's context (its filter) for a page of calls: the calls, by id."""
        return {"callIds": ids}


class CallCrmObjectsStream(PageChildStream):
    """Every CRM object linked to a call, per timing, from call_details' answers.

    Gong's `context[].objects[]`: one row per object and timing (`Now`, `TimeOfCall`),
    its `fields` as sent (`[{name, value}]`, a value of any JSON kind).
    """

    name = "call_crm_objects"
    parent_stream_type = CallDetailsStream
    primary_keys = ("callId", "timing", "system", "objectType", "objectId")
    replication_key = "started"
    required_scope = "api:calls:read:extensive"
    needs_from_parent: ClassVar[dict[str, Any]] = CRM_CONTEXT

    @override
    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        for call in page:
            call_id, started = call_id_and_start(call)
            for link in call.get("context") or []:
                for crm_object in link.get("objects") or []:
                    yield {
                        "callId": call_id,
                        "timing": crm_object.get("timing"),
                        "system": link.get("system"),
                        "objectType": crm_object.get("objectType"),
                        "objectId": crm_object.get("objectId"),
                        "started": started,
                        "fields": crm_object.get("fields"),
                    }


class CallTrackersStream(PageChildStream):
    """Every tracker that fired on a call (a count above 0), from call_details' answers."""

    name = "call_trackers"
    parent_stream_type = CallDetailsStream
    primary_keys = ("callId", "trackerId")
    replication_key = "started"
    required_scope = "api:calls:read:extensive"
    needs_from_parent: ClassVar[dict[str, Any]] = {
        "exposedFields": {"content": {"trackers": True, "trackerOccurrences": True}}
    }

    @override
    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        for call in page:
            call_id, started = call_id_and_start(call)
            for tracker in (call.get("content") or {}).get("trackers") or []:
                if (tracker.get("count") or 0) > 0:
                    fields = {name: tracker.get(name) for name in TRACKER_HIT_FIELDS}
                    yield {
                        "callId": call_id,
                        "trackerId": tracker.get("id"),
                        **fields,
                        "started": started,
                    }


class UsersStream(FullTableStream):
    """Every Gong user (UserMetadata), read whole on every run."""

    name = "users"
    path = "/v2/users"
    primary_keys = ("id",)
    records_jsonpath = "$.users[*]"
    required_scope = "api:users:read"


class WorkspacesStream(FullTableStream):
    """Every Gong workspace, read whole on every run (one request)."""

    name = "workspaces"
    path = "/v2/workspaces"
    primary_keys = ("id",)
    records_jsonpath = "$.workspaces[*]"
    required_scope = "api:workspaces:read"


# The library: public folders of each workspace, and the calls in each folder.


class PerItemStream(PerItemRequestsStream):
    """A list asked once per item of its parent's page (a workspace, a folder, a profile),
    read whole on every run: the item's id goes in the query as `item_param`, and on each
    record as `item_field`; Gong's own `id` of a record becomes `id_field` where set.
    """

    item_param: ClassVar[str]
    item_field: ClassVar[str]
    id_field: ClassVar[str | None] = None
    #: Whether `workspace_id` limits it to that workspace (its parent lists workspaces).
    per_workspace: ClassVar[bool] = False

    @override
    def requests_of_items(self, items: list[dict]) -> list[Context]:
        workspace_id = self.settings.workspace_id
        return [
            {self.item_param: item.get("id")}
            for item in items
            if not self.per_workspace or workspace_id in (None, item.get("id"))
        ]

    @override
    def item_record(self, context: Context, record: dict) -> dict:
        return {self.item_field: context[self.item_param], **self.renamed_id(record)}

    def renamed_id(self, record: dict) -> dict:
        """Gong's record, its `id` named `id_field` where set (it is then the parent's)."""
        if not self.id_field:
            return record
        fields = {name: value for name, value in record.items() if name != "id"}
        return {self.id_field: record.get("id"), **fields}


class LibraryFoldersStream(PerItemStream):
    """Every public library folder of every workspace: one request per workspace.

    A page child of `workspaces`, whose one request lists the workspaces (read, not
    emitted, when only the library is selected). Read whole on every run.
    """

    name = "library_folders"
    request_cost = "1 request per workspace"
    parent_stream_type = WorkspacesStream
    path = "/v2/library/folders"
    primary_keys = ("id",)
    records_jsonpath = "$.folders[*]"
    required_scope = "api:library:read"
    item_param = item_field = "workspaceId"
    per_workspace = True


class LibraryFolderCallsStream(PerItemStream):
    """Every call in every library folder: one request per folder, read whole every run."""

    name = "library_folder_calls"
    request_cost = "1 request per library folder"
    parent_stream_type = LibraryFoldersStream
    path = "/v2/library/folder-content"
    primary_keys = ("folderId", "callId")
    records_jsonpath = "$.calls[*]"
    required_scope = "api:library:read"
    item_param = item_field = "folderId"
    id_field = "callId"


# The rest of Gong's readable API (issue 26): activity by period, settings history, logs,
# permission profiles and Engage flows.

# Periods per activity_by_period request: Gong answers each period of a range separately.
PERIODS_PER_REQUEST = {"DAY": 30, "WEEK": 13, "MONTH": 12, "QUARTER": 4, "YEAR": 1}
MONTHS_PER_PERIOD = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}
# Gong's instants bounding each period's counts (renamed fromDateTime, toDateTime).
PERIOD_BOUNDS = ("fromDate", "toDate")


def period_start(day: dt.date, period: str) -> dt.date:
    """The first company day of the period (`aggregationPeriod`) holding `day`."""
    if period == "DAY":
        return day
    if period == "WEEK":
        return day - dt.timedelta(days=day.weekday())  # Gong: "First day of the week is Monday"
    months = MONTHS_PER_PERIOD[period]
    return day.replace(month=(day.month - 1) // months * months + 1, day=1)


def period_end(start: dt.date, period: str, periods: int = 1) -> dt.date:
    """The company day after the last of `periods` periods from `start` (exclusive)."""
    if period in ("DAY", "WEEK"):
        return start + dt.timedelta(days=periods * (7 if period == "WEEK" else 1))
    month = start.month - 1 + periods * MONTHS_PER_PERIOD[period]
    return start.replace(year=start.year + month // 12, month=month % 12 + 1, day=1)


class ActivityByPeriodStream(UserActivityStream):
    """Each user's activity counts per period (`activity_period`), by company days.

    A request covers whole periods (`PERIODS_PER_REQUEST`) from the first day of the
    period holding the first day to read, so every row's `fromDate` is a period's first
    day and its key never changes. The current period is read up to the last finished
    company day (Gong's `toDate` may not pass the current day), and read again next run:
    the bookmark, the last finished day, is inside it. Like user_activity, its answers
    carry no time zone: the company days are those of the zone another stats stream learned.
    """

    name = "activity_by_period"
    path = "/v2/stats/activity/aggregate-by-period"
    # Its parent's is a pair: mypy infers the attribute's type from it.
    primary_keys = ("userId", "aggregationPeriod", "fromDate")  # type: ignore[assignment]
    records_jsonpath = "$.usersAggregateActivity[*]"
    required_scope = "api:stats:user-actions"

    @property
    def period(self) -> str:
        return self.settings.activity_period

    @override
    def first_day_to_read(self) -> dt.date:
        return period_start(super().first_day_to_read(), self.period)

    @override
    def windows_from(self, day: dt.date, end: dt.date | None = None) -> Iterator[Window]:
        # `day` is a period's first day: the first to read, or where the last window ended.
        while day < (stop := end or self.last_day_to_read() + ONE_DAY):
            next_day = min(period_end(day, self.period, PERIODS_PER_REQUEST[self.period]), stop)
            yield {"fromDate": day.isoformat(), "toDate": next_day.isoformat()}
            day = next_day

    @override
    def probes_empty_history(self) -> bool:
        return False  # a request covers many days already

    @override
    def body_parts(self) -> dict[str, Any]:
        return {"aggregationPeriod": self.period}

    @override
    def records_in_window(self, window: Window) -> Iterable[dict]:
        for user in self.request_records(window):
            for counts in user.get("userAggregateActivity") or []:
                yield self.period_record(user, counts)

    def period_record(self, user: dict, counts: dict) -> dict:
        """One user's period: Gong's counts, the period's company days, Gong's instants."""
        day = self.company_day(counts.get("fromDate"))
        first = day and period_start(day, self.period)
        return {
            **{name: value for name, value in counts.items() if name not in PERIOD_BOUNDS},
            "userId": user.get("userId"),
            "userEmailAddress": user.get("userEmailAddress"),
            "aggregationPeriod": self.period,
            # No day, no key: the record is then not emitted (RecordShaper says so once).
            "fromDate": first and first.isoformat(),
            "toDate": first and period_end(first, self.period).isoformat(),
            "fromDateTime": counts.get("fromDate"),
            "toDateTime": counts.get("toDate"),
        }


class UserSettingsHistoryStream(PerItemRequestsStream):
    """Every change of every user's recording settings: one request per user, read whole."""

    name = "user_settings_history"
    request_cost = "1 request per user"
    parent_stream_type = UsersStream
    path = "/v2/users/{userId}/settings-history"
    primary_keys = ("userId", "setting", "time")
    records_jsonpath = "$.userSettingsHistory[*]"
    required_scope = "api:users:read"
    selected_by_default = False

    @override
    def requests_of_items(self, items: list[dict]) -> list[Context]:
        return [{"userId": user.get("id")} for user in items]

    @override
    def item_record(self, context: Context, record: dict) -> dict:
        return {**record, "userId": context["userId"]}


# Gong's log types (GET /v2/logs `logType`; the spec lists no enum, gong-api-beyond.md §2.9).
LOG_TYPES = (
    "AccessLog",
    "UserActivityLog",
    "UserCallPlay",
    "ExternallySharedCallAccess",
    "ExternallySharedCallPlay",
)
# Where audit_logs keeps each log type's bookmark in its state.
LOG_TYPE_BOOKMARKS = "log_type_bookmarks"


def log_id(log_type: str, entry: dict) -> str:
    """A log entry's stable id: sha256 (hex) of its canonical JSON.

    Canonical: `{"eventTime", "logRecord", "logType", "userId"}` (eventTime in UTC, as
    `utc_iso` writes it) dumped with sorted keys, no spaces and UTF-8 unescaped. The same
    entry read in two runs gets the same id; Gong sends none of its own.
    """
    canonical = {
        "logType": log_type,
        "eventTime": utc_iso(parse_instant(entry["eventTime"])),
        "userId": entry.get("userId"),
        "logRecord": entry.get("logRecord"),
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class AuditLogsStream(WindowedStream):
    """Gong's audit logs, every log type, by `eventTime` windows: a bookmark per log type.

    The log type is part of the window (`{fromDateTime, logType, toDateTime}`), so the
    windowed machinery runs unchanged: windows fetched side by side, one request share,
    a STATE after each finished window, a stop dropping only the window in progress.
    Each type's bookmark (`log_type_bookmarks` in the state) moves to a window's end once
    the window is read, never back; `replication_key_value` is the earliest of them (a
    type not read yet counts as `start_date`), a lower bound any reader of the state can
    trust. SDK partitions (one state per log type) were not used: the SDK finalizes a
    partition's bookmark when its sync ends, not per window, and the tap's own helpers
    (state.py, budget.py, fetching.py) keep one state per stream. Each run re-reads
    `lookback_window_days` before each type's bookmark (entries Gong writes late);
    entries come again with the same `logId`.
    """

    name = "audit_logs"
    request_cost = "1 request per log type (5) and date window"
    path = "/v2/logs"
    primary_keys = ("logId",)
    replication_key = "eventTime"
    records_jsonpath = "$.logEntries[*]"
    required_scope = "api:logs:read"
    selected_by_default = False
    window_unit = "log-type date windows"

    @override
    def parse_bookmark(self, value: str) -> dt.datetime:
        return parse_instant(value)

    @cached_property
    def saved_type_bookmarks(self) -> dict[str, dt.datetime]:
        """Each log type's bookmark as the previous run left it."""
        saved = self.stream_state.get(LOG_TYPE_BOOKMARKS) or {}
        try:
            return {log_type: parse_instant(value) for log_type, value in saved.items()}
        except (TypeError, ValueError):
            raise GongStateError.not_written_by_tap(self.name, LOG_TYPE_BOOKMARKS, saved) from None

    @override
    def windows(self) -> Iterator[Window]:
        # The log type furthest behind first, the lookback re-reads of those caught up
        # last: a request budget that stops the stream every run still moves it on (were
        # the types in a fixed order, its share could go on re-reading the first ones).
        first, last = self.settings.first_instant, self.last_instant
        behind = sorted(LOG_TYPES, key=lambda t: self.saved_type_bookmarks.get(t, first))
        for log_type in behind:
            start = first
            if (bookmark := self.saved_type_bookmarks.get(log_type)) is not None:
                start = max(first, bookmark - self.lookback())
            for window in time_windows(start, last, self.settings.calls_window):
                yield {
                    "fromDateTime": utc_iso(window.start),
                    "logType": log_type,
                    "toDateTime": utc_iso(window.end),
                }

    @override
    def rereads_before_bookmark(self) -> bool:
        return bool(self.saved_type_bookmarks) and self.lookback() > dt.timedelta()

    @override
    def window_bookmark(self, window: Window) -> str:
        marks = self.stream_state.setdefault(LOG_TYPE_BOOKMARKS, {})
        end = parse_instant(window["toDateTime"])
        saved = marks.get(window["logType"])
        if saved is None or parse_instant(saved) < end:  # never moves back
            marks[window["logType"]] = utc_iso(end)
        first = self.settings.first_instant
        return utc_iso(min(parse_instant(marks[t]) if t in marks else first for t in LOG_TYPES))

    @override
    def records_in_window(self, window: Window) -> Iterable[dict]:
        log_type = window["logType"]
        for entry in self.request_records(window):
            yield {**entry, "logType": log_type, "logId": log_id(log_type, entry)}


class PermissionProfilesStream(PerItemStream):
    """Every permission profile of every workspace: one request per workspace, read whole.

    The 2024-11 extract of Gong's spec has this endpoint with a thinner PermissionProfileDTO;
    its fields here follow the newer copy appended to that extract
    (/work/shared/gong-api/openapi-2024-11-endpoints.txt, end: OzTamir/gong-cli
    reference/gong-openapi.json at 1cdfebe, fetched from Gong 2026-07-05). Neither copy
    names a scope for it: `api:permission-profile:read` is the read scope Gong's OAuth
    scope list has for it (as n8n's Gong credentials list it, and Nango's
    list-permission-profiles action asks it).
    """

    name = "permission_profiles"
    request_cost = "1 request per workspace"
    parent_stream_type = WorkspacesStream
    path = "/v2/all-permission-profiles"
    primary_keys = ("id",)
    records_jsonpath = "$.profiles[*]"
    required_scope = "api:permission-profile:read"
    item_param = item_field = "workspaceId"
    per_workspace = True


class PermissionProfileUsersStream(PerItemStream):
    """Every user each permission profile controls: one request per profile, read whole."""

    name = "permission_profile_users"
    request_cost = "1 request per permission profile"
    parent_stream_type = PermissionProfilesStream
    path = "/v2/permission-profile/users"
    primary_keys = ("profileId", "userId")
    records_jsonpath = "$.users[*]"
    required_scope = "api:users:read"
    item_param = item_field = "profileId"
    id_field = "userId"


class EngageFlowsStream(PerItemRequestsStream):
    """Every Gong Engage flow: one request per user (`flowOwnerEmail`), read whole.

    Gong lists the company's flows with each owner's personal and shared ones (GET /v2/flows
    as the newer copy of Gong's spec appended to the shared extract has it: OzTamir/gong-cli
    reference/gong-openapi.json at 1cdfebe, scope `api:flows:read`), so a flow comes once
    per owner who sees it: each is emitted once a run. An owner without an Engage licence
    gets a 403 (`answers.is_owner_without_engage`): no flows, one line per page of users.
    """

    name = "engage_flows"
    request_cost = "1 request per user"
    parent_stream_type = UsersStream
    path = "/v2/flows"
    primary_keys = ("id",)
    records_jsonpath = "$.flows[*]"
    required_scope = "api:flows:read"
    selected_by_default = False

    def __init__(self, tap: Tap, run: GongRun) -> None:
        super().__init__(tap, run)
        self.flows_emitted: set[str] = set()
        self.owners_without_engage = 0

    @override
    def requests_of_items(self, items: list[dict]) -> list[Context]:
        return [{"flowOwnerEmail": email} for user in items if (email := user.get("emailAddress"))]

    @override
    def item_record(self, context: Context, record: dict) -> dict | None:
        if (flow_id := str(record.get("id"))) in self.flows_emitted:
            return None  # a flow comes once per owner who sees it: emitted once a run
        self.flows_emitted.add(flow_id)
        return record

    @override
    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        self.owners_without_engage = 0
        yield from super().records_of_page(page)
        if self.owners_without_engage:
            self.logger.info(
                "%s: %d of %d users have no Gong Engage licence (Gong answered 403 to their "
                "flows): they own no flows.",
                self.name,
                self.owners_without_engage,
                len(page),
            )

    @override
    def validate_response(self, response: requests.Response) -> None:
        if is_owner_without_engage(response):
            self.run.outcomes.gong_accepted()
            return
        super().validate_response(response)

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        # Counted here, on the main thread, whichever thread made the request.
        if is_owner_without_engage(response):
            self.owners_without_engage += 1
            return
        yield from super().parse_response(response)


# Every stream the tap offers; tap.py discovers these.
STREAM_TYPES: tuple[type[GongStream], ...] = (
    CallsStream,
    InteractionStatsStream,
    ScorecardsStream,
    AnsweredScorecardsStream,
    UserActivityStream,
    TrackersStream,
    CallDetailsStream,
    CallParticipantsStream,
    CallTranscriptsStream,
    UsersStream,
    WorkspacesStream,
    CallCrmObjectsStream,
    CallTrackersStream,
    ScorecardQuestionsStream,
    AnsweredScorecardAnswersStream,
    LibraryFoldersStream,
    LibraryFolderCallsStream,
    ActivityByPeriodStream,
    UserSettingsHistoryStream,
    AuditLogsStream,
    PermissionProfilesStream,
    PermissionProfileUsersStream,
    EngageFlowsStream,
)
