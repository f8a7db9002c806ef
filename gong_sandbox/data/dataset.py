"""Deterministic fake Gong data: users, workspaces, calls and interaction stats.

Every value comes from `random.Random` instances seeded with strings derived from the
settings' seed, so the same seed and the same `now` always give the same data.
"""

from __future__ import annotations

import json
import math
import random
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from operator import attrgetter
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_SECOND = timedelta(seconds=1)
INT64_LIMIT = 2**63
MAX_CONFERENCE_SKEW_SECONDS = 15 * 60

FIRST_NAMES = (
    "ada", "grace", "alan", "edsger", "barbara", "donald", "margaret", "ken",
    "frances", "john", "radia", "linus", "sophie", "tim", "hedy", "dennis",
)  # fmt: skip
LAST_NAMES = (
    "lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "hamilton", "thompson",
    "allen", "backus", "perlman", "torvalds", "wilson", "obrien", "lamarr", "ritchie",
)  # fmt: skip
COMPANIES = (
    "Acme", "Globex", "Initech", "Hooli", "Müller GmbH", "Société Générale", "東京 Trading",
    "O'Reilly & Sons", "Umbrella",
)  # fmt: skip
# Non-ASCII, quotes and apostrophes on purpose: they catch encoding and escaping bugs.
TITLE_TEMPLATES = (
    "Discovery call with {company}",
    "{company} | Demo",
    "Démo für Müller \N{EN DASH} 東京",
    'O\'Brien "Q3" review',
    "Renewal \N{EN DASH} {company}",
    "Pricing follow-up: {company} (EMEA)",
    "🚀 Kickoff with {company}",
)
# Conference calls dominate real Gong data, and they carry the scheduled/started subtlety.
DIRECTION_POOL = ("Inbound",) * 2 + ("Outbound",) * 3 + ("Conference",) * 6 + ("Unknown",)
CONFERENCE_SYSTEMS = ("Zoom", "Google Meet", "Microsoft Teams", "WebEx")
PHONE_SYSTEMS = ("Outreach", "Salesloft", "RingCentral", "ShoreTel")
SCOPES = ("Internal", "External", "Unknown")
LANGUAGES = ("eng", "eng", "eng", "fre", "spa", "ger", "ita", "jpn", "und", "zxx")
SDR_DISPOSITIONS = ("Got the gatekeeper", "Left voicemail", "Meeting booked", "No answer")
CUSTOM_DATA = ("Conference Call", "imported", '{"source": "crm"}')
PURPOSES = ("Demo Call", "Discovery", "Negotiation", "Onboarding", "QBR")
JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# What Gong may send one day that its docs do not list (odd_payloads): new enum
# values, a new field, nulls where values were, and a new stat.
ODD_CALL_FIELDS: dict[str, Any] = {
    "direction": "Bridge",
    "media": "Chat",
    "scope": None,
    "title": None,
    "duration": None,
    "isPrivate": None,
    "gongAddedLater": {"note": "a field Gong added after the docs"},
}
ODD_STAT = {"name": "Talk Ratio", "value": 0.42}


T = TypeVar("T")


class _Draws:
    """Many small random choices carved from one big random integer.

    One getrandbits() per call instead of ~25 Random method calls halves the time to build
    100k calls; 512 bits cover the ~300 one call uses.
    """

    def __init__(self, rng: random.Random) -> None:
        self._pool = rng.getrandbits(512)

    def below(self, bound: int) -> int:
        self._pool, value = divmod(self._pool, bound)
        return value

    def between(self, low: int, high: int) -> int:
        return low + self.below(high - low + 1)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.below(len(options))]

    def put_optional(self, payload: dict[str, Any], name: str, value: object) -> None:
        """Optional API fields are sometimes absent and sometimes null, as in Gong's data."""
        roll = self.below(5)
        if roll:
            payload[name] = None if roll == 1 else value


