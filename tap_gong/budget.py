"""How `max_requests_per_run` is shared between the streams of a run.

The streams run one after the other. Without shares the first would take the whole
budget on every run (a backfill of empty old windows), and the streams after it would
never move. So each stream, when its turn comes, may start windows while it has used
less than an equal share of what is left: what is left divided by the streams still to
run, itself included, rounded up. A window it started is finished (within the run's
budget: the pacer keeps the last requests for the window being read), so a share too
small for a whole window still finishes one. What a stream leaves unused goes to the
streams after it. A list read whole (users, settings) is not cut by its share: a part of
it would be read again next run.

An equal share may still never be enough: the last stream may find nothing left, or a
share may go entirely to the lookback's re-read. So a stream the budget stopped before
it moved (its state, where it goes on from, is as the run found it) runs first in the
next run, with its share doubled for each run in a row it was so stalled (kept in its
state as STALLED_BY_BUDGET). A stalled stream that re-read days before its bookmark
re-reads none while the budget cuts it (REREADS_SKIPPED); one that did not has its
windows halved (WINDOWS_HALVED); one whose windows cannot be halved, stalled with the
whole budget, can never move: it fails, saying what to raise. A stream the budget
stopped after it moved runs last in the next run (CUT_BY_BUDGET), where it takes
whatever the others leave: a long backfill or re-read beside cheap incremental streams
then gets most of the budget.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from tap_gong.errors import RequestBudgetSpent
from tap_gong.pacing import RequestPacer

# The stream's state key: runs in a row the budget stopped it before any progress.
STALLED_BY_BUDGET = "stalled_by_budget"
# The stream's state key: the budget stopped it after some progress (it runs last).
CUT_BY_BUDGET = "cut_by_budget"
# At most this many doublings: a share never needs to outgrow the budget.
MOST_DOUBLINGS = 10
# The stream's state key: how many times its windows are halved. Gong does not sort calls
# in a range, so a bookmark only passes whole windows: a window of more pages than the
# budget allows would stop every run before its end, forever. Each run the budget stops
# before a window is finished halves them once more, until one fits; they stay so while
# the budget cuts the stream, and are whole again once a run finishes it.
WINDOWS_HALVED = "windows_halved_by_budget"
# The stream's state key: it re-reads nothing before its bookmark (the lookback, late data)
# while the budget cuts it. A run that spends its share on the re-read moves nothing, and
# the next would re-read the same days, forever; the re-reads are back once a run
# finishes the stream.
REREADS_SKIPPED = "rereads_skipped_by_budget"
# What the budget keeps in a stream's state, and the SDK's record of the window in
# progress: neither is where the stream goes on from.
NOT_POSITION_KEYS = frozenset(
    {STALLED_BY_BUDGET, CUT_BY_BUDGET, WINDOWS_HALVED, REREADS_SKIPPED, "progress_markers"}
)


def runs_stalled_by_budget(stream_state: Mapping[str, Any]) -> int:
    runs = stream_state.get(STALLED_BY_BUDGET, 0)
    return runs if isinstance(runs, int) else 0


def windows_halved(stream_state: Mapping[str, Any]) -> int:
    """How many times the stream's windows are halved to fit its share (`WINDOWS_HALVED`)."""
    times = stream_state.get(WINDOWS_HALVED, 0)
    return times if isinstance(times, int) and times > 0 else 0


def rereads_skipped(stream_state: Mapping[str, Any]) -> bool:
    """Whether the stream re-reads nothing before its bookmark this run (`REREADS_SKIPPED`)."""
    return stream_state.get(REREADS_SKIPPED) is True


def position(stream_state: Mapping[str, Any]) -> str:
    """Where the stream goes on from (its bookmark, the resume points of its re-reads,
    a probe's), as one comparable value: what moves when the stream progresses."""
    kept = {k: v for k, v in stream_state.items() if k not in NOT_POSITION_KEYS}
    return json.dumps(kept, sort_keys=True, default=str)


