"""What every endpoint family shares: what it answers from, and the filters' small rules."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from gong_sandbox.clock import SandboxClock
from gong_sandbox.data.world import World
from gong_sandbox.paging import Pager
from gong_sandbox.settings import SandboxSettings

# Gong's wording for empty users/stats filters, as other integrations match it.
NO_USERS = "No users found corresponding to the provided filters"


class EndpointFamily:
    """A family of endpoints: answers from the data, paged by the pager, on the clock.

    Answers run under the sandbox's lock (see GongSandbox.handle), so none of this locks.
    """

    def __init__(
        self, settings: SandboxSettings, clock: SandboxClock, world: World, pager: Pager
    ) -> None:
        self.settings = settings  # live: `GongSandbox.configure` changes its knobs
        self.clock = clock
        self.world = world
        self.pager = pager

    def shuffled(self, items: list[Any], digest: str) -> list[Any]:
        """Gong pages are not sorted: a stable order per filter, not the data's order."""
        random.Random(f"{self.settings.seed}:{digest}").shuffle(items)
        return items


def string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def body_cursor(body: dict[str, Any]) -> str | None:
    cursor = body.get("cursor")
    return cursor if isinstance(cursor, str) else None


def bad_cursor(body: dict[str, Any]) -> list[str]:
    cursor = body.get("cursor")
    return [] if cursor is None or isinstance(cursor, str) else ["cursor must be a string"]


def in_days(day: date, first: date | None, end: date | None) -> bool:
    return (first is None or first <= day) and (end is None or day < end)
