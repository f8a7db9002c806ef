"""The company's people and settings: GET /v2/users, /v2/workspaces, /v2/settings/trackers."""

from __future__ import annotations

from gong_sandbox.endpoints.family import NO_USERS, EndpointFamily
from gong_sandbox.protocol import ApiRequest, Reply, dumps, error_reply, filter_digest


class CompanyEndpoints(EndpointFamily):
    def users(self, request: ApiRequest) -> Reply:
        include_avatars = request.query.get("includeAvatars", "false").lower() == "true"
        company = self.world.company
        return self.pager.page(
            request.request_id,
            filter_digest("users", include_avatars),
            cursor=request.query.get("cursor"),
            items_key="users",
            compute_items=lambda: [dumps(u) for u in company.users(include_avatars)],
            not_found=NO_USERS,
        )

    def workspaces(self, request: ApiRequest) -> Reply:
        workspaces = self.world.company.workspaces
        return Reply(200, dumps({"requestId": request.request_id, "workspaces": workspaces}))

    def trackers(self, request: ApiRequest) -> Reply:
        workspace_id = request.query.get("workspaceId") or None
        if workspace_id is not None and workspace_id not in self.world.dataset.workspace_ids:
            return error_reply(404, request.request_id, ["Workspace not found"])
        trackers = self.world.company.trackers(workspace_id)
        return Reply(200, dumps({"requestId": request.request_id, "keywordTrackers": trackers}))
