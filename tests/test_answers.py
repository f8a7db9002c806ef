"""What Gong's answers mean, each rule checked on answers built as Gong sends them."""

from __future__ import annotations

import json

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_gong.answers import gong_body, is_no_data
from tap_gong.errors import GongAuthError, GongRequestRejected
from tap_gong.kinds.base import GongStream
from tap_gong.tap import TapGong

CONFIG = {
    "api_url": "https://us-1.api.gong.io",
    "access_key": "k",
    "access_key_secret": "s",
    "start_date": "2024-01-01",
}


def gong_answer(status: int, body: object, path: str = "/v2/calls") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.request = requests.Request("GET", f"https://us-1.api.gong.io{path}").prepare()
    return response


def errors(*texts: str) -> dict:
    return {"requestId": "r1", "errors": list(texts)}


def stream(name: str = "calls") -> GongStream:
    tap = TapGong(config=CONFIG, parse_env_config=False)
    found = tap.streams[name]
    assert isinstance(found, GongStream)
    return found


@pytest.mark.parametrize(
    "text",
    [
        "No calls found corresponding to the provided filters",
        "No stats found for the specified period",
        "No answered scorecards found corresponding to the provided filters.",
    ],
)
def test_gongs_no_data_404_is_an_empty_answer(text: str) -> None:
    answer = gong_answer(404, errors(text))

    assert is_no_data(answer)
    assert gong_body(answer) == {}
    stream().validate_response(answer)  # no error


@pytest.mark.parametrize(
    "text", ["No such endpoint: GET /x/v2/calls", "Call ID 123 was not found", "Not Found"]
)
def test_any_other_404_is_an_error_naming_api_url(text: str) -> None:
    answer = gong_answer(404, errors(text))

    assert not is_no_data(answer)
    with pytest.raises(GongRequestRejected, match=r"HTTP 404.*api_url"):
        stream().validate_response(answer)


def test_a_400_is_rejected_with_gongs_words_and_the_request() -> None:
    answer = gong_answer(400, errors("fromDateTime is required"))

    with pytest.raises(GongRequestRejected) as rejected:
        stream().validate_response(answer)

    assert "fromDateTime is required" in str(rejected.value)
    assert "GET /v2/calls" in str(rejected.value)


def test_a_missing_scope_keeps_gongs_words_and_names_the_scope_the_stream_needs() -> None:
    gong_words = "You don't have permission to use 'api:stats:interaction' in your app."
    answer = gong_answer(401, errors(gong_words), path="/v2/stats/interaction")

    with pytest.raises(GongAuthError) as refused:
        stream("interaction_stats").validate_response(answer)

    message = str(refused.value)
    assert gong_words in message
    assert "needs the API scope api:stats:interaction" in message
    assert "\n" not in message


def test_a_body_that_is_not_a_json_object_is_not_data() -> None:
    answer = gong_answer(200, ["a", "list"])

    with pytest.raises(ValueError, match="JSON object"):
        gong_body(answer)


def test_a_page_that_is_not_a_json_object_is_retried_before_it_is_read() -> None:
    # Workers check a page without decoding its records: the check must still refuse it.
    with pytest.raises(RetriableAPIError, match="JSON object"):
        stream().validate_response(gong_answer(200, ["a", "list"]))
