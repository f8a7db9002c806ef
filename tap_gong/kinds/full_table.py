"""A Gong list read whole on every run (users, workspaces, settings)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_gong import sdk_seams
from tap_gong.fetching import StreamWindows, Window
from tap_gong.kinds.base import GongStream
from tap_gong.progress import StreamProgress

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

# The whole list as the run's workers fetch it: one window, Gong's filter empty.
WHOLE_LIST: Window = {}


class FullTableStream(GongStream):
    """A Gong list read whole on every run (users, workspaces, settings): no bookmark.

    With several requests in flight, a worker fetches it, ahead of its turn while the
    streams synced before it end (tap_gong/fetching.py): one request that would
    otherwise hold the main thread for an answer's latency, the allowance unused.
    """

    page_children_fail_alone = True

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        progress = StreamProgress(self.name, self.logger, self.tally, self.requests_of_stream)
        # Stopped early, nothing to resume: the next run reads the whole list again.
        with self.recording_how_it_ends():
            for record in self.records_read(context):
                self.tally.records += 1
                yield record
        progress.finish()

    def records_read(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The SDK's records of the list, from what the run's workers fetched if they do."""
        if (windows := self.windows_to_fetch()) is None:
            yield from super().get_records(context)
            return
        for fetched in self.run.fetcher.in_order(
            windows, lambda _: iter(()), self.streams_fetched_next
        ):
            self.fetched_window = fetched
            try:
                yield from super().get_records(fetched.window)
            finally:
                self.fetched_window = None

    @override
    def windows_to_fetch(self) -> StreamWindows | None:
        # Not with a request budget: the pacer's refusal of its request stops it, in turn.
        settings = self.settings
        if settings.max_concurrent_requests == 1 or settings.max_requests_per_run is not None:
            return None
        # Built here, not raced for by workers: the authenticator (as a windowed stream's).
        sdk_seams.prepare_request(self, WHOLE_LIST, self.get_new_paginator())
        return StreamWindows(self.name, iter([dict(WHOLE_LIST)]), self.fetch_pages())
