"""Every record the tap emits is valid against the SCHEMA it announces, whatever Gong sends.

Gong's answers are generated from each stream's schema (the shapes of Gong's spec, in
our kinds), then perturbed as live Gong and its spec disagree: numbers as strings and
strings as numbers (int64 ids beyond 2**53), nulls, fields missing or added, instants
with offsets, as epochs or malformed, values of the wrong kind altogether. Each answer
goes through the stream's own code path (parse_response, its records, post_process) and
every record that comes out must validate: Draft 7, formats (date-time) checked.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, FormatChecker

from tap_gong.kinds.base import GongStream
from tap_gong.kinds.page_child import PageChildStream
from tap_gong.streams import InteractionStatsStream, UserActivityStream
from tests.support import OFFSET_DATE_TIME, tap_in_process
from tests.test_answers import CONFIG, gong_answer

# Deterministic and quick: the same examples on every run (no example database).
CONFORMANCE = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.generate],  # a failure reported at once, not shrunk
)
DAY = {"fromDate": "2024-03-01", "toDate": "2024-03-02"}
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=3,
)
INT64 = st.integers(-(2**63), 2**63 - 1)
BEYOND_DOUBLES = st.integers(2**53 + 1, 2**63 - 1)
OFFSETS = st.sampled_from(["Z", "+00:00", "-08:00", "+05:30", "-12:00", "+14:00"])
INSTANTS = st.builds(
    lambda moment, fraction, offset: moment.isoformat(timespec="seconds") + fraction + offset,
    st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(9998, 1, 1)),
    st.sampled_from(["", ".5", ".123", ".123456", ".1234567"]),
    OFFSETS,
)
MALFORMED_INSTANTS = st.sampled_from(
    ["2019-01-21T000:00:00-08:00", "yesterday", "", "2024-02-30T10:00:00Z", "10:00", "2024-03-01"]
)
EPOCHS = st.integers(0, 4_000_000_000) | st.integers(10**11, 4 * 10**12)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
ADDED_FIELDS = st.sampled_from(["newField", "addedAt"])


def kinds(schema: dict) -> set[str]:
    declared = schema.get("type", [])
    return ({declared} if isinstance(declared, str) else set(declared)) - {"null"}


def gong_value(schema: dict, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value as Gong may send it for a field of this schema: its kind or another, or null.

    A scalar may come as any other scalar; an object or a list comes as one or as null,
    and a list of objects holds objects (the stream code walks them).
    """
    return _gong_value(json.dumps(schema, sort_keys=True), depth)


@functools.cache
def _gong_value(schema_text: str, depth: int) -> st.SearchStrategy[Any]:
    schema = json.loads(schema_text)
    declared = kinds(schema)
    kind = next(iter(declared)) if len(declared) == 1 else None
    if kind == "object":
        return st.none() | gong_object(schema, depth=depth + 1)
    if kind == "array":
        # Deep lists hold one item at most: call_details nests five levels.
        items = schema.get("items", {})
        item = (
            gong_object(items, depth=depth + 1) if "object" in kinds(items) else gong_value(items)
        )
        return st.none() | st.lists(item, max_size=2 if depth < 2 else 1)
    likely: st.SearchStrategy[Any]
    if kind == "string" and schema.get("format") == "date-time":
        likely = INSTANTS | EPOCHS | MALFORMED_INSTANTS
    elif kind == "string":
        likely = st.text(max_size=8) | INT64 | BEYOND_DOUBLES | INSTANTS
    elif kind == "integer":
        likely = INT64 | INT64.map(str) | st.integers(-1000, 1000).map(float)
    elif kind == "number":
        likely = FLOATS | st.integers() | FLOATS.map(str)
    elif kind == "boolean":
        likely = st.booleans() | st.sampled_from(["true", "false", "True"])
    else:
        return ANY_JSON | INSTANTS
    return st.one_of(likely, likely, likely, JSON_SCALARS)


def gong_object(
    schema: dict, required: Iterable[str] = (), depth: int = 0
) -> st.SearchStrategy[dict]:
    """An object with any of its declared fields, and sometimes fields Gong added since."""
    properties = schema.get("properties", {})
    declared = st.fixed_dictionaries(
        {name: gong_value(properties[name], depth) for name in required},
        optional={
            name: gong_value(field, depth)
            for name, field in properties.items()
            if name not in required
        },
    )
    added = st.dictionaries(ADDED_FIELDS, ANY_JSON | INSTANTS, max_size=1)
    return st.builds(lambda fields, extra: {**extra, **fields}, declared, added)


def gong_answer_of(items_key: str, items: list[dict], **top: Any) -> requests.Response:
    return gong_answer(200, {"requestId": "r1", **top, items_key: items})


def stream(name: str) -> GongStream:
    """The stream, in a tap where it alone is selected (no child synced from its pages)."""
    found = tap_in_process(CONFIG, streams=(name,)).streams[name]
    assert isinstance(found, GongStream)
    return found


def items_key(gong_stream: GongStream) -> str:
    return gong_stream.records_jsonpath.removeprefix("$.").removesuffix("[*]")


