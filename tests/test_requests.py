"""How every stream's request is built: the cursor where Gong reads it, the filters it declares."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tap_gong.answers import request_body
from tap_gong.kinds.base import GongStream
from tap_gong.pagination import GongCursorPaginator
from tap_gong.sdk_seams import prepare_request
from tap_gong.streams import STREAM_TYPES
from tap_gong.tap import TapGong

CONFIG = {
    "api_url": "https://us-1.api.gong.io",
    "access_key": "k",
    "access_key_secret": "s",
    "start_date": "2024-01-01",
    "workspace_id": "ws-1",
    "user_ids": ["u-1", "u-2"],
}
# A window of every kind (the extra names are a GET stream's query, ignored by its check).
WINDOW = {"fromDate": "2024-01-01", "toDate": "2024-01-02"}
# The streams that send requests (the others derive their records from a parent's pages).
NAMES = [vars(stream_type)["name"] for stream_type in STREAM_TYPES if hasattr(stream_type, "path")]


def paginator_at(cursor: str | None) -> GongCursorPaginator:
    """Gong's paginator once an answer named `cursor` as the next page's (None: page 1)."""
    paginator = GongCursorPaginator()
    if cursor is not None:
        answer = requests.Response()
        answer._content = json.dumps({"records": {"cursor": cursor}}).encode()
        paginator.advance(answer)
    return paginator


def built_request(stream: GongStream, cursor: str | None) -> requests.PreparedRequest:
    """The request the stream sends for `WINDOW`'s page after `cursor`, as the SDK builds it."""
    return prepare_request(stream, WINDOW, paginator_at(cursor))


@pytest.fixture(scope="module")
def tap() -> TapGong:
    return TapGong(config=CONFIG, parse_env_config=False)


@pytest.mark.parametrize("name", NAMES)
def test_every_stream_asks_for_the_next_page_where_gong_reads_the_cursor(
    tap: TapGong, name: str
) -> None:
    # A POST's cursor at the top of its body (in its query Gong ignores it), a GET's in
    # its query: a stream that forgot it would read its first page again and again.
    stream = tap.streams[name]
    assert isinstance(stream, GongStream)
    request = built_request(stream, "NEXT-PAGE")

    query = parse_qs(urlsplit(request.url or "").query)
    if stream.http_method == "POST":
        assert json.loads(request_body(request) or "{}")["cursor"] == "NEXT-PAGE"
        assert "cursor" not in query
    else:
        assert query["cursor"] == ["NEXT-PAGE"]
        assert request.body is None


@pytest.mark.parametrize("name", NAMES)
def test_the_first_page_is_asked_without_a_cursor(tap: TapGong, name: str) -> None:
    stream = tap.streams[name]
    assert isinstance(stream, GongStream)
    request = built_request(stream, None)

    assert "cursor" not in parse_qs(urlsplit(request.url or "").query)
    assert "cursor" not in json.loads(request_body(request) or "{}")


def request_filter(tap: TapGong, name: str) -> dict:
    """The filter Gong gets from the stream: in a POST's body, or a GET's query."""
    stream = tap.streams[name]
    assert isinstance(stream, GongStream)
    request = built_request(stream, None)
    if request.method == "POST":
        return dict(json.loads(request_body(request) or "{}")["filter"])
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url or "").query).items()}


@pytest.mark.parametrize("name", ["calls", "call_details"])
def test_workspace_id_filters_the_call_listings(tap: TapGong, name: str) -> None:
    assert request_filter(tap, name)["workspaceId"] == "ws-1"


@pytest.mark.parametrize("name", ["interaction_stats", "user_activity", "activity_by_period"])
def test_user_ids_filter_the_per_user_stats(tap: TapGong, name: str) -> None:
    assert request_filter(tap, name)["userIds"] == ["u-1", "u-2"]


@pytest.mark.parametrize(
    "name",
    sorted(set(NAMES) - {"calls", "call_details"}),
)
def test_no_other_stream_sends_workspace_id(tap: TapGong, name: str) -> None:
    # Gong would refuse it, or filter something else by it (per_workspace streams skip
    # the other workspaces' items instead).
    assert "workspaceId" not in request_filter(tap, name)


def test_a_value_the_path_names_goes_in_the_path_not_the_query(tap: TapGong) -> None:
    stream = tap.streams["user_settings_history"]
    assert isinstance(stream, GongStream)
    request = prepare_request(stream, {"userId": "u-7"}, paginator_at(None))

    assert urlsplit(request.url or "").path == "/v2/users/u-7/settings-history"
    assert "userId" not in parse_qs(urlsplit(request.url or "").query)
