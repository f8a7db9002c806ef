"""The stats by company day: POST /v2/stats/interaction, /v2/stats/activity/day-by-day and
/v2/stats/activity/aggregate-by-period, all with the filter {fromDate, toDate, userIds}."""

from __future__ import annotations

from datetime import date
from typing import Any

from gong_sandbox.data.administration import PERIODS, aggregate_by_period
from gong_sandbox.endpoints.family import (
    NO_USERS,
    EndpointFamily,
    bad_cursor,
    body_cursor,
    string_list,
)
from gong_sandbox.protocol import ApiRequest, Reply, dumps, error_reply, filter_digest, parse_day

CompanyDays = tuple[date, date, frozenset[str] | None]


class StatsEndpoints(EndpointFamily):
    def interaction(self, request: ApiRequest) -> Reply:
        body, request_id = request.fields, request.request_id
        parsed = self._company_days_filter(body)
        if isinstance(parsed, list):
            return error_reply(400, request_id, parsed)
        from_day, to_day, selected_users = parsed
        dataset = self.world.dataset
        return self.pager.page(
            request_id,
            filter_digest("stats", from_day, to_day, *sorted(selected_users or ())),
            cursor=body_cursor(body),
            items_key="peopleInteractionStats",
            compute_items=lambda: [
                dumps(item) for item in dataset.stats_items(from_day, to_day, selected_users)
            ],
            not_found="No stats found for the specified period",
            top_level=dataset.stats_period(from_day, to_day),
        )

    def day_by_day(self, request: ApiRequest) -> Reply:
        body, request_id = request.fields, request.request_id
        parsed = self._company_days_filter(body)
        if isinstance(parsed, list):
            return error_reply(400, request_id, parsed)
        from_day, to_day, user_ids = parsed
        now = self.clock.now()
        activity = self.world.activity
        return self.pager.page(
            request_id,
            filter_digest("day-by-day", from_day, to_day, *sorted(user_ids or ())),
            cursor=body_cursor(body),
            items_key="usersDetailedActivities",
            compute_items=lambda: [
                dumps(item)
                for item in activity.users_detailed_activities(from_day, to_day, user_ids, now)
            ],
            not_found=NO_USERS,
            freshness=now,  # activity happens as the clock passes it
        )

    def aggregate_by_period(self, request: ApiRequest) -> Reply:
        body, request_id = request.fields, request.request_id
        parsed = self._company_days_filter(body)
        period = body.get("aggregationPeriod")
        if isinstance(parsed, list) or period not in PERIODS:
            errors = parsed if isinstance(parsed, list) else []
            if period not in PERIODS:
                errors.append("aggregationPeriod must be one of " + ", ".join(PERIODS))
            return error_reply(400, request_id, errors)
        from_day, to_day, user_ids = parsed
        now = self.clock.now()
        world = self.world

        def items() -> list[bytes]:
            detailed = world.activity.users_detailed_activities(from_day, to_day, user_ids, now)
            by_period = aggregate_by_period(detailed, period, from_day, to_day, world.dataset.zone)
            return [dumps(item) for item in by_period]

        return self.pager.page(
            request_id,
            filter_digest("by-period", period, from_day, to_day, *sorted(user_ids or ())),
            cursor=body_cursor(body),
            items_key="usersAggregateActivity",
            compute_items=items,
            not_found=NO_USERS,
            freshness=now,
        )

    def _company_days_filter(self, body: dict[str, Any]) -> CompanyDays | list[str]:
        """The stats filter {fromDate, toDate, userIds} shared by /v2/stats/*, or its errors."""
        stats_filter = body.get("filter")
        if not isinstance(stats_filter, dict):
            return ["filter is required"]
        from_day = parse_day(stats_filter.get("fromDate"))
        to_day = parse_day(stats_filter.get("toDate"))
        user_ids = stats_filter.get("userIds")
        errors = [
            f"filter.{name} is required as YYYY-MM-DD"
            for name, day in (("fromDate", from_day), ("toDate", to_day))
            if day is None
        ]
        if user_ids is not None and not string_list(user_ids):
            errors.append("filter.userIds must be a list of strings")
        errors += bad_cursor(body)
        if errors or from_day is None or to_day is None:
            return errors
        if from_day >= to_day:
            return ["fromDate must be earlier than toDate"]
        today = self.clock.company_today()
        if to_day > today:
            return [f"toDate cannot be later than the current day ({today})"]
        return from_day, to_day, frozenset(user_ids) if user_ids else None
