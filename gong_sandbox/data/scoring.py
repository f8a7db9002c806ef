"""Answered scorecards: reviews of calls, some hours or days after them, editable later.

A call's reviews follow from its id (about one call in four is reviewed, a few twice); an
edit keeps the review's answeredScorecardId and draws new answers, as when a manager changes
a score in Gong. Ids of this family are int64 numbers in Gong's JSON, most of them > 2**53.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gong_sandbox.data.company import Company, Question, Scorecard, int64_id
from gong_sandbox.data.dataset import Call, User

MIN_REVIEW_DELAY_SECONDS = 3_600
MAX_REVIEW_DELAY_SECONDS = 4 * 86_400
REVIEWED_PER_MILLE = 250
VISIBILITIES = ("PUBLIC", "PUBLIC", "PRIVATE", "OPT_IN_USERS")
ANSWER_TEXTS = (
    "Slow down on pricing.",
    "Ask more open questions.",
    "Great discovery — keep it up!",
)


@dataclass(frozen=True)
class Review:
    answered_scorecard_id: int
    call: Call
    scorecard: Scorecard
    reviewer_id: str
    review_at: int  # epoch seconds
    revision: int  # how many times it was edited


@dataclass(frozen=True)
class _Edit:
    revision: int
    review_at: int | None


class Reviews:
    """Every review of the visible calls, and the edits made to them since."""

    def __init__(self, *, seed: int, company: Company, users: list[User], zone: ZoneInfo) -> None:
        self._seed = seed
        self._company = company
        self._users = users
        self._zone = zone
        self._edits: dict[int, _Edit] = {}
        self._index: tuple[int, list[Review]] | None = None

    def of_call(self, call: Call) -> list[Review]:
        roll = int.from_bytes(
            hashlib.blake2b(f"{self._seed}:{call.id}".encode(), digest_size=4).digest(), "big"
        )
        scorecards = self._company.workspace_scorecards(call.workspace_id)
        if roll % 1000 >= REVIEWED_PER_MILLE or not scorecards:
            return []
        rng = random.Random(f"{self._seed}:reviews:{call.id}")
        reviewers = [user for user in self._users if user.id != call.user_id] or self._users
        reviews = []
        for _ in range(1 if roll % 1000 >= REVIEWED_PER_MILLE // 5 else 2):
            answered_id = int64_id(rng)
            review_at = (
                call.started_at
                + call.duration
                + rng.randint(MIN_REVIEW_DELAY_SECONDS, MAX_REVIEW_DELAY_SECONDS)
            )
            edit = self._edits.get(answered_id, _Edit(0, None))
            reviews.append(
                Review(
                    answered_scorecard_id=answered_id,
                    call=call,
                    scorecard=rng.choice(scorecards),
                    reviewer_id=rng.choice(reviewers).id,
                    review_at=review_at if edit.review_at is None else edit.review_at,
                    revision=edit.revision,
                )
            )
        return reviews

    def all(self, calls: list[Call], version: int) -> list[Review]:
        """Reviews of these calls (the data set at `version`), in review-time order."""
        if self._index is None or self._index[0] != version:
            reviews = [review for call in calls for review in self.of_call(call)]
            reviews.sort(key=lambda review: (review.review_at, review.answered_scorecard_id))
            self._index = (version, reviews)
        return self._index[1]

    def edit(self, review: Review, review_at: int | None) -> None:
        """New answers for this review from now on (and a new review time if given)."""
        self._edits[review.answered_scorecard_id] = _Edit(review.revision + 1, review_at)

    def render(self, review: Review) -> dict[str, Any]:
        call = review.call
        rng = random.Random(
            f"{self._seed}:answers:{review.answered_scorecard_id}:{review.revision}"
        )
        return {
            "answeredScorecardId": review.answered_scorecard_id,
            "scorecardId": review.scorecard.id,
            "scorecardName": review.scorecard.payload["scorecardName"],
            "callId": call.id,
            "callStartTime": datetime.fromtimestamp(call.started_at, self._zone).isoformat(),
            "reviewedUserId": int(call.user_id),
            "reviewerUserId": int(review.reviewer_id),
            "reviewTime": datetime.fromtimestamp(review.review_at, self._zone).isoformat(),
            "visibilityType": rng.choice(VISIBILITIES),
            "reviewMethod": review.scorecard.review_method,
            "answers": [self._answer(rng, question) for question in review.scorecard.questions],
        }

    @staticmethod
    def _answer(rng: random.Random, question: Question) -> dict[str, Any]:
        payload = question.payload
        not_applicable = not payload["isOverall"] and rng.random() < 0.15
        answer: dict[str, Any] = {
            "questionId": payload["questionId"],
            "questionRevisionId": payload["questionRevisionId"],
            "isOverall": payload["isOverall"],
            "score": None,
            "answerText": None,
            "notApplicable": not_applicable,
            "selectedOptions": None,
        }
        if not_applicable:
            return answer
        if question.question_type == "RANGE":
            answer["score"] = rng.randint(int(payload["minRange"]), int(payload["maxRange"]))
        elif question.question_type == "SINGLE_SELECT":
            answer["selectedOptions"] = [str(rng.choice(payload["answerOptions"])["id"])]
        else:
            answer["answerText"] = rng.choice(ANSWER_TEXTS)
        return answer
