"""Gong's administrative endpoints: activity by period, settings history, logs, permission
profiles and Engage flows (issue 26).

Everything follows from the seed and the clock: log entries are drawn per company day and
type and appear once their time has passed; a user's settings history, the profiles of
each workspace and who holds them, and the flows are fixed. One user in three has no
Engage licence (Gong answers 403 to their flows); `engage=False` is a company without it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gong_sandbox.data.activity import ACTIVITY_KINDS
from gong_sandbox.data.company import gong_id
from gong_sandbox.data.dataset import User, midnight

LOG_TYPES = (
    "AccessLog",
    "UserActivityLog",
    "UserCallPlay",
    "ExternallySharedCallAccess",
    "ExternallySharedCallPlay",
)
# Entries per company day of each log type, at most (drawn per day).
LOG_ENTRIES_PER_DAY = {
    "AccessLog": 6,
    "UserActivityLog": 4,
    "UserCallPlay": 5,
    "ExternallySharedCallAccess": 2,
    "ExternallySharedCallPlay": 0,  # a log type with nothing in it
}
SETTINGS = ("webConferencesRecorded", "emailsImported", "active", "callsImported")
PERIODS = ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR")
PROFILES = ("Admin", "Manager", "Rep", "Read only (unused)")
# Gong's words for an owner without an Engage licence are not documented: these are the
# sandbox's (they name no scope, as a scope refusal would).
NO_ENGAGE_LICENCE = "The flow owner has no Gong Engage license"


def _period_start(day: date, period: str) -> date:
    if period == "DAY":
        return day
    if period == "WEEK":
        return day - timedelta(days=day.weekday())
    months = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[period]
    return day.replace(month=(day.month - 1) // months * months + 1, day=1)


def aggregate_by_period(
    detailed: list[dict[str, Any]], period: str, from_day: date, to_day: date, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Day-by-day items summed per period, the first and last clipped to the range."""
    items = []
    for user in detailed:
        periods: dict[date, dict[str, int]] = {}
        for day_stats in user["userDailyActivityStats"]:
            day = datetime.fromisoformat(day_stats["fromDate"]).date()
            counts = periods.setdefault(
                _period_start(day, period), dict.fromkeys(ACTIVITY_KINDS, 0)
            )
            for kind in ACTIVITY_KINDS:
                counts[kind] += len(day_stats[kind])
        rows = []
        for start in sorted(periods):
            nxt = _next_period(start, period)
            first, end = max(start, from_day), min(nxt, to_day)
            rows.append(
                {
                    **periods[start],
                    "fromDate": midnight(first, zone).isoformat(),
                    "toDate": midnight(end, zone).isoformat(),
                }
            )
        items.append(
            {
                "userId": user["userId"],
                "userEmailAddress": user["userEmailAddress"],
                "userAggregateActivity": rows,
            }
        )
    return items


