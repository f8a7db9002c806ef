"""TapGong: settings, streams, and one-line errors for everything a user can fix."""

from __future__ import annotations

import difflib
import io
import ipaddress
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import IO, Any
from urllib.parse import urlsplit

import click
import requests
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError
from singer_sdk.singerlib import StateMessage
from singer_sdk.streams import Stream
from typing_extensions import override

from tap_gong.access import start_run
from tap_gong.budget import streams_in_budget_order
from tap_gong.errors import GongStateError, GongTapError
from tap_gong.fetching import MAX_CONCURRENT_REQUESTS
from tap_gong.garbage import fewer_cycle_collections
from tap_gong.kinds.base import GongStream, streams_run_in_turn
from tap_gong.kinds.windowed import WindowedStream
from tap_gong.oauth import oauth_properties
from tap_gong.pacing import RequestPacer
from tap_gong.progress import StreamTally, left_after_streams
from tap_gong.request_estimate import counted, left_after_run
from tap_gong.settings import ACTIVITY_PERIODS, DEFAULT_API_URL, GongSettings
from tap_gong.streams import STREAM_TYPES
from tap_gong.windows import parse_instant, utc_now


class TapGong(Tap):
    """Gong calls in full, users, stats, coaching and activity: incremental and resumable."""

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
        *oauth_properties(),
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
            description="Only extract calls (calls, call_details and its children) of this "
            "Gong workspace.",
        ),
        th.Property(
            "user_ids",
            th.ArrayType(th.StringType),
            description="Only extract interaction_stats, user_activity and activity_by_period of "
            "these Gong user ids.",
        ),
        th.Property(
            "lookback_window_days",
            th.IntegerType(minimum=0),
            default=GongSettings.default("lookback_window_days"),
            description="Days before the end of the previous run that every incremental run "
            "re-reads (the call streams at least 1: Gong publishes calls hours after they "
            "start). On top of it, about once a day a run re-reads 7 days for data Gong "
            "publishes or changes late (late calls, changed stats days, edited scorecard "
            "answers). A longer lookback re-reads that many days on every run.",
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
            "max_concurrent_requests",
            th.IntegerType(minimum=1, maximum=MAX_CONCURRENT_REQUESTS),
            default=GongSettings.default("max_concurrent_requests"),
            description="Requests in flight at once, each for its own date window or day, so "
            "that slow answers still use Gong's whole rate: never more than "
            "max_requests_per_second starts per second whatever this says. 8 keeps up with "
            "answers of up to 2 s; 1 fetches one window at a time. Bookmarks only ever pass "
            "finished windows.",
        ),
        th.Property(
            "max_requests_per_run",
            th.IntegerType(minimum=1),
            description="Stop (exit 0, state saved) after this many requests, leaving the "
            "rest of Gong's shared daily quota (10,000) to other integrations; shared evenly "
            "between the streams, those it stalled going first next run. No cap if unset.",
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
            "log_metrics",
            th.BooleanType,
            default=False,
            description="Also log the SDK's METRIC lines (one per request, record counts); "
            "off by default so that progress lines stay readable.",
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
        th.Property(
            "reconcile_every_days",
            th.IntegerType(minimum=0),
            description="Every this many days, re-read the whole history of the call streams "
            "and answered_scorecards from start_date and send ACTIVATE_VERSION once it is "
            "read, so that targets mark calls (and reviews) deleted in Gong as deleted "
            "(_sdc_deleted_at); data Gong changed more than 7 days late comes too. 0 "
            "reconciles on every run; unset never does.",
        ),
        th.Property(
            "activity_period",
            th.StringType(allowed_values=list(ACTIVITY_PERIODS)),
            default=GongSettings.default("activity_period"),
            description="The period activity_by_period aggregates each user's activity by: "
            "DAY, WEEK (from Monday), MONTH, QUARTER or YEAR, in the company's time zone.",
        ),
    ).to_dict()

    @override
    @classmethod
    def _get_about_info(cls) -> Any:
        # The SDK's `--about` (plugin_base.print_about): the description gains the streams
        # whose cost grows with the company, and those not selected by default.
        info = super()._get_about_info()
        info.description = f"{info.description} {streams_about()}"
        return info

    def __init__(
        self,
        *args: Any,
        validate_config: bool = True,
        pacer: RequestPacer | None = None,
        **kwargs: Any,
    ) -> None:
        self.started_at = time.monotonic()
        #: The run's pacer when a test brings its own (on a fake clock): set before the
        #: SDK's __init__ discovers the streams, which build the run (`start_run`).
        self.given_pacer = pacer
        super().__init__(*args, validate_config=validate_config, **kwargs)
        if not self.config.get("log_metrics"):
            # The SDK's METRIC lines (one per request) drown the progress lines at INFO.
            self.metrics_logger.setLevel(logging.WARNING)
        quiet_handled_errors(self.logger)
        if validate_config:
            if errors := gong_config_errors(self.config):
                raise ConfigValidationError("Config validation failed", errors=errors)
            for warning in config_warnings(self.config, self.config_jsonschema["properties"]):
                self.logger.warning(warning)
            windowed = [s for s in self.streams.values() if isinstance(s, WindowedStream)]
            for stream in windowed:
                stream.check_saved_state()  # a state the tap did not write fails here
            for stream in windowed:
                stream.share_pages()  # calls from call_details' pages (shared_pages.py)
            streams = list(self.streams.values())
            if budget_warning := small_budget_warning(self.config, streams):
                self.logger.warning(budget_warning)

    @override
    def discover_streams(self) -> list[GongStream]:
        settings = GongSettings.from_config(self.config)
        run = start_run(settings, "api_url" in self.config, self.logger, self.given_pacer)
        self.gong_run = run
        return [stream_class(self, run) for stream_class in STREAM_TYPES]

    @override  # type: ignore[misc]  # the SDK marks it final: a seam (sdk_seams.py)
    def sync_all(self) -> None:
        # Every stream synced and its costs logged, the run closes with its summary.
        super().sync_all()
        self.log_run_summary()

    def log_run_summary(self) -> None:
        """How the run ended: one line for all streams, one per selected stream.

        Raises:
            GongTapError: when a stream failed or the run stopped on a fault: the run exits
                non-zero once every stream that could go on has.
        """
        streams = {name: s for name, s in self.streams.items() if isinstance(s, GongStream)}
        tallies = [s.tally for s in streams.values()]
        total = StreamTally(
            records=sum(t.records for t in tallies),  # page children's included
            requests=self.gong_run.pacer.requests_started,
            retries=sum(t.retries for t in tallies),
            rate_limited=sum(t.rate_limited for t in tallies),
            seconds=time.monotonic() - self.started_at,
        )
        outcomes = self.gong_run.outcomes
        budget = self.gong_run.pacer.budget

        def details(name: str) -> str:
            tally = streams[name].tally
            left = f"; {left_after_run(tally.left, budget)}" if tally.left else ""
            requests = counted(streams[name].requests_of_stream(), "request")
            return f"{counted(tally.records, 'record')}, {requests}{left}"

        lines = outcomes.summary_lines(details)
        left = left_after_streams(tallies, budget)
        self.logger.info("Run: %s; %s.\n%s", total.summary(), left, "\n".join(lines))
        if error := outcomes.exit_error(one_line):
            raise error

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        if self.config.get("max_requests_per_run") is not None:
            # Streams the budget stopped last run go first (tap_gong/budget.py); the SDK
            # syncs in the order of `streams`.
            streams = self.streams
            order = streams_in_budget_order(streams, self.state.get("bookmarks", {}))
            reordered = {name: streams[name] for name in order}
            streams.clear()
            streams.update(reordered)

    @override
    @classmethod
    def invoke(cls, *, state: IO[str] | None = None, **kwargs: Any) -> None:
        """Run the tap; a problem the user can fix ends in one line, not a traceback."""
        with one_line_errors(), fewer_cycle_collections():
            super().invoke(state=tap_state_file(state), **kwargs)

    @override
    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """`--config` files, each checked first: a missing or broken file is one line."""
        for path in value:
            if path != "ENV":
                check_config_file(path)
        return super().cb_config(ctx, param, value)

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # The SDK writes the state and exits 0, so an orchestrator that stops a run on a
        # timeout would record a partial extraction as a success. The state is written
        # all the same; the exit code says the run did not finish (128 + the signal).
        try:
            # Written even when unchanged since the last STATE (the SDK's state writer would
            # skip it): records of an unfinished window may have come since, and the run's
            # last line is to be its state.
            self.message_writer.write_message(StateMessage(value=self.state))
        finally:
            self.logger.warning(
                "Interrupted by %s: the state for finished work is written; run again with it.",
                signal.Signals(signum).name,
            )
            sys.exit(128 + signum)

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


