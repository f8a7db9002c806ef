"""The whole call: call_details, call_participants and call_transcripts from one listing."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from pathlib import Path
from typing import Any

from gong_sandbox import GongSandbox
from tests.support import (
    TapRun,
    assert_as_gong_sent,
    assert_schema_valid,
    instant,
    json_body,
    run_tap,
    tap_config,
)

CALL_STREAMS = ("call_details", "call_participants", "call_transcripts")
EXTENSIVE = "/v2/calls/extensive"
TRANSCRIPT = "/v2/calls/transcript"


def run_selected(
    sandbox: GongSandbox,
    tmp_path: Path,
    streams: tuple[str, ...] = CALL_STREAMS,
    state: dict | None = None,
    **config: Any,
) -> TapRun:
    """Run the tap with only `streams` selected (a catalog from --discover, as Meltano does)."""
    run = run_tap(tap_config(sandbox, **config), tmp_path, state, streams=streams)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def test_every_call_arrives_once_with_all_its_details_as_gong_sends_them_in_utc(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_selected(sandbox, tmp_path, ("call_details",))

    gong_calls = {call["metaData"]["id"]: call for call in sandbox.call_details()}
    records = run.records("call_details")
    assert Counter(record["id"] for record in records) == Counter(list(gong_calls))
    for record in records:
        call = gong_calls[record["id"]]
        assert set(record) == {"id", "started", *call}
        assert record["started"].endswith("Z")
        assert instant(record["started"]) == instant(call["metaData"]["started"])
        for part, value in call.items():
            assert_as_gong_sent(record[part], value, part)
    assert_schema_valid(run, "call_details")
    assert any(r["metaData"]["isPrivate"] for r in records), "private calls are kept"


def test_call_details_ask_gong_for_every_part_but_media_unless_the_setting_is_on(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_selected(sandbox, tmp_path, ("call_details",))
    selector = json_body(next(r for r in sandbox.requests if r.path == EXTENSIVE))[
        "contentSelector"
    ]
    assert selector["context"] == "Extended"
    assert selector["contextTiming"] == ["Now", "TimeOfCall"]
    exposed = selector["exposedFields"]
    assert exposed["parties"] is True
    assert "media" not in exposed
    assert all(exposed["content"].values())
    assert "trackerOccurrences" in exposed["content"]
    assert all(exposed["interaction"].values())
    assert len(exposed["interaction"]) == 4
    assert exposed["collaboration"] == {"publicComments": True}
    assert all("media" not in record for record in run.records("call_details"))

    with_media = run_selected(sandbox, tmp_path, ("call_details",), call_details_media=True)
    records = with_media.records("call_details")
    assert all(record["media"]["audioUrl"] for record in records)
    assert_schema_valid(with_media, "call_details")


def test_participants_are_one_row_per_party_from_the_same_requests_as_call_details(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_selected(sandbox, tmp_path, ("call_details", "call_participants"))

    expected = {
        (call["metaData"]["id"], party["id"]): (call["metaData"]["started"], party)
        for call in sandbox.call_details()
        for party in call.get("parties", [])
    }
    records = run.records("call_participants")
    assert Counter((r["callId"], r["id"]) for r in records) == Counter(list(expected))
    for record in records:
        started, party = expected[record["callId"], record["id"]]
        assert record["started"].endswith("Z")
        assert instant(record["started"]) == instant(started)
        assert_as_gong_sent({name: record[name] for name in party}, party, "party")
        assert set(record) == {"callId", "started", *party}
    assert_schema_valid(run, "call_participants")
    assert {r.path for r in sandbox.requests} == {EXTENSIVE}, "participants cost no request"
    assert run.final_state["bookmarks"]["call_participants"] == {}, "no state per call"


def test_participants_selected_alone_are_the_same_rows_crm_links_included_and_keep_the_bookmark(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    alone = run_selected(sandbox, tmp_path, ("call_participants",))
    with_details = run_selected(sandbox, tmp_path, ("call_details", "call_participants"))

    def rows(run: TapRun) -> dict[tuple[str, str], dict]:
        return {(r["callId"], r["id"]): r for r in run.records("call_participants")}

    assert rows(alone) == rows(with_details)
    timings = {
        crm_object["timing"]
        for row in rows(alone).values()
        for link in row.get("context") or []
        for crm_object in link["objects"]
        if crm_object.get("fields")
    }
    assert timings == {"Now", "TimeOfCall"}, "the parties' CRM links come with their fields"
    assert alone.records("call_details") == []
    bodies = [json_body(r) for r in sandbox.requests if r.path == EXTENSIVE]
    assert {"exposedFields": {"parties": True}}.items() <= bodies[0]["contentSelector"].items()
    assert alone.bookmark("call_details")  # where the next run resumes


def test_transcripts_arrive_once_per_call_with_its_start_at_one_request_per_page_of_calls(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_selected(sandbox, tmp_path, ("call_transcripts",), calls_window_days=6)

    started = {c["metaData"]["id"]: c["metaData"]["started"] for c in sandbox.call_details()}
    gong_transcripts = {item["callId"]: item for item in sandbox.transcripts()}
    records = run.records("call_transcripts")
    assert Counter(record["callId"] for record in records) == Counter(list(gong_transcripts))
    for record in records:
        assert record["transcript"] == gong_transcripts[record["callId"]]["transcript"]
        assert record["started"].endswith("Z")
        assert instant(record["started"]) == instant(started[record["callId"]])
    assert_schema_valid(run, "call_transcripts")
    windows = {
        json_body(r)["filter"]["fromDateTime"] for r in sandbox.requests if r.path == EXTENSIVE
    }
    transcript_requests = [r for r in sandbox.requests if r.path == TRANSCRIPT]
    assert len(windows) > 1
    assert len(transcript_requests) <= math.ceil(len(started) / 100) + len(windows)
    assert all(len(json_body(r)["filter"]["callIds"]) <= 100 for r in transcript_requests)


def test_a_run_stopped_anywhere_resumes_with_no_call_part_lost(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    # Windows of 3 days, each 1-2 pages (plus a transcript request per page): 9 requests
    # stop the run inside a window, after a couple of finished ones.
    first = run_selected(sandbox, tmp_path, calls_window_days=3, max_requests_per_run=9)
    assert len(first.records("call_details")) < len(sandbox.call_details())
    second = run_selected(sandbox, tmp_path, state=first.final_state, calls_window_days=3)

    def keys(run: TapRun, stream: str, *fields: str) -> set[tuple[str, ...]]:
        return {tuple(r[f] for f in fields) for r in run.records(stream)}

    details = sandbox.call_details()
    for stream, fields, expected in (
        ("call_details", ("id",), {(c["metaData"]["id"],) for c in details}),
        (
            "call_participants",
            ("callId", "id"),
            {(c["metaData"]["id"], p["id"]) for c in details for p in c.get("parties", [])},
        ),
        ("call_transcripts", ("callId",), {(t["callId"],) for t in sandbox.transcripts()}),
    ):
        assert keys(first, stream, *fields) | keys(second, stream, *fields) == expected, stream
    resumed_from = instant(first.bookmark("call_details"))
    assert all(instant(r["started"]) >= resumed_from for r in second.records("call_details"))


def test_the_next_run_reads_only_new_calls_since_the_bookmark_and_finds_them(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    first = run_selected(sandbox, tmp_path)
    sandbox.advance_clock(dt.timedelta(days=2))
    added = {call["id"] for call in sandbox.add_calls(5)}

    second = run_selected(sandbox, tmp_path, state=first.final_state, end_date=None)

    ids = {record["id"] for record in second.records("call_details")}
    assert added <= ids
    assert len(ids) < len(first.records("call_details"))
    assert instant(second.bookmark("call_details")) > instant(first.bookmark("call_details"))