def ceil_epoch_seconds(instant: datetime) -> int:
    """The first whole epoch second at or after an aware instant."""
    return -((EPOCH - instant) // ONE_SECOND)


@dataclass(frozen=True)
class User:
    id: str
    email_address: str
    workspace_id: str
    first_name: str
    last_name: str


@dataclass(frozen=True, slots=True)
class Call:
    """One call, kept compact: 100k of them must fit in a benchmark's memory."""

    id: int
    filter_at: int  # epoch seconds /v2/calls filters on: scheduled for Conference, else started
    started_at: int  # epoch seconds /v2/calls/extensive and transcripts filter on
    day: date  # company day of `started`, which interaction stats are grouped by
    user_id: str
    workspace_id: str
    duration: int
    payload: bytes  # the API's JSON object, serialized once

    def as_dict(self) -> dict[str, Any]:
        return json.loads(self.payload)


def _longest_monologue(call: Call) -> int:
    return min(call.duration, 15 + call.id % 600)


def _longest_customer_story(call: Call) -> int:
    return min(call.duration, call.id // 1_000 % 400)


def _interactivity(call: Call) -> float:
    return call.id // 10**6 % 1_000 / 100


def _patience(call: Call) -> float:
    return 0.3 + call.id // 10**9 % 250 / 100


def _question_rate(call: Call) -> float:
    return call.id // 10**12 % 1_500 / 100


# Per-call measures come from the call's id and duration: deterministic, nothing stored.
LONGEST_STATS: tuple[tuple[str, Callable[[Call], int]], ...] = (
    ("Longest Monologue", _longest_monologue),
    ("Longest Customer Story", _longest_customer_story),
)
AVERAGED_STATS: tuple[tuple[str, Callable[[Call], float]], ...] = (
    ("Interactivity", _interactivity),
    ("Patience", _patience),
    ("Question Rate", _question_rate),
)


def person_interaction_stats(calls: list[Call]) -> list[dict[str, Any]]:
    """Stats over a user's calls: longest-of for durations, duration-weighted means for rates.

    fsum keeps the means independent of the order calls were added in.
    """
    total_duration = sum(call.duration for call in calls)
    stats: list[dict[str, Any]] = [
        {"name": name, "value": max(measure(call) for call in calls)}
        for name, measure in LONGEST_STATS
    ]
    stats.extend(
        {
            "name": name,
            "value": round(math.fsum(measure(c) * c.duration for c in calls) / total_duration, 2),
        }
        for name, measure in AVERAGED_STATS
    )
    return stats


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """Start of a company day (fold=0 picks the earlier instant around DST changes)."""
    return datetime.combine(day, time(), tzinfo=zone)


class Dataset:
    """Users, workspaces, visible calls (sorted by filter instant) and hidden late calls.

    Not thread-safe: the sandbox serializes access with its lock.
    """

    def __init__(
        self,
        *,
        seed: int,
        users: int,
        workspaces: int,
        calls: int,
        days: int,
        late_calls: int,
        now: datetime,
        zone: ZoneInfo,
        odd_payloads: bool = False,
    ) -> None:
        self.seed = seed
        self.created_at = now  # the clock when the data set was built
        self.odd_payloads = odd_payloads
        self.zone = zone
        self.version = 0  # bumped on every change so cached query results can be dropped
        self.workspace_ids = self._make_workspace_ids(workspaces)
        self.users = self._make_users(users)
        self._users_by_id = {user.id: user for user in self.users}
        self._call_ids: set[int] = set()
        self._visible: list[Call] = []
        self._visible_by_day: defaultdict[date, list[Call]] = defaultdict(list)
        self._started_index: tuple[int, list[Call], dict[int, Call]] | None = None
        self._additions = 0
        self._show(
            self._make_calls(random.Random(f"{seed}:calls"), calls, now - timedelta(days=days), now)
        )
        self._late = self._make_calls(
            random.Random(f"{seed}:late"), late_calls, now - timedelta(hours=12), now
        )

    def _make_workspace_ids(self, count: int) -> list[str]:
        rng = random.Random(f"{self.seed}:workspaces")
        return [str(rng.randint(10**17, 10**18 - 1)) for _ in range(count)]

    def _make_users(self, count: int) -> list[User]:
        rng = random.Random(f"{self.seed}:users")
        names = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
        rng.shuffle(names)
        users = []
        for index in range(count):
            # Every other id is beyond int64, so an int conversion anywhere shows up.
            if index % 2 == 0:
                user_id = rng.randint(INT64_LIMIT, 10**20 - 1)
            else:
                digits = 15 + index // 2 % 4
                user_id = rng.randint(10 ** (digits - 1), 10**digits - 1)
            first, last = names[index % len(names)]
            suffix = index // len(names) or ""
            users.append(
                User(
                    id=str(user_id),
                    email_address=f"{first}.{last}{suffix}@example.com",
                    workspace_id=self.workspace_ids[index % len(self.workspace_ids)],
                    first_name=first.capitalize(),
                    last_name=last.capitalize() + (f" {suffix}" if suffix else ""),
                )
            )
        return users

    def _make_calls(
        self, rng: random.Random, count: int, start: datetime, end: datetime
    ) -> list[Call]:
        """`count` calls whose filter instant is a whole second in [start, end)."""
        first = ceil_epoch_seconds(start)
        last = ceil_epoch_seconds(end) - 1
        if count and first > last:
            raise ValueError(f"no whole second in [{start}, {end})")
        return [self._make_call(rng, first, last) for _ in range(count)]

    def _new_call_id(self, rng: random.Random) -> int:
        while True:
            if rng.random() < 0.25:
                call_id = rng.randint(INT64_LIMIT, 10**20 - 1)
            else:
                call_id = rng.randint(10**18, INT64_LIMIT - 1)
            if call_id not in self._call_ids:
                self._call_ids.add(call_id)
                return call_id

    def _make_call(self, rng: random.Random, first: int, last: int) -> Call:
        call_id = self._new_call_id(rng)
        draw = _Draws(rng)
        user = draw.choice(self.users)
        direction = draw.choice(DIRECTION_POOL)
        conference = direction == "Conference"
        filter_at = draw.between(first, last)
        started_at = filter_at
        if conference:
            # Started drifts from scheduled, but never past the window's end (no future calls).
            started_at += draw.between(
                -MAX_CONFERENCE_SKEW_SECONDS, min(MAX_CONFERENCE_SKEW_SECONDS, last - filter_at)
            )
        started = datetime.fromtimestamp(started_at, self.zone)
        scheduled = datetime.fromtimestamp(filter_at, self.zone) if conference else started
        duration = draw.between(30, 90 * 60)
        payload: dict[str, Any] = {
            "id": str(call_id),
            "url": f"https://app.gong.io/call?id={call_id}",
            "title": draw.choice(TITLE_TEMPLATES).format(company=draw.choice(COMPANIES)),
            "scheduled": scheduled.isoformat(),
            "started": started.isoformat(),
            "duration": duration,
            "primaryUserId": user.id,
            "direction": direction,
            "system": draw.choice(CONFERENCE_SYSTEMS if conference else PHONE_SYSTEMS),
            "scope": draw.choice(SCOPES),
            "media": "Video" if conference and draw.below(10) else "Audio",
            "language": draw.choice(LANGUAGES),
            "workspaceId": user.workspace_id,
        }
        optional_values = {
            "sdrDisposition": draw.choice(SDR_DISPOSITIONS),
            "clientUniqueId": f"{draw.below(2**64):016X}",
            "customData": draw.choice(CUSTOM_DATA),
            "purpose": draw.choice(PURPOSES),
            "meetingUrl": f"https://zoom.us/j/{draw.between(10**9, 10**11 - 1)}",
        }
        for name, value in optional_values.items():
            draw.put_optional(payload, name, value)
        payload["isPrivate"] = draw.below(10) == 0
        draw.put_optional(payload, "calendarEventId", f"{draw.below(2**80):020x}@google.com")
        if self.odd_payloads and draw.below(5) == 0:
            payload.update(ODD_CALL_FIELDS)
        return Call(
            id=call_id,
            filter_at=filter_at,
            started_at=started_at,
            day=started.date(),
            user_id=user.id,
            workspace_id=user.workspace_id,
            duration=duration,
            payload=JSON_ENCODER.encode(payload).encode(),
        )

    def _show(self, calls: Iterable[Call]) -> None:
        for call in calls:
            self._visible.append(call)
            self._visible_by_day[call.day].append(call)
        # Timsort is near-linear on an already sorted list plus a sorted-ish tail.
        self._visible.sort(key=attrgetter("filter_at", "id"))
        self.version += 1

    def visible_calls(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        workspace_id: str | None = None,
    ) -> list[Call]:
        """Visible calls whose filter instant is in [start, end), in filter-instant order."""
        key = attrgetter("filter_at")
        low = 0 if start is None else bisect_left(self._visible, ceil_epoch_seconds(start), key=key)
        high = (
            len(self._visible)
            if end is None
            else bisect_left(self._visible, ceil_epoch_seconds(end), key=key)
        )
        calls = self._visible[low:high]
        if workspace_id is None:
            return calls
        return [call for call in calls if call.workspace_id == workspace_id]

    def _by_start(self) -> tuple[list[Call], dict[int, Call]]:
        """Visible calls in `started` order and by id, rebuilt only after a change."""
        if self._started_index is None or self._started_index[0] != self.version:
            by_start = sorted(self._visible, key=attrgetter("started_at", "id"))
            self._started_index = (self.version, by_start, {call.id: call for call in by_start})
        return self._started_index[1], self._started_index[2]

    def calls_started(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[Call]:
        """Visible calls that started in [start, end), in `started` order (None: unbounded)."""
        by_start, _ = self._by_start()
        key = attrgetter("started_at")
        low = 0 if start is None else bisect_left(by_start, ceil_epoch_seconds(start), key=key)
        high = (
            len(by_start)
            if end is None
            else bisect_left(by_start, ceil_epoch_seconds(end), key=key)
        )
        return by_start[low:high]

    def visible_call(self, call_id: int) -> Call | None:
        return self._by_start()[1].get(call_id)

    def user(self, user_id: str) -> User:
        return self._users_by_id[user_id]

    def delete_calls(self, call_ids: Iterable[int]) -> list[Call]:
        """Remove calls (visible or still late) for good; their ids are never reused."""
        doomed = set(call_ids)
        deleted = [call for call in (*self._visible, *self._late) if call.id in doomed]
        self._visible = [call for call in self._visible if call.id not in doomed]
        self._late = [call for call in self._late if call.id not in doomed]
        for day in {call.day for call in deleted}:
            remaining = [call for call in self._visible_by_day[day] if call.id not in doomed]
            if remaining:
                self._visible_by_day[day] = remaining
            else:
                del self._visible_by_day[day]
        self.version += 1
        return deleted

    def touch(self) -> None:
        """Something derived from the calls changed (e.g. an edited review): drop caches."""
        self.version += 1

    def add_calls(self, count: int, start: datetime, end: datetime) -> list[Call]:
        """New visible calls in [start, end); each batch has its own seeded generator."""
        self._additions += 1
        calls = self._make_calls(
            random.Random(f"{self.seed}:added:{self._additions}"), count, start, end
        )
        self._show(calls)
        return calls

    def reveal_late_calls(self) -> list[Call]:
        revealed, self._late = self._late, []
        self._show(revealed)
        return revealed

    def stats_days(self) -> list[date]:
        return sorted(self._visible_by_day)

    def midnight(self, day: date) -> datetime:
        return midnight(day, self.zone)

    def stats_period(self, from_day: date, to_day: date) -> dict[str, str]:
        """The top-level fields of a stats answer: the company's zone and the range's bounds."""
        return {
            "timeZone": self.zone.key,
            "fromDateTime": self.midnight(from_day).isoformat(),
            "toDateTime": self.midnight(to_day).isoformat(),
        }

    def stats_items(
        self, from_day: date, to_day: date, user_ids: frozenset[str] | None = None
    ) -> list[dict[str, Any]]:
        """API items for company days [from_day, to_day), one per user with calls, by userId."""
        calls_by_user: defaultdict[str, list[Call]] = defaultdict(list)
        for day, calls in self._visible_by_day.items():
            if from_day <= day < to_day:
                for call in calls:
                    if user_ids is None or call.user_id in user_ids:
                        calls_by_user[call.user_id].append(call)
        return [
            {
                "userId": user_id,
                "userEmailAddress": self._users_by_id[user_id].email_address,
                "personInteractionStats": person_interaction_stats(calls_by_user[user_id])
                + ([ODD_STAT] if self.odd_payloads else []),
            }
            for user_id in sorted(calls_by_user, key=int)
        ]