def tap_state_file(state: IO[str] | None) -> IO[str] | None:
    """The state to resume from, as a Singer state with `bookmarks`.

    Accepts what users save: the state itself, the last STATE message the tap wrote
    (`{"type": "STATE", "value": ...}`), or what `meltano state get` prints
    (`{"singer_state": ...}`), unwrapped with one line saying so. Anything else is
    refused in one line: a state that silently reads as empty would re-read the
    whole history and spend the company's shared quota.
    """
    if state is None:
        return None
    text = state.read()
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        msg = f"The state file is not valid JSON ({exc}): pass the state the tap emitted."
        raise GongStateError(msg) from None
    for wrapper, label in (("value", "a STATE message"), ("singer_state", "Meltano's state")):
        if isinstance(parsed, dict) and isinstance(parsed.get(wrapper), dict):
            if wrapper == "value" and parsed.get("type") != "STATE":
                continue
            logging.getLogger("tap-gong").info(
                "The state file holds %s: using its bookmarks.", label
            )
            parsed = parsed[wrapper]
    if not isinstance(parsed, dict) or not isinstance(parsed.get("bookmarks"), dict):
        msg = (
            "The state file has no `bookmarks`: pass the last STATE the tap emitted (its "
            "`value`), or no --state to start from start_date."
        )
        raise GongStateError(msg)
    ours = {vars(stream)["name"] for stream in STREAM_TYPES}  # the SDK types `name` per instance
    if foreign := sorted(set(parsed["bookmarks"]) - ours):
        msg = (
            f"The state's bookmarks name streams tap-gong does not have ({', '.join(foreign)}): "
            "it is another tool's state. Pass the state tap-gong emitted, or no --state to "
            "start from start_date."
        )
        raise GongStateError(msg)
    return io.StringIO(json.dumps(parsed))


