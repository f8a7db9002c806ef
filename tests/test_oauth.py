"""Gong OAuth apps: rotating refresh tokens kept between runs, the customer's base URL."""

from __future__ import annotations

import json
import logging
import stat
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from gong_sandbox import GongSandbox
from gong_sandbox.oauth import EXPIRED_TOKEN_MESSAGE, TOKEN_PATH
from tap_gong.oauth import GongOAuthAuthenticator, GongOAuthError
from tests.support import sandbox_settings

CALLS_RANGE = {"fromDateTime": "2024-02-01T00:00:00Z", "toDateTime": "2024-04-01T00:00:00Z"}
PAST_ACCESS_TOKEN_LIFETIME = timedelta(hours=2)  # the sandbox's tokens live 1 h


@pytest.fixture
def sandbox() -> Iterator[GongSandbox]:
    with GongSandbox(sandbox_settings(calls=20)) as running:
        yield running


def authenticator(
    sandbox: GongSandbox,
    credentials_file: Path | None = None,
    token_host: str = "127.0.0.1",
    refresh_token: str | None = None,
) -> GongOAuthAuthenticator:
    """A run's authenticator, configured as the user set it up."""
    settings = sandbox.settings
    port = sandbox.url.rsplit(":", 1)[1]
    return GongOAuthAuthenticator(
        client_id=settings.oauth_client_id,
        client_secret=settings.oauth_client_secret,
        refresh_token=refresh_token or settings.oauth_refresh_token,
        credentials_file=credentials_file,
        token_url=f"http://{token_host}:{port}{TOKEN_PATH}",
    )


def get_calls(auth: GongOAuthAuthenticator) -> requests.Response:
    """One API request as the tap makes it: after a 401, renewed once and sent again."""
    url = f"{auth.api_base_url}/v2/calls"
    response = requests.get(url, params=CALLS_RANGE, auth=auth, timeout=10)
    if response.status_code == 401 and auth.refresh_after_unauthorized(response):
        response = requests.get(url, params=CALLS_RANGE, auth=auth, timeout=10)
    return response


def stored(credentials_file: Path) -> dict[str, Any]:
    return json.loads(credentials_file.read_text())


def test_the_first_request_carries_an_access_token_from_a_refresh_made_before_it(sandbox):
    auth = authenticator(sandbox)

    response = requests.get(f"{sandbox.url}/v2/calls", params=CALLS_RANGE, auth=auth, timeout=10)

    assert response.status_code == 200, response.text
    assert sandbox.oauth.refreshes == 1
    assert [entry.auth for entry in sandbox.requests] == ["bearer"]


def test_api_requests_go_to_the_base_url_of_the_token_answer(sandbox):
    # The token endpoint is reached as localhost; the answer names 127.0.0.1.
    auth = authenticator(sandbox, token_host="localhost")

    assert auth.api_base_url == sandbox.url
    assert get_calls(auth).status_code == 200


def test_an_access_token_expiring_mid_run_is_renewed_once_and_the_run_goes_on(sandbox):
    auth = authenticator(sandbox)
    assert get_calls(auth).status_code == 200
    sandbox.advance_clock(PAST_ACCESS_TOKEN_LIFETIME)

    response = get_calls(auth)

    assert response.status_code == 200, response.text
    assert sandbox.oauth.refreshes == 2
    assert [entry.status for entry in sandbox.requests] == [200, 401, 200]


def test_a_token_rejected_right_after_its_renewal_is_not_renewed_again(sandbox):
    auth = authenticator(sandbox)
    assert get_calls(auth).status_code == 200
    sandbox.advance_clock(PAST_ACCESS_TOKEN_LIFETIME)
    sandbox.configure(oauth_access_token_seconds=-1)  # every new token is born expired

    response = get_calls(auth)

    assert response.status_code == 401
    assert auth.refresh_after_unauthorized(response) is False
    assert sandbox.oauth.refreshes == 2


def test_an_expired_token_is_refused_with_a_body_saying_so_and_the_static_token_still_works(
    sandbox,
):
    auth = authenticator(sandbox)
    assert get_calls(auth).status_code == 200
    sandbox.advance_clock(PAST_ACCESS_TOKEN_LIFETIME)

    expired = requests.get(f"{sandbox.url}/v2/calls", params=CALLS_RANGE, auth=auth, timeout=10)
    static = requests.get(
        f"{sandbox.url}/v2/calls",
        params=CALLS_RANGE,
        headers={"Authorization": f"Bearer {sandbox.settings.access_token}"},
        timeout=10,
    )

    assert expired.status_code == 401
    assert expired.json()["errors"] == [EXPIRED_TOKEN_MESSAGE]
    assert static.status_code == 200


