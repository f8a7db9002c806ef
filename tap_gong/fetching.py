"""Several windows fetched at once, read back one window at a time, oldest first.

Gong answers in about a second while it allows 3 requests per second, so one request
at a time uses a third of the allowance. Workers only fetch: each takes one window and
requests its pages in order (Gong's cursor), putting the validated answers into that
window's queue. The main thread reads the windows in order and does everything else
(parsing, child streams, records, STATE), so a bookmark never passes a window whose
records are not all out. Answers fetched and not yet read hold at most BYTES_AHEAD.

One fetcher serves the whole run. Once a stream has started all its windows, idle
workers start the first windows of the streams synced next (the next one's, then, once
all of its are started, the one after it: a list read whole is one window): the last
window's pages come one after the other, and would otherwise leave the allowance unused
at the end of every stream. Each stream reads them when its turn comes if they are
still the windows it plans (else they are dropped); a fault in them is its own, raised
when it reads them, unless it is about the whole run (the quota, the credentials). With
no next stream to feed, the pacer serves a stream's last windows evenly, so that they
end together.

Each request a page child makes for a page (call_transcripts: one per page of
call_details; user_settings_history: one per user) is a job of its own (`ChildJob`,
handed on with the page in its `FetchedPage`; a job's answers are pages too, with the
jobs of their own page children: library_folder_calls, one per folder), which any
idle worker takes once no window waits for a worker (a window is a chain of requests, the
job one or a few: the chain starts first): the window's worker goes straight on to its
next page, so a window's chain of requests is its pages only; at the pacer too, the job's
requests wait behind every window's pages unless the main thread reads its window (a
leaf, `RequestPacer.rank_this_thread`). The main thread, reading the page, waits for the
job; one no worker has taken yet it runs itself (as when it makes a request of its own),
so it never waits on workers all busy or held back by BYTES_AHEAD.
"""

from __future__ import annotations

import collections
import itertools
import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import requests

from tap_gong.errors import RUN_FAULTS
from tap_gong.pacing import RequestPacer

Window = dict[str, str]
#: A page child's answers for one page, by its request's context (`context_key`): the
#: answers of each request (with their own page children's jobs), or the fault that ended
#: it (raised when the child asks).
ChildAnswers = dict[str, "list[FetchedPage] | Exception"]


