"""The sandbox's answers for issue 26's endpoints (tap_gong/sandbox/admin.py's data).

A mixin of GongSandbox, like endpoints.py: every answer goes through the sandbox's lock,
limits, faults and paging.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tap_gong.sandbox.admin import (
    LOG_TYPES,
    NO_ENGAGE_LICENCE,
    PERIODS,
    Administration,
    aggregate_by_period,
)
from tap_gong.sandbox.endpoints import NO_USERS, EndpointsMixin
from tap_gong.sandbox.protocol import Reply, dumps, error_reply, filter_digest, parse_instant

if TYPE_CHECKING:
    from datetime import date, datetime

SETTINGS_HISTORY_PATH = re.compile(r"^/v2/users/(\d+)/settings-history$")
NO_LOGS = "No logs found for the specified period"


class AdminEndpointsMixin(EndpointsMixin):
    """Answers and accessors of the administrative endpoints; mixed into GongSandbox."""

    @cached_property
    def _administration(self) -> Administration:
        dataset = self._dataset
        return Administration(
            seed=dataset.seed,
            users=dataset.users,
            workspace_ids=dataset.workspace_ids,
            first_day=(dataset.created_at - timedelta(days=400)).astimezone(dataset.zone).date(),
            zone=dataset.zone,
        )

    # -- accessors for tests: what the API sends -------------------------------------------

    def activity_by_period(self, period: str, from_day: date, to_day: date) -> list[dict]:
        """/v2/stats/activity/aggregate-by-period items for [from_day, to_day)."""
        with self._lock:
            detailed = self._activity.users_detailed_activities(from_day, to_day, None, self.now())
            items = aggregate_by_period(detailed, period, from_day, to_day, self._dataset.zone)
            return [dict(item) for item in items]

    def settings_history(self, user_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return self._administration.settings_history(user_id) or []

    def log_entries(self, log_type: str, start: datetime, end: datetime) -> list[dict]:
        """/v2/logs entries of one type with eventTime in [start, end), up to now."""
        with self._lock:
            end = min(end, self.now())
            return list(self._administration.log_entries(log_type, start, end))

    def permission_profiles(self, workspace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._administration.profiles.get(workspace_id, []))

    def permission_profile_users(self, profile_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._administration.profile_users.get(profile_id, []))

    def engage_flows(self, owner_email: str) -> list[dict[str, Any]] | None:
        """The flows GET /v2/flows lists for an owner (None: Gong answers 403)."""
        with self._lock:
            if not self.settings.engage:
                return None
            return self._administration.flows(owner_email)

    # -- answers -----------------------------------------------------------------------------

    def _aggregate_by_period_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        parsed = self._company_days_filter(body)
        period = body.get("aggregationPeriod")
        if isinstance(parsed, list) or period not in PERIODS:
            errors = parsed if isinstance(parsed, list) else []
            if period not in PERIODS:
                errors.append("aggregationPeriod must be one of " + ", ".join(PERIODS))
            return error_reply(400, request_id, errors)
        from_day, to_day, user_ids = parsed
        now = self.now()

        def items() -> list[bytes]:
            detailed = self._activity.users_detailed_activities(from_day, to_day, user_ids, now)
            by_period = aggregate_by_period(detailed, period, from_day, to_day, self._dataset.zone)
            return [dumps(item) for item in by_period]

        return self._paged_answer(
            request_id,
            filter_digest("by-period", period, from_day, to_day, *sorted(user_ids or ())),
            cursor=body.get("cursor") if isinstance(body.get("cursor"), str) else None,
            items_key="usersAggregateActivity",
            compute_items=items,
            not_found=NO_USERS,
            freshness=now,
        )

    def _settings_history_answer(self, path: str, request_id: str) -> Reply:
        match = SETTINGS_HISTORY_PATH.match(path)
        history = self._administration.settings_history(match.group(1)) if match else None
        if history is None:
            return error_reply(404, request_id, ["User not found"])
        return Reply(200, dumps({"requestId": request_id, "userSettingsHistory": history}))

    def _logs_answer(self, query: dict[str, str], body: dict[str, Any], request_id: str) -> Reply:
        log_type = query.get("logType")
        start = parse_instant(query.get("fromDateTime", ""))
        to_text = query.get("toDateTime")
        end = parse_instant(to_text) if to_text else self.now()
        errors = []
        if log_type not in LOG_TYPES:
            errors.append("logType must be one of " + ", ".join(LOG_TYPES))
        if start is None or end is None:
            errors.append("fromDateTime and toDateTime must be ISO-8601 date-times")
        if errors or start is None or end is None or log_type is None:
            return error_reply(400, request_id, errors)
        now = self.now()
        until = min(end, now)
        return self._paged_answer(
            request_id,
            filter_digest("logs", log_type, start.timestamp(), end.timestamp()),
            cursor=query.get("cursor"),
            items_key="logEntries",
            compute_items=lambda: [
                dumps(entry) for entry in self._administration.log_entries(log_type, start, until)
            ],
            not_found=NO_LOGS,
            freshness=until,
        )

    def _permission_profiles_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        workspace_id = query.get("workspaceId")
        if not workspace_id:
            return error_reply(400, request_id, ["workspaceId is required"])
        if workspace_id not in self._dataset.workspace_ids:
            return error_reply(404, request_id, ["Workspace not found"])
        profiles = self._administration.profiles[workspace_id]
        return Reply(200, dumps({"requestId": request_id, "profiles": profiles}))

    def _profile_users_answer(
        self, query: dict[str, str], body: dict[str, Any], request_id: str
    ) -> Reply:
        users = self._administration.profile_users.get(query.get("profileId") or "")
        if users is None:
            return error_reply(400, request_id, ["profileId is not a permission profile"])
        return Reply(200, dumps({"requestId": request_id, "users": users}))

    def _flows_answer(self, query: dict[str, str], body: dict[str, Any], request_id: str) -> Reply:
        owner = query.get("flowOwnerEmail")
        if not owner:
            return error_reply(400, request_id, ["flowOwnerEmail is required"])
        flows = self._administration.flows(owner) if self.settings.engage else None
        if flows is None:
            return error_reply(403, request_id, [NO_ENGAGE_LICENCE])
        return self._paged_answer(
            request_id,
            filter_digest("flows", owner),
            cursor=query.get("cursor"),
            items_key="flows",
            compute_items=lambda: [dumps(flow) for flow in flows],
            not_found="No flows found",
        )


AdminRoute = Callable[[Any, dict[str, str], dict[str, Any], str], Reply]
ADMIN_ROUTES: dict[tuple[str, str], AdminRoute] = {
    ("POST", "/v2/stats/activity/aggregate-by-period"): (
        AdminEndpointsMixin._aggregate_by_period_answer
    ),
    ("GET", "/v2/logs"): AdminEndpointsMixin._logs_answer,
    ("GET", "/v2/all-permission-profiles"): AdminEndpointsMixin._permission_profiles_answer,
    ("GET", "/v2/permission-profile/users"): AdminEndpointsMixin._profile_users_answer,
    ("GET", "/v2/flows"): AdminEndpointsMixin._flows_answer,
}
ADMIN_SCOPES = {
    "/v2/stats/activity/aggregate-by-period": "api:stats:user-actions",
    "/v2/logs": "api:logs:read",
    "/v2/all-permission-profiles": "api:permission-profile:read",
    "/v2/permission-profile/users": "api:users:read",
    "/v2/flows": "api:flows:read",
}


def admin_scope(path: str) -> str | None:
    """The scope an issue-26 endpoint needs (settings history: api:users:read)."""
    return "api:users:read" if SETTINGS_HISTORY_PATH.match(path) else ADMIN_SCOPES.get(path)
