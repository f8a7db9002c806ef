"""Gong's rate limit, kept on our side: one pacer for every request of a run."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from tap_gong.errors import RequestBudgetSpent

# Request starts are spaced by slightly more than a second per `rate` requests, so
# that jitter between our clock and the moment Gong counts a request never puts
# rate + 1 requests into one of Gong's rolling seconds. A start counts from when the
# request was written (`written`), so the margin is for the network's jitter only.
PACING_WINDOW_SECONDS = 1.02
# The rank of a thread that never said otherwise (the main thread): it goes first, as it
# reads the oldest window, the one whose bookmark is committed next.
FIRST_RANK = 0


class RequestPacer:
    """At most `rate` request starts in any rolling second, and at most `budget` per run.

    Shared by all streams and threads of a run and called inside the retry loop, so
    retries are paced too. A retry wait (`hold`) holds back every request of the run:
    Gong's `Retry-After` is about the company's allowance, not one request. Waiting
    requests are granted the main thread's first, then lowest rank first
    (`rank_this_thread`: the oldest window) or, in a stream's last windows, the window
    with the fewest requests so far first, before later ones (`even_progress`); a page
    child's request (a leaf) goes after every window's pages, unless its window is the
    one read (`rank_this_thread`); nobody sleeps while holding the lock.
    """

    def __init__(
        self,
        rate: int,
        budget: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        kept_for_the_window_read: int = 0,
    ) -> None:
        self.rate = rate
        self.budget = budget
        #: The budget's last requests go only to the window read now (and the main thread):
        #: spread over windows fetched ahead, they would leave none finished.
        self.kept_for_the_window_read = kept_for_the_window_read
        self._reading_rank = FIRST_RANK
        self.requests_started = 0
        self._clock = clock
        self._sleep = sleep
        # Each granted request's start, by grant number, while it can still hold one back.
        self._recent_starts: dict[int, float] = {}
        self._not_before = 0.0
        self._condition = threading.Condition()
        # Tickets (precedence, arrival, rank, the window's requests so far, whether a
        # leaf): a heap.
        self._waiting: list[tuple[tuple[int, int, int], int, int, int, bool]] = []
        self._even_up_to: int | None = None
        self._arrivals = itertools.count()
        self._stop_reason: BaseException | None = None
        self._thread = threading.local()

    def rank_this_thread(self, rank: int, *, leaf: bool = False) -> None:
        """Requests of this thread wait behind those of lower rank (a worker: its window).

        A `leaf` (a page child's request, that no later request of its window waits for)
        waits behind every window's pages, unless its window is the one read now: a
        window's pages are a chain, whose next request can only start once one is answered.
        """
        self._thread.rank = rank
        self._thread.window_requests = 0
        self._thread.leaf = leaf

    def even_progress(self, up_to_rank: int | None) -> None:
        """Serve windows up to `up_to_rank` fewest requests first, then later ones by rank.

        Oldest first (None) feeds the window read next. Once a stream has no window left
        to start (its last is `up_to_rank`), it would leave the youngest windows, started
        last, to page alone at the end, one answer's latency per page: even progress has
        them end together, and windows of the next stream take what they leave.
        """
        with self._condition:
            if up_to_rank != self._even_up_to:
                self._even_up_to = up_to_rank
                self._reorder()

    def _reorder(self) -> None:
        """With the lock held: requests already waiting take their place in the new order."""
        self._waiting = [
            (self._precedence(rank, done, leaf), arrival, rank, done, leaf)
            for _, arrival, rank, done, leaf in self._waiting
        ]
        heapq.heapify(self._waiting)
        self._condition.notify_all()

    def reading(self, rank: int) -> None:
        """The main thread reads the window of `rank` now."""
        with self._condition:
            self._reading_rank = rank
            self._reorder()

    def hold(self, seconds: float) -> None:
        """No request of the run starts in the next `seconds`."""
        with self._condition:
            self._not_before = max(self._not_before, self._clock() + seconds)
            self._condition.notify_all()

    def stop(self, reason: BaseException) -> None:
        """No request of the run starts any more: waiting ones raise `reason` instead.

        After Gong's quota 429 or a fatal error, a queued request would only spend Gong's
        allowance on windows that can no longer be committed.
        """
        with self._condition:
            if self._stop_reason is None:
                self._stop_reason = reason
            self._condition.notify_all()

    def wait_out_hold(self) -> None:
        """Block until the latest `hold` has passed, without taking a turn.

        Raises:
            BaseException: the reason given to `stop`, once the run is stopped.
        """
        while True:
            with self._condition:
                if self._stop_reason is not None:
                    raise self._stop_reason
                wait = self._not_before - self._clock()
            if wait <= 0:
                return
            self._sleep(wait)

    def seconds_held(self) -> float:
        """How long requests are still held back by the latest `hold`."""
        return max(0.0, self._not_before - self._clock())

    def wait_turn(self) -> None:
        """Block until a request may start, then count it.

        Raises:
            RequestBudgetSpent: when the run has used its request budget.
            BaseException: the reason given to `stop`, once the run is stopped.
        """
        rank = getattr(self._thread, "rank", FIRST_RANK)
        done = getattr(self._thread, "window_requests", 0)
        leaf = getattr(self._thread, "leaf", False)
        with self._condition:
            arrival = next(self._arrivals)
            ticket = (self._precedence(rank, done, leaf), arrival, rank, done, leaf)
            heapq.heappush(self._waiting, ticket)
            try:
                self._wait_for_grant(arrival, rank)
                self._thread.window_requests = done + 1
            finally:
                self._waiting = [ticket for ticket in self._waiting if ticket[1] != arrival]
                heapq.heapify(self._waiting)
                self._condition.notify_all()

    def _wait_for_grant(self, arrival: int, rank: int) -> None:
        """With the lock held: wait until this request is first in line and its start is due."""
        while True:
            if self._stop_reason is not None:
                raise self._stop_reason
            if self.budget is not None and self.requests_started >= self.budget:
                raise RequestBudgetSpent(self.budget)
            if self._first_in_line() != arrival:
                self._condition.wait()
                continue
            wait = self._seconds_to_next_start()
            if wait <= 0:
                # Counted at grant time, under the lock: the budget stays exact.
                now = self._clock()
                self.requests_started += 1
                self._recent_starts[self.requests_started] = now
                self._thread.granted = self.requests_started
                self._forget_starts_before(now - 2 * PACING_WINDOW_SECONDS)
                return
            # Sleep outside the lock; a hold, a stop or a lower rank may have come meanwhile.
            self._condition.release()
            try:
                self._sleep(wait)
            finally:
                self._condition.acquire()

    def written(self) -> None:
        """This thread's last granted request is written now: its start counts from now.

        Between the grant and the write, the thread may wait for the interpreter's lock
        (another thread parsing a page): counted from the grant, a late write would put
        its arrival closer than a second to the requests granted after it.
        """
        granted = getattr(self._thread, "granted", None)
        with self._condition:
            if granted is None:
                return
            if granted in self._recent_starts:
                self._recent_starts[granted] = max(self._recent_starts[granted], self._clock())
            self._thread.granted = None

    def _forget_starts_before(self, instant: float) -> None:
        for granted, start in list(self._recent_starts.items()):
            if start < instant:
                del self._recent_starts[granted]

    def _first_in_line(self) -> int | None:
        """The arrival of the waiting request granted next: the first that may go.

        A request held back for the budget's last requests steps aside, it does not
        block the line: behind it may wait the very window those requests are kept for.
        """
        for _, arrival, rank, *_ in sorted(self._waiting):
            if not self._kept_for_the_window_read(rank):
                return arrival
        return None

    def _precedence(self, rank: int, done: int, leaf: bool) -> tuple[int, int, int]:
        if rank == FIRST_RANK:
            return (0, 0, 0)  # the main thread: it reads the window committed next
        if leaf and rank > self._reading_rank:
            return (3, rank, 0)  # after every window's pages: nothing waits for it yet
        if self._even_up_to is not None and rank <= self._even_up_to:
            return (1, done, rank)
        return (2, rank, 0)

    def _kept_for_the_window_read(self, rank: int) -> bool:
        """Whether a request of `rank` waits: what is left of the budget is kept."""
        if self.budget is None or rank <= self._reading_rank:
            return False
        return self.budget - self.requests_started <= self.kept_for_the_window_read

    def _seconds_to_next_start(self) -> float:
        wait = self._not_before - self._clock()
        starts = sorted(self._recent_starts.values())
        if len(starts) >= self.rate:
            # By start, not by grant: a late write may have moved a start past later ones.
            wait = max(wait, starts[-self.rate] + PACING_WINDOW_SECONDS - self._clock())
        return wait