class ChildJob:
    """One of a page's page-child requests, a job of its own: run once, by a worker or the
    main thread, whichever takes it first (`claim`)."""

    def __init__(self, fetch: Callable[[], dict[str, ChildAnswers]]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._claimed = False
        self._done = threading.Event()
        self._got: dict[str, ChildAnswers] | BaseException = {}
        #: The window of the page, once a worker queued the job (its bytes count there).
        self.window: FetchedWindow | None = None
        #: Queues the jobs of its answers' own page children (a grandchild's requests)
        #: for the workers, once it is done: set with `window`.
        self.queue_jobs: Callable[[FetchedWindow, list[ChildJob]], None] | None = None
        #: The bytes of its answers, held in the window's buffer until read.
        self.size = 0

    def claim(self) -> bool:
        """Whether the caller is the one to run it (nobody took it before)."""
        with self._lock:
            taken, self._claimed = self._claimed, True
            return not taken

    def run(self) -> None:
        """Make the requests (once claimed); a fault is kept for the main thread."""
        try:
            if self.window is None or not self.window.cancelled.is_set():
                self._got = self._fetch()
        except BaseException as fault:  # raised on the main thread, where it reads them
            self._got = fault
        try:
            pages = self._pages()
            self.size = sum(page.size for page in pages)
            if self.window is not None:
                self.window.hold(self.size)
                if self.queue_jobs is not None:
                    self.queue_jobs(self.window, [job for page in pages for job in page.children])
        finally:
            self._done.set()  # whatever happened: the main thread waits for it

    def _pages(self) -> list[FetchedPage]:
        """The pages it fetched, every child's and request's (none if it failed)."""
        if not isinstance(self._got, dict):
            return []
        return [
            page
            for answers in self._got.values()
            for fetched in answers.values()
            if isinstance(fetched, list)
            for page in fetched
        ]

    def answers(self) -> dict[str, ChildAnswers]:
        """On the main thread: each page child's answers, by its name; run here if no
        worker took it yet, else once the worker that did is done.

        Raises:
            BaseException: what stopped the job (an exception of a request is kept in
                the answers instead, raised where the child asks for that request).
        """
        if self.claim():
            self.run()
        self._done.wait()
        if self.window is not None:
            self.window.release(self.size)
        if isinstance(self._got, BaseException):
            raise self._got
        return self._got


@dataclass
class FetchedPage:
    """One page of a window as a worker fetched it, with its page children's requests."""

    answer: requests.Response
    #: The page children's requests for this page, each a job of its own (idle workers
    #: make several at once: a request per user of a page of users).
    children: list[ChildJob] = field(default_factory=list)

    @property
    def size(self) -> int:
        """The bytes of its answer: what it holds of `BYTES_AHEAD` (its children's answers
        are counted once fetched, `ChildJob`)."""
        return len(self.answer.content)

    def children_answers(self) -> dict[str, ChildAnswers]:
        """On the main thread: each page child's answers for this page, by its name."""
        answers: dict[str, ChildAnswers] = {}
        for job in self.children:
            for child, got in job.answers().items():
                answers.setdefault(child, {}).update(got)
        return answers


FetchAnswers = Callable[[Window], Iterable[FetchedPage]]


def context_key(context: Mapping[str, Any] | None) -> str:
    """A request's context as a key of `ChildAnswers`: equal contexts, equal keys."""
    return json.dumps(context, sort_keys=True, default=str)


# Bytes of answers fetched ahead of the main thread, all windows together. The main
# thread reads the oldest window at one page per answer's latency while the others fetch
# theirs: a window of many pages needs room for them, or its worker idles. About 160
# pages of calls, a few of call details; the window being read is never held back.
BYTES_AHEAD = 16 * 1024 * 1024
# Worker threads a run may have (max_concurrent_requests): at Gong's 3 per second, 32
# keep up with answers of 10 s; more would only be threads waiting for the pacer.
MAX_CONCURRENT_REQUESTS = 32
# Windows per worker of the streams synced next started while the one read ends: enough
# to keep workers busy through its last window's pages (one after the other).
AHEAD_PER_WORKER = 8
# The order of the workers' jobs: windows (chains of pages) first, then pages' children's
# requests, each oldest window first. Children first left the last window waiting for
# a worker until every transcript was made, then paging alone (timeline: +3 s at 2 s).
WINDOW_JOB, CHILD_JOB = 0, 1
# How often a blocked worker looks whether its window is still wanted.
CANCEL_POLL_SECONDS = 0.2


@dataclass
class StreamWindows:
    """A stream's windows, oldest first, and how a worker requests one window's pages."""

    stream: str
    windows: Iterator[Window]
    fetch_answers: FetchAnswers
    #: Whether its first window decides whether the others are wanted (an empty first
    #: day starts a probe for where the data starts): the others are fetched ahead only
    #: once it has data.
    first_decides: bool = False


class _WindowEnd:
    """Put after a window's last answer."""


WINDOW_END = _WindowEnd()


class AnswerBuffer:
    """The bytes fetched but not yet read, and which window the main thread reads."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._bytes = 0
        self._reading_rank = 1

    def reading(self, rank: int) -> None:
        with self._condition:
            self._reading_rank = rank
            self._condition.notify_all()

    def take(self, fetched: FetchedWindow, size: int) -> bool:
        """Wait for room for `size` bytes of `fetched`'s answers.

        The window being read may always add one answer once its earlier ones are read,
        however full the rest is: the main thread waits for nothing else.
        """
        with self._condition:
            while self._bytes + size > BYTES_AHEAD and not (
                fetched.rank == self._reading_rank and fetched.unread_bytes == 0
            ):
                if fetched.cancelled.is_set():
                    return False
                self._condition.wait(CANCEL_POLL_SECONDS)
            if fetched.cancelled.is_set():
                return False  # nobody reads it: it holds no room (`forget`)
            self._bytes += size
            fetched.unread_bytes += size
            return True

    def add(self, fetched: FetchedWindow, size: int) -> None:
        """Count `size` bytes of `fetched`'s answers without waiting for room: a page
        child's answers, fetched for a page already taken in (the main thread may be
        waiting for them)."""
        with self._condition:
            if not fetched.cancelled.is_set():
                self._bytes += size
                fetched.unread_bytes += size

    def give_back(self, fetched: FetchedWindow, size: int) -> None:
        with self._condition:
            size = min(size, fetched.unread_bytes)  # none once forgotten (a dropped window)
            self._bytes -= size
            fetched.unread_bytes -= size
            self._condition.notify_all()

    def forget(self, fetched: FetchedWindow) -> None:
        """A dropped window's unread answers hold no room any more: nobody will read them."""
        with self._condition:
            self._bytes -= fetched.unread_bytes
            fetched.unread_bytes = 0
            self._condition.notify_all()

    @property
    def bytes_held(self) -> int:
        """Bytes of answers fetched and not yet read, all windows together."""
        with self._condition:
            return self._bytes


