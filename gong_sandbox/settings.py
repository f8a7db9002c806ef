"""What a sandbox is built with: its data set's shape, credentials and live knobs."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from gong_sandbox.validation import setting_errors


@dataclass
class SandboxSettings:
    seed: int = 7
    users: int = 8
    workspaces: int = 2
    calls: int = 500
    days: int = 30
    now: datetime | None = None  # None: the real clock
    time_zone: str = "America/Los_Angeles"
    access_key: str = "sandbox-key"
    access_key_secret: str = "sandbox-secret"
    access_token: str = "sandbox-token"
    # The OAuth app (token endpoint); `oauth.reauthorize()` replaces the refresh token.
    oauth_client_id: str = "sandbox-client"
    oauth_client_secret: str = "sandbox-client-secret"
    oauth_refresh_token: str = "sandbox-refresh-token"
    oauth_access_token_seconds: int = 3600
    # API scopes the key or OAuth app lacks: their endpoints answer `scope_refusal_status`
    # in Gong's words, which name the scope (401 or 403: which one Gong sends is unknown).
    withheld_scopes: frozenset[str] = frozenset()
    scope_refusal_status: int = 401
    page_size: int = 100
    requests_per_second: int | None = None
    retry_after_seconds: int = 1
    daily_quota: int | None = None
    error_rate: float = 0.0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    latency_seconds: float = 0.0
    # Up to this much more per answer, drawn at random: answers come back out of order.
    latency_jitter_seconds: float = 0.0
    # A keep-alive connection idle this long is closed, as web servers do; None: never.
    idle_timeout_seconds: float | None = None
    # A page cursor this many (real) seconds old is refused with a 400; None: never.
    cursor_ttl_seconds: float | None = None
    late_calls: int = 0
    transcript_sentences: int = 24  # sentences in each call's transcript
    odd_payloads: bool = False  # undocumented values, fields and nulls; no `records` on one page
    log_requests: bool = False  # request lines on stderr
    engage: bool = True  # False: a company without Gong Engage (403 to every /v2/flows)

    def __post_init__(self) -> None:
        errors = setting_errors(self)
        if errors:
            raise errors[0]


# These shape the data set when the sandbox is built; every other setting is a live knob.
DATA_SETTINGS = frozenset(
    {
        "seed",
        "users",
        "workspaces",
        "calls",
        "days",
        "now",
        "time_zone",
        "late_calls",
        "odd_payloads",
    }
)
KNOB_SETTINGS = frozenset(f.name for f in fields(SandboxSettings)) - DATA_SETTINGS
