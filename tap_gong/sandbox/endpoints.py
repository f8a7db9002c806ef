"""The sandbox's endpoints beyond /v2/calls and /v2/stats/interaction, and their accessors.

A mixin of GongSandbox: every answer goes through the sandbox's lock, limits, faults and
paging (`_paged_answer`), so all endpoints share the same rules. The public accessors return
what the API would send, decoded from the same JSON.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tap_gong.sandbox.activity import Activity
from tap_gong.sandbox.company import Company
from tap_gong.sandbox.content import (
    CONTENT_FIELDS,
    INTERACTION_FIELDS,
    CallContent,
    ContentSelector,
)
from tap_gong.sandbox.dataset import Call
from tap_gong.sandbox.library import Library
from tap_gong.sandbox.protocol import (
    Reply,
    dumps,
    epoch_microseconds,
    error_reply,
    filter_digest,
    parse_day,
    parse_instant,
)
from tap_gong.sandbox.scoring import Review, Reviews

if TYPE_CHECKING:
    import threading

    from tap_gong.sandbox.dataset import Dataset
    from tap_gong.sandbox.server import SandboxSettings


NO_CALLS = "No calls found corresponding to the provided filters"
NO_ANSWERED_SCORECARDS = "No answered scorecards found corresponding to the provided filters."
# Gong's wording for empty users/stats filters, as other integrations match it.
NO_USERS = "No users found corresponding to the provided filters"
# The library's 404, Gong's spec's words, for a workspace with no public folder and a folder
# with no call.
NO_FOLDERS = "No folders found for the specified period"
MAX_TRANSCRIPT_CALL_IDS = 100
REVIEW_METHODS = ("AUTOMATIC", "MANUAL")
EVERYTHING = {
    "context": "Extended",
    "contextTiming": ["Now", "TimeOfCall"],
    "exposedFields": {
        "parties": True,
        "content": dict.fromkeys(CONTENT_FIELDS, True),
        "interaction": dict.fromkeys(INTERACTION_FIELDS, True),
        "collaboration": {"publicComments": True},
    },
}


@dataclass(frozen=True)
class CallFilter:
    """The filter of /v2/calls/extensive and /v2/calls/transcript: on the call's start."""

    start: datetime | None = None
    end: datetime | None = None
    workspace_id: str | None = None
    call_ids: frozenset[int] | None = None
    primary_user_ids: frozenset[str] | None = None

    def key(self) -> tuple[object, ...]:
        return (
            self.start and epoch_microseconds(self.start),
            self.end and epoch_microseconds(self.end),
            self.workspace_id,
            sorted(self.call_ids or ()),
            sorted(self.primary_user_ids or ()),
        )

    def matches(self, call: Call) -> bool:
        return (
            (self.workspace_id is None or call.workspace_id == self.workspace_id)
            and (self.primary_user_ids is None or call.user_id in self.primary_user_ids)
            and (self.start is None or call.started_at >= self.start.timestamp())
            and (self.end is None or call.started_at < self.end.timestamp())
        )


def _string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def parse_call_filter(
    body: dict[str, Any], *, with_owners: bool, max_call_ids: int | None
) -> CallFilter | list[str]:
    """The body's call filter, or the errors that make it malformed."""
    call_filter = body.get("filter")
    if not isinstance(call_filter, dict):
        return ["filter is required"]
    errors: list[str] = []
    bounds: dict[str, datetime | None] = {}
    for name in ("fromDateTime", "toDateTime"):
        text = call_filter.get(name)
        bounds[name] = parse_instant(text) if isinstance(text, str) else None
        if text is not None and bounds[name] is None:
            errors.append(f"filter.{name} must be an ISO-8601 date-time with Z or an offset")
    workspace_id = call_filter.get("workspaceId")
    if workspace_id is not None and not isinstance(workspace_id, str):
        errors.append("filter.workspaceId must be a string")
    call_ids = call_filter.get("callIds")
    if call_ids is not None:
        if not _string_list(call_ids) or not all(call_id.isdigit() for call_id in call_ids):
            errors.append("filter.callIds must be a list of call id strings")
        elif not call_ids:
            errors.append("filter.callIds must not be empty")
        elif max_call_ids is not None and len(call_ids) > max_call_ids:
            errors.append(
                f"filter.callIds accepts at most {max_call_ids} call ids, got {len(call_ids)}"
            )
    owners = call_filter.get("primaryUserIds") if with_owners else None
    if owners is not None and not _string_list(owners):
        errors.append("filter.primaryUserIds must be a list of strings")
    if errors:
        return errors
    return CallFilter(
        start=bounds["fromDateTime"],
        end=bounds["toDateTime"],
        workspace_id=workspace_id or None,
        call_ids=frozenset(map(int, call_ids)) if call_ids else None,
        primary_user_ids=frozenset(owners) if owners else None,
    )


