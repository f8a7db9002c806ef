"""The private singer-sdk names the tap relies on (tap_gong/sdk_seams.py) still behave so.

Each test pins one seam: an SDK upgrade that changes it fails here, by name.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import singer_sdk
from singer_sdk import Tap
from singer_sdk.streams import RESTStream

import tap_gong
from gong_sandbox import GongSandbox
from tap_gong import sdk_seams
from tap_gong.answers import request_body
from tap_gong.kinds.base import GongStream
from tap_gong.kinds.page_child import PageChildStream
from tap_gong.pagination import GongCursorPaginator
from tap_gong.tap import TapGong
from tests.support import tap_config, tap_in_process

CONFIG = {
    "api_url": "https://us-1.api.gong.io",
    "access_key": "k",
    "access_key_secret": "s",
    "start_date": "2024-01-01",
}


@pytest.fixture
def tap() -> TapGong:
    return TapGong(config=CONFIG, parse_env_config=False)


@contextlib.contextmanager
def messages_written() -> Iterator[list[dict]]:
    """The Singer messages written inside the block, decoded (once it ends)."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")
    messages: list[dict] = []
    with contextlib.redirect_stdout(out):
        yield messages
        out.flush()
    messages.extend(json.loads(line) for line in raw.getvalue().splitlines() if line.strip())


def gong_stream(tap: TapGong, name: str) -> GongStream:
    stream = tap.streams[name]
    assert isinstance(stream, GongStream)
    return stream


def test_prepare_request_builds_the_url_query_body_and_headers_from_the_public_hooks(
    tap: TapGong,
) -> None:
    users, call_details = gong_stream(tap, "users"), gong_stream(tap, "call_details")
    window = {"fromDateTime": "2024-01-01T00:00:00Z", "toDateTime": "2024-01-02T00:00:00Z"}

    get = sdk_seams.prepare_request(users, None, GongCursorPaginator())
    post = sdk_seams.prepare_request(call_details, window, GongCursorPaginator())

    assert (get.method, get.url) == ("GET", "https://us-1.api.gong.io/v2/users")
    assert get.headers["Accept"] == "application/json"
    assert post.method == "POST"
    assert post.url == "https://us-1.api.gong.io/v2/calls/extensive"
    assert json.loads(request_body(post)) == call_details.prepare_request_payload(window, None)