def _next_period(start: date, period: str) -> date:
    if period in ("DAY", "WEEK"):
        return start + timedelta(days=1 if period == "DAY" else 7)
    month = start.month - 1 + {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[period]
    return start.replace(year=start.year + month // 12, month=month % 12 + 1, day=1)


class Administration:
    """Settings history, logs, permission profiles and flows of one sandbox company."""

    def __init__(
        self,
        *,
        seed: int,
        users: list[User],
        workspace_ids: list[str],
        first_day: date,
        zone: ZoneInfo,
    ) -> None:
        self._seed = seed
        self._users = users
        self._zone = zone
        self._first_day = first_day
        self.profiles: dict[str, list[dict[str, Any]]] = {}
        self.profile_users: dict[str, list[dict[str, Any]]] = {}
        for workspace_id in workspace_ids:
            rng = random.Random(f"{seed}:profiles:{workspace_id}")
            profiles = [self._profile(rng, name) for name in PROFILES]
            self.profiles[workspace_id] = sorted(profiles, key=lambda p: p["name"])
            members = [u for u in users if u.workspace_id == workspace_id]
            for profile in profiles:
                self.profile_users[profile["id"]] = []
            for user in members:
                holder = profiles[rng.randrange(len(PROFILES) - 1)]  # never the unused one
                self.profile_users[holder["id"]].append(
                    {
                        "id": user.id,
                        "fullName": f"{user.first_name} {user.last_name}",
                        "emailAddress": user.email_address,
                    }
                )
        rng = random.Random(f"{seed}:flows")
        self.company_flows = [self._flow(rng, "Company") for _ in range(3)]
        self.licensed = {u.email_address for n, u in enumerate(users) if n % 3 != 1}
        self.personal_flows = {
            u.email_address: [self._flow(rng, "Personal") for _ in range(rng.randint(0, 2))]
            for u in users
        }
        shared = self._flow(rng, "Shared")
        for email in list(self.licensed)[:2]:
            self.personal_flows[email].append(shared)

    def _profile(self, rng: random.Random, name: str) -> dict[str, Any]:
        level = rng.choice(("all", "managers-team", "own", "none"))
        return {
            "id": gong_id(rng),
            "name": name,
            "description": f"{name} permissions",
            "callsAccess": {"permissionLevel": level, "teamLeadIds": []},
            "libraryFolderAccess": {"permissionLevel": "all", "libraryFolderIds": []},
            "scoreCalls": rng.random() < 0.5,
            "downloadCallMedia": name == "Admin",
            "deleteCalls": name == "Admin",
            "aiBuilder": rng.random() < 0.5,
        }

    def _flow(self, rng: random.Random, visibility: str) -> dict[str, Any]:
        created = midnight(self._first_day, self._zone) - timedelta(
            seconds=rng.randint(0, 300 * 86_400)
        )
        return {
            "id": gong_id(rng),
            "name": f"{visibility} flow {rng.randint(1, 999)}",
            "folderId": str(rng.randint(10**6, 10**7)),
            "folderName": rng.choice(("Outbound", "Events", "Renewals")),
            "visibility": visibility,
            "creationDate": created.isoformat(),
            "exclusive": rng.random() < 0.3,
        }

    def settings_history(self, user_id: str) -> list[dict[str, Any]] | None:
        """A user's setting changes, oldest first (None: no such user; [] none)."""
        user = next((u for u in self._users if u.id == user_id), None)
        if user is None:
            return None
        rng = random.Random(f"{self._seed}:settings:{user_id}")
        start = midnight(self._first_day, self._zone) - timedelta(days=400)
        changes = []
        for n in range(rng.randint(0, 4)):
            at = start + timedelta(days=90 * n, seconds=rng.randint(0, 86_400 * 80))
            changes.append(
                {
                    "setting": rng.choice(SETTINGS),
                    "value": rng.random() < 0.7,
                    "time": at.isoformat(),
                }
            )
        return changes

    def log_entries(self, log_type: str, start: datetime, end: datetime) -> Iterator[dict]:
        """Entries of one log type with eventTime in [start, end), by company day drawn."""
        day = max(start.astimezone(self._zone).date(), self._first_day)
        while (day_start := midnight(day, self._zone)) < end:
            rng = random.Random(f"{self._seed}:logs:{log_type}:{day}")
            for n in range(rng.randint(0, LOG_ENTRIES_PER_DAY[log_type])):
                at = day_start + timedelta(seconds=rng.randint(0, 86_399))
                # Drawn whatever the range asked: an entry is the same in every answer.
                entry = self._log_entry(log_type, at, rng.choice(self._users), n, rng)
                if start <= at < end:
                    yield entry
            day += timedelta(days=1)

    def _log_entry(
        self, log_type: str, at: datetime, user: User, n: int, rng: random.Random
    ) -> dict[str, Any]:
        record: dict[str, Any] = {"ip": f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"}
        if log_type in ("UserCallPlay", "ExternallySharedCallPlay"):
            record["callId"] = gong_id(rng)
            record["playedSeconds"] = rng.randint(5, 3000)
        elif log_type == "ExternallySharedCallAccess":
            record["callId"] = gong_id(rng)
            record["sharedWith"] = f"guest{n}@customer.example"
        else:
            record["action"] = rng.choice(("login", "view", "settings-change"))
        entry: dict[str, Any] = {
            "userId": user.id,
            "userEmailAddress": user.email_address,
            "userFullName": f"{user.first_name} {user.last_name}",
            "eventTime": at.isoformat(),
            "logRecord": record,
        }
        if n == 3:  # now and then an admin acting as the user
            entry["impersonatorUserId"] = self._users[0].id
            entry["impersonatorEmailAddress"] = self._users[0].email_address
            entry["impersonatorCompanyId"] = str(
                int(hashlib.sha256(str(self._seed).encode()).hexdigest()[:12], 16)
            )
        return entry

    def flows(self, owner_email: str) -> list[dict[str, Any]] | None:
        """The flows an owner sees (None: no Engage licence)."""
        if owner_email not in self.licensed:
            return None
        return [*self.company_flows, *self.personal_flows.get(owner_email, [])]
