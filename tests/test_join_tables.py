"""The tables people join on: CRM objects, tracker hits, scorecard questions and answers, library.

The first four come from pages the tap already reads (no request of their own); the
library's two cost one request per workspace and one per folder.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from gong_sandbox import GongSandbox
from tests.support import (
    TapRun,
    assert_as_gong_sent,
    assert_schema_valid,
    json_body,
    run_tap,
    sandbox_settings,
    tap_config,
)

CHILDREN = (
    "call_crm_objects",
    "call_trackers",
    "scorecard_questions",
    "answered_scorecard_answers",
)
PARENTS = ("call_details", "scorecards", "answered_scorecards")
LIBRARY = ("library_folders", "library_folder_calls")
EXTENSIVE = "/v2/calls/extensive"
FOLDERS_PATH = "/v2/library/folders"
FOLDER_CONTENT_PATH = "/v2/library/folder-content"
LIBRARY_SCOPE = "api:library:read"


def requests_per_path(sandbox: GongSandbox) -> Counter[str]:
    return Counter(r.path for r in sandbox.requests)


def as_set(records: list[dict]) -> Counter[str]:
    """Records in any order (Gong's pages are not sorted)."""
    return Counter(json.dumps(record, sort_keys=True) for record in records)


def keyed(records: list[dict], *key: str) -> dict[tuple, dict]:
    by_key = {tuple(r[k] for k in key): r for r in records}
    assert len(by_key) == len(records), "a record arrived twice"
    return by_key


Selected = tuple[GongSandbox, TapRun, Counter[str]]


def run_selecting(streams: tuple[str, ...], factory: pytest.TempPathFactory) -> Iterator[Selected]:
    """One run of a company of 3 workspaces with `streams` selected, and what it asked."""
    with GongSandbox(sandbox_settings(workspaces=3)) as sandbox:
        run = run_tap(tap_config(sandbox), factory.mktemp("run"), streams=streams)
        assert run.returncode == 0, run.stderr[-2000:]
        yield sandbox, run, requests_per_path(sandbox)


@pytest.fixture(scope="module")
def with_parents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Selected]:
    """The children with their parents selected, and the library: one run."""
    yield from run_selecting((*CHILDREN, *PARENTS, *LIBRARY, "workspaces"), tmp_path_factory)


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Selected]:
    """The children and the library selected without their parents."""
    yield from run_selecting((*CHILDREN, *LIBRARY), tmp_path_factory)


@pytest.mark.parametrize("stream", [*CHILDREN, *LIBRARY])
def test_records_are_valid_against_the_schema_the_tap_announces(
    with_parents: Selected, stream: str
) -> None:
    _, run, _ = with_parents
    assert run.records(stream)
    assert_schema_valid(run, stream)


def test_crm_objects_are_one_row_per_object_and_timing_with_fields_of_every_json_kind(
    with_parents: Selected,
) -> None:
    sandbox, run, _ = with_parents
    expected = {
        (
            call["metaData"]["id"],
            crm["timing"],
            link["system"],
            crm["objectType"],
            crm["objectId"],
        ): (
            call["metaData"]["started"],
            crm["fields"],
        )
        for call in sandbox.call_details()
        for link in call.get("context") or []
        for crm in link["objects"]
    }
    records = keyed(
        run.records("call_crm_objects"), "callId", "timing", "system", "objectType", "objectId"
    )
    assert set(records) == set(expected)
    for key, record in records.items():
        started, fields = expected[key]
        assert_as_gong_sent(record["started"], started, "started")
        assert_as_gong_sent(record["fields"], fields, "fields")
    # The same object at the call's time and now: two rows, their fields as they were.
    timings = Counter(key[:1] + key[2:] for key in records)
    assert set(timings.values()) == {2}
    kinds = {type(f["value"]).__name__ for r in records.values() for f in r["fields"]}
    assert kinds == {"str", "int", "float", "bool", "dict", "list", "NoneType"}


