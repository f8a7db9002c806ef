"""Bookmarks committed per finished window, on top of the SDK's state handling.

Gong does not sort records inside a range, so a stream's bookmark is only known to be
safe once a whole window is extracted. The SDK promotes an unsorted stream's bookmark
only when the stream ends; these helpers commit it window by window instead. They rely
on three behaviours of singer-sdk 0.54 (helpers/_state.py and streams/core.py), each
checked by tests/test_state.py:
- an unsorted stream keeps the max-so-far of its replication key under
  `progress_markers` and promotes it to `replication_key_value` when it finalizes;
- the SDK's state writer (`sdk_seams.write_state_message`) writes the tap's whole state
  as one STATE message, and only when `state_manager.is_flushed` is False;
- a `progress_markers` entry with a `Note` tells the SDK the stream is resumable.
"""

from __future__ import annotations

from typing import Any

from singer_sdk.streams import Stream

from tap_gong import sdk_seams

# Where a stream's state keeps its bookmark (the SDK's name).
BOOKMARK = "replication_key_value"
WINDOW_PROGRESS_NOTE = "Records of the window in progress; the bookmark is its last finished one."


def mark_windows_resumable(stream: Stream) -> None:
    """Say in the state that progress is kept window by window (silences the SDK's warning)."""
    stream.stream_state.setdefault("progress_markers", {"Note": WINDOW_PROGRESS_NOTE})


def forget_unfinished_window(stream: Stream) -> None:
    """Drop the SDK's max-so-far of the window in progress: it must never be promoted."""
    markers = stream.stream_state.get("progress_markers", {})
    markers.pop("replication_key", None)
    markers.pop(BOOKMARK, None)


def record_bookmark(stream: Stream, value: str) -> None:
    """Record that everything up to `value` is extracted (STATE is the caller's to emit)."""
    state = stream.stream_state
    forget_unfinished_window(stream)
    state["replication_key"] = stream.replication_key
    state[BOOKMARK] = value


def emit_state(stream: Stream) -> None:
    """Write the tap's state now (the SDK would wait for the end of the stream)."""
    stream.state_manager.is_flushed = False
    sdk_seams.write_state_message(stream)  # the SDK's own writer, see the module doc


def saved_bookmark_value(stream: Stream) -> Any:
    """The bookmark the previous run committed, as written (None on a first run)."""
    return stream.stream_state.get(BOOKMARK)
