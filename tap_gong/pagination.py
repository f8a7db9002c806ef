"""Gong's paging: follow `records.cursor` until Gong returns none."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from singer_sdk.pagination import BaseAPIPaginator
from typing_extensions import override

from tap_gong.answers import next_cursor, request_body


def post_body(request_filter: dict[str, Any], cursor: str | None, **parts: Any) -> dict[str, Any]:
    """A POST request's JSON body: the filter, other parts, and the cursor beside them.

    Gong reads a POST's cursor only at the top of the body; in the query it is ignored
    and page 1 comes back again.
    """
    body: dict[str, Any] = {"filter": request_filter, **parts}
    if cursor:
        body["cursor"] = cursor
    return body


def carries_cursor(request: requests.PreparedRequest) -> bool:
    """Whether a request asks for a later page: a cursor in its query (GET) or body (POST)."""
    if parse_qs(urlsplit(request.url or "").query).get("cursor"):
        return True
    body = request_body(request)
    return bool(body) and bool(json.loads(body).get("cursor"))


class GongCursorPaginator(BaseAPIPaginator[str | None]):
    """Pages by `records.cursor`; the stream decides where the cursor goes (query or body)."""

    def __init__(self) -> None:
        super().__init__(None)

    @override
    def get_next(self, response: requests.Response) -> str | None:
        return next_cursor(response)

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        # An empty page that still carries a cursor is not the end of the data.
        return next_cursor(response) is not None
