"""Records as the schema declares them: each value of its kind, UTC instants anywhere, exact ids,
known fields only.
"""

from __future__ import annotations

import logging

import pytest

from tap_gong.records import RecordShaper
from tests.test_answers import stream

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "started": {"type": ["string", "null"], "format": "date-time"},
        "count": {"type": ["integer", "null"]},
        "ratio": {"type": ["number", "null"]},
        "flag": {"type": ["boolean", "null"]},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "settings": {
            "type": ["object", "null"],
            "properties": {"on": {"type": ["boolean", "null"]}},
        },
        "parts": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {
                    "scorecardId": {"type": ["string", "null"]},
                    "posted": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        },
    },
}


def shape(shaper: RecordShaper, record: dict) -> dict:
    """The shaped record, which must be emitted."""
    shaped = shaper.shape(record)
    assert shaped is not None
    return shaped


@pytest.fixture
def shaper() -> RecordShaper:
    return RecordShaper("things", SCHEMA, ("id",), logging.getLogger("test-records"))


def test_instants_anywhere_in_the_record_are_emitted_in_utc(shaper: RecordShaper) -> None:
    record = shape(
        shaper,
        {
            "id": "1",
            "started": "2024-03-01T09:30:00-08:00",
            "parts": [{"posted": "2024-03-01T18:00:00+02:00"}],
        },
    )

    assert record["started"] == "2024-03-01T17:30:00Z"
    assert record["parts"][0]["posted"] == "2024-03-01T16:00:00Z"


def test_an_epoch_date_time_is_read_as_seconds_or_milliseconds(shaper: RecordShaper) -> None:
    assert shape(shaper, {"id": "1", "started": 1709314200})["started"] == "2024-03-01T17:30:00Z"
    assert shape(shaper, {"id": "1", "started": 1709314200000})["started"] == "2024-03-01T17:30:00Z"


@pytest.mark.parametrize("sent", ["2019-01-21T000:00:00-08:00", "yesterday", {"at": 1}, True])
def test_a_date_time_that_does_not_parse_is_null_with_one_warning_naming_field_and_record(
    sent: object, shaper: RecordShaper, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        record = shape(shaper, {"id": "42", "started": sent})

    assert record["started"] is None
    [warning] = caplog.records
    assert "started" in warning.getMessage()
    assert "id='42'" in warning.getMessage()


def test_an_id_sent_as_a_json_number_becomes_its_exact_digits(shaper: RecordShaper) -> None:
    beyond_doubles = 7572903405772665558  # > 2**53: a float would round it

    record = shape(shaper, {"id": beyond_doubles, "parts": [{"scorecardId": beyond_doubles}]})

    assert record["id"] == "7572903405772665558"
    assert record["parts"][0]["scorecardId"] == "7572903405772665558"


def test_numbers_and_booleans_the_schema_types_as_such_stay_as_sent(shaper: RecordShaper) -> None:
    record = shape(shaper, {"id": "1", "count": 3, "flag": True})

    assert record["count"] == 3
    assert record["flag"] is True


def test_fields_the_schema_lacks_are_dropped_and_named_once(
    shaper: RecordShaper, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        first = shape(shaper, {"id": "1", "gongAddedLater": 1})
        second = shape(shaper, {"id": "2", "gongAddedLater": 2})

    assert "gongAddedLater" not in first
    assert "gongAddedLater" not in second
    assert len(caplog.records) == 1
    assert "gongAddedLater" in caplog.records[0].getMessage()


def test_a_range_sent_as_a_string_loads_as_an_integer() -> None:
    scorecards = stream("scorecards")
    question = {"questionId": 1, "minRange": "1", "maxRange": "5"}

    record = scorecards.post_process({"scorecardId": 7, "questions": [question]})

    assert record is not None
    assert record["questions"][0]["minRange"] == 1
    assert record["questions"][0]["maxRange"] == 5


def test_a_question_keeps_its_created_updated_and_updater_with_instants_in_utc() -> None:
    question = {"created": "2024-01-17T16:20:05-03:00", "updated": 1705519205, "updaterUserId": -1}

    record = stream("scorecards").post_process({"scorecardId": "7", "questions": [question]})

    assert record is not None
    assert record["questions"][0] == {
        "created": "2024-01-17T19:20:05Z",
        "updated": "2024-01-17T19:20:05Z",
        "updaterUserId": "-1",
    }


@pytest.mark.parametrize(
    ("field", "sent", "emitted"),
    [
        ("count", "12", 12),
        ("count", "-3", -3),
        ("count", 4.0, 4),
        ("ratio", "2.5", 2.5),
        ("ratio", "7", 7),
        ("ratio", 3, 3),
        ("flag", "true", True),
        ("flag", "False", False),
        ("id", True, "true"),
        ("id", 2.5, "2.5"),
    ],
)
def test_a_value_of_another_json_kind_is_converted_when_nothing_is_lost(
    field: str, sent: object, emitted: object, shaper: RecordShaper
) -> None:
    record = shape(shaper, {"id": "1", field: sent})
    assert record[field] == emitted
    assert type(record[field]) is type(emitted)


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("count", "twelve"),
        ("count", 4.5),
        ("count", True),
        ("count", "1_000"),
        ("ratio", "NaN"),
        ("ratio", " 2"),
        ("flag", 1),
        ("flag", "yes"),
        ("started", "2024-13-01T00:00:00Z"),
        ("tags", "a,b"),
        ("settings", ["on"]),
        ("parts", {"posted": None}),
    ],
)
def test_a_value_that_cannot_be_its_kind_without_loss_is_null(
    field: str, sent: object, shaper: RecordShaper
) -> None:
    record = shape(shaper, {"id": "1", field: sent})
    assert record[field] is None


