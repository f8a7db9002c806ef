"""A Gong OAuth app as a scheduled run uses it: rotating refresh tokens, the customer's URL."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path
from typing import Any

from gong_sandbox import GongSandbox
from gong_sandbox.oauth import TOKEN_PATH
from tap_gong.settings import GongSettings
from tests.support import run_tap, sandbox_settings, start_tap, tap_config
from tests.test_errors import assert_clean_failure


def oauth_config(sandbox: GongSandbox, tmp_path: Path | None, **overrides: Any) -> dict:
    """The sandbox's OAuth app instead of its access key; the token file under tmp_path."""
    config = tap_config(sandbox, **overrides)
    del config["access_key"], config["access_key_secret"]
    settings = sandbox.settings
    config |= {
        "client_id": settings.oauth_client_id,
        "client_secret": settings.oauth_client_secret,
        "refresh_token": settings.oauth_refresh_token,
        "oauth_token_url": sandbox.url + TOKEN_PATH,
    }
    if tmp_path is not None:
        config["oauth_credentials_file"] = str(tmp_path / "gong-oauth.json")
    return config


def test_an_oauth_app_extracts_everything_with_tokens_kept_owner_only_between_runs(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = oauth_config(sandbox, tmp_path)

    first = run_tap(config, tmp_path)
    second = run_tap(config, tmp_path, first.final_state)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert {r["id"] for r in first.records("calls")} == {c["id"] for c in sandbox.calls()}
    api_requests = [r for r in sandbox.requests if r.path != TOKEN_PATH]
    assert api_requests
    assert {r.auth for r in api_requests} == {"bearer"}
    token_file = Path(config["oauth_credentials_file"])
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    # The second run used the token the first one kept: its refresh was not needed again,
    # or it refreshed with the rotated token; either way Gong never saw a reused one.
    assert json.loads(token_file.read_text())["refresh_token"] == sandbox.oauth.refresh_token


def test_a_run_longer_than_the_token_lifetime_renews_it_once_and_loses_nothing(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings(latency_seconds=0.05)) as sandbox:
        config = oauth_config(sandbox, tmp_path, calls_window_days=2)
        tap = start_tap(config, tmp_path)
        assert tap.stdout is not None
        messages = []
        for line in tap.stdout:
            messages.append(json.loads(line))
            if messages[-1]["type"] == "RECORD" and sandbox.oauth.refreshes == 1:
                sandbox.advance_clock(dt.timedelta(hours=2))  # the access token expires
                break
        messages += [json.loads(line) for line in tap.stdout]
        assert tap.wait(timeout=60) == 0
        tap.stdout.close()

        records = [m for m in messages if m["type"] == "RECORD"]
        call_ids = {m["record"]["id"] for m in records if m["stream"] == "calls"}
        assert call_ids == {c["id"] for c in sandbox.calls()}
        assert sandbox.oauth.refreshes == 2
        # Each request in flight when the token expired meets it once, and is sent again.
        in_flight = GongSettings.default("max_concurrent_requests")
        assert 1 <= sum(r.auth == "expired" for r in sandbox.requests) <= in_flight


def test_a_refresh_token_used_up_elsewhere_is_one_line_saying_to_reauthorise(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = oauth_config(sandbox, tmp_path=None)
    first = run_tap(config, tmp_path)  # no token file: the rotated token is not kept

    second = run_tap(config, tmp_path)

    assert first.returncode == 0, first.stderr
    assert "oauth_credentials_file" in first.stderr  # the warning that would have saved it
    assert_clean_failure(second, "re-authorise")


def test_gongs_customer_url_wins_over_a_different_api_url_with_one_warning(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = oauth_config(sandbox, tmp_path, api_url="https://us-1.api.gong.io")

    run = run_tap(config, tmp_path)

    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "OAuth token names" in line]
    assert len(warnings) == 1
    assert "https://us-1.api.gong.io" in warnings[0]
    assert sandbox.url in warnings[0]


def test_no_oauth_token_appears_in_any_output_even_at_debug(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    config = oauth_config(sandbox, tmp_path)

    run = run_tap(config, tmp_path, env={"TAP_GONG_LOGLEVEL": "DEBUG"})

    assert run.returncode == 0, run.stderr
    secrets = [sandbox.settings.oauth_refresh_token, sandbox.settings.oauth_client_secret]
    secrets += [*sandbox.oauth.issued_tokens, sandbox.oauth.refresh_token]
    for secret in secrets:
        assert secret not in run.stdout
        assert secret not in run.stderr


def test_oauth_settings_must_come_together(sandbox: GongSandbox, tmp_path: Path) -> None:
    config = oauth_config(sandbox, tmp_path)
    del config["client_secret"]

    assert_clean_failure(run_tap(config, tmp_path), "set client_secret")
