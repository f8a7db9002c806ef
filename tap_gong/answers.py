"""What Gong's answers mean: the body, "no data", error text, Retry-After and cursors.

Every rule about reading a Gong answer lives here, so the client, the paginator and
the streams agree on it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from typing import Any
from urllib.parse import unquote, urlsplit

import msgspec
import requests

# Gong says "nothing in this range" with a 404 whose text reads like "No calls found
# corresponding to the provided filters" or "No stats found for the specified period".
# Any other 404 (an unknown path, "Call ID ... was not found") is not "no data".
NO_DATA_MESSAGE = re.compile(r"^\s*no\b.*\bfound\b", re.IGNORECASE)
# Gong names the scope a key or OAuth app lacks in its refusal: "You don't have
# permission to use 'api:calls:read:extensive' in your ..." (seen live: PipedreamHQ/
# pipedream#16062). A refusal in other words may be the credentials themselves.
MISSING_SCOPE_MESSAGE = re.compile(r"\bapi:[a-z:-]+|\bscope\b|\bpermission\b", re.IGNORECASE)
ERROR_TEXT_LIMIT = 300
# The answer's decoded body, kept on the response so it is decoded once.
_BODY_ATTRIBUTE = "_gong_body"
_CURSOR_ATTRIBUTE = "_gong_cursor"


def gong_error_text(response: requests.Response) -> str:
    """Gong's `errors[]` joined, or the start of a body that is not Gong's JSON, on one line."""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        errors = None
    text = "; ".join(map(str, errors)) if isinstance(errors, list) and errors else response.text
    text = " ".join(text.split())
    return text[:ERROR_TEXT_LIMIT] + ("..." if len(text) > ERROR_TEXT_LIMIT else "")


def is_no_data(response: requests.Response) -> bool:
    """Gong's 404 for a filter that matches nothing: an empty answer, not an error."""
    return response.status_code == 404 and bool(NO_DATA_MESSAGE.search(gong_error_text(response)))


def names_missing_scope(response: requests.Response) -> bool:
    """Whether Gong's 401/403 says the request needs a scope the key or app lacks."""
    return bool(MISSING_SCOPE_MESSAGE.search(gong_error_text(response)))


def is_owner_without_engage(response: requests.Response) -> bool:
    """Gong's 403 to GET /v2/flows for a `flowOwnerEmail` without a Gong Engage licence.

    That owner has no flows: an empty answer, not an error (a company without Engage
    answers it for every owner). The newer copy of Gong's spec lists a 403 "Forbidden" for
    /v2/flows (the 2024-11 one does not); that it means an owner without Engage is seen
    live, its words are not known. A 403 that names a scope is the scope's refusal.
    """
    path = urlsplit(response.request.url or "").path if response.request else ""
    return (
        response.status_code == 403
        and path.endswith("/v2/flows")
        and not names_missing_scope(response)
    )


def gong_body(response: requests.Response) -> dict[str, Any]:
    """Gong's decoded JSON object; `{}` for a "no data" answer. Decoded once per response.

    Raises:
        ValueError: when the body is cut off, not JSON, or not a JSON object.
    """
    body = response.__dict__.get(_BODY_ATTRIBUTE)
    if body is None:
        # msgspec decodes about 3x faster than requests' json(), and keeps integers
        # exact: an int64 id never passes through a float.
        body = {} if is_no_data(response) else msgspec.json.decode(response.content)
        if not isinstance(body, dict):
            msg = f"expected a JSON object, got {type(body).__name__}"
            raise ValueError(msg)
        response.__dict__[_BODY_ATTRIBUTE] = body
    return body


class _CallMetaData(msgspec.Struct):
    id: Any = None


class _Call(msgspec.Struct):
    metaData: _CallMetaData | None = None  # Gong's name


class _CallsPage(msgspec.Struct):
    calls: list[_Call] | None = None


def call_ids(response: requests.Response) -> list[Any] | None:
    """The `metaData.id` of each call of a page of call details (the id `call_id_and_start`
    in streams.py reads from a decoded call), in order; None if it is not such a page.

    Workers call this on pages the main thread reads later: only the ids are decoded, as
    `next_cursor` decodes only the cursor, so that the page waits as bytes.
    """
    if is_no_data(response):
        return []
    try:
        page = msgspec.json.decode(response.content, type=_CallsPage)
    except msgspec.DecodeError:
        return None
    return [call.metaData.id if call.metaData else None for call in page.calls or ()]


def next_cursor(response: requests.Response) -> str | None:
    """The cursor for the next page; Gong sends one only while records remain.

    Workers call this on pages the main thread reads later: unless the page is decoded
    already, only its `records` object is, so that a page waiting to be read holds its
    bytes, not its decoded records as well.

    Raises:
        ValueError: when the body is cut off, not JSON, or not a JSON object.
    """
    if _CURSOR_ATTRIBUTE in response.__dict__:  # validation read it, paging asks again
        cursor: str | None = response.__dict__[_CURSOR_ATTRIBUTE]
        return cursor
    body = response.__dict__.get(_BODY_ATTRIBUTE)
    if body is not None:
        records = body.get("records")
    elif is_no_data(response):
        records = None
    else:
        try:
            top = msgspec.json.decode(response.content, type=dict[str, msgspec.Raw])
        except msgspec.ValidationError:
            msg = "expected a JSON object"
            raise ValueError(msg) from None
        records = msgspec.json.decode(top["records"]) if "records" in top else None
    cursor = records.get("cursor") if isinstance(records, dict) else None
    response.__dict__[_CURSOR_ATTRIBUTE] = cursor
    return cursor


def retry_after_seconds(
    response: requests.Response, now: dt.datetime | None = None
) -> float | None:
    """Gong's `Retry-After` (seconds or an HTTP date) as seconds from `now`, if given."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def describe_request(request: requests.PreparedRequest) -> str:
    """`METHOD /path?query` plus the JSON body: what the user needs to reproduce a request.

    Credentials travel only in the Authorization header, which is never shown.
    """
    parts = urlsplit(request.url or "")
    target = parts.path + (f"?{unquote(parts.query)}" if parts.query else "")
    body = request_body(request)
    return f"{request.method} {target}" + (f" {body}" if body else "")


def request_body(request: requests.PreparedRequest) -> str:
    """The JSON body the tap sent ("" for a GET)."""
    body = request.body
    return body.decode() if isinstance(body, bytes) else body if isinstance(body, str) else ""
