"""What every sandbox endpoint shares: the request, the reply, Gong's error shape, and
parsing of filters."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec

DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Request:
    """An HTTP request as it arrives: what `GongSandbox.handle` answers."""

    method: str
    target: str  # the path and query string, as on the request line: "/v2/calls?cursor=..."
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    arrived: float = field(default_factory=time.monotonic)  # counts for the rate limit

    def header(self, name: str) -> str | None:
        """A header's value; names are case-insensitive."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


@dataclass(frozen=True)
class ApiRequest:
    """A request as the endpoints read it: its query, JSON body and credentials decoded."""

    raw: Request
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None  # the JSON object sent; None when there was none
    body_is_valid: bool  # False: a body that is not a JSON object
    auth: str | None  # "basic" or "bearer" when the credentials were valid; "expired" token
    request_id: str
    path_params: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        raw: Request,
        *,
        auth: str | None = None,
        request_id: str = "",
        path_params: tuple[str, ...] = (),
    ) -> ApiRequest:
        url = urlsplit(raw.target)
        body: Any = None
        body_is_valid = True
        if raw.body:
            try:
                body = json.loads(raw.body)
            except ValueError:
                body = None
            body_is_valid = isinstance(body, dict)
        return cls(
            raw=raw,
            path=url.path,
            query={name: values[-1] for name, values in parse_qs(url.query).items()},
            body=body if body_is_valid else None,
            body_is_valid=body_is_valid,
            auth=auth,
            request_id=request_id,
            path_params=path_params,
        )

    @property
    def method(self) -> str:
        return self.raw.method

    @property
    def arrived(self) -> float:
        return self.raw.arrived

    @property
    def fields(self) -> dict[str, Any]:
        """The JSON body's fields (none without a body)."""
        return self.body or {}


@dataclass(frozen=True)
class Reply:
    """An answer: what `GongSandbox.handle` returns and the HTTP server sends."""

    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    retry_after: int | None = None
    drop: bool = False
    truncate: bool = False
    delay: float = 0.0  # seconds the server waits before sending it (a timeout fault)


def dumps(value: object) -> bytes:
    """Compact UTF-8 JSON, as json.dumps(ensure_ascii=False) writes it, ten times faster.

    json.dumps holds the interpreter's lock for its whole call (22 ms for a page of 100
    calls with their details): a request arriving meanwhile would be counted that much
    late against Gong's rolling second, which Gong counts as requests arrive.
    """
    return msgspec.json.encode(value)


def error_reply(
    status: int, request_id: str, errors: list[str], retry_after: int | None = None
) -> Reply:
    return Reply(
        status, dumps({"requestId": request_id, "errors": errors}), retry_after=retry_after
    )


def filter_digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def parse_instant(text: str) -> datetime | None:
    """An ISO-8601 instant with Z or an offset; None when malformed or without an offset."""
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"  # fromisoformat() only accepts Z from Python 3.11
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


def epoch_microseconds(instant: datetime) -> int:
    return (instant - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


def parse_day(value: object) -> date | None:
    if not isinstance(value, str) or not DATE_PATTERN.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
