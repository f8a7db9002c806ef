"""Day-by-day user activity (/v2/stats/activity/day-by-day), derived from the calls.

Each call leaves events: its host hosted it and its internal parties attended it (the day it
started), comments were given and received the day they were posted, scorecards filled and
received (with the feedback they stand for) the day of the review, and a few calls were
listened to or shared after they ended. Events after `now` have not happened yet.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from gong_sandbox.data.content import MAX_COMMENT_DELAY, CallContent
from gong_sandbox.data.dataset import Call, Dataset
from gong_sandbox.data.scoring import MAX_REVIEW_DELAY_SECONDS, Reviews

ACTIVITY_KINDS = (
    "callsAsHost", "callsAttended", "callsGaveFeedback", "callsRequestedFeedback",
    "callsReceivedFeedback", "ownCallsListenedTo", "othersCallsListenedTo",
    "callsSharedInternally", "callsSharedExternally", "callsScorecardsFilled",
    "callsScorecardsReceived", "callsCommentsGiven", "callsCommentsReceived",
    "callsMarkedAsFeedbackGiven", "callsMarkedAsFeedbackReceived",
)  # fmt: skip
# The latest an event comes after its call started: the longest call plus the longest delay.
MAX_EVENT_LAG = timedelta(
    seconds=90 * 60 + max(MAX_REVIEW_DELAY_SECONDS, int(MAX_COMMENT_DELAY.total_seconds()))
)
# (kind, seconds after the call ends, one call in N): listening and sharing after the call.
AFTER_CALL_EVENTS = (
    ("ownCallsListenedTo", 2 * 3600, 4),
    ("callsSharedInternally", 3600, 5),
    ("callsSharedExternally", 3 * 3600, 7),
)

Event = tuple[str, int, str]  # (user id, epoch second, kind)


def _roll(call: Call, kind: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(f"{call.id}:{kind}".encode(), digest_size=4).digest(), "big"
    )


class Activity:
    def __init__(self, *, dataset: Dataset, content: CallContent, reviews: Reviews) -> None:
        self._dataset = dataset
        self._content = content
        self._reviews = reviews

    def _events(self, call: Call) -> Iterator[Event]:
        host = call.user_id
        yield host, call.started_at, "callsAsHost"
        for user_id in self._content.cast(call).attending_user_ids:
            if user_id != host:
                yield user_id, call.started_at, "callsAttended"
        for posted_at, comment in self._content.all_comments(call):
            yield comment["commenterUserId"], posted_at, "callsCommentsGiven"
            if comment["commenterUserId"] != host:
                yield host, posted_at, "callsCommentsReceived"
        ended = call.started_at + call.duration
        for review in self._reviews.of_call(call):
            reviewer, at = review.reviewer_id, review.review_at
            yield reviewer, at, "callsScorecardsFilled"
            yield host, at, "callsScorecardsReceived"
            yield reviewer, at - 600, "othersCallsListenedTo"
            if review.scorecard.review_method == "MANUAL":
                yield host, ended, "callsRequestedFeedback"
                yield reviewer, at, "callsGaveFeedback"
                yield reviewer, at, "callsMarkedAsFeedbackGiven"
                yield host, at, "callsReceivedFeedback"
                yield host, at, "callsMarkedAsFeedbackReceived"
        for kind, delay, one_in in AFTER_CALL_EVENTS:
            if _roll(call, kind) % one_in == 0:
                yield host, ended + delay, kind

    def users_detailed_activities(
        self, from_day: date, to_day: date, user_ids: frozenset[str] | None, now: datetime
    ) -> list[dict[str, Any]]:
        """One item per user with activity in [from_day, to_day), one entry per active day."""
        dataset = self._dataset
        start, end = dataset.midnight(from_day), dataset.midnight(to_day)
        first, last, cutoff = start.timestamp(), end.timestamp(), now.timestamp()
        by_user: defaultdict[str, defaultdict[date, defaultdict[str, set[int]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(set))
        )
        for call in dataset.calls_started(start - MAX_EVENT_LAG, end):
            for user_id, at, kind in self._events(call):
                if first <= at < last and at <= cutoff and (not user_ids or user_id in user_ids):
                    day = datetime.fromtimestamp(at, dataset.zone).date()
                    by_user[user_id][day][kind].add(call.id)
        return [
            {
                "userId": user_id,
                "userEmailAddress": dataset.user(user_id).email_address,
                "userDailyActivityStats": [
                    {
                        **{
                            kind: [str(i) for i in sorted(days[day][kind])]
                            for kind in ACTIVITY_KINDS
                        },
                        "fromDate": dataset.midnight(day).isoformat(),
                        "toDate": dataset.midnight(day + timedelta(days=1)).isoformat(),
                    }
                    for day in sorted(days)
                ],
            }
            for user_id, days in sorted(by_user.items(), key=lambda item: int(item[0]))
        ]
