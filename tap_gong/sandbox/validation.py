"""Checks of SandboxSettings, each naming the setting it is about (the CLI names its flag)."""

from __future__ import annotations

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
POSITIVE_OR_NONE = ("idle_timeout_seconds",)


class SettingError(ValueError):
    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting} {problem}")
        self.setting = setting
        self.problem = problem


def setting_errors(settings: Any) -> list[SettingError]:
    """Every problem with these settings (SandboxSettings), in field order."""
    errors = [
        SettingError(name, f"must be at least 1, got {getattr(settings, name)}")
        for name in AT_LEAST_ONE
        if getattr(settings, name) < 1
    ]
    errors += [
        SettingError(name, f"must not be negative, got {getattr(settings, name)}")
        for name in NOT_NEGATIVE
        if getattr(settings, name) < 0
    ]
    errors += [
        SettingError(name, f"must be between 0 and 1, got {getattr(settings, name)}")
        for name in RATES
        if not 0 <= getattr(settings, name) <= 1
    ]
    errors += [
        SettingError(name, f"must be at least 1 when set, got {getattr(settings, name)}")
        for name in AT_LEAST_ONE_OR_NONE
        if getattr(settings, name) is not None and getattr(settings, name) < 1
    ]
    errors += [
        SettingError(name, f"must be more than 0 when set, got {getattr(settings, name)}")
        for name in POSITIVE_OR_NONE
        if getattr(settings, name) is not None and getattr(settings, name) <= 0
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
