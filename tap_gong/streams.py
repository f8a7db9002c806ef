"""The Gong streams, one small class each."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_gong.answers import gong_body
from tap_gong.client import CompanyDayStream, DateTimeWindowStream, GongStream, Window

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


def schema_directory() -> Path:
    """The JSON schemas: shipped in the wheel as tap_gong/schemas, or ../schemas in a checkout."""
    packaged = Path(__file__).parent / "schemas"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "schemas"


SCHEMAS = SchemaDirectory(schema_directory())
# Where Gong's spec puts a stats answer's period: at the top, next to the items.
PERIOD_FIELDS = ("timeZone", "fromDateTime", "toDateTime")

# Gong's stat names and the columns they are pivoted into. A stat Gong adds
# later still lands in the raw `personInteractionStats` array.
STAT_COLUMNS = {
    "longestmonologue": "longestMonologue",
    "longestcustomerstory": "longestCustomerStory",
    "interactivity": "interactivity",
    "patience": "patience",
    "questionrate": "questionRate",
}


class CallsStream(DateTimeWindowStream):
    """Every call in Gong (CallBasicData), one record per call."""

    name = "calls"
    path = "/v2/calls"
    primary_keys = ("id",)
    records_jsonpath = "$.calls[*]"
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:calls:read:basic"

    @override
    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        # Gong filters conference calls by `scheduled` and others by `started`.
        return {
            **(context or {}),
            "workspaceId": self.settings.workspace_id,
            "cursor": next_page_token,
        }


class InteractionStatsStream(CompanyDayStream):
    """Each user's interaction stats for each company day, one record per user and day."""

    name = "interaction_stats"
    path = "/v2/stats/interaction"
    primary_keys = ("userId", "fromDate")
    records_jsonpath = "$.peopleInteractionStats[*]"
    schema = StreamSchema(SCHEMAS)
    required_scope = "api:stats:interaction"

    @override
    def request_filter(self, window: Window) -> dict[str, Any]:
        if self.settings.user_ids:
            return {**window, "userIds": list(self.settings.user_ids)}
        return dict(window)

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        # Gong's spec puts the period at the top of the answer; an item that carries
        # its own keeps it.
        body = gong_body(response)
        period = {name: body[name] for name in PERIOD_FIELDS if name in body}
        for item in super().parse_response(response):
            yield {**period, **item}

    @override
    def records_in_window(self, window: Window) -> Iterable[dict]:
        for item in self.request_records(window):
            self.learn_company_zone(item.get("timeZone"))
            yield self.stats_record(item, window)

    def stats_record(self, item: dict, window: Window) -> dict:
        """One user's day: Gong's item, the day, and each known stat in its own column."""
        record = {**item, "fromDate": window["fromDate"], "toDate": window["toDate"]}
        for stat in item.get("personInteractionStats") or []:
            column = STAT_COLUMNS.get(str(stat.get("name", "")).replace(" ", "").lower())
            if column:
                record[column] = stat.get("value")
        return record


# Every stream the tap offers; tap.py discovers these.
STREAM_TYPES: tuple[type[GongStream], ...] = (CallsStream, InteractionStatsStream)
