"""The public call library: GET /v2/library/folders and /v2/library/folder-content."""

from __future__ import annotations

from gong_sandbox.endpoints.family import EndpointFamily
from gong_sandbox.protocol import ApiRequest, Reply, dumps, error_reply

# The library's 404, Gong's spec's words, for a workspace with no public folder and a folder
# with no call.
NO_FOLDERS = "No folders found for the specified period"


class LibraryEndpoints(EndpointFamily):
    def folders(self, request: ApiRequest) -> Reply:
        request_id = request.request_id
        workspace_id = request.query.get("workspaceId") or None
        if workspace_id is not None and workspace_id not in self.world.dataset.workspace_ids:
            return error_reply(404, request_id, ["Workspace not found"])
        folders = self.world.library.workspace_folders(workspace_id)
        if not folders:
            return error_reply(404, request_id, [NO_FOLDERS])
        return Reply(200, dumps({"requestId": request_id, "folders": folders}))

    def folder_content(self, request: ApiRequest) -> Reply:
        request_id = request.request_id
        folder_id = request.query.get("folderId")
        if not folder_id:
            return error_reply(400, request_id, ["folderId is required"])
        library = self.world.library
        folder = library.folder(folder_id)
        calls = (
            library.folder_calls(folder, self.world.dataset.calls_started(), self.clock.now())
            if folder
            else []
        )
        if folder is None or not calls:
            return error_reply(404, request_id, [NO_FOLDERS])
        fields = {name: folder.payload[name] for name in ("id", "name", "createdBy", "updated")}
        return Reply(200, dumps({"requestId": request_id, **fields, "calls": calls}))
