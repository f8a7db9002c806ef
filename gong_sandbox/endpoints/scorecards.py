"""Scorecards and their reviews: GET /v2/settings/scorecards and
POST /v2/stats/activity/scorecards (answered scorecards)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from gong_sandbox.data.scoring import Review
from gong_sandbox.endpoints.family import (
    EndpointFamily,
    bad_cursor,
    body_cursor,
    in_days,
    string_list,
)
from gong_sandbox.protocol import ApiRequest, Reply, dumps, error_reply, filter_digest, parse_day

NO_ANSWERED_SCORECARDS = "No answered scorecards found corresponding to the provided filters."
REVIEW_METHODS = ("AUTOMATIC", "MANUAL")


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


def parse_scorecard_filter(body: dict[str, Any]) -> ScorecardFilter | list[str]:
    """The body's filter of answered scorecards, or the errors that make it malformed."""
    scorecard_filter = body.get("filter")
    if not isinstance(scorecard_filter, dict):
        return ["filter is required"]
    errors = bad_cursor(body)
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
    if reviewed is not None and not string_list(reviewed):
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


class ScorecardEndpoints(EndpointFamily):
    def scorecards(self, request: ApiRequest) -> Reply:
        scorecards = [card.payload for card in self.world.company.scorecards]
        return Reply(200, dumps({"requestId": request.request_id, "scorecards": scorecards}))

    def answered_scorecards(self, request: ApiRequest) -> Reply:
        body, request_id = request.fields, request.request_id
        parsed = parse_scorecard_filter(body)
        if isinstance(parsed, list):
            return error_reply(400, request_id, parsed)
        digest = filter_digest("answered-scorecards", *parsed.key())
        now = self.clock.now()
        reviews = self.world.reviews
        return self.pager.page(
            request_id,
            digest,
            cursor=body_cursor(body),
            items_key="answeredScorecards",
            compute_items=lambda: self.shuffled(self.matching_reviews(parsed), digest),
            not_found=NO_ANSWERED_SCORECARDS,
            render=lambda review: dumps(reviews.render(review)),
            freshness=now,  # reviews appear as the clock passes their review time
        )

    def matching_reviews(self, wanted: ScorecardFilter) -> list[Review]:
        """Reviews published by now that match, in review-time order."""
        zone, cutoff = self.world.dataset.zone, self.clock.now().timestamp()
        return [
            review
            for review in self.world.all_reviews()
            if review.review_at <= cutoff
            and in_days(
                datetime.fromtimestamp(review.review_at, zone).date(),
                wanted.review_from,
                wanted.review_to,
            )
            and in_days(
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
