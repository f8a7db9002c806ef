"""`tap-gong-sandbox`: serve the Gong sandbox on a local port until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading

from tap_gong.sandbox.server import GongSandbox, SandboxSettings


def _parser() -> argparse.ArgumentParser:
    defaults = SandboxSettings()
    parser = argparse.ArgumentParser(
        prog="tap-gong-sandbox", description="Serve a local fake of Gong's API."
    )
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--calls", type=int, default=defaults.calls)
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--workspaces", type=int, default=defaults.workspaces)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--time-zone", default=defaults.time_zone, help="IANA zone name")
    parser.add_argument("--requests-per-second", type=int, default=None)
    parser.add_argument("--daily-quota", type=int, default=None)
    parser.add_argument("--error-rate", type=float, default=defaults.error_rate)
    parser.add_argument("--latency", type=float, default=defaults.latency_seconds)
    parser.add_argument("--log-requests", action="store_true", help="print request lines")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = SandboxSettings(
        seed=args.seed,
        users=args.users,
        workspaces=args.workspaces,
        calls=args.calls,
        days=args.days,
        time_zone=args.time_zone,
        requests_per_second=args.requests_per_second,
        daily_quota=args.daily_quota,
        error_rate=args.error_rate,
        latency_seconds=args.latency,
        log_requests=args.log_requests,
    )
    stopping = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopping.set())
    sandbox = GongSandbox(settings)
    sandbox.start(port=args.port)
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