class StreamFetch:
    """One stream's windows in the fetcher: started in order, read in order."""

    def __init__(self, stream: StreamWindows) -> None:
        self.stream = stream.stream
        self.fetch_answers = stream.fetch_answers
        self.first_decides = stream.first_decides
        #: Set once its first window is fetched (or given up); `first_has_data` then says.
        self.first_fetched = threading.Event()
        self.first_has_data = False
        self.started: collections.deque[FetchedWindow] = collections.deque()
        #: Set once one of its windows failed: no later window of it is started.
        self.failed = threading.Event()
        #: The rank of its latest window started.
        self.last_rank = 0
        #: Set once every window of it planned is started (while fetched ahead).
        self.all_started = False

    def drop(self, windows: Iterable[FetchedWindow]) -> None:
        """Nobody reads these windows: their workers stop at their next answer."""
        for fetched in windows:
            fetched.drop()


class FetchedWindow:
    """One window's answers, in page order, as its worker fetches them."""

    def __init__(self, owner: StreamFetch, window: Window, rank: int, buffer: AnswerBuffer) -> None:
        self.owner = owner
        self.window = window
        self.rank = rank
        self.cancelled = threading.Event()
        #: Whether Gong answered it with data (200, not its 404 "no data").
        self.has_data = False
        #: Bytes of its answers fetched and not yet read (changed under the buffer's lock).
        self.unread_bytes = 0
        #: Whether it decides for the others of its stream, or waits for the one that does
        #: (`first_decides`, fetched ahead).
        self.decides = False
        self.waits_for_first = False
        self._buffer = buffer
        self._answers: queue.SimpleQueue[FetchedPage | BaseException | _WindowEnd] = (
            queue.SimpleQueue()
        )

    def put(self, item: FetchedPage | BaseException | _WindowEnd) -> bool:
        """Hand on a page (or the window's end or fault); False once nobody reads any more."""
        size = item.size if isinstance(item, FetchedPage) else 0
        if not self._buffer.take(self, size):
            return False
        self._answers.put(item)
        return True

    def drop(self) -> None:
        """Nobody reads it: its worker stops at its next answer, its answers free their room."""
        self.cancelled.set()
        self._buffer.forget(self)

    def hold(self, size: int) -> None:
        """Count a page child's answers for one of its pages, until read (`release`)."""
        self._buffer.add(self, size)

    def release(self, size: int) -> None:
        self._buffer.give_back(self, size)

    def answers(self) -> Iterator[FetchedPage]:
        """The window's pages in order.

        Raises:
            BaseException: what stopped the window's worker, once its earlier pages are read.
        """
        while not isinstance(item := self._answers.get(), _WindowEnd):
            if isinstance(item, BaseException):
                raise item
            self._buffer.give_back(self, item.size)
            yield item


