"""`tap-gong-sandbox`: serve the Gong sandbox on a local port until Ctrl-C or SIGTERM.

Every setting of SandboxSettings but the credentials is a flag; a bad value stops the
command with one line naming the flag, and exit code 2 (argparse's code for usage errors).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import datetime
from typing import Any, NoReturn

from typing_extensions import override

from gong_sandbox.protocol import parse_instant
from gong_sandbox.sandbox import GongSandbox
from gong_sandbox.settings import SandboxSettings
from gong_sandbox.validation import SettingError

PROG = "tap-gong-sandbox"
USAGE_ERROR = 2
# (flag, setting, type, help); the default shown is SandboxSettings'.
FLAGS: tuple[tuple[str, str, Any, str], ...] = (
    ("--seed", "seed", int, "seed of the deterministic data set"),
    ("--users", "users", int, "users in the company"),
    ("--workspaces", "workspaces", int, "workspaces in the company"),
    ("--calls", "calls", int, "calls spread over the days of history"),
    ("--days", "days", int, "days of history before now"),
    ("--late-calls", "late_calls", int, "calls from the last 12 h kept hidden until revealed"),
    ("--time-zone", "time_zone", str, "the company's IANA time zone"),
    ("--page-size", "page_size", int, "records per page (Gong: 100)"),
    ("--transcript-sentences", "transcript_sentences", int, "sentences per call transcript"),
    (
        "--requests-per-second",
        "requests_per_second",
        int,
        "429 past this many a second; unset: none",
    ),
    ("--retry-after", "retry_after_seconds", int, "Retry-After seconds of a rate-limit 429"),
    ("--daily-quota", "daily_quota", int, "429 past this many requests a company day; unset: none"),
    ("--error-rate", "error_rate", float, "share of requests answered 5xx (0..1)"),
    ("--drop-rate", "drop_rate", float, "share of connections dropped unanswered (0..1)"),
    ("--truncate-rate", "truncate_rate", float, "share of answers cut in half (0..1)"),
    ("--latency", "latency_seconds", float, "seconds added before every answer"),
    (
        "--latency-jitter",
        "latency_jitter_seconds",
        float,
        "up to this many more seconds, at random per answer (answers come back out of order)",
    ),
    (
        "--idle-timeout",
        "idle_timeout_seconds",
        float,
        "close a keep-alive connection idle this many seconds; unset: never",
    ),
    (
        "--cursor-ttl",
        "cursor_ttl_seconds",
        float,
        "refuse a page cursor older than this many seconds (a 400); unset: never",
    ),
)


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2."""

    @override
    def error(self, message: str) -> NoReturn:
        fail(message)


def fail(message: str) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(USAGE_ERROR)


def _instant(text: str) -> datetime:
    instant = parse_instant(text)
    if instant is None:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant with Z or an offset: {text!r}")
    return instant


def _parser() -> argparse.ArgumentParser:
    defaults = SandboxSettings()
    parser = _OneLineParser(
        prog=PROG,
        description="Serve a local fake of Gong's API.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1; 0 picks one")
    for flag, setting, kind, text in FLAGS:
        parser.add_argument(
            flag, dest=setting, type=kind, default=getattr(defaults, setting), help=text
        )
    parser.add_argument(
        "--now",
        type=_instant,
        default=None,
        help="freeze the clock at this instant (e.g. 2024-03-10T12:00:00Z); default: real clock",
    )
    parser.add_argument(
        "--odd-payloads",
        action="store_true",
        help="undocumented values, fields and nulls, as Gong may send one day",
    )
    parser.add_argument("--log-requests", action="store_true", help="print request lines")
    parser.add_argument(
        "--no-engage",
        dest="engage",
        action="store_false",
        help="a company without Gong Engage: every GET /v2/flows answers 403",
    )
    return parser


def settings_from(args: argparse.Namespace) -> SandboxSettings:
    """The settings the flags ask for; a bad value ends the command naming its flag."""
    flag_of = {setting: flag for flag, setting, _, _ in FLAGS} | {"now": "--now"}
    try:
        return SandboxSettings(
            **{setting: getattr(args, setting) for _, setting, _, _ in FLAGS},
            now=args.now,
            odd_payloads=args.odd_payloads,
            log_requests=args.log_requests,
            engage=args.engage,
        )
    except SettingError as error:
        fail(f"{flag_of.get(error.setting, error.setting)} {error.problem}")


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = settings_from(args)
    if not 0 <= args.port <= 65535:
        fail(f"--port must be between 0 and 65535, got {args.port}")
    stopping = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopping.set())
    sandbox = GongSandbox(settings)
    try:
        sandbox.start(port=args.port)
    except OSError as error:
        fail(f"cannot serve on 127.0.0.1:{args.port}: {error.strerror or error}")
    # The CLI cannot change the credentials, so these are always the fake demo ones.
    print(
        f"Gong sandbox serving {settings.calls} calls at {sandbox.url}\n"
        f"  access key:        {settings.access_key}\n"
        f"  access key secret: {settings.access_key_secret}\n"
        f"  bearer token:      {settings.access_token}\n"
        f"  company time zone: {settings.time_zone}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    try:
        stopping.wait()
    finally:
        sandbox.stop()
