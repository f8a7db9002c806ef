"""Secrets never leave the tap: not in stdout, stderr, logs at DEBUG, errors or --about."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from gong_sandbox import GongSandbox
from tests.support import run_tap, sandbox_settings, tap_config

SECRET = "s3cr3t-Xq9-secret-value"
TOKEN = "t0k3n-Zz7-token-value"
WRONG_SECRET = "wr0ng-Pp4-secret-value"
DEBUG = {"TAP_GONG_LOGLEVEL": "DEBUG"}


def leaked(output: str) -> list[str]:
    forms = [SECRET, TOKEN, WRONG_SECRET]
    forms += [
        base64.b64encode(f"sandbox-key:{s}".encode()).decode() for s in (SECRET, WRONG_SECRET)
    ]
    return [form for form in forms if form in output]


@pytest.fixture
def sandbox_with_secrets():
    with GongSandbox(sandbox_settings(access_key_secret=SECRET, access_token=TOKEN)) as sandbox:
        yield sandbox


@pytest.mark.parametrize(
    "auth",
    [
        {"access_key_secret": SECRET},
        {"access_key": None, "access_key_secret": None, "access_token": TOKEN},
        {"access_key_secret": WRONG_SECRET},
    ],
    ids=["basic", "bearer", "rejected"],
)
def test_secrets_never_appear_in_any_output_even_at_debug(
    auth: dict, sandbox_with_secrets: GongSandbox, tmp_path: Path
) -> None:
    config = {k: v for k, v in {**tap_config(sandbox_with_secrets), **auth}.items() if v}
    sandbox_with_secrets.fail_next("500")  # error paths log responses and requests too

    run = run_tap(config, tmp_path, env=DEBUG)

    assert "DEBUG" in run.stderr  # the debug logging really was on
    assert leaked(run.stdout + run.stderr) == []


@pytest.mark.parametrize("about_args", [(), ("--format=json",), ("--format=markdown",)])
def test_about_output_never_shows_configured_secrets(
    about_args: tuple[str, ...], sandbox_with_secrets: GongSandbox, tmp_path: Path
) -> None:
    config = {**tap_config(sandbox_with_secrets), "access_key_secret": SECRET}

    run = run_tap(config, tmp_path, env=DEBUG, extra_args=("--about", *about_args))

    assert run.returncode == 0, run.stderr
    assert "access_key_secret" in run.stdout
    assert leaked(run.stdout + run.stderr) == []
