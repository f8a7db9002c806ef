"""Company-wide data: user metadata, workspaces, keyword trackers and scorecard definitions.

Built once from the seed, the users and the data set's `now`; small, so kept as plain dicts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gong_sandbox.data.dataset import User

# Gong's scorecard family are int64 ids; above 2**53 so a parser going through doubles breaks.
INT53_LIMIT = 2**53
INT64_MAX = 2**63 - 1
TITLES = ("Account Executive", "SDR", "Sales Manager", "Solutions Engineer", "VP Sales")
LANGUAGE_TAGS = ("en-US", "en-GB", "fr-FR", "de-DE", "es-ES", "ja-JP")
WORKSPACE_NAMES = ("Initial workspace", "EMEA Sales", "Customer Success", "Partners")
# (name, keywords, saidInTopics): the keywords also turn up in transcripts.
KEYWORD_TRACKERS = (
    ("Competitors", ("Globex", "Initech", "Hooli"), ("Pricing",)),
    ("Pricing", ("price", "discount", "budget"), ()),
    ("Next steps", ("follow up", "next week", "send over"), ("Next Steps",)),
    ("Security", ("SOC 2", "GDPR", "SSO"), ()),
    ("Timeline", ("this quarter", "deadline", "Q3"), ()),
)
SMART_TRACKERS = ("Objection handling", "Pain points")
AVATAR_EMAIL = "gong.support.avatar@gong.io"
# The updaterUserId live Gong gives what it provisioned itself.
GONG_PROVISIONED = "-1"
OUTBOUND_CALLS_QUERY = '{"type":"And","filters":[{"type":"CallDirection","terms":["Outbound"]}]}'


@dataclass(frozen=True)
class Question:
    payload: dict[str, Any]  # the API's question object

    @property
    def question_type(self) -> str:
        return str(self.payload["questionType"])


@dataclass(frozen=True)
class Scorecard:
    payload: dict[str, Any]  # the API's scorecard object
    questions: tuple[Question, ...]

    @property
    def id(self) -> int:
        return int(self.payload["scorecardId"])

    @property
    def review_method(self) -> str:
        return str(self.payload["reviewMethod"])


def int64_id(rng: random.Random) -> int:
    return rng.randint(INT53_LIMIT + 1, INT64_MAX)


def gong_id(rng: random.Random) -> str:
    """A string id of 17 to 19 digits, like Gong's tracker, party and speaker ids."""
    return str(rng.randint(10**16, 10**19 - 1))


