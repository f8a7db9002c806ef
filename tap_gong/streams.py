"""The Gong streams, one small class each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from singer_sdk import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_gong.answers import gong_body
from tap_gong.client import (
    ONE_DAY,
    CompanyDayStream,
    DateTimeWindowStream,
    FullTableStream,
    GongStream,
    PageChildStream,
    Window,
)
from tap_gong.pagination import post_body
from tap_gong.windows import parse_instant

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


def schema_directory() -> Path:
    """The JSON schemas: shipped in the wheel as tap_gong/schemas, or ../schemas in a checkout."""
    packaged = Path(__file__).parent / "schemas"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "schemas"


SCHEMAS = SchemaDirectory(schema_directory())
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
    """Every call in Gong (CallBasicData), one record per call."""

    name = "calls"
    path = "/v2/calls"
    primary_keys = ("id",)
    records_jsonpath = "$.calls[*]"
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:calls:read:basic"

    @override
    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        # Gong filters conference calls by `scheduled` and others by `started`.
        return {
            **(context or {}),
            "workspaceId": self.settings.workspace_id,
            "cursor": next_page_token,
        }


class InteractionStatsStream(CompanyDayStream):
    """Each user's interaction stats for each company day, one record per user and day."""

    name = "interaction_stats"
    path = "/v2/stats/interaction"
    primary_keys = ("userId", "fromDate")
    records_jsonpath = "$.peopleInteractionStats[*]"
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:stats:interaction"

    @override
    def request_filter(self, window: Window) -> dict[str, Any]:
        if self.settings.user_ids:
            return {**window, "userIds": list(self.settings.user_ids)}
        return dict(window)

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
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:settings:scorecards:read"


class ScorecardQuestionsStream(PageChildStream):
    """Every question of every scorecard revision, from the scorecards' answer."""

    name = "scorecard_questions"
    parent_stream_type = ScorecardsStream
    primary_keys = ("scorecardId", "questionId", "questionRevisionId")
    schema = StreamSchema(SCHEMAS)
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
    schema = StreamSchema(SCHEMAS)
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
    schema = StreamSchema(SCHEMAS)
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
    schema = StreamSchema(SCHEMAS)
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
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:stats:user-actions:detailed"
    days_per_window = ACTIVITY_DAYS_PER_REQUEST

    @override
    def request_filter(self, window: Window) -> dict[str, Any]:
        if self.settings.user_ids:
            return {**window, "userIds": list(self.settings.user_ids)}
        return dict(window)

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
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:calls:read:extensive"

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
    def prepare_request_payload(
        self, context: Context | None, next_page_token: str | None
    ) -> dict[str, Any]:
        call_filter: dict[str, Any] = dict(context or {})
        if self.settings.workspace_id:
            call_filter["workspaceId"] = self.settings.workspace_id
        return post_body(call_filter, next_page_token, contentSelector=self.content_selector)

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
    schema = StreamSchema(SCHEMAS)
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
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:calls:read:transcript"

    @override
    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        started = dict(map(call_id_and_start, page))
        if not started:
            return
        for item in self.request_records(None):
            yield {**item, "started": started.get(item.get("callId"))}

    @override
    def prepare_request_payload(
        self, context: Context | None, next_page_token: str | None
    ) -> dict[str, Any]:
        call_ids = [call_id_and_start(call)[0] for call in self.page]
        return post_body({"callIds": call_ids}, next_page_token)


class CallCrmObjectsStream(PageChildStream):
    """Every CRM object linked to a call, per timing, from call_details' answers.

    Gong's `context[].objects[]`: one row per object and timing (`Now`, `TimeOfCall`),
    its `fields` as sent (`[{name, value}]`, a value of any JSON kind).
    """

    name = "call_crm_objects"
    parent_stream_type = CallDetailsStream
    primary_keys = ("callId", "timing", "system", "objectType", "objectId")
    replication_key = "started"
    schema = StreamSchema(SCHEMAS)
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
    schema = StreamSchema(SCHEMAS)
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
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:users:read"

    @override
    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        return {"cursor": next_page_token}


class WorkspacesStream(FullTableStream):
    """Every Gong workspace, read whole on every run (one request)."""

    name = "workspaces"
    path = "/v2/workspaces"
    primary_keys = ("id",)
    records_jsonpath = "$.workspaces[*]"
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:workspaces:read"


# The library: public folders of each workspace, and the calls in each folder.


class LibraryFoldersStream(PageChildStream):
    """Every public library folder of every workspace: one request per workspace.

    A page child of `workspaces`, whose one request lists the workspaces (read, not
    emitted, when only the library is selected). Read whole on every run.
    """

    name = "library_folders"
    parent_stream_type = WorkspacesStream
    path = "/v2/library/folders"
    primary_keys = ("id",)
    records_jsonpath = "$.folders[*]"
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:library:read"

    @override
    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        for workspace in page:
            workspace_id = workspace.get("id")
            if self.settings.workspace_id in (None, workspace_id):
                for folder in self.request_records({"workspaceId": workspace_id}):
                    yield {**folder, "workspaceId": workspace_id}

    @override
    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        return dict(context or {})


class LibraryFolderCallsStream(PageChildStream):
    """Every call in every library folder: one request per folder, read whole every run."""

    name = "library_folder_calls"
    parent_stream_type = LibraryFoldersStream
    path = "/v2/library/folder-content"
    primary_keys = ("folderId", "callId")
    records_jsonpath = "$.calls[*]"
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:library:read"

    @override
    def records_of_page(self, page: list[dict]) -> Iterable[dict]:
        for folder in page:
            folder_id = folder.get("id")
            for call in self.request_records({"folderId": folder_id}):
                fields = {name: value for name, value in call.items() if name != "id"}
                yield {"folderId": folder_id, "callId": call.get("id"), **fields}

    @override
    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        return dict(context or {})


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
)
