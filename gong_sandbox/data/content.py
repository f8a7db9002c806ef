"""What /v2/calls/extensive and /v2/calls/transcript add to a call, derived from the call.

Nothing here is stored: each part is drawn from a generator seeded with the call's id, so a
call's parties, transcript and comments are the same on every request and cost memory only
while one page is built. Parties' `speakerId`s are the transcript's, internal parties link
to the sandbox's users, and tracker ids are the company's keyword trackers'.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gong_sandbox.data.company import SMART_TRACKERS, Company, gong_id
from gong_sandbox.data.dataset import AVERAGED_STATS, COMPANIES, LONGEST_STATS, Call, User
from gong_sandbox.protocol import dumps

CONTENT_FIELDS = (
    "structure", "topics", "trackers", "trackerOccurrences", "pointsOfInterest", "brief",
    "outline", "highlights", "callOutcome", "keyPoints",
)  # fmt: skip
INTERACTION_FIELDS = ("speakers", "video", "personInteractionStats", "questions")
CONTEXT_LEVELS = ("None", "Basic", "Extended")
CONTEXT_TIMINGS = ("Now", "TimeOfCall")
TOPICS = ("Pricing", "Product Demo", "Next Steps", "Call Setup", "Small Talk", "Security")
STRUCTURE = ("Intro", "Discovery", "Demo", "Q&A", "Wrap-up")
OUTCOMES = (
    ("Qualified", "Positive"), ("Follow-up scheduled", "Positive"),
    ("Not interested", "Negative"), ("No decision", "Neutral"),
)  # fmt: skip
VIDEO_SEGMENTS = ("Browser", "Presentation", "WebcamPrimaryUser", "WebcamNonCompany", "Webcam")
SENTENCES = (
    "Thanks for making the time today.",
    "Can you walk me through how your team handles this now?",
    "Our budget for this quarter is already allocated.",
    "We compared you with Globex last year.",
    "Does it support SSO and GDPR requests?",
    "I'll send over the proposal by next week.",
    "Ça marche, on se reparle jeudi.",
    "Die Preise müssen wir intern abstimmen.",
    "来週までに資料を送ります。",
    'He said "maybe" \N{EN DASH} that\'s not a yes.',
    "What would a discount look like for a two-year deal?",
    "Let's follow up once legal has reviewed it.",
)
EXTERNAL_NAMES = ("Jordan Smith", "Amélie Dubois", "Kenji Tanaka", "Priya Patel", "Seán O'Neil")
EXTERNAL_TITLES = ("CTO", "Head of Procurement", "Director of Sales Ops", None)
CRM_ID_PREFIXES = ("001", "003", "006", "00Q")  # Salesforce's key prefixes
STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won")
# Speakers of imported calls: the recording has voices but Gong knows no parties.
IMPORTED_SPEAKERS = 2
MAX_COMMENT_DELAY = timedelta(days=2)
MEDIA_HOST = "https://gong-sandbox-media.s3.amazonaws.com"


@dataclass(frozen=True)
class ContentSelector:
    """What a request's contentSelector asks for (Gong's defaults for what it omits)."""

    context: str = "None"
    context_timing: tuple[str, ...] = ("Now",)
    parties: bool = False
    content: frozenset[str] = frozenset()
    interaction: frozenset[str] = frozenset()
    public_comments: bool = False
    media: bool = False

    @classmethod
    def parse(cls, value: object) -> ContentSelector | str:
        """The selector, or a message naming what is malformed."""
        if value is None:
            return cls()
        if not isinstance(value, dict):
            return "contentSelector must be an object"
        context = value.get("context", "None")
        if context not in CONTEXT_LEVELS:
            return f"contentSelector.context must be one of {', '.join(CONTEXT_LEVELS)}"
        timing = value.get("contextTiming", ["Now"])
        if not isinstance(timing, list) or not set(timing) <= set(CONTEXT_TIMINGS):
            return "contentSelector.contextTiming must be a list of Now and TimeOfCall"
        if "contextTiming" in value and context != "Extended":
            return "contentSelector.contextTiming can be provided only when context is Extended"
        exposed = value.get("exposedFields") or {}
        if not isinstance(exposed, dict):
            return "contentSelector.exposedFields must be an object"
        return cls(
            context=context,
            context_timing=tuple(t for t in CONTEXT_TIMINGS if t in timing),
            parties=exposed.get("parties") is True,
            content=_chosen(exposed.get("content"), CONTENT_FIELDS),
            interaction=_chosen(exposed.get("interaction"), INTERACTION_FIELDS),
            public_comments=_chosen(exposed.get("collaboration"), ("publicComments",)) != set(),
            media=exposed.get("media") is True,
        )

    def key(self) -> str:
        """A canonical text of the selector, for binding cursors to it."""
        return dumps(
            [
                self.context,
                self.context_timing,
                self.parties,
                sorted(self.content),
                sorted(self.interaction),
                self.public_comments,
                self.media,
            ]
        ).decode()


def _chosen(flags: object, names: tuple[str, ...]) -> frozenset[str]:
    if not isinstance(flags, Mapping):
        return frozenset()
    return frozenset(name for name in names if flags.get(name) is True)


@dataclass(frozen=True)
class Speaker:
    speaker_id: str
    party_id: str | None
    user_id: str | None
    internal: bool


@dataclass(frozen=True)
class Cast:
    """Who took part in a call: Gong's parties (None for imported calls) and who spoke."""

    parties: list[dict[str, Any]] | None
    speakers: list[Speaker]

    @property
    def attending_user_ids(self) -> list[str]:
        return [party["userId"] for party in self.parties or () if party.get("userId")]