def streams_about() -> str:
    """What --about says of the streams: those that cost more than a request or a few pages
    per run, and those a catalog (or Meltano's `*.*` less three) leaves out by default."""
    costly = [f"{vars(s)['name']} ({s.request_cost})" for s in STREAM_TYPES if s.request_cost]
    unselected = [vars(s)["name"] for s in STREAM_TYPES if not s.selected_by_default]
    return (
        f"Streams that cost more per run as the company grows: {', '.join(costly)}. "
        f"Not selected by default: {', '.join(unselected)} (select them in the catalog, or "
        "delete their line in meltano.yml)."
    )


def check_config_file(path: str) -> None:
    """A config file exists and holds a JSON object, else one line naming it."""
    try:
        with open(path, encoding="utf-8") as file:
            parsed = json.load(file)
    except OSError as exc:
        msg = f"Cannot read the config file {path}: {exc.strerror}."
        raise click.ClickException(msg) from None
    except ValueError as exc:
        msg = f"The config file {path} is not valid JSON ({exc})."
        raise click.ClickException(msg) from None
    if not isinstance(parsed, dict):
        msg = f"The config file {path} must hold a JSON object of settings."
        raise click.ClickException(msg)


def config_warnings(config: Mapping[str, Any], known: Mapping[str, Any]) -> list[str]:
    """What is allowed but probably not meant: unknown settings, a future start_date."""
    warnings = []
    for name in sorted(config.keys() - known.keys()):
        closest = difflib.get_close_matches(name, list(known), n=1)
        hint = f" Did you mean {closest[0]}?" if closest else ""
        warnings.append(f"Unknown setting {name!r} is ignored.{hint}")
    start = config.get("start_date")
    if isinstance(start, str) and parse_instant(start) > utc_now():
        warnings.append(f"start_date={start} is in the future: there is nothing to extract yet.")
    return warnings


