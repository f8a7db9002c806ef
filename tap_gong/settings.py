"""The tap's settings as one typed object, with the documented defaults in one place."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from tap_gong.windows import parse_instant

DEFAULT_API_URL = "https://api.gong.io"
# Where a Gong OAuth app renews its tokens (the same for every customer).
GONG_TOKEN_URL = "https://app.gong.io/oauth2/generate-customer-token"
# Gong's `aggregationPeriod` values (aggregate-by-period): weeks start on Monday.
ACTIVITY_PERIODS = ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR")


@dataclasses.dataclass(frozen=True)
class GongSettings:
    """What a run needs from the config, typed; each default is the documented one."""

    start_date: str
    access_key: str | None = None
    access_key_secret: str | None = dataclasses.field(default=None, repr=False)
    access_token: str | None = dataclasses.field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = dataclasses.field(default=None, repr=False)
    refresh_token: str | None = dataclasses.field(default=None, repr=False)
    oauth_credentials_file: str | None = None
    oauth_token_url: str = GONG_TOKEN_URL
    api_url: str = DEFAULT_API_URL
    end_date: str | None = None
    workspace_id: str | None = None
    user_ids: tuple[str, ...] = ()
    lookback_window_days: int = 1
    calls_window_days: int = 30
    max_requests_per_second: int = 3
    max_requests_per_run: int | None = None
    max_concurrent_requests: int = 8
    max_retries: int = 8
    max_retry_wait_seconds: int = 300
    max_retry_time_seconds: int = 900
    request_timeout_seconds: int = 60
    call_details_media: bool = False
    reconcile_every_days: int | None = None
    activity_period: str = "WEEK"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GongSettings:
        """The settings of a config; a missing or null value takes its default."""
        values = {
            field.name: config[field.name]
            for field in dataclasses.fields(cls)
            if config.get(field.name) is not None
        }
        if "user_ids" in values:
            values["user_ids"] = tuple(values["user_ids"])
        values.setdefault("start_date", "")
        return cls(**values)

    @classmethod
    def default(cls, name: str) -> Any:
        """A setting's documented default (None when it has none)."""
        field = next(field for field in dataclasses.fields(cls) if field.name == name)
        return None if field.default is dataclasses.MISSING else field.default

    @property
    def base_url(self) -> str:
        return self.api_url.rstrip("/")

    @property
    def first_instant(self) -> dt.datetime:
        return parse_instant(self.start_date)

    def last_instant(self, now: dt.datetime) -> dt.datetime:
        """`end_date`, or `now`; never later than now."""
        return min(parse_instant(self.end_date), now) if self.end_date else now

    @property
    def lookback(self) -> dt.timedelta:
        return dt.timedelta(days=self.lookback_window_days)

    @property
    def calls_window(self) -> dt.timedelta:
        return dt.timedelta(days=self.calls_window_days)

    @property
    def reconcile_every(self) -> dt.timedelta | None:
        """How often the call streams re-read their whole history (None: never)."""
        if self.reconcile_every_days is None:
            return None
        return dt.timedelta(days=self.reconcile_every_days)