def test_an_unusable_value_is_said_once_per_field_naming_the_first_record(
    shaper: RecordShaper, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        for number in range(50):
            shape(shaper, {"id": str(number), "count": "many", "flag": "maybe"})

    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "count='many'" in messages[0]
    assert "id='0'" in messages[0]
    assert "flag='maybe'" in messages[1]


def test_an_unusable_item_of_a_list_that_refuses_null_is_left_out(shaper: RecordShaper) -> None:
    record = shape(shaper, {"id": "1", "tags": ["a", 7, None, {"b": 1}, "c"]})
    assert record["tags"] == ["a", "7", "c"]


@pytest.mark.parametrize("record", [{"count": 1}, {"id": None}, {"id": {"x": 1}}])
def test_a_record_without_a_usable_primary_key_is_not_emitted_and_said_once(
    record: dict, shaper: RecordShaper, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert shaper.shape(dict(record)) is None
        assert shaper.shape(dict(record)) is None

    [warning] = caplog.records
    assert "id=" in warning.getMessage()
    assert "not emitted" in warning.getMessage()


def test_an_offset_instant_is_utc_even_where_the_schema_is_silent(shaper: RecordShaper) -> None:
    record = shape(
        shaper,
        {
            "id": "1",
            "settings": {
                "since": "2024-03-01T09:30:00.5-08:00",
                "deep": [{"at": "2024-03-01T09:30:00+01:00"}],
            },
            "parts": [{"unknownAt": "2024-03-01T09:30:00.1234567+05:30"}],
        },
    )
    assert record["settings"]["since"] == "2024-03-01T17:30:00.500000Z"
    assert record["settings"]["deep"] == [{"at": "2024-03-01T08:30:00Z"}]
    assert record["parts"][0]["unknownAt"] == "2024-03-01T04:00:00.123456Z"


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-01",  # a date: no instant
        "2024-03-01T09:30:00",  # no offset: which instant is unknown
        "2024-03-01T09:30:00Z",  # in UTC already
        "Met on 2024-03-01T09:30:00-08:00",  # text that contains an instant
        "2024-03-01T09:30-08:00",  # no seconds: not RFC 3339
        "2024-02-30T09:30:00-08:00",  # no such day
        "1709314200",
    ],
)
def test_text_that_is_not_wholly_an_offset_instant_is_left_as_sent_where_the_schema_is_silent(
    text: str, shaper: RecordShaper
) -> None:
    record = shape(shaper, {"id": "1", "settings": {"note": text}})
    assert record["settings"]["note"] == text


def test_shaping_twice_gives_the_same_record(shaper: RecordShaper) -> None:
    def sent() -> dict:
        return {"id": 5, "count": "3", "started": "2024-03-01T09:30:00-08:00", "tags": ["a", 1]}

    once = shape(shaper, sent())
    assert shape(shaper, {**once, "tags": list(once["tags"])}) == once