def test_call_trackers_are_the_trackers_that_fired_with_gongs_id_as_tracker_id(
    with_parents: Selected,
) -> None:
    sandbox, run, _ = with_parents
    listed = [
        (call["metaData"], tracker)
        for call in sandbox.call_details()
        for tracker in (call.get("content") or {}).get("trackers") or []
    ]
    assert any(tracker["count"] == 0 for _, tracker in listed), "the sandbox has silent trackers"
    fired = {(meta["id"], t["id"]): (meta, t) for meta, t in listed if t["count"] > 0}
    records = keyed(run.records("call_trackers"), "callId", "trackerId")
    assert set(records) == set(fired)
    for key, record in records.items():
        meta, tracker = fired[key]
        assert record["count"] > 0
        assert_as_gong_sent(record["started"], meta["started"], "started")
        for name in ("name", "type", "count", "occurrences", "phrases"):
            assert_as_gong_sent(record[name], tracker[name], name)
        assert "id" not in record
    assert {r["type"] for r in records.values()} == {"KEYWORD", "SMART"}


def test_scorecard_questions_are_one_row_per_question_revision_with_exact_string_ids(
    with_parents: Selected,
) -> None:
    sandbox, run, _ = with_parents
    expected = {
        (str(card["scorecardId"]), str(q["questionId"]), str(q["questionRevisionId"])): q
        for card in sandbox.scorecards()
        for q in card["questions"]
    }
    records = keyed(
        run.records("scorecard_questions"), "scorecardId", "questionId", "questionRevisionId"
    )
    assert set(records) == set(expected)
    assert any(int(key[1]) > 2**53 for key in records)
    for key, record in records.items():
        question = {name: value for name, value in record.items() if name != "scorecardId"}
        assert_as_gong_sent(question, expected[key], str(key))


def test_answers_are_one_row_per_review_and_question_with_the_reviews_ids_and_time(
    with_parents: Selected,
) -> None:
    sandbox, run, _ = with_parents
    reviews = sandbox.answered_scorecards()
    expected = {
        (str(review["answeredScorecardId"]), str(answer["questionId"])): (review, answer)
        for review in reviews
        for answer in review["answers"]
    }
    records = keyed(run.records("answered_scorecard_answers"), "answeredScorecardId", "questionId")
    assert set(records) == set(expected)
    for key, record in records.items():
        review, answer = expected[key]
        for name in ("scorecardId", "callId", "reviewTime"):
            assert_as_gong_sent(record[name], review[name], name)
        assert_as_gong_sent({name: record[name] for name in answer}, answer, str(key))
        assert record["reviewTime"].endswith("Z")
    assert any(r["score"] is not None for r in records.values())
    assert any(r["notApplicable"] for r in records.values())


def test_child_tables_cost_no_request_beyond_their_parents(
    with_parents: Selected, tmp_path: Path
) -> None:
    _, run, asked = with_parents
    with GongSandbox(sandbox_settings(workspaces=3)) as sandbox:
        parents_only = run_tap(tap_config(sandbox), tmp_path, streams=PARENTS)
        assert parents_only.returncode == 0
        for path in (EXTENSIVE, "/v2/settings/scorecards", "/v2/stats/activity/scorecards"):
            assert asked[path] == requests_per_path(sandbox)[path], path
    bookmarks = run.final_state["bookmarks"]
    for child in CHILDREN:
        assert "replication_key_value" not in bookmarks.get(child, {}), child
    assert run.bookmark("call_details")
    assert run.bookmark("answered_scorecards")


def test_children_selected_alone_arrive_the_same_and_their_parents_send_no_rows(
    with_parents: Selected,
    alone: Selected,
) -> None:
    _, together, _ = with_parents
    _, run, asked = alone
    for stream in (*CHILDREN, *LIBRARY):
        assert as_set(run.records(stream)) == as_set(together.records(stream)), stream
    for parent in (*PARENTS, "workspaces"):
        assert run.records(parent) == [], parent
    assert asked["/v2/workspaces"] == asked["/v2/settings/scorecards"] == 1
    assert run.bookmark("call_details")
    assert run.bookmark("answered_scorecards")


def selectors_asked(sandbox: GongSandbox) -> list[str]:
    """The content selector of each call_details request, in JSON text (one per distinct)."""
    return sorted(
        {
            json.dumps(json_body(r)["contentSelector"], sort_keys=True)
            for r in sandbox.requests
            if r.path == EXTENSIVE
        }
    )


def selector(**parts: object) -> list[str]:
    return [json.dumps(parts, sort_keys=True)]


CRM_CONTEXT = {"context": "Extended", "contextTiming": ["Now", "TimeOfCall"]}
TRACKERS = {"trackers": True, "trackerOccurrences": True}