class Company:
    """Users' metadata, workspaces, keyword trackers and scorecards of one fake company."""

    def __init__(
        self,
        *,
        seed: int,
        users: list[User],
        workspace_ids: list[str],
        now: datetime,
        zone: ZoneInfo,
    ) -> None:
        self.zone = zone
        self._users = users
        self._workspace_ids = workspace_ids
        self._founded = now - timedelta(days=800)
        rng = random.Random(f"{seed}:company")
        self.user_metadata = [self._user_metadata(rng, index) for index in range(len(users))]
        self._titles = {user["id"]: user["title"] for user in self.user_metadata}
        self.avatar = self._avatar(rng)
        self.workspaces = [
            {
                "id": workspace_id,
                "name": WORKSPACE_NAMES[index % len(WORKSPACE_NAMES)]
                + (
                    f" {index // len(WORKSPACE_NAMES) + 1}" if index >= len(WORKSPACE_NAMES) else ""
                ),
                "description": "Deals in progress" if index % 2 else "",
            }
            for index, workspace_id in enumerate(workspace_ids)
        ]
        self.keyword_trackers = [
            self._keyword_tracker(rng, workspace_id, *tracker)
            for workspace_id in workspace_ids
            for tracker in KEYWORD_TRACKERS
        ]
        self.smart_tracker_ids = {name: gong_id(rng) for name in SMART_TRACKERS}
        self.scorecards = [
            self._scorecard(rng, workspace_id, name, method, enabled)
            for workspace_id in workspace_ids
            for name, method, enabled in (
                ("Discovery quality", "MANUAL", True),
                ("AI call review", "AUTOMATIC", True),
                ("Legacy demo scorecard", "MANUAL", False),
            )
        ]

    def _local(self, instant: datetime) -> str:
        return instant.astimezone(self.zone).isoformat()

    def _before_founding_plus(self, rng: random.Random, days: int) -> datetime:
        return self._founded + timedelta(seconds=rng.randint(0, days * 86_400))

    def _user_metadata(self, rng: random.Random, index: int) -> dict[str, Any]:
        user = self._users[index]
        local_part = user.email_address.split("@")[0]
        spoken = rng.sample(LANGUAGE_TAGS, rng.randint(1, 2))
        return {
            "id": user.id,
            "emailAddress": user.email_address,
            "created": self._local(self._before_founding_plus(rng, 400)),
            "active": index == 0 or rng.random() < 0.9,
            "emailAliases": [f"{local_part}@example.org"] if rng.random() < 0.3 else [],
            "trustedEmailAddress": user.email_address,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "title": TITLES[index % len(TITLES)],
            "phoneNumber": f"+1 415 555 {rng.randint(0, 9999):04d}",
            "extension": str(rng.randint(100, 999)) if rng.random() < 0.5 else None,
            "personalMeetingUrls": [f"https://zoom.us/my/{local_part.replace('.', '')}"],
            "settings": {
                "webConferencesRecorded": True,
                "preventWebConferenceRecording": False,
                "telephonyCallsImported": rng.random() < 0.5,
                "emailsImported": rng.random() < 0.7,
                "preventEmailImport": False,
                "nonRecordedMeetingsImported": rng.random() < 0.5,
                "gongConnectEnabled": rng.random() < 0.4,
            },
            # A tree: the first user manages the next three, each of those three more, ...
            "managerId": self._users[(index - 1) // 3].id if index else None,
            "meetingConsentPageUrl": f"https://join.gong.io/example/{local_part}",
            "spokenLanguages": [
                {"language": language, "primary": position == 0}
                for position, language in enumerate(spoken)
            ],
        }

    def _avatar(self, rng: random.Random) -> dict[str, Any]:
        return {
            "id": str(rng.randint(10**17, 10**18 - 1)),
            "emailAddress": AVATAR_EMAIL,
            "created": self._local(self._founded),
            "active": True,
            "emailAliases": [],
            "firstName": "Gong",
            "lastName": "Support",
            "title": "Customer Success Manager",
            "personalMeetingUrls": [],
            "settings": {},
            "spokenLanguages": [{"language": "en-US", "primary": True}],
        }

    def _keyword_tracker(
        self,
        rng: random.Random,
        workspace_id: str,
        name: str,
        keywords: tuple[str, ...],
        topics: tuple[str, ...],
    ) -> dict[str, Any]:
        built_in = name == "Competitors"
        created = self._before_founding_plus(rng, 300)
        said_at = rng.choice(("Anytime", "Anytime", "First", "Last"))
        return {
            "trackerId": gong_id(rng),
            "trackerName": name,
            "workspaceId": workspace_id,
            "languageKeywords": [
                {"language": "eng", "keywords": list(keywords), "includeRelatedForms": True},
                {"language": "mul", "keywords": [keywords[0]], "includeRelatedForms": False},
            ],
            "affiliation": rng.choice(("Anyone", "Company", "NonCompany")),
            "partOfQuestion": rng.random() < 0.2,
            "saidAt": said_at,
            "saidAtInterval": None if said_at == "Anytime" else rng.choice((5, 10, 20)),
            "saidAtUnit": None if said_at == "Anytime" else rng.choice(("Minutes", "Percent")),
            "saidInTopics": list(topics),
            "saidInCallParts": [] if rng.random() < 0.7 else ["Beginning"],
            "filterQuery": OUTBOUND_CALLS_QUERY,
            "created": self._local(created),
            "creatorUserId": None if built_in else rng.choice(self._users).id,
            "updated": self._local(created + timedelta(days=rng.randint(0, 200))),
            "updaterUserId": None if built_in else rng.choice(self._users).id,
        }

    def _scorecard(
        self, rng: random.Random, workspace_id: str, name: str, method: str, enabled: bool
    ) -> Scorecard:
        created = self._before_founding_plus(rng, 300)
        questions = (
            Question(
                {
                    "questionId": int64_id(rng),
                    "questionRevisionId": int64_id(rng),
                    "questionText": "Overall, how well did the rep run this call?",
                    "isOverall": True,
                    "questionType": "RANGE",
                    "answerGuide": "1: poorly, 5: a model call",
                    "minRange": "1",
                    "maxRange": "5",
                    "answerOptions": None,
                }
            ),
            Question(
                {
                    "questionId": int64_id(rng),
                    "questionRevisionId": int64_id(rng),
                    "questionText": "Which next step was agreed?",
                    "isOverall": False,
                    "questionType": "SINGLE_SELECT",
                    "answerGuide": "Pick what the customer committed to",
                    "minRange": None,
                    "maxRange": None,
                    "answerOptions": [
                        {"id": rng.randint(1, 2**31 - 1), "text": text}
                        for text in ("Demo", "Trial", "Proposal", "None")
                    ],
                }
            ),
            Question(
                {
                    "questionId": int64_id(rng),
                    "questionRevisionId": int64_id(rng),
                    "questionText": "What should the rep do differently?",
                    "isOverall": False,
                    "questionType": "OPEN",
                    "answerGuide": "",
                    "minRange": None,
                    "maxRange": None,
                    "answerOptions": None,
                }
            ),
        )
        payload = {
            "scorecardId": int64_id(rng),
            "scorecardName": name,
            "workspaceId": int(workspace_id),
            "enabled": enabled,
            "updaterUserId": int(rng.choice(self._users).id),
            "created": self._local(created),
            "updated": self._local(created + timedelta(days=rng.randint(0, 100))),
            "reviewMethod": method,
            "questions": [question.payload for question in questions],
        }
        # As live Gong sends them (unlike its spec): ranges as strings (above), and each
        # question's own created, updated and updaterUserId ("-1": Gong provisioned it).
        for question in questions:
            question.payload.update(
                created=payload["created"],
                updated=payload["updated"],
                updaterUserId=(
                    GONG_PROVISIONED if method == "AUTOMATIC" else str(payload["updaterUserId"])
                ),
            )
        return Scorecard(payload, questions)

    def users(self, include_avatars: bool) -> list[dict[str, Any]]:
        return [*self.user_metadata, self.avatar] if include_avatars else self.user_metadata

    def trackers(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        return [
            tracker
            for tracker in self.keyword_trackers
            if workspace_id is None or tracker["workspaceId"] == workspace_id
        ]

    def user_title(self, user_id: str) -> str:
        return str(self._titles[user_id])

    def workspace_scorecards(self, workspace_id: str) -> list[Scorecard]:
        """The enabled scorecards reviewers can fill for calls of this workspace."""
        return [
            card
            for card in self.scorecards
            if card.payload["enabled"] and str(card.payload["workspaceId"]) == workspace_id
        ]