class CallContent:
    """Builds the extensive content and transcript of any call, the same every time."""

    def __init__(self, *, seed: int, company: Company, users: list[User], zone: ZoneInfo) -> None:
        self._seed = seed
        self._company = company
        self._users = users
        self._users_by_id = {user.id: user for user in users}
        self._zone = zone

    def _rng(self, part: str, call: Call) -> random.Random:
        return random.Random(f"{self._seed}:{part}:{call.id}")

    def _local(self, epoch_seconds: float) -> str:
        return datetime.fromtimestamp(epoch_seconds, self._zone).isoformat()

    @staticmethod
    def is_imported(call: Call) -> bool:
        return b'"customData":"imported"' in call.payload

    @staticmethod
    def has_transcript(call: Call) -> bool:
        """Calls too short or without enough speech ('zxx') have no transcript."""
        return call.duration >= 60 and b'"language":"zxx"' not in call.payload

    def cast(self, call: Call) -> Cast:
        rng = self._rng("parties", call)
        if self.is_imported(call):
            voices = [Speaker(gong_id(rng), None, None, False) for _ in range(IMPORTED_SPEAKERS)]
            return Cast(None, voices)
        host = self._users_by_id[call.user_id]
        others = [user for user in self._users if user.id != host.id]
        colleagues = rng.sample(others, min(len(others), rng.randint(0, 2)))
        internal_scope = b'"scope":"Internal"' in call.payload
        externals = 0 if internal_scope else rng.randint(1, 3)
        parties: list[dict[str, Any]] = []
        speakers: list[Speaker] = []
        for user in (host, *colleagues):
            party = self._party(rng, speaks=user is host or rng.random() < 0.7)
            party.update(
                emailAddress=user.email_address,
                name=f"{user.first_name} {user.last_name}",
                title=self._company.user_title(user.id),
                userId=user.id,
                affiliation="Internal",
            )
            parties.append(party)
        domain = rng.choice(COMPANIES).lower().replace(" ", "").replace("'", "")
        for _ in range(externals):
            name = rng.choice(EXTERNAL_NAMES)
            party = self._party(rng, speaks=rng.random() < 0.8)
            party.update(
                emailAddress=f"{name.split()[0].lower()}@{domain}.example",
                name=name,
                title=rng.choice(EXTERNAL_TITLES),
                affiliation=rng.choice(("External", "External", "Unknown")),
                phoneNumber=f"+44 20 7946 {rng.randint(0, 9999):04d}",
                context=[self._crm_context(rng, ("Contact", "Lead"))],
            )
            parties.append(party)
        for party in parties:
            if party["speakerId"] is not None:
                speakers.append(
                    Speaker(
                        party["speakerId"],
                        party["id"],
                        party.get("userId"),
                        party["affiliation"] == "Internal",
                    )
                )
        return Cast(parties, speakers)

    @staticmethod
    def _party(rng: random.Random, *, speaks: bool) -> dict[str, Any]:
        return {
            "id": gong_id(rng),
            "speakerId": gong_id(rng) if speaks else None,
            "methods": ["Invitee", "Attendee"] if speaks else ["Invitee"],
        }

    def _crm_context(self, rng: random.Random, object_types: tuple[str, ...]) -> dict[str, Any]:
        """One CRM system's objects, each with field values of every JSON type."""
        objects = []
        for object_type in object_types:
            stage = rng.randrange(len(STAGES) - 1)
            fields_now = self._crm_fields(rng, object_type, stage + 1)
            objects.append(
                {
                    "objectType": object_type,
                    "objectId": f"{rng.choice(CRM_ID_PREFIXES)}{rng.getrandbits(60):015X}",
                    "fields_by_timing": {
                        "Now": fields_now,
                        "TimeOfCall": self._crm_fields(rng, object_type, stage),
                    },
                }
            )
        return {"system": rng.choice(("Salesforce", "Salesforce", "HubSpot")), "objects": objects}

    @staticmethod
    def _crm_fields(rng: random.Random, object_type: str, stage: int) -> list[dict[str, Any]]:
        values: dict[str, Any]
        if object_type == "Opportunity":
            values = {
                "Name": f"{rng.choice(COMPANIES)} \N{EN DASH} renewal",
                "StageName": STAGES[stage],
                "Amount": round(rng.uniform(1_000, 250_000), 2),
                "Probability": stage * 20,
                "CloseDate": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "IsClosed": stage == len(STAGES) - 1,
                "Competitors__c": rng.sample(("Globex", "Initech", "Hooli"), 2),
                "Next_Step__c": None,
            }
        elif object_type == "Account":
            values = {
                "Name": rng.choice(COMPANIES),
                "Website": "https://example.com",
                "Industry": rng.choice(("Software", "Manufacturing", None)),
                "NumberOfEmployees": rng.randint(10, 50_000),
                "Region__c": {"code": "EMEA", "name": "Europe, Middle East & Africa"},
            }
        else:
            values = {"Email": "contact@example.com", "Score__c": rng.randint(0, 100)}
        return [{"name": name, "value": value} for name, value in values.items()]

    def _call_context(self, call: Call, selector: ContentSelector) -> list[dict[str, Any]]:
        """The call's CRM links ([] when it has none, as Gong answers)."""
        rng = self._rng("context", call)
        if self.is_imported(call) or rng.random() < 0.3:
            return []
        return [
            self._selected_context(self._crm_context(rng, ("Account", "Opportunity")), selector)
        ]

    @staticmethod
    def _selected_context(context: dict[str, Any], selector: ContentSelector) -> dict[str, Any]:
        """Basic: the objects only; Extended: their fields too, once per timing asked for."""
        objects = []
        for crm_object in context["objects"]:
            link = {"objectType": crm_object["objectType"], "objectId": crm_object["objectId"]}
            if selector.context == "Basic":
                objects.append({**link, "timing": "Now"})
                continue
            objects.extend(
                {**link, "fields": crm_object["fields_by_timing"][timing], "timing": timing}
                for timing in selector.context_timing
            )
        return {"system": context["system"], "objects": objects}

    def transcript(self, call: Call, sentences: int) -> list[dict[str, Any]] | None:
        """Monologues of `sentences` sentences in all, spread over the call; None: no transcript."""
        if not self.has_transcript(call):
            return None
        speakers = self.cast(call).speakers
        if not speakers:
            return None
        rng = self._rng("transcript", call)
        step = call.duration * 1000 // max(sentences, 1)
        monologues: list[dict[str, Any]] = []
        speaker_index = 0
        for index in range(sentences):
            if not monologues or rng.random() < 0.35:
                # A new monologue is another speaker's, when the call has more than one.
                speaker_index = (speaker_index + rng.randint(1, max(len(speakers) - 1, 1))) % len(
                    speakers
                )
                monologues.append(
                    {
                        "speakerId": speakers[speaker_index].speaker_id,
                        "topic": rng.choice(TOPICS) if rng.random() < 0.2 else None,
                        "sentences": [],
                    }
                )
            start = index * step
            monologues[-1]["sentences"].append(
                {"start": start, "end": start + step * 9 // 10, "text": rng.choice(SENTENCES)}
            )
        return monologues

    def comments(self, call: Call, now: datetime) -> list[dict[str, Any]]:
        """Public comments posted by now."""
        cutoff = now.timestamp()
        return [comment for posted_at, comment in self.all_comments(call) if posted_at <= cutoff]

    def all_comments(self, call: Call) -> list[tuple[int, dict[str, Any]]]:
        """(epoch second posted, comment): during the call or up to two days after it."""
        rng = self._rng("comments", call)
        count = rng.choice((0, 0, 0, 1, 1, 2, 3))
        comments: list[tuple[int, dict[str, Any]]] = []
        for _ in range(count):
            during = rng.random() < 0.4
            offset = rng.uniform(0, call.duration)
            posted_at = call.started_at + (
                offset
                if during
                else call.duration + rng.uniform(60, MAX_COMMENT_DELAY.total_seconds())
            )
            commenter = rng.choice(self._users)
            tagged = rng.choice(self._users)
            comment = {
                "id": gong_id(rng),
                "audioStartTime": round(offset, 1),
                "audioEndTime": round(min(offset + rng.uniform(2, 30), call.duration), 1),
                "commenterUserId": commenter.id,
                "comment": f"@[{tagged.first_name} {tagged.last_name}]({tagged.id}) listen to this",
                "posted": self._local(int(posted_at)),
                "inReplyTo": comments[0][1]["id"] if comments and rng.random() < 0.5 else None,
                "duringCall": during,
            }
            comments.append((int(posted_at), comment))
        return comments

    def extensive(
        self, call: Call, selector: ContentSelector, now: datetime, request_id: str
    ) -> bytes:
        """One `calls[]` item of /v2/calls/extensive: metaData is the /v2/calls object verbatim."""
        parts: dict[str, Any] = {}
        cast = (
            self.cast(call)
            if selector.parties or selector.content or selector.interaction
            else None
        )
        if selector.context != "None":
            parts["context"] = self._call_context(call, selector)
        if selector.parties and cast and cast.parties is not None:
            parts["parties"] = [self._shown_party(party, selector) for party in cast.parties]
        if selector.content and cast:
            content = self._content(call, cast, selector.content)
            if content:
                parts["content"] = content
        if selector.interaction and cast:
            interaction = self._interaction(call, cast, selector.interaction)
            if interaction:
                parts["interaction"] = interaction
        if selector.public_comments:
            comments = self.comments(call, now)
            parts["collaboration"] = {"publicComments": comments} if comments else {}
        if selector.media:
            parts["media"] = self._media(call, request_id)
        head = b'{"metaData":' + call.payload
        return head + (b"," + dumps(parts)[1:] if parts else b"}")

    def _shown_party(self, party: dict[str, Any], selector: ContentSelector) -> dict[str, Any]:
        shown = {name: value for name, value in party.items() if name != "context"}
        if selector.context != "None" and "context" in party:
            shown["context"] = [self._selected_context(c, selector) for c in party["context"]]
        return shown

    def _content(self, call: Call, cast: Cast, asked: frozenset[str]) -> dict[str, Any]:
        """The asked-for content parts this call has (AI parts need a transcript)."""
        rng = self._rng("content", call)
        spoken = self.has_transcript(call) and bool(cast.speakers)
        minutes = call.duration / 60
        content: dict[str, Any] = {}
        if "structure" in asked and call.duration >= 120:
            parts = STRUCTURE[: rng.randint(2, len(STRUCTURE))]
            content["structure"] = [
                {"name": name, "duration": call.duration // len(parts)} for name in parts
            ]
        if "topics" in asked and spoken:
            content["topics"] = [
                {"name": name, "duration": rng.randint(0, call.duration // 3)}
                for name in rng.sample(TOPICS, 3)
            ]
        if "trackers" in asked and spoken:
            # Their own draws: the same trackers whatever else the request asks for.
            trackers_rng = self._rng("trackers", call)
            content["trackers"] = self._trackers(
                call, cast, trackers_rng, "trackerOccurrences" in asked
            )
        if not spoken or minutes < 3:
            return content  # Gong's AI parts need enough speech
        if "pointsOfInterest" in asked:
            start = rng.uniform(0, call.duration - 30)
            content["pointsOfInterest"] = {
                "actionItems": [
                    {
                        "snippetStartTime": round(start, 2),
                        "snippetEndTime": round(start + 25, 2),
                        "speakerID": rng.choice(cast.speakers).speaker_id,
                        "snippet": "I'll send over the proposal by next week.",
                    }
                ]
            }
        if "brief" in asked:
            content["brief"] = (
                f"The team discussed {rng.choice(TOPICS).lower()} and agreed on next steps."
            )
        if "outline" in asked:
            content["outline"] = [
                {
                    "section": name,
                    "startTime": float(index * 60),
                    "duration": 60.0,
                    "items": [
                        {"text": f"{name}: key facts covered", "startTime": index * 60 + 5.0}
                    ],
                }
                for index, name in enumerate(STRUCTURE[:3])
            ]
        if "highlights" in asked:
            content["highlights"] = [
                {
                    "title": "Next steps",
                    "items": [{"text": "Send the proposal", "startTimes": [42.5]}],
                }
            ]
        if "callOutcome" in asked:
            name, category = rng.choice(OUTCOMES)
            content["callOutcome"] = {
                "id": str(OUTCOMES.index((name, category)) + 1),
                "category": category,
                "name": name,
            }
        if "keyPoints" in asked:
            content["keyPoints"] = [
                {"text": "Budget is approved for Q3."},
                {"text": "Legal review needed."},
            ]
        return content

    def _trackers(
        self, call: Call, cast: Cast, rng: random.Random, with_occurrences: bool
    ) -> list[dict[str, Any]]:
        keyword = rng.sample(self._company.trackers(call.workspace_id), 2)
        trackers = []
        for tracker in keyword:
            phrases = tracker["languageKeywords"][0]["keywords"][:2]
            phrase_items = []
            for phrase in phrases:
                occurrences = self._occurrences(call, cast, rng)
                item: dict[str, Any] = {"count": len(occurrences), "phrase": phrase}
                if with_occurrences:
                    item["occurrences"] = occurrences
                phrase_items.append(item)
            entry: dict[str, Any] = {
                "id": tracker["trackerId"],
                "name": tracker["trackerName"],
                "count": sum(item["count"] for item in phrase_items),
                "type": "KEYWORD",
                "phrases": phrase_items,
            }
            if with_occurrences:
                entry["occurrences"] = sorted(
                    (o for item in phrase_items for o in item["occurrences"]),
                    key=lambda occurrence: occurrence["startTime"],
                )
            trackers.append(entry)
        if rng.random() < 0.5:
            name = rng.choice(SMART_TRACKERS)
            occurrences = self._occurrences(call, cast, rng)
            smart: dict[str, Any] = {
                "id": self._company.smart_tracker_ids[name],
                "name": name,
                "count": len(occurrences),
                "type": "SMART",
                "phrases": [],
            }
            if with_occurrences:
                smart["occurrences"] = occurrences
            trackers.append(smart)
        # Gong lists trackers that did not fire too, with a count of 0.
        silent = next(t for t in self._company.trackers(call.workspace_id) if t not in keyword)
        entry = {
            "id": silent["trackerId"],
            "name": silent["trackerName"],
            "count": 0,
            "type": "KEYWORD",
            "phrases": [],
        }
        trackers.append({**entry, "occurrences": []} if with_occurrences else entry)
        return trackers

    @staticmethod
    def _occurrences(call: Call, cast: Cast, rng: random.Random) -> list[dict[str, Any]]:
        return sorted(
            (
                {
                    "startTime": round(rng.uniform(0, call.duration), 2),
                    "speakerId": rng.choice(cast.speakers).speaker_id,
                }
                for _ in range(rng.randint(1, 3))
            ),
            key=lambda occurrence: occurrence["startTime"],
        )

    def _interaction(self, call: Call, cast: Cast, asked: frozenset[str]) -> dict[str, Any]:
        rng = self._rng("interaction", call)
        spoken = self.has_transcript(call) and bool(cast.speakers)
        interaction: dict[str, Any] = {}
        if "speakers" in asked and spoken:
            interaction["speakers"] = [
                {
                    "id": speaker.party_id or speaker.speaker_id,
                    "userId": speaker.user_id,
                    "talkTime": round(rng.uniform(0, call.duration / len(cast.speakers)), 2),
                }
                for speaker in cast.speakers
            ]
        if "personInteractionStats" in asked and spoken:
            interaction["interactionStats"] = [
                {"name": "Talk Ratio", "value": round(rng.uniform(0.2, 0.8), 2)},
                *({"name": name, "value": measure(call)} for name, measure in LONGEST_STATS),
                *({"name": name, "value": measure(call)} for name, measure in AVERAGED_STATS[:2]),
            ]
        if "video" in asked and b'"media":"Video"' in call.payload:
            interaction["video"] = [
                {"name": name, "duration": round(rng.uniform(0, call.duration), 1)}
                for name in rng.sample(VIDEO_SEGMENTS, 3)
            ]
        if "questions" in asked and spoken:
            interaction["questions"] = {
                "companyCount": rng.randint(0, 20),
                "nonCompanyCount": rng.randint(0, 20),
            }
        return interaction

    @staticmethod
    def _media(call: Call, request_id: str) -> dict[str, Any]:
        """Presigned-looking URLs, signed anew on every request as Gong's are."""
        signature = hashlib.sha256(f"{call.id}:{request_id}".encode()).hexdigest()
        query = f"X-Amz-Expires=28799&X-Amz-Signature={signature}"
        media: dict[str, Any] = {"audioUrl": f"{MEDIA_HOST}/{call.id}.mp3?{query}"}
        if b'"media":"Video"' in call.payload:
            media["videoUrl"] = f"{MEDIA_HOST}/{call.id}.mp4?{query}"
        return media