def test_call_details_read_for_its_children_asks_gong_for_what_they_need_and_no_more(
    alone: Selected, tmp_path: Path
) -> None:
    sandbox, _, _ = alone
    assert selectors_asked(sandbox) == selector(**CRM_CONTEXT, exposedFields={"content": TRACKERS})

    sandbox.reset_log()
    run = run_tap(tap_config(sandbox), tmp_path, streams=("call_participants", "call_trackers"))

    assert run.returncode == 0, run.stderr[-2000:]
    # Participants keep their CRM links: the context comes with the parties.
    assert selectors_asked(sandbox) == selector(
        **CRM_CONTEXT, exposedFields={"content": TRACKERS, "parties": True}
    )


def test_library_folders_of_every_workspace_at_one_request_per_workspace_and_per_folder(
    with_parents: Selected,
) -> None:
    sandbox, run, asked = with_parents
    workspaces = [w["id"] for w in sandbox.workspaces()]
    expected = {
        folder["id"]: {**folder, "workspaceId": workspace_id}
        for workspace_id in workspaces
        for folder in sandbox.library_folders(workspace_id)
    }
    records = keyed(run.records("library_folders"), "id")
    assert {key for (key,) in records} == set(expected)
    for (key,), record in records.items():
        assert_as_gong_sent(record, expected[key], key)
    assert len({r["workspaceId"] for r in records.values()}) > 1
    assert any(r["parentFolderId"] for r in records.values())
    assert any(not sandbox.library_folders(w) for w in workspaces), "a workspace has none"
    # The workspaces listed once, though workspaces is selected too.
    assert asked["/v2/workspaces"] == 1
    assert asked[FOLDERS_PATH] == len(workspaces)
    assert asked[FOLDER_CONTENT_PATH] == len(expected)


def test_library_folder_calls_are_one_row_per_folder_and_call_with_the_calls_id_as_call_id(
    with_parents: Selected,
) -> None:
    sandbox, run, _ = with_parents
    folder_ids = [f["id"] for f in sandbox.library_folders()]
    expected = {
        (folder_id, call["id"]): call
        for folder_id in folder_ids
        for call in sandbox.library_folder_calls(folder_id)
    }
    assert any(not sandbox.library_folder_calls(f) for f in folder_ids), "an empty folder"
    records = keyed(run.records("library_folder_calls"), "folderId", "callId")
    assert set(records) == set(expected)
    for key, record in records.items():
        call = expected[key]
        assert "id" not in record
        fields = {name: record[name] for name in call if name != "id"}
        assert_as_gong_sent(fields, {k: v for k, v in call.items() if k != "id"}, str(key))
    in_folders = Counter(call_id for _, call_id in records)
    assert max(in_folders.values()) >= 2, "a call in two folders: one row in each"
    call_ids = {c["id"] for c in sandbox.calls()}
    assert {call_id for _, call_id in records} <= call_ids


def test_a_missing_library_scope_fails_the_library_alone_and_workspaces_still_arrive(
    tmp_path: Path,
) -> None:
    settings = sandbox_settings(withheld_scopes=frozenset({LIBRARY_SCOPE}))
    with GongSandbox(settings) as sandbox:
        run = run_tap(tap_config(sandbox), tmp_path, streams=("workspaces", *LIBRARY))

        assert run.returncode == 1
        assert "Traceback" not in run.stderr
        assert "'library_folders' failed: Gong refused it" in run.stderr
        assert len(run.records("workspaces")) == len(sandbox.workspaces())
        assert requests_per_path(sandbox)[FOLDERS_PATH] == 1, "refused once, not per workspace"
        summary = {
            line.split(":")[0].strip(): line
            for line in run.stderr.splitlines()
            if line.startswith("  ")
        }
        assert summary["workspaces"].startswith("  workspaces: finished")
        assert summary["library_folders"].startswith("  library_folders: failed")
        assert summary["library_folder_calls"].startswith("  library_folder_calls: stopped")


def test_with_workspace_id_set_the_library_is_that_workspaces_only(tmp_path: Path) -> None:
    with GongSandbox(sandbox_settings()) as sandbox:
        workspace_id = sandbox.workspaces()[1]["id"]
        run = run_tap(tap_config(sandbox, workspace_id=workspace_id), tmp_path, streams=LIBRARY)

        assert run.returncode == 0, run.stderr[-2000:]
        folders = run.records("library_folders")
        assert {f["id"] for f in folders} == {
            f["id"] for f in sandbox.library_folders(workspace_id)
        }
        assert {f["workspaceId"] for f in folders} == {workspace_id}
        assert requests_per_path(sandbox)[FOLDERS_PATH] == 1
