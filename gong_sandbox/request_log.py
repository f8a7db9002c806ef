"""What the sandbox was asked and how it answered: the request log and its counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gong_sandbox.protocol import ApiRequest, Reply

COUNTER_NAMES = ("requests", "429", "5xx", "404", "400", "dropped", "truncated")


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    status: int  # 0 when the connection was dropped without an answer
    at: float  # time.monotonic() on arrival
    auth: str | None  # "basic" or "bearer" when the credentials were valid; "expired" token


class RequestLog:
    """Every API request with its answer's status, and counts by kind; not thread-safe."""

    def __init__(self) -> None:
        self.entries: list[RequestLogEntry] = []
        self.counters = dict.fromkeys(COUNTER_NAMES, 0)

    def record(self, request: ApiRequest, reply: Reply) -> None:
        counters = self.counters
        counters["requests"] += 1
        if reply.drop:
            counters["dropped"] += 1
        if reply.truncate:
            counters["truncated"] += 1
        status_counter = "5xx" if reply.status >= 500 else str(reply.status)
        if status_counter in counters:
            counters[status_counter] += 1
        self.entries.append(
            RequestLogEntry(
                method=request.method,
                path=request.path,
                query=request.query,
                body=request.body,
                status=reply.status,
                at=request.arrived,
                auth=request.auth,
            )
        )

    def reset(self) -> None:
        self.entries.clear()
        self.counters = dict.fromkeys(COUNTER_NAMES, 0)
