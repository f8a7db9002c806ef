"""The Gong streams: `calls` and `interaction_stats`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk import SchemaDirectory, StreamSchema

from tap_gong.client import GongStream, Window, gong_error_text
from tap_gong.pagination import gong_body
from tap_gong.errors import DayNotOverForGong
from tap_gong.windows import company_today, company_zone, parse_instant, time_windows, utc_iso

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


def schema_directory() -> Path:
    """The JSON schemas: shipped in the wheel as tap_gong/schemas, or ../schemas in a checkout."""
    packaged = Path(__file__).parent / "schemas"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "schemas"


SCHEMAS = SchemaDirectory(schema_directory())
ONE_DAY = dt.timedelta(days=1)
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


class CallsStream(GongStream):
    """Every call in Gong (CallBasicData), one record per call."""

    name = "calls"
    path = "/v2/calls"
    primary_keys = ("id",)
    replication_key = "started"
    records_jsonpath = "$.calls[*]"
    schema = StreamSchema(SCHEMAS)
    # Gong does not order calls inside a range; bookmarks are committed per window.
    is_sorted = False

    def parse_bookmark(self, value: str) -> dt.datetime:
        return parse_instant(value)

    def date_windows(self) -> Iterator[Window]:
        start = self.first_instant()
        if (bookmark := self.saved_bookmark()) is not None:
            start = max(start, bookmark - self.lookback())
        size = dt.timedelta(days=self.setting("calls_window_days"))
        for window in time_windows(start, self.last_instant, size):
            # Gong filters conference calls by `scheduled` and others by `started`:
            # a window bookmark is the filter's bound, never a record's value.
            yield {"fromDateTime": utc_iso(window.start), "toDateTime": utc_iso(window.end)}

    def window_bookmark(self, window: Window) -> str:
        return window["toDateTime"]

    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        params: dict[str, Any] = dict(context or {})
        params["workspaceId"] = self.config.get("workspace_id")
        params["cursor"] = next_page_token
        return params

    def post_process(self, row: dict, context: Context | None = None) -> dict:
        for field in ("started", "scheduled"):
            row[field] = self.utc_or_original(row.get(field), field)
        return row


class InteractionStatsStream(GongStream):
    """Each user's interaction stats for each company day, one record per user and day."""

    name = "interaction_stats"
    path = "/v2/stats/interaction"
    http_method = "POST"
    payload_as_json = True
    primary_keys = ("userId", "fromDate")
    replication_key = "fromDate"
    records_jsonpath = "$.peopleInteractionStats[*]"
    schema = StreamSchema(SCHEMAS)
    # Days come oldest first, but a day's records are not complete until its last page:
    # like calls, the bookmark moves only when a whole day is extracted.
    is_sorted = False

    def parse_bookmark(self, value: str) -> dt.date:
        return dt.date.fromisoformat(value)

    def date_windows(self) -> Iterator[Window]:
        day = self.first_instant().date()
        if (bookmark := self.saved_bookmark()) is not None:
            # The bookmark is the last completed day: a lookback of N re-reads the N
            # latest completed days, 0 none.
            day = max(day, bookmark + ONE_DAY - self.lookback())
        # Re-evaluated after every day: the company zone is learned from answers.
        while day < self.company_today():
            next_day = day + ONE_DAY
            yield {"fromDate": day.isoformat(), "toDate": next_day.isoformat()}
            day = next_day

    def window_bookmark(self, window: Window) -> str:
        return window["fromDate"]  # the last completed day

    def validate_response(self, response: requests.Response) -> None:
        if response.status_code == 400 and "toDate" in gong_error_text(response):
            # Our clock runs ahead of Gong's: the day is complete next run, not an error.
            request_filter = json.loads(response.request.body or "{}").get("filter", {})
            msg = (
                f"Gong says {request_filter.get('fromDate')} is not over yet in the company's "
                f"time zone ({gong_error_text(response)}); it is extracted next run"
            )
            raise DayNotOverForGong(msg)
        super().validate_response(response)

    def company_today(self) -> dt.date:
        """Gong accepts no `toDate` beyond the company's current day (in its own zone)."""
        return company_today(self.last_instant, company_zone(self.company_zone_name))

    @property
    def company_zone_name(self) -> str | None:
        """The company zone Gong reported, kept in state so later runs know it up front."""
        return self.stream_state.get("company_time_zone")

    def learn_company_zone(self, name: str | None) -> None:
        if name and name != self.company_zone_name and company_zone(name):
            self.logger.info("Gong reports the company time zone %s", name)
            self.stream_state["company_time_zone"] = name

    def prepare_request_payload(
        self, context: Context | None, next_page_token: str | None
    ) -> dict[str, Any]:
        request_filter: dict[str, Any] = dict(context or {})
        if user_ids := self.config.get("user_ids"):
            request_filter["userIds"] = list(user_ids)
        body: dict[str, Any] = {"filter": request_filter}
        if next_page_token:
            body["cursor"] = next_page_token
        return body

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        # Gong's spec puts timeZone, fromDateTime and toDateTime at the top of the answer,
        # next to peopleInteractionStats; an item that carries its own keeps them.
        body = gong_body(response)
        period = {name: body[name] for name in PERIOD_FIELDS if name in body}
        for item in super().parse_response(response):
            yield {**period, **item}

    def records_in_window(self, window: Window) -> Iterable[dict]:
        for item in self.request_records(window):
            self.learn_company_zone(item.get("timeZone"))
            yield self.stats_record(item, window)

    def stats_record(self, item: dict, window: Window) -> dict:
        """One user's day: Gong's item, the day, and each known stat in its own column."""
        record = {
            **item,
            "fromDate": window["fromDate"],
            "toDate": window["toDate"],
            "fromDateTime": self.utc_or_original(item.get("fromDateTime"), "fromDateTime"),
            "toDateTime": self.utc_or_original(item.get("toDateTime"), "toDateTime"),
        }
        for stat in item.get("personInteractionStats") or []:
            column = STAT_COLUMNS.get(str(stat.get("name", "")).replace(" ", "").lower())
            if column:
                record[column] = stat.get("value")
        return record
