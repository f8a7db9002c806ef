"""A Gong list read whole on every run (users, workspaces, settings)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_gong.kinds.base import GongStream
from tap_gong.progress import StreamProgress

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class FullTableStream(GongStream):
    """A Gong list read whole on every run (users, workspaces, settings): no bookmark."""

    page_children_fail_alone = True

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        progress = StreamProgress(self.name, self.logger, self.tally, self.requests_of_stream)
        # Stopped early, nothing to resume: the next run reads the whole list again.
        with self.recording_how_it_ends():
            for record in super().get_records(context):
                self.tally.records += 1
                yield record
        progress.finish()