# Requests a stream needs in a run at the least: a window, its page children's, the lookback.
FEWEST_REQUESTS_PER_STREAM = 2


def small_budget_warning(config: Mapping[str, Any], streams: list[Stream]) -> str | None:
    """A warning when max_requests_per_run cannot give every selected stream a window."""
    budget = config.get("max_requests_per_run")
    synced = streams_run_in_turn(streams)
    if budget is None or budget >= FEWEST_REQUESTS_PER_STREAM * len(synced):
        return None
    return (
        f"max_requests_per_run={budget} is less than {FEWEST_REQUESTS_PER_STREAM} requests for "
        f"each of the {len(synced)} streams run in turn: each run moves only some of them "
        "(those it stalled go first next run). Raise it, or select fewer streams."
    )


class HandledErrorFilter(logging.Filter):
    """Drops the SDK's "An unhandled error occurred" line for errors the tap reports itself.

    The SDK logs it at ERROR for every exception leaving a stream, before the tap's own
    one-line `Error:`; the SDK logs it inside its `except` block, so the exception in
    flight tells which it is.
    """

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        handled = isinstance(sys.exc_info()[1], (GongTapError, FatalAPIError, RetriableAPIError))
        return not (handled and record.msg.startswith("An unhandled error occurred"))


def quiet_handled_errors(logger: logging.Logger) -> None:
    """Install HandledErrorFilter where the streams' log records pass (the tap's handlers)."""
    for handler in logging.getLogger().handlers + logger.handlers:
        if not any(isinstance(f, HandledErrorFilter) for f in handler.filters):
            handler.addFilter(HandledErrorFilter())


# The ways into Gong, and the settings each needs together.
AUTH_METHODS = {
    "access_key/access_key_secret": ("access_key", "access_key_secret"),
    "access_token": ("access_token",),
    "client_id/client_secret/refresh_token": ("client_id", "client_secret", "refresh_token"),
}


def auth_errors(config: Mapping[str, Any]) -> list[str]:
    """Exactly one way into Gong, with all its settings."""
    used = [name for name, keys in AUTH_METHODS.items() if any(config.get(k) for k in keys)]
    if not used:
        return [
            "Set access_key and access_key_secret (HTTP Basic), or access_token (OAuth). "
            "For a Gong OAuth app: client_id, client_secret and refresh_token."
        ]
    if len(used) > 1:
        return [f"Both {' and '.join(used)} are set: keep one auth method."]
    missing = [key for key in AUTH_METHODS[used[0]] if not config.get(key)]
    if not missing:
        return []
    if used[0] == "access_key/access_key_secret":
        return ["access_key and access_key_secret go together: set both, or use access_token."]
    return [
        "client_id, client_secret and refresh_token go together (a Gong OAuth app): "
        f"set {', '.join(missing)}."
    ]


def gong_config_errors(config: Mapping[str, Any]) -> list[str]:
    """What the config schema cannot say: one auth method, parseable dates, a safe URL."""
    errors = auth_errors(config)
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
    """The exception in one line (one per failed stream); says if it outlasted the retries."""
    text = "\n".join(" ".join(line.split()) for line in str(exc).splitlines() if line.strip())
    text = text or type(exc).__name__
    if isinstance(exc, RetriableAPIError):
        return f"Gong kept failing after every retry (max_retries): {text}"
    if isinstance(exc, requests.RequestException):
        return f"Could not get an answer from Gong after every retry: {text}"
    return text


if __name__ == "__main__":
    TapGong.cli()