def test_the_request_sender_authenticates_sends_logs_the_metric_then_validates(
    sandbox: GongSandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tap = tap_in_process(tap_config(sandbox, log_metrics=True))
    users = gong_stream(tap, "users")
    validated: list[requests.Response] = []
    monkeypatch.setattr(users, "validate_response", validated.append)
    prepared = sdk_seams.prepare_request(users, None, GongCursorPaginator())

    with caplog.at_level(logging.INFO):
        answer = sdk_seams.request_sender(users)(prepared, None)

    assert answer.status_code == 200  # the sandbox refuses a request without credentials
    assert str(answer.request.headers["Authorization"]).startswith("Basic ")
    assert validated == [answer]
    metrics = [r.getMessage() for r in caplog.records if "http_request_duration" in r.getMessage()]
    assert len(metrics) == 1
    assert '"stream":"users"' in metrics[0].replace(" ", "")


def test_write_state_message_writes_the_whole_state_once_until_it_changes(tap: TapGong) -> None:
    calls = gong_stream(tap, "calls")
    calls.stream_state["replication_key_value"] = "2024-01-02T00:00:00Z"
    calls.state_manager.is_flushed = False

    with messages_written() as first:
        sdk_seams.write_state_message(calls)
    with messages_written() as again:
        sdk_seams.write_state_message(calls)

    assert [m["type"] for m in first] == ["STATE"]
    assert first[0]["value"] == tap.state
    assert again == []


def test_write_schema_message_writes_the_streams_schema_and_keys(tap: TapGong) -> None:
    participants = gong_stream(tap, "call_participants")

    with messages_written() as written:
        sdk_seams.write_schema_message(participants)

    assert [(m["type"], m["stream"]) for m in written] == [("SCHEMA", "call_participants")]
    assert written[0]["schema"]["properties"] == participants.schema["properties"]
    assert written[0]["key_properties"] == list(participants.primary_keys or ())


def test_activate_version_is_written_for_an_incremental_stream(tap: TapGong) -> None:
    calls = gong_stream(tap, "calls")

    with messages_written() as written:
        sdk_seams.write_activate_version_message(calls, 1700000000000)

    assert written == [{"type": "ACTIVATE_VERSION", "stream": "calls", "version": 1700000000000}]


def test_a_record_version_goes_on_every_record_the_stream_writes(tap: TapGong) -> None:
    calls = gong_stream(tap, "calls")

    sdk_seams.set_record_version(calls, 1700000000000)
    record = {"id": "1", "started": "2024-01-01T00:00:00Z"}
    messages = list(calls._generate_record_messages(record))

    assert [m.version for m in messages] == [1700000000000]


def test_write_record_message_writes_one_record_with_its_version(tap: TapGong) -> None:
    calls = gong_stream(tap, "calls")
    sdk_seams.set_record_version(calls, 1700000000000)
    record = {"id": "1", "started": "2024-01-01T00:00:00Z"}

    with messages_written() as written:
        sdk_seams.write_record_message(calls, record)

    assert [(m["type"], m["stream"], m["record"], m["version"]) for m in written] == [
        ("RECORD", "calls", record, 1700000000000)
    ]


def tap_overrides(name: str) -> list[type]:
    """The tap's classes that define `name` themselves."""
    return [cls for cls in (GongStream, PageChildStream, TapGong) if name in vars(cls)]


@pytest.mark.parametrize(
    ("sdk_class", "name"), list(sdk_seams.OVERRIDDEN), ids=[n for _, n in sdk_seams.OVERRIDDEN]
)
def test_each_private_method_the_tap_overrides_is_still_the_sdks_with_the_same_signature(
    sdk_class: type, name: str
) -> None:
    assert hasattr(sdk_class, name), f"singer-sdk's {sdk_class.__name__} no longer has {name}"
    (ours,) = tap_overrides(name)
    sdk_method = getattr(sdk_class, name)
    assert list(inspect.signature(getattr(ours, name)).parameters) == list(
        inspect.signature(sdk_method).parameters
    )


def test_the_sdk_still_calls_the_overridden_hooks_where_the_tap_relies_on_it() -> None:
    # _request writes the metric through _write_request_duration_log; sync_all ends with
    # every stream's log_sync_costs (the summary follows it).
    assert "self._write_request_duration_log(" in inspect.getsource(RESTStream._request)
    assert "stream.log_sync_costs()" in inspect.getsource(Tap.sync_all).splitlines()[-1]


def test_the_sdk_installs_the_taps_termination_handler_for_sigterm_and_sigint() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        tap = TapGong(config=CONFIG, parse_env_config=False)
        for sig in before:
            assert signal.getsignal(sig) == tap._handle_termination
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def sdk_private_names() -> set[str]:
    """Every private name singer-sdk defines on its classes or sets on its objects."""
    root = Path(singer_sdk.__file__).parent
    names = {name for cls in (Tap, RESTStream) for name in dir(cls) if re.match("_[a-z]", name)}
    for path in root.rglob("*.py"):
        names.update(re.findall(r"self\.(_[a-z]\w*)", path.read_text(encoding="utf-8")))
    return names


def test_no_module_but_sdk_seams_touches_a_private_sdk_name() -> None:
    # Overrides (`def _name`, with their `super()._name` call) are listed in OVERRIDDEN, and
    # reach the SDK's only through `super()`; a name a module defines itself
    # (`self._lock = ...`) is its own.
    sdk_names = sdk_private_names()
    overridden = {name for _, name in sdk_seams.OVERRIDDEN}
    package = Path(tap_gong.__file__).parent
    found = []
    for path in [*package.glob("*.py"), *package.glob("kinds/*.py")]:
        if path.name == "sdk_seams.py":
            continue
        code = path.read_text(encoding="utf-8")
        own = set(re.findall(r"(?:def |self\.)(_[a-z]\w*)\s*(?:\(|=|:)", code))
        for match in re.finditer(r"\.(_[a-z]\w*)\b", code):
            name = match.group(1)
            if name in overridden:
                if not code[: match.start()].endswith("super()"):
                    found.append(f"{path.name}: {name} (not through super())")
            elif name in sdk_names and name not in own:
                found.append(f"{path.name}: {name}")
    assert found == []
