"""The sandbox's clock: the real one, or frozen at an instant; tests move it."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo


class SandboxClock:
    """Now in UTC and the company's current day; thread-safe."""

    def __init__(self, frozen_at: datetime | None, zone: ZoneInfo) -> None:
        self.zone = zone
        self._lock = threading.Lock()
        self._frozen_at = frozen_at
        self._offset = timedelta()

    def now(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at.astimezone(timezone.utc)
            return datetime.now(timezone.utc) + self._offset

    def company_today(self) -> date:
        return self.now().astimezone(self.zone).date()

    def freeze(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware datetime")
        with self._lock:
            self._frozen_at = instant

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += delta
            else:
                self._offset += delta