def _body_cursor(body: dict[str, Any]) -> str | None:
    cursor = body.get("cursor")
    return cursor if isinstance(cursor, str) else None


def _bad_cursor(body: dict[str, Any]) -> list[str]:
    cursor = body.get("cursor")
    return [] if cursor is None or isinstance(cursor, str) else ["cursor must be a string"]


@dataclass(frozen=True)
class ScorecardFilter:
    call_from: date | None = None
    call_to: date | None = None
    review_from: date | None = None
    review_to: date | None = None
    review_method: str | None = None
    reviewed_user_ids: frozenset[str] | None = None
    scorecard_ids: frozenset[int] | None = None

    def key(self) -> tuple[object, ...]:
        return (
            self.call_from,
            self.call_to,
            self.review_from,
            self.review_to,
            self.review_method,
            sorted(self.reviewed_user_ids or ()),
            sorted(self.scorecard_ids or ()),
        )


def _in_days(day: date, first: date | None, end: date | None) -> bool:
    return (first is None or first <= day) and (end is None or day < end)


class EndpointsMixin:
    """Answers and accessors of the newer endpoints; mixed into GongSandbox."""

    if TYPE_CHECKING:  # what GongSandbox provides
        _lock: threading.RLock
        _dataset: Dataset
        settings: SandboxSettings

        def now(self) -> datetime: ...

        def company_today(self) -> date: ...

        # GongSandbox._paged_answer: one page of a filter's results, cached per filter.
        _paged_answer: Callable[..., Reply]

    # -- derived data, built on first use (always under the sandbox lock) ---------------------

    @cached_property
    def _company(self) -> Company:
        dataset = self._dataset
        return Company(
            seed=dataset.seed,
            users=dataset.users,
            workspace_ids=dataset.workspace_ids,
            now=dataset.created_at,
            zone=dataset.zone,
        )

    @cached_property
    def _content(self) -> CallContent:
        dataset = self._dataset
        return CallContent(
            seed=dataset.seed, company=self._company, users=dataset.users, zone=dataset.zone
        )

    @cached_property
    def _reviews(self) -> Reviews:
        dataset = self._dataset
        return Reviews(
            seed=dataset.seed, company=self._company, users=dataset.users, zone=dataset.zone
        )

    @cached_property
    def _library(self) -> Library:
        dataset = self._dataset
        return Library(
            seed=dataset.seed,
            workspace_ids=dataset.workspace_ids,
            user_ids=[user.id for user in dataset.users],
            founded=dataset.created_at - timedelta(days=800),
            zone=dataset.zone,
        )

    @cached_property
    def _activity(self) -> Activity:
        return Activity(dataset=self._dataset, content=self._content, reviews=self._reviews)

    # -- accessors for tests: what the API sends -----------------------------------------------

    def call_details(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        content_selector: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """/v2/calls/extensive items of calls started in [start, end), in `started` order.

        The default selector asks for everything but media (whose URLs change per request).
        """
        selector = ContentSelector.parse(
            EVERYTHING if content_selector is None else content_selector
        )
        if isinstance(selector, str):
            raise ValueError(selector)
        with self._lock:
            now = self.now()
            return [
                json.loads(self._content.extensive(call, selector, now, "accessor"))
                for call in self._dataset.calls_started(start, end)
            ]

    def transcripts(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[dict[str, Any]]:
        """/v2/calls/transcript items of calls started in [start, end), in `started` order."""
        with self._lock:
            return [
                json.loads(self._transcript_item(call))
                for call in self._dataset.calls_started(start, end)
                if self._content.has_transcript(call)
            ]

    def call_counts(self, start: datetime, end: datetime) -> dict[str, int]:
        """How many calls /v2/calls lists in [start, end), started in it, and of those have a
        transcript; nothing is decoded or built (benchmarks count 250,000 calls).
        """
        with self._lock:
            started = self._dataset.calls_started(start, end)
            return {
                "listed": len(self._dataset.visible_calls(start, end)),
                "started": len(started),
                "transcripts": sum(map(self._content.has_transcript, started)),
            }

    def users(self, include_avatars: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(dumps(self._company.users(include_avatars)))

    def workspaces(self) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(dumps(self._company.workspaces))

    def trackers(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(dumps(self._company.trackers(workspace_id)))

    def scorecards(self) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(dumps([card.payload for card in self._company.scorecards]))

    def answered_scorecards(
        self,
        review_from: date | None = None,
        review_to: date | None = None,
        call_from: date | None = None,
        call_to: date | None = None,
    ) -> list[dict[str, Any]]:
        """Reviews published by now, in review-time order, filtered on company days like the API."""
        scorecard_filter = ScorecardFilter(call_from, call_to, review_from, review_to)
        with self._lock:
            return [
                json.loads(dumps(self._reviews.render(review)))
                for review in self._matching_reviews(scorecard_filter)
            ]

    def edit_answered_scorecard(
        self, answered_scorecard_id: int, review_time: datetime | None = None
    ) -> dict[str, Any]:
        """Change a review's answers (same answeredScorecardId); its reviewTime only if given."""
        with self._lock:
            review = next(
                (
                    r
                    for r in self._all_reviews()
                    if r.answered_scorecard_id == answered_scorecard_id
                ),
                None,
            )
            if review is None:
                raise KeyError(f"no answered scorecard {answered_scorecard_id}")
            self._reviews.edit(review, int(review_time.timestamp()) if review_time else None)
            self._dataset.touch()
            edited = next(
                r for r in self._all_reviews() if r.answered_scorecard_id == answered_scorecard_id
            )
            return json.loads(dumps(self._reviews.render(edited)))

    def library_folders(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        """/v2/library/folders items: the public folders of one workspace (None: all)."""
        with self._lock:
            return json.loads(dumps(self._library.workspace_folders(workspace_id)))

    def library_folder_calls(self, folder_id: str) -> list[dict[str, Any]]:
        """/v2/library/folder-content `calls[]` of one folder, as of now."""
        with self._lock:
            folder = self._library.folder(folder_id)
            if folder is None:
                raise KeyError(f"no library folder {folder_id}")
            calls = self._library.folder_calls(folder, self._dataset.calls_started(), self.now())
            return json.loads(dumps(calls))

    def user_activity(self, day: date) -> list[dict[str, Any]]:
        """/v2/stats/activity/day-by-day items for one company day."""
        with self._lock:
            items = self._activity.users_detailed_activities(
                day, day + timedelta(days=1), None, self.now()
            )
            return json.loads(dumps(items))

    def delete_calls(self, call_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Delete calls: they vanish from every endpoint, and so does what derives from them."""
        with self._lock:
            deleted = self._dataset.delete_calls(int(call_id) for call_id in call_ids)
        return [call.as_dict() for call in deleted]

    # -- answers -------------------------------------------------------------------------------

    def _shuffled(self, items: list[Any], digest: str) -> list[Any]:
        """Gong pages are not sorted: a stable order per filter, not the data's order."""
        random.Random(f"{self.settings.seed}:{digest}").shuffle(items)
        return items

    def _filtered_calls(self, call_filter: CallFilter) -> list[Call]:
        dataset = self._dataset
        if call_filter.call_ids is None:
            candidates = dataset.calls_started(call_filter.start, call_filter.end)
        else:
            found = (dataset.visible_call(call_id) for call_id in call_filter.call_ids)
            candidates = [call for call in found if call is not None]
        return [call for call in candidates if call_filter.matches(call)]

    def _extensive_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        selector = ContentSelector.parse(body.get("contentSelector"))
        call_filter = parse_call_filter(body, with_owners=True, max_call_ids=None)
        errors = [selector] if isinstance(selector, str) else []
        errors += call_filter if isinstance(call_filter, list) else []
        errors += _bad_cursor(body)
        if errors or isinstance(selector, str) or isinstance(call_filter, list):
            return error_reply(400, request_id, errors)
        digest = filter_digest("extensive", *call_filter.key(), selector.key())
        now = self.now()
        return self._paged_answer(
            request_id,
            digest,
            cursor=_body_cursor(body),
            items_key="calls",
            compute_items=lambda: self._shuffled(self._filtered_calls(call_filter), digest),
            not_found=NO_CALLS,
            render=lambda call: self._content.extensive(call, selector, now, request_id),
        )

    def _transcript_item(self, call: Call) -> bytes:
        transcript = self._content.transcript(call, self.settings.transcript_sentences)
        return dumps({"callId": str(call.id), "transcript": transcript})

    def _transcript_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        call_filter = parse_call_filter(
            body, with_owners=False, max_call_ids=MAX_TRANSCRIPT_CALL_IDS
        )
        if isinstance(call_filter, list) or _bad_cursor(body):
            errors = call_filter if isinstance(call_filter, list) else []
            return error_reply(400, request_id, errors + _bad_cursor(body))
        digest = filter_digest("transcript", *call_filter.key())
        has_transcript = self._content.has_transcript
        return self._paged_answer(
            request_id,
            digest,
            cursor=_body_cursor(body),
            items_key="callTranscripts",
            compute_items=lambda: self._shuffled(
                [c for c in self._filtered_calls(call_filter) if has_transcript(c)], digest
            ),
            not_found=NO_CALLS,
            render=self._transcript_item,
        )

    def _users_answer(self, query: dict[str, str], body: dict[str, Any], request_id: str) -> Reply:
        include_avatars = query.get("includeAvatars", "false").lower() == "true"
        return self._paged_answer(
            request_id,
            filter_digest("users", include_avatars),
            cursor=query.get("cursor"),
            items_key="users",
            compute_items=lambda: [dumps(u) for u in self._company.users(include_avatars)],
            not_found=NO_USERS,
        )

    def _workspaces_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        return Reply(200, dumps({"requestId": request_id, "workspaces": self._company.workspaces}))

    def _trackers_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        workspace_id = query.get("workspaceId") or None
        if workspace_id is not None and workspace_id not in self._dataset.workspace_ids:
            return error_reply(404, request_id, ["Workspace not found"])
        trackers = self._company.trackers(workspace_id)
        return Reply(200, dumps({"requestId": request_id, "keywordTrackers": trackers}))

    def _scorecards_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        scorecards = [card.payload for card in self._company.scorecards]
        return Reply(200, dumps({"requestId": request_id, "scorecards": scorecards}))

    def _library_folders_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        workspace_id = query.get("workspaceId") or None
        if workspace_id is not None and workspace_id not in self._dataset.workspace_ids:
            return error_reply(404, request_id, ["Workspace not found"])
        folders = self._library.workspace_folders(workspace_id)
        if not folders:
            return error_reply(404, request_id, [NO_FOLDERS])
        return Reply(200, dumps({"requestId": request_id, "folders": folders}))

    def _library_folder_content_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        folder_id = query.get("folderId")
        if not folder_id:
            return error_reply(400, request_id, ["folderId is required"])
        folder = self._library.folder(folder_id)
        calls = (
            self._library.folder_calls(folder, self._dataset.calls_started(), self.now())
            if folder
            else []
        )
        if folder is None or not calls:
            return error_reply(404, request_id, [NO_FOLDERS])
        fields = {name: folder.payload[name] for name in ("id", "name", "createdBy", "updated")}
        return Reply(200, dumps({"requestId": request_id, **fields, "calls": calls}))

    def _all_reviews(self) -> list[Review]:
        dataset = self._dataset
        return self._reviews.all(dataset.calls_started(), dataset.version)

    def _matching_reviews(self, wanted: ScorecardFilter) -> list[Review]:
        """Reviews published by now that match, in review-time order."""
        zone, cutoff = self._dataset.zone, self.now().timestamp()
        return [
            review
            for review in self._all_reviews()
            if review.review_at <= cutoff
            and _in_days(
                datetime.fromtimestamp(review.review_at, zone).date(),
                wanted.review_from,
                wanted.review_to,
            )
            and _in_days(
                datetime.fromtimestamp(review.call.started_at, zone).date(),
                wanted.call_from,
                wanted.call_to,
            )
            and (wanted.review_method in (None, review.scorecard.review_method))
            and (
                wanted.reviewed_user_ids is None or review.call.user_id in wanted.reviewed_user_ids
            )
            and (wanted.scorecard_ids is None or review.scorecard.id in wanted.scorecard_ids)
        ]

    def _answered_scorecards_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        parsed = self._scorecard_filter(body)
        if isinstance(parsed, list):
            return error_reply(400, request_id, parsed)
        digest = filter_digest("answered-scorecards", *parsed.key())
        now = self.now()
        return self._paged_answer(
            request_id,
            digest,
            cursor=_body_cursor(body),
            items_key="answeredScorecards",
            compute_items=lambda: self._shuffled(self._matching_reviews(parsed), digest),
            not_found=NO_ANSWERED_SCORECARDS,
            render=lambda review: dumps(self._reviews.render(review)),
            freshness=now,  # reviews appear as the clock passes their review time
        )

    def _scorecard_filter(self, body: dict[str, Any]) -> ScorecardFilter | list[str]:
        scorecard_filter = body.get("filter")
        if not isinstance(scorecard_filter, dict):
            return ["filter is required"]
        errors = _bad_cursor(body)
        days: dict[str, date | None] = {}
        for name in ("callFromDate", "callToDate", "reviewFromDate", "reviewToDate"):
            value = scorecard_filter.get(name)
            days[name] = parse_day(value)
            if value is not None and days[name] is None:
                errors.append(f"filter.{name} must be YYYY-MM-DD")
        # Unlike the stats' `toDate`, Gong accepts a `reviewToDate` in the future.
        review_to = days["reviewToDate"]
        method = scorecard_filter.get("reviewMethod")
        if method is not None and method not in REVIEW_METHODS:
            errors.append("filter.reviewMethod must be AUTOMATIC or MANUAL")
        reviewed = scorecard_filter.get("reviewedUserIds")
        if reviewed is not None and not _string_list(reviewed):
            errors.append("filter.reviewedUserIds must be a list of strings")
        scorecard_ids = scorecard_filter.get("scorecardIds")
        if scorecard_ids is not None and not (
            isinstance(scorecard_ids, list) and all(str(i).isdigit() for i in scorecard_ids)
        ):
            errors.append("filter.scorecardIds must be a list of scorecard ids")
        if errors:
            return errors
        return ScorecardFilter(
            call_from=days["callFromDate"],
            call_to=days["callToDate"],
            review_from=days["reviewFromDate"],
            review_to=review_to,
            review_method=method,
            reviewed_user_ids=frozenset(reviewed) if reviewed else None,
            scorecard_ids=frozenset(int(i) for i in scorecard_ids) if scorecard_ids else None,
        )

    def _company_days_filter(
        self, body: dict[str, Any]
    ) -> tuple[date, date, frozenset[str] | None] | list[str]:
        """The stats filter {fromDate, toDate, userIds} shared by /v2/stats/*, or its errors."""
        stats_filter = body.get("filter")
        if not isinstance(stats_filter, dict):
            return ["filter is required"]
        from_day = parse_day(stats_filter.get("fromDate"))
        to_day = parse_day(stats_filter.get("toDate"))
        user_ids = stats_filter.get("userIds")
        errors = [
            f"filter.{name} is required as YYYY-MM-DD"
            for name, day in (("fromDate", from_day), ("toDate", to_day))
            if day is None
        ]
        if user_ids is not None and not _string_list(user_ids):
            errors.append("filter.userIds must be a list of strings")
        errors += _bad_cursor(body)
        if errors or from_day is None or to_day is None:
            return errors
        if from_day >= to_day:
            return ["fromDate must be earlier than toDate"]
        today = self.company_today()
        if to_day > today:
            return [f"toDate cannot be later than the current day ({today})"]
        return from_day, to_day, frozenset(user_ids) if user_ids else None

    def _day_by_day_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        parsed = self._company_days_filter(body)
        if isinstance(parsed, list):
            return error_reply(400, request_id, parsed)
        from_day, to_day, user_ids = parsed
        now = self.now()
        return self._paged_answer(
            request_id,
            filter_digest("day-by-day", from_day, to_day, *sorted(user_ids or ())),
            cursor=_body_cursor(body),
            items_key="usersDetailedActivities",
            compute_items=lambda: [
                dumps(item)
                for item in self._activity.users_detailed_activities(
                    from_day, to_day, user_ids, now
                )
            ],
            not_found=NO_USERS,
            freshness=now,  # activity happens as the clock passes it
        )


Route = Callable[[Any, dict[str, str], dict[str, Any], str], Reply]
ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/v2/calls/extensive"): EndpointsMixin._extensive_answer,
    ("POST", "/v2/calls/transcript"): EndpointsMixin._transcript_answer,
    ("GET", "/v2/users"): EndpointsMixin._users_answer,
    ("GET", "/v2/workspaces"): EndpointsMixin._workspaces_answer,
    ("GET", "/v2/settings/scorecards"): EndpointsMixin._scorecards_answer,
    ("GET", "/v2/settings/trackers"): EndpointsMixin._trackers_answer,
    ("POST", "/v2/stats/activity/scorecards"): EndpointsMixin._answered_scorecards_answer,
    ("POST", "/v2/stats/activity/day-by-day"): EndpointsMixin._day_by_day_answer,
    ("GET", "/v2/library/folders"): EndpointsMixin._library_folders_answer,
    ("GET", "/v2/library/folder-content"): EndpointsMixin._library_folder_content_answer,
}
