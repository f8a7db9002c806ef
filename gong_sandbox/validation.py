"""Checks of SandboxSettings, each naming the setting it is about (the CLI names its flag)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

AT_LEAST_ONE = ("users", "workspaces", "page_size", "transcript_sentences")
NOT_NEGATIVE = (
    "calls",
    "days",
    "late_calls",
    "retry_after_seconds",
    "latency_seconds",
    "latency_jitter_seconds",
)
RATES = ("error_rate", "drop_rate", "truncate_rate")
AT_LEAST_ONE_OR_NONE = ("requests_per_second", "daily_quota")
POSITIVE_OR_NONE = ("idle_timeout_seconds", "cursor_ttl_seconds")
# Each group of settings, what its values must be, and the check (None passes "when set").
VALUE_RULES: tuple[tuple[tuple[str, ...], str, Callable[[Any], bool]], ...] = (
    (AT_LEAST_ONE, "must be at least 1", lambda v: v >= 1),
    (NOT_NEGATIVE, "must not be negative", lambda v: v >= 0),
    (RATES, "must be between 0 and 1", lambda v: 0 <= v <= 1),
    (AT_LEAST_ONE_OR_NONE, "must be at least 1 when set", lambda v: v is None or v >= 1),
    (POSITIVE_OR_NONE, "must be more than 0 when set", lambda v: v is None or v > 0),
)


class SettingError(ValueError):
    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting} {problem}")
        self.setting = setting
        self.problem = problem


def setting_errors(settings: Any) -> list[SettingError]:
    """Every problem with these settings (SandboxSettings), in field order."""
    errors = [
        SettingError(name, f"{requirement}, got {getattr(settings, name)}")
        for names, requirement, holds in VALUE_RULES
        for name in names
        if not holds(getattr(settings, name))
    ]
    if sum(getattr(settings, name) for name in RATES) > 1:
        errors.append(SettingError("error_rate", "plus drop_rate and truncate_rate exceeds 1"))
    if settings.now is not None and settings.now.tzinfo is None:
        errors.append(SettingError("now", "must be timezone-aware"))
    try:
        ZoneInfo(settings.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(
            SettingError("time_zone", f"is not a known IANA zone: {settings.time_zone!r}")
        )
    return errors
