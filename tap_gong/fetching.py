"""Several windows fetched at once, read back one window at a time, oldest first.

Gong answers in about a second while it allows 3 requests per second, so one request
at a time uses a third of the allowance. Workers only fetch: each takes one window and
requests its pages in order (Gong's cursor), putting the validated answers into that
window's queue. The main thread reads the windows in order and does everything else
(parsing, child streams, records, STATE), so a bookmark never passes a window whose
records are not all out. Answers fetched ahead hold at most BYTES_AHEAD.
"""

from __future__ import annotations

import collections
import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator

import requests

from tap_gong.errors import PlannedStop
from tap_gong.pacing import RequestPacer

Window = dict[str, str]
# Bytes of answers fetched ahead of the main thread, all windows together. The main
# thread reads the oldest window at one page per answer's latency while the others fetch
# theirs: a window of many pages needs room for them, or its worker idles. About 160
# pages of calls, a few of call details; the window being read is never held back.
BYTES_AHEAD = 16 * 1024 * 1024
# How often a blocked worker looks whether its windows are still wanted.
CANCEL_POLL_SECONDS = 0.2


class _WindowEnd:
    """Put after a window's last answer."""


WINDOW_END = _WindowEnd()


class AnswerBuffer:
    """The bytes fetched but not yet read, and which window the main thread reads."""

    def __init__(self, cancelled: threading.Event) -> None:
        self.cancelled = cancelled
        self._condition = threading.Condition()
        self._bytes = 0
        self._reading_rank = 1

    def reading(self, rank: int) -> None:
        with self._condition:
            self._reading_rank = rank
            self._condition.notify_all()

    def take(self, rank: int, size: int) -> bool:
        """Wait for room for `size` bytes (none needed by the window being read)."""
        with self._condition:
            while self._bytes + size > BYTES_AHEAD and rank != self._reading_rank:
                if self.cancelled.is_set():
                    return False
                self._condition.wait(CANCEL_POLL_SECONDS)
            self._bytes += size
            return not self.cancelled.is_set()

    def give_back(self, size: int) -> None:
        with self._condition:
            self._bytes -= size
            self._condition.notify_all()


class FetchedWindow:
    """One window's answers, in page order, as its worker fetches them."""

    def __init__(self, window: Window, rank: int, buffer: AnswerBuffer) -> None:
        self.window = window
        self.rank = rank
        self._buffer = buffer
        self._answers: queue.SimpleQueue[requests.Response | BaseException | _WindowEnd] = (
            queue.SimpleQueue()
        )

    def put(self, item: requests.Response | BaseException | _WindowEnd) -> bool:
        """Hand on an answer (or the window's end or fault); False once nobody reads any more."""
        size = len(item.content) if isinstance(item, requests.Response) else 0
        if not self._buffer.take(self.rank, size):
            return False
        self._answers.put(item)
        return True

    def answers(self) -> Iterator[requests.Response]:
        """The window's answers in page order.

        Raises:
            BaseException: what stopped the window's worker, once its earlier pages are read.
        """
        while not isinstance(item := self._answers.get(), _WindowEnd):
            if isinstance(item, BaseException):
                raise item
            self._buffer.give_back(len(item.content))
            yield item


class WindowFetcher:
    """Up to `workers` windows fetched at once, handed back one at a time, oldest first."""

    def __init__(
        self,
        fetch_answers: Callable[[Window], Iterable[requests.Response]],
        pacer: RequestPacer,
        workers: int,
    ) -> None:
        self._fetch_answers = fetch_answers
        self._pacer = pacer
        self._workers = workers
        self._jobs: queue.Queue[FetchedWindow | None] = queue.Queue()
        self._cancelled = threading.Event()
        self._buffer = AnswerBuffer(self._cancelled)
        # Set once a worker fails: no later window is started.
        self._window_failed = threading.Event()

    def in_order(
        self, windows: Iterator[Window], more_windows: Callable[[Window], Iterator[Window]]
    ) -> Iterator[FetchedWindow]:
        """Each window fetched ahead, yielded in order; the next once the last one is read.

        When `windows` runs out, `more_windows(last window)` is asked once every window
        yielded so far is read: what is left may depend on what they answered.
        """
        threads = [
            threading.Thread(target=self._work, name=f"gong-fetch-{n}", daemon=True)
            for n in range(self._workers)
        ]
        for thread in threads:
            thread.start()
        try:
            yield from self._started_in_order(windows, more_windows)
        finally:
            # Workers still waiting for a turn take no new window; daemon threads never
            # hold up the process.
            self._cancelled.set()
            for _ in threads:
                self._jobs.put(None)

    def _started_in_order(
        self, windows: Iterator[Window], more_windows: Callable[[Window], Iterator[Window]]
    ) -> Iterator[FetchedWindow]:
        started: collections.deque[FetchedWindow] = collections.deque()
        rank = 0
        last: Window | None = None
        while True:
            while len(started) < self._workers and not self._window_failed.is_set():
                window = next(windows, None)
                if window is None:
                    break
                rank += 1
                fetched = FetchedWindow(window, rank, self._buffer)
                started.append(fetched)
                self._jobs.put(fetched)
            if not started:
                if last is None or self._window_failed.is_set():
                    return
                more = more_windows(last)
                if (window := next(more, None)) is None:
                    return
                windows = itertools.chain([window], more)
                continue
            fetched = started.popleft()
            last = fetched.window
            self._buffer.reading(fetched.rank)
            yield fetched

    def _work(self) -> None:
        while (fetched := self._jobs.get()) is not None:
            if self._cancelled.is_set():
                continue
            self._pacer.rank_this_thread(fetched.rank)
            try:
                for answer in self._fetch_answers(fetched.window):
                    if not fetched.put(answer):
                        break
                else:
                    fetched.put(WINDOW_END)
            except BaseException as fault:  # handed to the main thread, raised there
                self._window_failed.set()
                if not isinstance(fault, PlannedStop):
                    self._pacer.stop(fault)
                fetched.put(fault)