def test_two_runs_in_a_row_continue_the_token_chain_through_the_file(sandbox, tmp_path):
    credentials_file = tmp_path / "gong-oauth.json"
    assert get_calls(authenticator(sandbox, credentials_file)).status_code == 200
    sandbox.advance_clock(PAST_ACCESS_TOKEN_LIFETIME)

    # The configured refresh token is spent by now: the file's rotated one must be used.
    second_run = authenticator(sandbox, credentials_file)
    response = get_calls(second_run)

    assert response.status_code == 200, response.text
    assert sandbox.oauth.refreshes == 2
    assert stored(credentials_file)["refresh_token"] == sandbox.oauth.refresh_token


def test_a_run_reuses_the_fresh_access_token_another_run_left_in_the_file(sandbox, tmp_path):
    credentials_file = tmp_path / "gong-oauth.json"
    assert get_calls(authenticator(sandbox, credentials_file)).status_code == 200

    assert get_calls(authenticator(sandbox, credentials_file)).status_code == 200
    assert sandbox.oauth.refreshes == 1


def test_rotated_tokens_are_saved_owner_only_before_the_new_access_token_is_sent(sandbox, tmp_path):
    credentials_file = tmp_path / "gong-oauth.json"
    auth = authenticator(sandbox, credentials_file)
    request = requests.Request("GET", f"{sandbox.url}/v2/calls", params=CALLS_RANGE).prepare()

    auth(request)  # authenticated, not yet sent

    saved = stored(credentials_file)
    assert request.headers["Authorization"] == f"Bearer {saved['access_token']}"
    assert saved["refresh_token"] == sandbox.oauth.refresh_token
    assert saved["api_base_url"] == sandbox.url
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600


def test_a_new_configured_refresh_token_wins_over_the_file_of_the_old_chain(sandbox, tmp_path):
    credentials_file = tmp_path / "gong-oauth.json"
    assert get_calls(authenticator(sandbox, credentials_file)).status_code == 200
    sandbox.advance_clock(PAST_ACCESS_TOKEN_LIFETIME)
    reauthorized = sandbox.oauth.reauthorize()  # the admin authorised the app again

    response = get_calls(authenticator(sandbox, credentials_file, refresh_token=reauthorized))

    assert response.status_code == 200, response.text
    assert stored(credentials_file)["refresh_token"] == sandbox.oauth.refresh_token


def test_a_reused_refresh_token_fails_with_one_line_saying_to_reauthorise(sandbox):
    assert get_calls(authenticator(sandbox)).status_code == 200

    with pytest.raises(GongOAuthError) as raised:
        get_calls(authenticator(sandbox))  # the same, now spent, configured token

    message = str(raised.value)
    assert "\n" not in message
    assert "re-authorise the app in Gong" in message
    assert "refresh_token" in message
    assert "oauth_credentials_file" in message


def test_a_rotation_without_a_credentials_file_warns_naming_the_setting(sandbox, caplog):
    with caplog.at_level(logging.WARNING, logger="tap_gong.oauth"):
        assert get_calls(authenticator(sandbox)).status_code == 200

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "oauth_credentials_file is not set" in warnings[0]


def test_concurrent_runs_sharing_the_file_refresh_only_once(
    sandbox: GongSandbox, tmp_path: Path
) -> None:
    credentials_file = tmp_path / "gong-oauth.json"
    runs = [authenticator(sandbox, credentials_file) for _ in range(6)]
    start = threading.Barrier(len(runs))
    statuses: list[int] = []

    def run(auth: GongOAuthAuthenticator) -> None:
        start.wait()
        statuses.append(get_calls(auth).status_code)

    threads = [threading.Thread(target=run, args=(auth,)) for auth in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert statuses == [200] * len(runs)
    assert sandbox.oauth.refreshes == 1


def test_no_token_appears_in_any_log_line_or_error_even_at_debug(
    sandbox: GongSandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    credentials_file = tmp_path / "gong-oauth.json"
    errors: list[str] = []
    with caplog.at_level(logging.DEBUG):
        assert get_calls(authenticator(sandbox)).status_code == 200  # rotation warning
        with pytest.raises(GongOAuthError) as spent:
            get_calls(authenticator(sandbox, credentials_file))
        errors.append(str(spent.value))
        sandbox.oauth.reauthorize()
        auth = authenticator(sandbox, credentials_file, refresh_token=sandbox.oauth.refresh_token)
        assert get_calls(auth).status_code == 200
        sandbox.advance_clock(PAST_ACCESS_TOKEN_LIFETIME)
        assert get_calls(auth).status_code == 200  # renewal after a 401

    logged = "\n".join([*(r.getMessage() for r in caplog.records), *errors])
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert [token for token in sandbox.oauth.issued_tokens if token in logged] == []
