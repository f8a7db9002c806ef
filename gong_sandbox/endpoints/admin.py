"""Administration: users' settings history, the logs, permission profiles and who holds
them, and Engage flows (the data: gong_sandbox/data/administration.py)."""

from __future__ import annotations

from gong_sandbox.data.administration import LOG_TYPES, NO_ENGAGE_LICENCE
from gong_sandbox.endpoints.family import EndpointFamily
from gong_sandbox.protocol import (
    ApiRequest,
    Reply,
    dumps,
    error_reply,
    filter_digest,
    parse_instant,
)

NO_LOGS = "No logs found for the specified period"


class AdminEndpoints(EndpointFamily):
    def settings_history(self, request: ApiRequest) -> Reply:
        """GET /v2/users/{id}/settings-history (the route's one path parameter)."""
        (user_id,) = request.path_params
        history = self.world.administration.settings_history(user_id)
        if history is None:
            return error_reply(404, request.request_id, ["User not found"])
        return Reply(200, dumps({"requestId": request.request_id, "userSettingsHistory": history}))

    def logs(self, request: ApiRequest) -> Reply:
        query, request_id = request.query, request.request_id
        log_type = query.get("logType")
        start = parse_instant(query.get("fromDateTime", ""))
        to_text = query.get("toDateTime")
        now = self.clock.now()
        end = parse_instant(to_text) if to_text else now
        errors = []
        if log_type not in LOG_TYPES:
            errors.append("logType must be one of " + ", ".join(LOG_TYPES))
        if start is None or end is None:
            errors.append("fromDateTime and toDateTime must be ISO-8601 date-times")
        if errors or start is None or end is None or log_type is None:
            return error_reply(400, request_id, errors)
        until = min(end, now)
        administration = self.world.administration
        return self.pager.page(
            request_id,
            filter_digest("logs", log_type, start.timestamp(), end.timestamp()),
            cursor=query.get("cursor"),
            items_key="logEntries",
            compute_items=lambda: [
                dumps(entry) for entry in administration.log_entries(log_type, start, until)
            ],
            not_found=NO_LOGS,
            freshness=until,
        )

    def permission_profiles(self, request: ApiRequest) -> Reply:
        request_id = request.request_id
        workspace_id = request.query.get("workspaceId")
        if not workspace_id:
            return error_reply(400, request_id, ["workspaceId is required"])
        if workspace_id not in self.world.dataset.workspace_ids:
            return error_reply(404, request_id, ["Workspace not found"])
        profiles = self.world.administration.profiles[workspace_id]
        return Reply(200, dumps({"requestId": request_id, "profiles": profiles}))

    def profile_users(self, request: ApiRequest) -> Reply:
        users = self.world.administration.profile_users.get(request.query.get("profileId") or "")
        if users is None:
            return error_reply(400, request.request_id, ["profileId is not a permission profile"])
        return Reply(200, dumps({"requestId": request.request_id, "users": users}))

    def flows(self, request: ApiRequest) -> Reply:
        request_id = request.request_id
        owner = request.query.get("flowOwnerEmail")
        if not owner:
            return error_reply(400, request_id, ["flowOwnerEmail is required"])
        flows = self.world.administration.flows(owner) if self.settings.engage else None
        if flows is None:
            return error_reply(403, request_id, [NO_ENGAGE_LICENCE])
        return self.pager.page(
            request_id,
            filter_digest("flows", owner),
            cursor=request.query.get("cursor"),
            items_key="flows",
            compute_items=lambda: [dumps(flow) for flow in flows],
            not_found="No flows found",
        )
