"""The calls: GET /v2/calls, POST /v2/calls/extensive and POST /v2/calls/transcript."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gong_sandbox.data.content import CONTENT_FIELDS, INTERACTION_FIELDS, ContentSelector
from gong_sandbox.data.dataset import Call
from gong_sandbox.endpoints.family import EndpointFamily, bad_cursor, body_cursor, string_list
from gong_sandbox.protocol import (
    ApiRequest,
    Reply,
    dumps,
    epoch_microseconds,
    error_reply,
    filter_digest,
    parse_instant,
)

NO_CALLS = "No calls found corresponding to the provided filters"
MAX_TRANSCRIPT_CALL_IDS = 100
EVERYTHING = {
    "context": "Extended",
    "contextTiming": ["Now", "TimeOfCall"],
    "exposedFields": {
        "parties": True,
        "content": dict.fromkeys(CONTENT_FIELDS, True),
        "interaction": dict.fromkeys(INTERACTION_FIELDS, True),
        "collaboration": {"publicComments": True},
    },
}


@dataclass(frozen=True)
class CallFilter:
    """The filter of /v2/calls/extensive and /v2/calls/transcript: on the call's start."""

    start: datetime | None = None
    end: datetime | None = None
    workspace_id: str | None = None
    call_ids: frozenset[int] | None = None
    primary_user_ids: frozenset[str] | None = None

    def key(self) -> tuple[object, ...]:
        return (
            self.start and epoch_microseconds(self.start),
            self.end and epoch_microseconds(self.end),
            self.workspace_id,
            sorted(self.call_ids or ()),
            sorted(self.primary_user_ids or ()),
        )

    def matches(self, call: Call) -> bool:
        return (
            (self.workspace_id is None or call.workspace_id == self.workspace_id)
            and (self.primary_user_ids is None or call.user_id in self.primary_user_ids)
            and (self.start is None or call.started_at >= self.start.timestamp())
            and (self.end is None or call.started_at < self.end.timestamp())
        )


def parse_call_filter(
    body: dict[str, Any], *, with_owners: bool, max_call_ids: int | None
) -> CallFilter | list[str]:
    """The body's call filter, or the errors that make it malformed."""
    call_filter = body.get("filter")
    if not isinstance(call_filter, dict):
        return ["filter is required"]
    errors: list[str] = []
    bounds: dict[str, datetime | None] = {}
    for name in ("fromDateTime", "toDateTime"):
        text = call_filter.get(name)
        bounds[name] = parse_instant(text) if isinstance(text, str) else None
        if text is not None and bounds[name] is None:
            errors.append(f"filter.{name} must be an ISO-8601 date-time with Z or an offset")
    workspace_id = call_filter.get("workspaceId")
    if workspace_id is not None and not isinstance(workspace_id, str):
        errors.append("filter.workspaceId must be a string")
    call_ids = call_filter.get("callIds")
    if call_ids is not None:
        if not string_list(call_ids) or not all(call_id.isdigit() for call_id in call_ids):
            errors.append("filter.callIds must be a list of call id strings")
        elif not call_ids:
            errors.append("filter.callIds must not be empty")
        elif max_call_ids is not None and len(call_ids) > max_call_ids:
            errors.append(
                f"filter.callIds accepts at most {max_call_ids} call ids, got {len(call_ids)}"
            )
    owners = call_filter.get("primaryUserIds") if with_owners else None
    if owners is not None and not string_list(owners):
        errors.append("filter.primaryUserIds must be a list of strings")
    if errors:
        return errors
    return CallFilter(
        start=bounds["fromDateTime"],
        end=bounds["toDateTime"],
        workspace_id=workspace_id or None,
        call_ids=frozenset(map(int, call_ids)) if call_ids else None,
        primary_user_ids=frozenset(owners) if owners else None,
    )


class CallEndpoints(EndpointFamily):
    def calls(self, request: ApiRequest) -> Reply:
        """GET /v2/calls: calls whose `started` (or `scheduled`) is in the range."""
        query, request_id = request.query, request.request_id
        start = parse_instant(query.get("fromDateTime", ""))
        end = parse_instant(query.get("toDateTime", ""))
        errors = [
            f"{name} is required as an ISO-8601 date-time with Z or an offset"
            for name, instant in (("fromDateTime", start), ("toDateTime", end))
            if instant is None
        ]
        if errors or start is None or end is None:
            return error_reply(400, request_id, errors)
        workspace_id = query.get("workspaceId") or None
        digest = filter_digest(
            "calls", epoch_microseconds(start), epoch_microseconds(end), workspace_id
        )
        return self.pager.page(
            request_id,
            digest,
            cursor=query.get("cursor"),
            items_key="calls",
            compute_items=lambda: self.shuffled(
                [c.payload for c in self.world.dataset.visible_calls(start, end, workspace_id)],
                digest,
            ),
            not_found=NO_CALLS,
        )

    def extensive(self, request: ApiRequest) -> Reply:
        body, request_id = request.fields, request.request_id
        selector = ContentSelector.parse(body.get("contentSelector"))
        call_filter = parse_call_filter(body, with_owners=True, max_call_ids=None)
        errors = [selector] if isinstance(selector, str) else []
        errors += call_filter if isinstance(call_filter, list) else []
        errors += bad_cursor(body)
        if errors or isinstance(selector, str) or isinstance(call_filter, list):
            return error_reply(400, request_id, errors)
        digest = filter_digest("extensive", *call_filter.key(), selector.key())
        now = self.clock.now()
        content = self.world.content
        return self.pager.page(
            request_id,
            digest,
            cursor=body_cursor(body),
            items_key="calls",
            compute_items=lambda: self.shuffled(self._filtered_calls(call_filter), digest),
            not_found=NO_CALLS,
            render=lambda call: content.extensive(call, selector, now, request_id),
        )

    def transcript(self, request: ApiRequest) -> Reply:
        body, request_id = request.fields, request.request_id
        call_filter = parse_call_filter(
            body, with_owners=False, max_call_ids=MAX_TRANSCRIPT_CALL_IDS
        )
        if isinstance(call_filter, list) or bad_cursor(body):
            errors = call_filter if isinstance(call_filter, list) else []
            return error_reply(400, request_id, errors + bad_cursor(body))
        digest = filter_digest("transcript", *call_filter.key())
        has_transcript = self.world.content.has_transcript
        return self.pager.page(
            request_id,
            digest,
            cursor=body_cursor(body),
            items_key="callTranscripts",
            compute_items=lambda: self.shuffled(
                [c for c in self._filtered_calls(call_filter) if has_transcript(c)], digest
            ),
            not_found=NO_CALLS,
            render=self.transcript_item,
        )

    def transcript_item(self, call: Call) -> bytes:
        transcript = self.world.content.transcript(call, self.settings.transcript_sentences)
        return dumps({"callId": str(call.id), "transcript": transcript})

    def _filtered_calls(self, call_filter: CallFilter) -> list[Call]:
        dataset = self.world.dataset
        if call_filter.call_ids is None:
            candidates = dataset.calls_started(call_filter.start, call_filter.end)
        else:
            found = (dataset.visible_call(call_id) for call_id in call_filter.call_ids)
            candidates = [call for call in found if call is not None]
        return [call for call in candidates if call_filter.matches(call)]