class WindowFetcher:
    """Up to `workers` windows of a run fetched at once, handed back per stream, in order."""

    def __init__(self, pacer: RequestPacer, workers: int) -> None:
        self._pacer = pacer
        self._workers = workers
        #: Windows in order, then pages' children's jobs (`WINDOW_JOB`, `CHILD_JOB`).
        self._jobs: queue.PriorityQueue[tuple[int, int, int, FetchedWindow | ChildJob]] = (
            queue.PriorityQueue()
        )
        self._job_numbers = itertools.count()
        self._buffer = AnswerBuffer()
        self._ranks = itertools.count(1)
        self._threads: list[threading.Thread] = []
        #: The streams synced next whose windows are started ahead of their turn, in turn.
        self._ahead: collections.deque[tuple[StreamFetch, Iterator[Window]]] = collections.deque()
        #: The streams synced after those, not started yet (None: not asked yet).
        self._following: Iterator[StreamWindows] | None = None

    @property
    def bytes_ahead(self) -> int:
        """Bytes of answers fetched and not yet read (at most about `BYTES_AHEAD`)."""
        return self._buffer.bytes_held

    def in_order(
        self,
        stream: StreamWindows,
        more_windows: Callable[[Window], Iterator[Window]],
        streams_synced_next: Callable[[], Iterator[StreamWindows]],
    ) -> Iterator[FetchedWindow]:
        """Each window of `stream` fetched ahead, yielded in order; the next once one is read.

        When its windows run out, `more_windows(last window)` is asked once every window
        yielded so far is read: what is left may depend on what they answered. Workers
        with nothing of this stream to fetch start the windows of `streams_synced_next()`,
        the streams synced after it, in turn.
        """
        self._start_workers()
        fetch, windows = self._adopt(stream)
        yield from self._started_in_order(fetch, windows, more_windows, streams_synced_next)

    def _adopt(self, stream: StreamWindows) -> tuple[StreamFetch, Iterator[Window]]:
        """The stream's fetch, with the windows started ahead that it still plans first."""
        if not self._ahead:
            self._following = None
            return StreamFetch(stream), stream.windows
        fetch, _ = self._ahead.popleft()
        if fetch.stream != stream.stream:
            # Not the order planned: nothing started ahead is read in turn.
            for dropped in [fetch, *(ahead for ahead, _ in self._ahead)]:
                dropped.drop(dropped.started)
            self._ahead.clear()
            self._following = None
            return StreamFetch(stream), stream.windows
        windows = stream.windows
        kept: collections.deque[FetchedWindow] = collections.deque()
        while fetch.started:
            window = next(windows, None)
            if window != fetch.started[0].window or fetch.started[0].cancelled.is_set():
                fetch.drop(fetch.started)
                if window is not None:
                    windows = itertools.chain([window], windows)
                break
            kept.append(fetch.started.popleft())
        fetch.started = kept
        return fetch, windows

    def _started_in_order(
        self,
        fetch: StreamFetch,
        windows: Iterator[Window],
        more_windows: Callable[[Window], Iterator[Window]],
        streams_synced_next: Callable[[], Iterator[StreamWindows]],
    ) -> Iterator[FetchedWindow]:
        reading: list[FetchedWindow] = []
        # The next window to start, taken one early: the moment the last one is started
        # is the moment the stream's tail begins.
        pending = next(windows, None)
        try:
            while True:
                while (
                    pending is not None
                    and len(fetch.started) < self._workers
                    and not fetch.failed.is_set()
                ):
                    self._start(fetch, pending)
                    pending = next(windows, None)
                if pending is None:
                    # The tail: its windows progress evenly, none is left to page alone
                    # at the end, and the next stream's first windows take what is left.
                    self._pacer.even_progress(fetch.last_rank)
                    self._start_ahead(streams_synced_next)
                else:
                    self._pacer.even_progress(None)
                if not fetch.started:
                    if not reading or fetch.failed.is_set():
                        return
                    more = more_windows(reading[0].window)
                    if (pending := next(more, None)) is None:
                        return
                    windows = more
                    continue
                reading[:] = [fetch.started.popleft()]
                self._buffer.reading(reading[0].rank)
                self._pacer.reading(reading[0].rank)
                yield reading[0]
        finally:
            # Done, or stopped early: what it started and will not read stops fetching.
            fetch.drop([*reading, *fetch.started])

    def _start_ahead(self, streams_synced_next: Callable[[], Iterator[StreamWindows]]) -> None:
        """Queue the next streams' first windows for workers the stream being read leaves idle.

        Queued now, as the main thread cannot start more while it waits for the last
        answers of the stream being read.
        """
        if self._following is None:
            self._following = streams_synced_next()
        started = sum(len(fetch.started) for fetch, _ in self._ahead)
        while started < AHEAD_PER_WORKER * self._workers:
            if not self._ahead or self._ahead[-1][0].all_started:
                if (following := next(self._following, None)) is None:
                    return
                self._ahead.append((StreamFetch(following), following.windows))
            fetch, windows = self._ahead[-1]
            if fetch.failed.is_set() or (window := next(windows, None)) is None:
                fetch.all_started = True
                continue
            fetched = self._start(fetch, window)
            started += 1
            if fetch.first_decides:
                fetched.decides = len(fetch.started) == 1
                fetched.waits_for_first = not fetched.decides

    def _start(self, fetch: StreamFetch, window: Window) -> FetchedWindow:
        fetched = FetchedWindow(fetch, window, next(self._ranks), self._buffer)
        fetch.last_rank = fetched.rank
        fetch.started.append(fetched)
        self._jobs.put((WINDOW_JOB, fetched.rank, next(self._job_numbers), fetched))
        return fetched

    def _start_workers(self) -> None:
        # Daemon threads, idle between streams, never hold up the end of the process.
        while len(self._threads) < self._workers:
            thread = threading.Thread(
                target=self._work, name=f"gong-fetch-{len(self._threads)}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            _, rank, _, job = self._jobs.get()
            if isinstance(job, ChildJob):
                if job.claim():
                    self._pacer.rank_this_thread(rank, leaf=True)
                    job.run()
                continue
            self._fetch_window(job)

    def _queue_children(self, fetched: FetchedWindow, jobs: list[ChildJob]) -> None:
        """Queue a page's children's requests for the next idle workers (and, once each is
        done, those of its answers' own page children)."""
        for job in jobs:
            job.window = fetched
            job.queue_jobs = self._queue_children
            self._jobs.put((CHILD_JOB, fetched.rank, next(self._job_numbers), job))

    def _fetch_window(self, fetched: FetchedWindow) -> None:
        owner = fetched.owner
        if fetched.waits_for_first and not self._first_has_data(fetched):
            fetched.drop()  # an empty first day: a probe comes first, in turn
        if fetched.cancelled.is_set():
            return
        self._pacer.rank_this_thread(fetched.rank)
        try:
            for page in owner.fetch_answers(fetched.window):
                ok = page.answer.status_code == HTTPStatus.OK
                fetched.has_data = fetched.has_data or ok
                self._queue_children(fetched, page.children)
                if not fetched.put(page):
                    break
            else:
                fetched.put(WINDOW_END)
        except BaseException as fault:  # handed to the main thread, raised there
            owner.failed.set()
            # A fault about the run (the quota, the credentials, Gong down) stops every
            # request of the run at once; one about its stream ends that stream alone.
            if isinstance(fault, RUN_FAULTS):
                self._pacer.stop(fault)
            fetched.put(fault)
        finally:
            if fetched.decides:
                owner.first_has_data = fetched.has_data
                owner.first_fetched.set()

    def _first_has_data(self, fetched: FetchedWindow) -> bool:
        """Wait until the first window of `fetched`'s stream is fetched: whether it had data."""
        owner = fetched.owner
        while not owner.first_fetched.wait(CANCEL_POLL_SECONDS):
            if fetched.cancelled.is_set():
                return False
        return owner.first_has_data
