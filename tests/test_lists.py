"""users and workspaces: Gong's lists, read whole on every run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from jsonschema import Draft7Validator, FormatChecker

from gong_sandbox import GongSandbox
from tests.support import instant, run_tap, sandbox_settings, tap_config


def test_every_user_arrives_once_with_gong_values_and_created_in_utc(tmp_path: Path) -> None:
    # Pages of 3 users: the cursor goes back to Gong in the query.
    with GongSandbox(sandbox_settings(page_size=3)) as sandbox:
        run = run_tap(tap_config(sandbox), tmp_path, streams=("users",))
        user_requests = [r for r in sandbox.requests if r.path == "/v2/users"]
        gong_users = {user["id"]: user for user in sandbox.users()}

    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records("users")
    assert Counter(record["id"] for record in records) == Counter(list(gong_users))
    assert len(user_requests) == 3
    assert [r.query.get("cursor") is None for r in user_requests] == [True, False, False]
    for record in records:
        user = gong_users[record["id"]]
        assert record.keys() == user.keys()
        assert record["created"].endswith("Z")
        assert instant(record["created"]) == instant(user["created"])
        assert {k: v for k, v in record.items() if k != "created"} == {
            k: v for k, v in user.items() if k != "created"
        }
    validator = Draft7Validator(run.schema("users")["schema"], format_checker=FormatChecker())
    for record in records:
        validator.validate(record)
    assert run.final_state["bookmarks"]["users"] == {}, "a full table keeps no bookmark"


def test_every_workspace_arrives_as_gong_sends_it_in_one_request(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    run = run_tap(tap_config(sandbox), tmp_path, streams=("workspaces",))

    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records("workspaces") == sandbox.workspaces()
    assert [r.path for r in sandbox.requests].count("/v2/workspaces") == 1
    validator = Draft7Validator(run.schema("workspaces")["schema"], format_checker=FormatChecker())
    for record in run.records("workspaces"):
        validator.validate(record)
