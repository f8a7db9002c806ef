"""TapGong: settings, streams, and one-line errors for everything a user can fix."""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import urlsplit

import click
import requests
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError
from typing_extensions import override

from tap_gong.client import GongStream, WindowedStream
from tap_gong.errors import GongStateError, GongTapError
from tap_gong.pacing import RequestPacer
from tap_gong.settings import DEFAULT_API_URL, GongSettings
from tap_gong.streams import STREAM_TYPES
from tap_gong.windows import parse_instant


class TapGong(Tap):
    """Gong calls and daily user interaction stats: incremental, paced, resumable."""

    # One line on purpose: `--about` prints the class docstring as the description.

    name = "tap-gong"
    package_name = "tap-gong"
    # Encodes each message several times faster than the default simplejson writer.
    message_writer_class = MsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "access_key",
            th.StringType,
            description="Gong API access key (HTTP Basic user name); use with access_key_secret.",
        ),
        th.Property(
            "access_key_secret",
            th.StringType,
            secret=True,
            description="Gong API access key secret (HTTP Basic password).",
        ),
        th.Property(
            "access_token",
            th.StringType,
            secret=True,
            description="Gong OAuth access token; the alternative to access_key/access_key_secret.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default=GongSettings.default("api_url"),
            description="Your company's Gong API base URL (Gong gives each customer its own).",
        ),
        th.Property(
            "start_date",
            th.StringType,
            required=True,
            description="First moment to extract, ISO-8601 (`2024-01-01` or "
            "`2024-01-01T00:00:00Z`; no offset means UTC).",
        ),
        th.Property(
            "end_date",
            th.StringType,
            description="Optional last moment to extract, ISO-8601 (default: now).",
        ),
        th.Property(
            "workspace_id",
            th.StringType,
            description="Only extract calls of this Gong workspace.",
        ),
        th.Property(
            "user_ids",
            th.ArrayType(th.StringType),
            description="Only extract interaction stats of these Gong user ids.",
        ),
        th.Property(
            "lookback_window_days",
            th.IntegerType(minimum=0),
            default=GongSettings.default("lookback_window_days"),
            description="Days before the saved bookmark that each incremental run re-reads, "
            "to catch calls Gong finishes processing late and stats days that change. "
            "More days catch later data at the cost of more requests per run.",
        ),
        th.Property(
            "calls_window_days",
            th.IntegerType(minimum=1),
            default=GongSettings.default("calls_window_days"),
            description="Size of the date windows calls are extracted in; state is saved "
            "after each. Smaller windows resume closer to an interruption, larger ones "
            "spend fewer requests.",
        ),
        th.Property(
            "max_requests_per_second",
            th.IntegerType(minimum=1),
            default=GongSettings.default("max_requests_per_second"),
            description="Most requests started in any rolling second (Gong allows about 3).",
        ),
        th.Property(
            "max_requests_per_run",
            th.IntegerType(minimum=1),
            description="Stop (exit 0, state saved) after this many requests, leaving the "
            "rest of Gong's shared daily quota (10,000) to other integrations. No cap if unset.",
        ),
        th.Property(
            "max_retries",
            th.IntegerType(minimum=0),
            default=GongSettings.default("max_retries"),
            description="Retries of a request after a 429, a 5xx, a timeout or a broken body.",
        ),
        th.Property(
            "max_retry_wait_seconds",
            th.IntegerType(minimum=0),
            default=GongSettings.default("max_retry_wait_seconds"),
            description="Longest Retry-After the tap waits out; a longer one (Gong's daily "
            "quota) stops the run with state saved and exit code 1.",
        ),
        th.Property(
            "max_retry_time_seconds",
            th.IntegerType(minimum=1),
            default=GongSettings.default("max_retry_time_seconds"),
            description="Longest time spent retrying one request before the run stops.",
        ),
        th.Property(
            "request_timeout_seconds",
            th.IntegerType(minimum=1),
            default=GongSettings.default("request_timeout_seconds"),
            description="Seconds to wait for Gong's answer to one request.",
        ),
        th.Property(
            "call_details_media",
            th.BooleanType,
            default=GongSettings.default("call_details_media"),
            description="Also extract call_details' `media` (audio and video URLs; Gong "
            "signs them for a few hours only, so they change on every run).",
        ),
    ).to_dict()

    def __init__(self, *args: Any, validate_config: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, validate_config=validate_config, **kwargs)
        if validate_config:
            if errors := gong_config_errors(self.config):
                raise ConfigValidationError("Config validation failed", errors=errors)
            for stream in self.streams.values():
                if isinstance(stream, WindowedStream):
                    stream.saved_bookmark()  # a state the tap did not write fails here

    @override
    def discover_streams(self) -> list[GongStream]:
        settings = GongSettings.from_config(self.config)
        # One pacer for the whole run: every stream's requests share Gong's allowance.
        pacer = RequestPacer(
            rate=settings.max_requests_per_second, budget=settings.max_requests_per_run
        )
        return [
            stream_class(self, settings=settings, pacer=pacer)
            for stream_class in STREAM_TYPES
        ]

    @override
    @classmethod
    def invoke(cls, *, state: IO[str] | None = None, **kwargs: Any) -> None:  # type: ignore[override]
        """Run the tap; a problem the user can fix ends in one line, not a traceback."""
        with one_line_errors():
            super().invoke(state=checked_state_file(state), **kwargs)

    @override
    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test`, with the same one-line errors as a sync (the SDK runs it in a callback)."""
        with one_line_errors():
            try:
                super().cb_test(ctx, param, value)
            except ConfigValidationError as exc:
                raise click.ClickException("; ".join(exc.errors)) from None


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn the errors a user can act on into click's one-line `Error: ...` and exit code 1."""
    try:
        yield
    except (GongTapError, FatalAPIError, RetriableAPIError, requests.RequestException) as exc:
        if debugging():
            raise
        raise click.ClickException(one_line(exc)) from None


def checked_state_file(state: IO[str] | None) -> IO[str] | None:
    """The state file, once known to be a JSON object with a `bookmarks` object."""
    if state is None:
        return None
    text = state.read()
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        msg = f"The state file is not valid JSON ({exc}): pass the state the tap emitted."
        raise GongStateError(msg) from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("bookmarks", {}), dict):
        msg = "The state file is not a Singer state with bookmarks: pass the one tap-gong emitted."
        raise GongStateError(msg)
    return io.StringIO(text)


def gong_config_errors(config: Mapping[str, Any]) -> list[str]:
    """What the config schema cannot say: one auth method, parseable dates, a safe URL."""
    errors = []
    basic = [config.get("access_key"), config.get("access_key_secret")]
    token = config.get("access_token")
    if token and any(basic):
        errors.append(
            "Both access_token and access_key/access_key_secret are set: keep one auth method."
        )
    elif not token and not all(basic):
        errors.append(
            "Set access_key and access_key_secret (HTTP Basic), or access_token (OAuth)."
            if not any(basic)
            else "access_key and access_key_secret go together: set both, or use access_token."
        )
    dates = {}
    for name in ("start_date", "end_date"):
        if (value := config.get(name)) is not None:
            try:
                dates[name] = parse_instant(value)
            except ValueError:
                errors.append(f"{name}={value!r} is not ISO-8601 (e.g. 2024-01-01T00:00:00Z).")
    if len(dates) == 2 and dates["end_date"] <= dates["start_date"]:
        errors.append("end_date must be after start_date.")
    if url_error := api_url_error(config.get("api_url") or DEFAULT_API_URL):
        errors.append(url_error)
    return errors


def api_url_error(url: str) -> str | None:
    """Credentials go only to HTTPS URLs; plain HTTP is allowed on loopback, for tests."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        try:
            if host == "localhost" or ipaddress.ip_address(host).is_loopback:
                return None
        except ValueError:
            pass
    return f"api_url={url!r} must be an https:// URL (http:// only on a loopback address)."


def debugging() -> bool:
    """Tracebacks are for debugging: shown only at log level DEBUG."""
    level = os.environ.get("TAP_GONG_LOGLEVEL") or os.environ.get("LOGLEVEL") or ""
    return level.upper() == "DEBUG" or logging.getLogger().isEnabledFor(logging.DEBUG)


def one_line(exc: BaseException) -> str:
    """The exception as one line, saying it outlasted the retries where it did."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, RetriableAPIError):
        return f"Gong kept failing after every retry (max_retries): {text}"
    if isinstance(exc, requests.RequestException):
        return f"Could not get an answer from Gong after every retry: {text}"
    return text


if __name__ == "__main__":
    TapGong.cli()