def streams_in_budget_order(
    streams: Mapping[str, Any], bookmarks: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The stream names: those the budget stalled (most runs in a row first), the others,
    then those it cut after some progress; each group in the SDK's order."""
    order = list(streams)

    def budget_turn(name: str) -> tuple[int, bool, int, bool]:
        # A stream read from another's pages (`synced_after`) keeps its place after it.
        turn_of = getattr(streams[name], "synced_after", None) or name
        state = bookmarks.get(turn_of, {})
        return (
            -runs_stalled_by_budget(state),
            bool(state.get(CUT_BY_BUDGET)),
            order.index(turn_of),
            turn_of != name,
        )

    return sorted(order, key=budget_turn)


class RequestShare:
    """One stream's share of the run's request budget (its page children's requests count)."""

    def __init__(
        self,
        pacer: RequestPacer,
        requests_used: Callable[[], int],
        streams_left: Callable[[], int],
        stream_state: Callable[[], dict[str, Any]],
        *,
        rereads: Callable[[], bool] = lambda: False,
        halves_windows: bool = False,
    ) -> None:
        self._pacer = pacer
        #: Whether this run re-reads before the stream's bookmark (`REREADS_SKIPPED`).
        self._rereads = rereads
        #: Whether a stall halves the stream's windows (`WINDOWS_HALVED`): windows of
        #: instants, which can be cut shorter (a company day cannot).
        self._halves_windows = halves_windows
        self._requests_used = requests_used
        self._streams_left = streams_left
        self._stream_state = stream_state
        self.limit: int | None = None
        self._used_before = 0
        self._windows_in_flight = 0
        self._stopped = False
        self._position_at_start = ""

    def begin(self) -> None:
        """The stream's turn: its share of what the streams before it left."""
        budget = self._pacer.budget
        if budget is None:
            return
        left = max(budget - self._pacer.requests_started, 0)
        doublings = min(runs_stalled_by_budget(self._stream_state()), MOST_DOUBLINGS)
        self.limit = min(left, math.ceil(left / max(self._streams_left(), 1)) * 2**doublings)
        self._used_before = self._requests_used()
        self._position_at_start = position(self._stream_state())

    def end(self, stopped_by_budget: bool) -> bool:
        """Remember in the stream's state how the budget ended it (for the next run).

        Returns:
            Whether the budget can never move the stream: stalled with the whole budget,
            nothing left to cut (no re-read to skip, windows that cannot be halved).
        """
        state = self._stream_state()
        state.pop(CUT_BY_BUDGET, None)
        if not stopped_by_budget:
            for key in (STALLED_BY_BUDGET, WINDOWS_HALVED, REREADS_SKIPPED):
                state.pop(key, None)
            return False
        if position(state) != self._position_at_start:
            state.pop(STALLED_BY_BUDGET, None)
            state[CUT_BY_BUDGET] = True
            return False
        state[STALLED_BY_BUDGET] = runs_stalled_by_budget(state) + 1
        if self._rereads() and self._requests_used() > self._used_before:
            # Its share went to the re-read. One that got nothing (the streams before it
            # took the budget) keeps its re-reads: its doubled share comes first next run.
            state[REREADS_SKIPPED] = True
        elif self._halves_windows:
            state[WINDOWS_HALVED] = windows_halved(state) + 1
        else:
            return self.limit is not None and self.limit >= (self._pacer.budget or 0)
        return False

    def windows(self, windows: Iterable[dict[str, str]]) -> Iterator[dict[str, str]]:
        """`windows` while the share allows starting another (each costs at least a request)."""
        for window in windows:
            if self.limit is not None:
                spent = self._requests_used() - self._used_before + self._windows_in_flight
                if spent >= self.limit:
                    self._stopped = True
                    return
            self._windows_in_flight += 1
            yield window

    def window_finished(self) -> None:
        self._windows_in_flight = max(self._windows_in_flight - 1, 0)

    def check_not_stopped(self) -> None:
        """Raises RequestBudgetSpent when the share, not the end of the range, ended the stream."""
        if self._stopped and self._pacer.budget is not None:
            raise RequestBudgetSpent(self._pacer.budget)
