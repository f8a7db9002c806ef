"""Every private singer-sdk 0.54 name the tap touches, in one place.

The SDK offers no public hook for these. The tap calls them only through the functions
below, and overrides only the private methods `OVERRIDDEN` lists; tests/test_sdk_seams.py
pins each behaviour relied on, so that an SDK upgrade that changes one fails there, by
name, rather than somewhere in a sync. (tap_gong/state.py relies on the SDK's state
handling the same way, pinned by tests/test_state.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from singer_sdk import Tap
from singer_sdk.plugin_base import PluginBase
from singer_sdk.streams import RESTStream, Stream

if TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.pagination import BaseAPIPaginator

SendRequest = Callable[["requests.PreparedRequest", "Context | None"], "requests.Response"]


def prepare_request(
    stream: RESTStream, context: Context | None, paginator: BaseAPIPaginator
) -> requests.PreparedRequest:
    """The request for `context`'s page at `paginator`, as the SDK's page loop builds it.

    `_prepare_request` (streams/rest.py): the URL (`get_url`), the query
    (`get_url_params`), the JSON body (`prepare_request_payload`) and the headers; the
    authenticator is applied when it is sent.
    """
    return stream._prepare_request(context=context, page=paginator)


def request_sender(stream: RESTStream) -> SendRequest:
    """The SDK's send of one prepared request, for the tap's own page loop to decorate.

    `_request` (streams/rest.py): applies the authenticator, sends it on
    `requests_session` with `timeout`, writes the request's metric
    (`_write_request_duration_log`), then `validate_response`.
    """
    return stream._request


def write_state_message(stream: Stream) -> None:
    """Write the tap's whole state as one STATE message, unless it is flushed already.

    `_write_state_message` (streams/core.py); see tap_gong/state.py.
    """
    stream._write_state_message()


def write_schema_message(stream: Stream) -> None:
    """Write the stream's SCHEMA message (through its stream maps): `_write_schema_message`."""
    stream._write_schema_message()


def write_record_message(stream: Stream, record: dict) -> None:
    """Write one RECORD (through its stream maps, with its version): `_write_record_message`.

    For records of a stream that another stream's pages hold, written outside its own
    sync (tap_gong/shared_pages.py).
    """
    stream._write_record_message(record)


def write_activate_version_message(stream: Stream, version: int) -> None:
    """Write ACTIVATE_VERSION for `stream` (through its stream maps).

    `_write_activate_version_message` (streams/core.py): the SDK sends it only for
    FULL_TABLE streams, at the start of a sync.
    """
    stream._write_activate_version_message(version)


def set_record_version(stream: Stream, version: int) -> None:
    """Put `version` on every RECORD the stream writes from now on.

    The SDK writes `_stream_version` into each RECORD (streams/core.py
    `_generate_record_messages`) but sets it only for FULL_TABLE streams.
    """
    stream._stream_version = version


#: The SDK's private methods the tap overrides (SDK class, name), with why.
OVERRIDDEN: dict[tuple[type, str], str] = {
    (Stream, "_write_schema_message"): "SCHEMA once a run (a page child syncs once a page)",
    (Stream, "_increment_stream_state"): "a page child keeps no bookmark of its own",
    (RESTStream, "_write_request_duration_log"): "Gong's no-data 404 is tagged succeeded",
    (Tap, "_handle_termination"): "a stopped run writes its state and exits non-zero",
    (PluginBase, "_get_about_info"): "--about names the costly and the unselected streams",
    (Tap, "sync_all"): "public but final: the run summary closes it (TapGong.sync_all)",
}