def emitted(gong_stream: GongStream, answer: requests.Response, page: list[dict]) -> list[dict]:
    """The records the stream emits for this answer, through its own code path."""
    gong_stream.request_records = lambda context: gong_stream.parse_response(answer)  # type: ignore[method-assign]
    if isinstance(gong_stream, PageChildStream):
        rows: Iterable[dict] = gong_stream.records_of_page(page)
    elif isinstance(gong_stream, InteractionStatsStream | UserActivityStream):
        rows = gong_stream.records_in_window(DAY)
    else:
        rows = gong_stream.parse_response(answer)
    shaped = (gong_stream.post_process(row) for row in rows)
    return [record for record in shaped if record is not None]


def instants_not_in_utc(value: Any, schema: dict | None) -> Iterable[str]:
    """Offset instants where the schema declares a date-time or says nothing (a declared
    plain string is text, kept as sent).
    """
    declared = kinds(schema) if schema is not None else set()
    text = declared == {"string"} and not (schema or {}).get("format")
    if isinstance(value, str):
        if not text and OFFSET_DATE_TIME.match(value):
            yield value
    elif isinstance(value, dict):
        properties = (schema or {}).get("properties", {}) if declared == {"object"} else {}
        for name, item in value.items():
            yield from instants_not_in_utc(item, properties.get(name))
    elif isinstance(value, list):
        items = (schema or {}).get("items") if declared == {"array"} else None
        for item in value:
            yield from instants_not_in_utc(item, items)


def assert_valid(gong_stream: GongStream, records: list[dict]) -> None:
    """Valid against the stream's schema, and no instant anywhere but in UTC."""
    validator = Draft7Validator(gong_stream.schema, format_checker=FormatChecker())
    for record in records:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(record)]
        assert not errors, (record, errors)
        assert not list(instants_not_in_utc(record, gong_stream.schema)), record


def call_item(details_schema: dict) -> st.SearchStrategy[dict]:
    """One /v2/calls/extensive item: metaData plus the call's parts, each as Gong may send it."""
    parts = {k: v for k, v in details_schema["properties"].items() if k not in ("id", "started")}
    meta = parts.pop("metaData")
    return st.builds(
        lambda metadata, rest: {"metaData": metadata, **rest},
        gong_object(meta, required=("id", "started")),
        gong_object({"properties": parts}),
    )


LISTED_STREAMS = ("calls", "scorecards", "answered_scorecards", "trackers", "users", "workspaces")


@pytest.mark.parametrize("name", LISTED_STREAMS)
@CONFORMANCE
@given(data=st.data())
def test_every_record_of_a_listed_stream_validates_whatever_gong_sends(
    name: str, data: st.DataObject
) -> None:
    gong_stream = stream(name)
    items = data.draw(st.lists(gong_object(gong_stream.schema), max_size=3))
    records = emitted(gong_stream, gong_answer_of(items_key(gong_stream), items), items)

    assert_valid(gong_stream, records)


@pytest.mark.parametrize("name", ["call_details", "call_participants"])
@CONFORMANCE
@given(data=st.data())
def test_every_record_of_the_extensive_call_streams_validates_whatever_gong_sends(
    name: str, data: st.DataObject
) -> None:
    gong_stream = stream(name)
    calls = data.draw(st.lists(call_item(stream("call_details").schema), max_size=2))
    records = emitted(gong_stream, gong_answer_of("calls", calls), calls)

    assert_valid(gong_stream, records)


@CONFORMANCE
@given(data=st.data())
def test_every_transcript_validates_whatever_gong_sends(data: st.DataObject) -> None:
    gong_stream = stream("call_transcripts")
    calls = data.draw(st.lists(call_item(stream("call_details").schema), min_size=1, max_size=2))
    schema = {k: v for k, v in gong_stream.schema["properties"].items() if k != "started"}
    items = data.draw(st.lists(gong_object({"properties": schema}), max_size=2))
    records = emitted(gong_stream, gong_answer_of("callTranscripts", items), calls)

    assert_valid(gong_stream, records)


@CONFORMANCE
@given(data=st.data())
def test_every_interaction_stats_record_validates_whatever_gong_sends(data: st.DataObject) -> None:
    gong_stream = stream("interaction_stats")
    properties = gong_stream.schema["properties"]
    item = {k: properties[k] for k in ("userId", "userEmailAddress", "personInteractionStats")}
    items = data.draw(st.lists(gong_object({"properties": item}), max_size=3))
    period = data.draw(
        gong_object({"properties": {k: properties[k] for k in ("fromDateTime", "toDateTime")}})
    )
    answer = gong_answer_of("peopleInteractionStats", items, timeZone="America/New_York", **period)

    assert_valid(gong_stream, emitted(gong_stream, answer, []))


@CONFORMANCE
@given(data=st.data())
def test_every_user_activity_record_validates_whatever_gong_sends(data: st.DataObject) -> None:
    gong_stream = stream("user_activity")
    properties = gong_stream.schema["properties"]
    lists = {k: v for k, v in properties.items() if v.get("items")}
    day = {
        "type": "object",
        "properties": {**lists, "fromDate": {"type": "string", "format": "date-time"}},
    }
    user = {
        "properties": {
            "userId": properties["userId"],
            "userEmailAddress": properties["userEmailAddress"],
            "userDailyActivityStats": {"type": "array", "items": day},
        }
    }
    items = data.draw(st.lists(gong_object(user), max_size=2))
    answer = gong_answer_of("usersDetailedActivities", items)

    assert_valid(gong_stream, emitted(gong_stream, answer, []))
