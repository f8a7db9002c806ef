"""Faults on demand or at random: 5xx, 429, dropped connections, truncated bodies, timeouts;
and the latency of every answer."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from gong_sandbox.limits import Limits
from gong_sandbox.protocol import Reply, error_reply
from gong_sandbox.settings import SandboxSettings

TIMEOUT_FAULT_SECONDS = 5.0
SERVER_ERROR_KINDS = ("500", "502", "503", "html500")
FAULT_KINDS = frozenset({*SERVER_ERROR_KINDS, "429", "quota", "drop", "truncate", "timeout"})
SERVER_ERROR_MESSAGES = {
    "500": "Failed to complete the operation due to an unexpected error",
    "502": "Bad gateway",
    "503": "Service temporarily unavailable",
}
HTML_500_BODY = (
    b"<html><head><title>500 Internal Server Error</title></head>"
    b"<body><h1>Internal Server Error</h1></body></html>"
)


class Faults:
    """Which fault, if any, the next answer gets; scripted ones first, then the rates."""

    def __init__(self, settings: SandboxSettings) -> None:
        self._settings = settings
        self._fault_rng = random.Random(settings.seed)
        self._jitter_rng = random.Random(settings.seed)
        self._scripted: deque[str] = deque()

    def fail_next(self, kind: str, count: int = 1) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        self._scripted.extend([kind] * count)

    def next_fault(self) -> str | None:
        # Always two draws, so the random sequence depends only on the request count.
        roll, pick = self._fault_rng.random(), self._fault_rng.random()
        if self._scripted:
            return self._scripted.popleft()
        settings = self._settings
        if roll < settings.error_rate:
            return SERVER_ERROR_KINDS[int(pick * len(SERVER_ERROR_KINDS))]
        if roll < settings.error_rate + settings.drop_rate:
            return "drop"
        if roll < settings.error_rate + settings.drop_rate + settings.truncate_rate:
            return "truncate"
        return None

    def answer_delay(self) -> float:
        """Seconds before an answer: the latency, plus its jitter drawn for this answer."""
        settings = self._settings
        jitter = settings.latency_jitter_seconds
        return settings.latency_seconds + (self._jitter_rng.uniform(0, jitter) if jitter else 0)


def faulty_reply(
    fault: str | None, request_id: str, limits: Limits, answer: Callable[[], Reply]
) -> Reply:
    """The reply with `fault` (None: the answer itself)."""
    if fault == "429":
        return limits.rate_limited(request_id)
    if fault == "quota":
        return limits.quota_exceeded(request_id)
    if fault == "html500":
        return Reply(500, HTML_500_BODY, content_type="text/html; charset=utf-8")
    if fault in SERVER_ERROR_MESSAGES:
        return error_reply(int(fault), request_id, [SERVER_ERROR_MESSAGES[fault]])
    if fault == "drop":
        return Reply(0, drop=True)
    reply = answer()
    if fault == "truncate" and reply.status == 200:
        return replace(reply, truncate=True)
    if fault == "timeout":
        return replace(reply, delay=TIMEOUT_FAULT_SECONDS)
    return reply
