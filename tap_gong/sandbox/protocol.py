"""What every sandbox endpoint shares: the reply, Gong's error shape, and parsing of filters."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    retry_after: int | None = None
    drop: bool = False
    truncate: bool = False
    delay: float = 0.0


def dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


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
