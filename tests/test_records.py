"""Records as the schema declares them: UTC instants anywhere, exact ids, known fields only."""

from __future__ import annotations

import logging

import pytest

from tap_gong.records import RecordShaper

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "started": {"type": ["string", "null"], "format": "date-time"},
        "count": {"type": ["integer", "null"]},
        "flag": {"type": ["boolean", "null"]},
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


@pytest.fixture
def shaper() -> RecordShaper:
    return RecordShaper("things", SCHEMA, ("id",), logging.getLogger("test-records"))


def test_instants_anywhere_in_the_record_are_emitted_in_utc(shaper: RecordShaper) -> None:
    record = shaper.shape(
        {
            "id": "1",
            "started": "2024-03-01T09:30:00-08:00",
            "parts": [{"posted": "2024-03-01T18:00:00+02:00"}],
        }
    )

    assert record["started"] == "2024-03-01T17:30:00Z"
    assert record["parts"][0]["posted"] == "2024-03-01T16:00:00Z"


def test_an_epoch_date_time_is_read_as_seconds_or_milliseconds(shaper: RecordShaper) -> None:
    assert shaper.shape({"id": "1", "started": 1709314200})["started"] == "2024-03-01T17:30:00Z"
    assert shaper.shape({"id": "1", "started": 1709314200000})["started"] == "2024-03-01T17:30:00Z"


@pytest.mark.parametrize("sent", ["2019-01-21T000:00:00-08:00", "yesterday", {"at": 1}, True])
def test_a_date_time_that_does_not_parse_is_null_with_one_warning_naming_field_and_record(
    sent: object, shaper: RecordShaper, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        record = shaper.shape({"id": "42", "started": sent})

    assert record["started"] is None
    [warning] = caplog.records
    assert "started" in warning.getMessage()
    assert "id='42'" in warning.getMessage()


def test_an_id_sent_as_a_json_number_becomes_its_exact_digits(shaper: RecordShaper) -> None:
    beyond_doubles = 7572903405772665558  # > 2**53: a float would round it

    record = shaper.shape({"id": beyond_doubles, "parts": [{"scorecardId": beyond_doubles}]})

    assert record["id"] == "7572903405772665558"
    assert record["parts"][0]["scorecardId"] == "7572903405772665558"


def test_numbers_and_booleans_the_schema_types_as_such_stay_as_sent(shaper: RecordShaper) -> None:
    record = shaper.shape({"id": "1", "count": 3, "flag": True})

    assert record["count"] == 3
    assert record["flag"] is True


def test_fields_the_schema_lacks_are_dropped_and_named_once(
    shaper: RecordShaper, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        first = shaper.shape({"id": "1", "gongAddedLater": 1})
        second = shaper.shape({"id": "2", "gongAddedLater": 2})

    assert "gongAddedLater" not in first
    assert "gongAddedLater" not in second
    assert len(caplog.records) == 1
    assert "gongAddedLater" in caplog.records[0].getMessage()
