"""Several requests in flight (max_concurrent_requests): every record once, bookmarks safe.

Workers fetch windows ahead while the main thread emits them in order, so each STATE is
checked against the records that arrived before it: a bookmark never passes a window
whose records are not all out, whatever was in flight, stopped or killed.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import math
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from typing_extensions import override

from gong_sandbox import GongSandbox, RequestLogEntry
from tap_gong.errors import GongQuotaExhausted, GongRequestRejected
from tap_gong.fetching import (
    ChildAnswers,
    ChildJob,
    FetchedPage,
    StreamWindows,
    Window,
    WindowFetcher,
)
from tap_gong.kinds.base import GongStream
from tap_gong.pacing import RequestPacer
from tests.support import (
    FakeClock,
    TapRun,
    expected_stats,
    instant,
    json_body,
    run_tap,
    sandbox_settings,
    start_tap,
    sync_in_process,
    tap_config,
    tap_in_process,
)

IN_FLIGHT = 4
# Above 1/3 s, one request at a time cannot use Gong's 3 per second.
LATENCY_SECONDS = 0.8
CALLS_PATH = "/v2/calls"
STATS_PATH = "/v2/stats/interaction"
CALL_FAMILY = ("call_details", "call_participants", "call_transcripts")


@contextmanager
def gong_at_its_limit(latency: float = LATENCY_SECONDS, **overrides: Any) -> Iterator[GongSandbox]:
    """A 10-day company behind Gong's exact limit (3 per rolling second), answering slowly.

    Each answer takes between `latency` and twice that, drawn at random: answers come back
    in another order than the requests went out.
    """
    slow = {"latency_seconds": latency, "latency_jitter_seconds": latency}
    settings = sandbox_settings(
        **{"days": 10, "calls": 300, "requests_per_second": 3, **slow} | overrides
    )
    with GongSandbox(settings) as sandbox:
        yield sandbox


def concurrent_config(sandbox: GongSandbox, **overrides: Any) -> dict[str, Any]:
    settings = {"max_requests_per_second": 3, "max_concurrent_requests": IN_FLIGHT}
    return tap_config(sandbox, **{**settings, "lookback_window_days": 0, **overrides})


def singer_messages(lines: Iterator[str]) -> list[dict]:
    """The complete messages of a stream of lines (a killed tap may leave half a line)."""
    messages = []
    for line in lines:
        try:
            messages.append(json.loads(line))
        except ValueError:
            break
    return messages


def assert_every_state_covers_only_arrived_records(
    messages: list[dict], sandbox: GongSandbox, config: dict[str, Any]
) -> int:
    """At each STATE, everything Gong has before each bookmark was emitted before it.

    Returns how many bookmarks were checked.
    """
    start = instant(config["start_date"])
    keys: dict[str, Callable[[dict], Any]] = {
        "calls": lambda r: r["id"],
        "call_details": lambda r: r["id"],
        "interaction_stats": lambda r: (r["userId"], r["fromDate"]),
    }
    stats = expected_stats(sandbox, config)
    arrived: dict[str, set] = {stream: set() for stream in keys}
    checked = 0
    for message in messages:
        if message["type"] == "RECORD" and message["stream"] in keys:
            arrived[message["stream"]].add(keys[message["stream"]](message["record"]))
        if message["type"] != "STATE":
            continue
        bookmarks = message["value"].get("bookmarks", {})
        for stream in ("calls", "call_details"):
            if bookmark := bookmarks.get(stream, {}).get("replication_key_value"):
                before = {call["id"] for call in sandbox.calls(start, instant(bookmark))}
                assert before <= arrived[stream], f"{stream} STATE {bookmark} passed a window"
                checked += 1
        if day := bookmarks.get("interaction_stats", {}).get("replication_key_value"):
            before = {key for key in stats if key[1] <= day}
            assert before <= arrived["interaction_stats"], f"stats STATE {day} passed a day"
            checked += 1
    return checked


def overlapping(log: list[RequestLogEntry], latency: float) -> int:
    """Requests that arrived while an earlier one was still being answered."""
    starts = sorted(entry.at for entry in log)
    return sum(later - earlier < latency for earlier, later in itertools.pairwise(starts))


def test_every_call_and_stats_day_arrives_once_with_requests_in_flight(tmp_path: Path) -> None:
    with gong_at_its_limit() as sandbox:
        config = concurrent_config(sandbox)
        run = run_tap(config, tmp_path)

        assert run.returncode == 0, run.stderr
        calls = Counter(record["id"] for record in run.records("calls"))
        assert set(calls) == {call["id"] for call in sandbox.calls()}
        assert max(calls.values()) == 1
        stats = Counter((r["userId"], r["fromDate"]) for r in run.records("interaction_stats"))
        assert set(stats) == set(expected_stats(sandbox, config))
        assert max(stats.values()) == 1
        assert assert_every_state_covers_only_arrived_records(run.messages, sandbox, config)
        assert overlapping(sandbox.requests, LATENCY_SECONDS) > len(sandbox.requests) / 2
        assert sandbox.counters()["429"] == 0


def test_call_details_and_its_page_children_arrive_once_with_requests_in_flight(
    tmp_path: Path,
) -> None:
    with gong_at_its_limit(calls=120, page_size=20) as sandbox:
        config = concurrent_config(sandbox)
        run = run_tap(config, tmp_path, streams=CALL_FAMILY)

        assert run.returncode == 0, run.stderr
        every_call = sorted(call["id"] for call in sandbox.calls())
        assert sorted(r["id"] for r in run.records("call_details")) == every_call
        transcripts = sorted(r["callId"] for r in run.records("call_transcripts"))
        assert transcripts == sorted(t["callId"] for t in sandbox.transcripts())
        parties = Counter((r["callId"], r["id"]) for r in run.records("call_participants"))
        assert set(parties) == {
            (call["metaData"]["id"], party["id"])
            for call in sandbox.call_details()
            for party in call.get("parties", [])
        }
        assert max(parties.values()) == 1
        assert assert_every_state_covers_only_arrived_records(run.messages, sandbox, config)
        details = [r for r in sandbox.requests if r.path == "/v2/calls/extensive"]
        assert overlapping(details, LATENCY_SECONDS) > 0


@pytest.mark.parametrize("killed_after_bookmarks", [1, 3, 7])
def test_killed_with_requests_in_flight_the_resumed_run_delivers_everything(
    tmp_path: Path, killed_after_bookmarks: int
) -> None:
    # 4 windows of calls, then 10 stats days: killed in calls, near their end, in stats.
    with gong_at_its_limit(requests_per_second=None) as sandbox:
        config = concurrent_config(sandbox, max_requests_per_second=100)
        tap = start_tap(config, tmp_path)
        assert tap.stdout is not None
        lines, bookmarks = [], 0
        for line in tap.stdout:
            lines.append(line)
            bookmarks += '"replication_key_value"' in line and line.startswith('{"type":"STATE"')
            if bookmarks == killed_after_bookmarks:
                tap.send_signal(signal.SIGKILL)
                break
        lines += tap.stdout.readlines()
        tap.wait(timeout=30)
        tap.stdout.close()
        killed = singer_messages(iter(lines))
        states = [m["value"] for m in killed if m["type"] == "STATE"]
        assert assert_every_state_covers_only_arrived_records(killed, sandbox, config)

        resumed = run_tap(config, tmp_path, state=states[-1] if states else None)

        assert resumed.returncode == 0, resumed.stderr
        records = [m for m in killed + resumed.messages if m["type"] == "RECORD"]
        calls = {m["record"]["id"] for m in records if m["stream"] == "calls"}
        assert calls == {call["id"] for call in sandbox.calls()}
        stats = {
            (m["record"]["userId"], m["record"]["fromDate"])
            for m in records
            if m["stream"] == "interaction_stats"
        }
        assert stats == set(expected_stats(sandbox, config))


def test_spent_quota_stops_in_flight_at_the_last_finished_window_and_requests_nothing_more(
    tmp_path: Path,
) -> None:
    # Windows of 1 day (about 30 calls) in pages of 10: the oldest three windows are read
    # whole (12 requests), then three start at once and the quota answers one of them.
    latency, page_size, day = 1.0, 10, dt.timedelta(days=1)
    # Answers in exactly `latency` (no jitter), so that the oldest windows finish first.
    quota = {"daily_quota": 14, "latency_jitter_seconds": 0}
    with gong_at_its_limit(latency=latency, page_size=page_size, **quota) as sandbox:
        config = concurrent_config(sandbox, calls_window_days=1)
        run = run_tap(config, tmp_path)

        assert run.returncode == 1
        assert "quota is spent" in run.stderr
        assert "Traceback" not in run.stderr
        log = sandbox.requests
        first_429 = next(entry for entry in log if entry.status == 429)
        assert all(entry.at <= first_429.at + latency for entry in log)

        def finished(start: dt.datetime) -> bool:
            pages = math.ceil(len(sandbox.calls(start, start + day)) / page_size)
            answers = [e for e in log if e.query.get("fromDateTime") == utc_text(start)]
            return sum(e.status in (200, 404) for e in answers) >= max(pages, 1)

        # The bookmark is the end of the longest run of finished windows from the start.
        window_start = instant(config["start_date"])
        while finished(window_start):
            window_start += day
        assert window_start > instant(config["start_date"])  # a window was finished
        assert run.bookmark("calls") == utc_text(window_start)
        assert assert_every_state_covers_only_arrived_records(run.messages, sandbox, config)


def utc_text(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_request_budget_is_exact_with_requests_in_flight_and_the_next_run_goes_on(
    tmp_path: Path,
) -> None:
    with gong_at_its_limit() as sandbox:
        config = concurrent_config(sandbox, calls_window_days=1, max_requests_per_run=7)
        stopped = run_tap(config, tmp_path)

        assert stopped.returncode == 0, stopped.stderr
        assert sandbox.counters()["requests"] == 7
        assert assert_every_state_covers_only_arrived_records(stopped.messages, sandbox, config)

        resumed = run_tap(
            {**config, "max_requests_per_run": None}, tmp_path, state=stopped.final_state
        )

        assert resumed.returncode == 0, resumed.stderr
        calls = {r["id"] for r in stopped.records("calls") + resumed.records("calls")}
        assert calls == {call["id"] for call in sandbox.calls()}


def test_gongs_exact_limit_at_one_second_answers_sees_no_429_and_uses_the_allowance(
    tmp_path: Path,
) -> None:
    with gong_at_its_limit(latency=1.0) as sandbox:
        run = run_tap(concurrent_config(sandbox), tmp_path)

        assert run.returncode == 0, run.stderr
        assert sandbox.counters()["429"] == 0
        # One request in flight at a time starts at most 4 in any 3 seconds; Gong allows 9.
        starts = sorted(entry.at for entry in sandbox.requests)
        assert max(sum(t <= u < t + 3 for u in starts) for t in starts) >= 8


def test_stats_backfill_over_a_long_empty_history_spends_requests_on_the_days_with_data(
    tmp_path: Path,
) -> None:
    with GongSandbox(sandbox_settings(days=20)) as sandbox:
        first_day_with_data = min(sandbox.stats_days())
        start = first_day_with_data - dt.timedelta(days=400)
        start_date = dt.datetime.combine(start, dt.time(), dt.timezone.utc).isoformat()
        config = tap_config(sandbox, start_date=start_date, max_concurrent_requests=IN_FLIGHT)
        # After calls: stats days are fetched ahead as calls end, but only the first.
        run = run_tap(config, tmp_path)

        assert run.returncode == 0, run.stderr
        stats = Counter((r["userId"], r["fromDate"]) for r in run.records("interaction_stats"))
        assert set(stats) == set(expected_stats(sandbox, config))
        assert max(stats.values()) == 1
        days_with_data = (sandbox.company_today() - first_day_with_data).days
        stats_requests = [r for r in sandbox.requests if r.path == STATS_PATH]
        assert len(stats_requests) <= days_with_data + 2 * math.ceil(math.log2(400)) + 1
        # The empty stretch is committed before the first record: a stop there resumes after it.
        first_record = next(
            i
            for i, m in enumerate(run.messages)
            if m["type"] == "RECORD" and m["stream"] == "interaction_stats"
        )
        skipped_to = [
            m["value"]["bookmarks"]["interaction_stats"].get("replication_key_value")
            for m in run.messages[:first_record]
            if m["type"] == "STATE"
        ]
        assert (first_day_with_data - dt.timedelta(days=1)).isoformat() in skipped_to
        assert assert_every_state_covers_only_arrived_records(run.messages, sandbox, config)


def test_a_fatal_fault_in_a_later_window_stops_the_requests_of_older_windows_too() -> None:
    pacer = RequestPacer(rate=100)
    quota = GongQuotaExhausted("Gong's API quota is spent")

    def pages(window: Window) -> Iterator[FetchedPage]:
        for _ in range(5):
            pacer.wait_turn()
            if window["name"] == "later":
                raise quota
            time.sleep(0.1)  # the answer's latency
            yield answer("{}")

    fetcher = WindowFetcher(pacer, workers=2)
    read: list[str] = []

    def read_in_order() -> None:
        stream = StreamWindows("calls", iter([{"name": "older"}, {"name": "later"}]), pages)
        for fetched in fetcher.in_order(stream, lambda _: iter(()), lambda: iter(())):
            read.extend(fetched.window["name"] for _ in fetched.answers())

    with pytest.raises(GongQuotaExhausted):
        read_in_order()

    assert read.count("older") < 5  # its next request raised the later window's fault
    assert pacer.requests_started < 6


def test_a_long_stats_backfill_with_data_from_its_first_day_asks_each_day_once(
    tmp_path: Path,
) -> None:
    # Long enough to be probed for an empty history; it has none, so no probe is paid.
    # After calls, in pages of 20: its first day, once it has data, lets more follow
    # while the last calls pages come in.
    with gong_at_its_limit(latency=0.2, days=40, page_size=20) as sandbox:
        config = concurrent_config(sandbox)
        first_day = dt.date.fromisoformat(config["start_date"][:10])
        assert first_day in sandbox.stats_days()

        run = run_tap(config, tmp_path)

        assert run.returncode == 0, run.stderr
        stats = [r for r in sandbox.requests if r.path == STATS_PATH]
        # A 429 at Gong's exact limit is retried after its Retry-After: the day's answer once.
        days = [json_body(r)["filter"]["fromDate"] for r in stats if r.status != 429]
        assert sorted(days) == [
            (first_day + dt.timedelta(days=n)).isoformat()
            for n in range((sandbox.company_today() - first_day).days)
        ]
        last_calls_page = max(r.at for r in sandbox.requests if r.path == CALLS_PATH)
        assert sum(r.at <= last_calls_page + 0.1 for r in stats) > 1  # 0.1: the same burst


def test_wrong_credentials_cost_at_most_the_requests_already_in_flight(tmp_path: Path) -> None:
    with gong_at_its_limit(latency=0.5) as sandbox:
        config = concurrent_config(sandbox, access_key_secret="wrong-secret")

        run = run_tap(config, tmp_path)

        assert run.returncode == 1
        assert "HTTP 401" in run.stderr
        assert "Traceback" not in run.stderr
        # Every worker may have sent its first request before Gong's first 401 came back.
        assert 1 <= len(sandbox.requests) <= IN_FLIGHT


def test_stats_days_are_fetched_while_the_last_calls_pages_come_in(tmp_path: Path) -> None:
    # Pages of 10 calls: the last calls windows page one after the other for a while.
    with gong_at_its_limit(page_size=10) as sandbox:
        config = concurrent_config(sandbox)

        run = run_tap(config, tmp_path)

        assert run.returncode == 0, run.stderr
        calls = [entry.at for entry in sandbox.requests if entry.path == CALLS_PATH]
        stats = [entry.at for entry in sandbox.requests if entry.path == STATS_PATH]
        assert min(stats) < max(calls)
        assert len(run.records("calls")) == len(sandbox.calls())
        assert assert_every_state_covers_only_arrived_records(run.messages, sandbox, config)
        # Each stream's summary counts its own requests, wherever they fell.
        summaries = {
            stream: int(line.split(" records, ")[1].split(" request")[0])
            for line in run.stderr.splitlines()
            for stream in ("calls", "interaction_stats")
            if f"| {stream}: done: " in line
        }
        assert summaries == {"calls": len(calls), "interaction_stats": len(stats)}


def answer(text: str) -> FetchedPage:
    page = requests.Response()
    page._content = text.encode()
    return FetchedPage(page)


def read_answers(
    fetcher: WindowFetcher,
    stream: StreamWindows,
    *synced_next: StreamWindows,
) -> list[str]:
    """What the main thread reads of one stream (`synced_next` after it): its answers' texts."""
    in_order = fetcher.in_order(stream, lambda _: iter(()), lambda: iter(synced_next))
    return [p.answer.content.decode() for fetched in in_order for p in fetched.answers()]


def named_windows(*names: str) -> Iterator[Window]:
    return iter([{"name": name} for name in names])


def three_pages_each(
    pacer: RequestPacer, fetches: Counter[str], page_bytes: int = 0
) -> Callable[[Window], Iterator[FetchedPage]]:
    """Each window's 3 pages ("name/0"...), 50 ms apart, counted in `fetches` by window."""

    def pages(window: Window) -> Iterator[FetchedPage]:
        for page in range(3):
            pacer.wait_turn()
            fetches[window["name"]] += 1
            time.sleep(0.05)
            yield answer(f"{window['name']}/{page}".ljust(page_bytes))

    return pages


def test_the_next_streams_windows_fetched_ahead_are_read_in_its_turn_unless_its_plan_changed() -> (
    None
):
    pacer = RequestPacer(rate=100)
    fetches: Counter[str] = Counter()
    pages = three_pages_each(pacer, fetches)
    windows = named_windows

    fetcher = WindowFetcher(pacer, workers=3)
    planned_ahead = StreamWindows("stats", windows("s1", "s2", "s3"), pages)
    calls = read_answers(fetcher, StreamWindows("calls", windows("c1"), pages), planned_ahead)
    ahead = sum(fetches[name] for name in ("s1", "s2", "s3"))
    # Its turn: s2 is no longer planned (its answers are dropped), s3 is planned after s1.
    stats = read_answers(fetcher, StreamWindows("stats", windows("s1", "s3"), pages))

    assert calls == ["c1/0", "c1/1", "c1/2"]
    assert ahead > 0  # fetched while calls were read
    assert stats == ["s1/0", "s1/1", "s1/2", "s3/0", "s3/1", "s3/2"]
    assert fetches["s1"] == 3  # fetched once, ahead of its turn


def test_windows_dropped_with_answers_unread_give_their_room_back() -> None:
    # Answers fetched ahead share BYTES_AHEAD: room kept by answers nobody will read would
    # leave workers waiting for it for the rest of the run.
    pacer = RequestPacer(rate=100)
    fetches: Counter[str] = Counter()
    pages = three_pages_each(pacer, fetches, page_bytes=1000)
    windows = named_windows

    fetcher = WindowFetcher(pacer, workers=3)
    planned_ahead = StreamWindows("stats", windows("s1", "s2", "s3"), pages)
    read_answers(fetcher, StreamWindows("calls", windows("c1"), pages), planned_ahead)
    assert fetches["s2"] + fetches["s3"] > 0  # fetched ahead
    # Its turn: only s1 is still planned; s2 and s3 are dropped with their answers unread.
    read_answers(fetcher, StreamWindows("stats", windows("s1"), pages))

    deadline = time.monotonic() + 2
    while fetcher.bytes_ahead and time.monotonic() < deadline:
        time.sleep(0.01)  # a worker stops at its next answer
    assert fetcher.bytes_ahead == 0


def test_a_fault_in_the_next_streams_windows_fetched_ahead_waits_for_that_streams_turn() -> None:
    pacer = RequestPacer(rate=100)
    rejected = GongRequestRejected("stats", "Gong answered 400")
    faulted = threading.Event()

    def calls_pages(window: Window) -> Iterator[FetchedPage]:
        for page in range(5):
            pacer.wait_turn()
            faulted.wait(1)  # the next stream's fault comes first
            yield answer(f"{window['name']}/{page}")

    def stats_pages(window: Window) -> Iterator[FetchedPage]:
        pacer.wait_turn()
        faulted.set()
        raise rejected

    fetcher = WindowFetcher(pacer, workers=2)
    stats = StreamWindows("stats", iter([{"name": "s1"}]), stats_pages)
    calls = StreamWindows("calls", iter([{"name": "c1"}]), calls_pages)

    calls_read = read_answers(fetcher, calls, stats)
    assert faulted.is_set()
    assert calls_read == [f"c1/{page}" for page in range(5)]  # not stopped by it

    stats = StreamWindows("stats", iter([{"name": "s1"}]), stats_pages)
    with pytest.raises(GongRequestRejected):
        read_answers(fetcher, stats)


def test_in_a_tail_the_window_with_fewest_requests_goes_first_then_the_next_streams() -> None:
    clock = FakeClock()
    queued = threading.Event()
    granted: list[int] = []

    def sleep(seconds: float) -> None:
        queued.wait(5)  # until every request of the round waits
        while len(granted) < pacer.requests_started - before:  # one grant recorded at a time
            time.sleep(0.001)
        clock.sleep(seconds)

    pacer = RequestPacer(rate=1, clock=clock, sleep=sleep)

    def window(rank: int, requests_before: int, go: threading.Event) -> None:
        pacer.rank_this_thread(rank)
        for _ in range(requests_before):
            pacer.wait_turn()
        go.wait(5)
        pacer.wait_turn()
        granted.append(rank)

    # Window 1 (the oldest) has made 3 requests, window 2 two, window 3 one, and window 4,
    # the next stream's first, none; the stream's tail is windows 1 to 3.
    queued.set()
    before = 3 + 2 + 1
    go = threading.Event()
    threads = [threading.Thread(target=window, args=(r, max(4 - r, 0), go)) for r in (1, 2, 3, 4)]
    for thread in threads:
        thread.start()
    while pacer.requests_started < before:
        time.sleep(0.01)
    queued.clear()
    pacer.even_progress(3)
    go.set()
    time.sleep(0.3)  # every thread is waiting for its turn
    queued.set()
    for thread in threads:
        thread.join(5)

    assert granted == [3, 2, 1, 4]


class RecordingPacer(RequestPacer):
    """A pacer that notes, for each window read, up to which rank progress was even."""

    def __init__(self) -> None:
        super().__init__(rate=100)
        self.even_up_to: int | None = None
        self.even_while_reading: list[int | None] = []

    @override
    def even_progress(self, up_to_rank: int | None) -> None:
        self.even_up_to = up_to_rank
        super().even_progress(up_to_rank)

    @override
    def reading(self, rank: int) -> None:
        self.even_while_reading.append(self.even_up_to)
        super().reading(rank)


def test_a_streams_windows_progress_evenly_once_all_are_started_before_the_next_streams() -> None:
    pacer = RecordingPacer()

    def pages(window: Window) -> Iterator[FetchedPage]:
        pacer.wait_turn()
        yield answer(window["name"])

    fetcher = WindowFetcher(pacer, workers=2)
    stream = StreamWindows("calls", iter([{"name": f"w{n}"} for n in range(5)]), pages)
    following = StreamWindows("stats", iter([{"name": "s0"}]), pages)
    read_answers(fetcher, stream, following)

    # Ranks 1-5: w0..w2 are read while w3 and w4 are still to start; w3 and w4 after, with
    # the calls windows (up to rank 5) served evenly, before stats' s0 (rank 6).
    assert pacer.even_while_reading == [None, None, None, 5, 5]


@contextmanager
def requests_by_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[str]]]:
    """The stream of each request a run makes, in order, by the thread that made it."""
    made: dict[str, list[str]] = {}
    taking_turn = GongStream._take_turn

    def take_turn(stream: GongStream) -> None:
        taking_turn(stream)
        made.setdefault(threading.current_thread().name, []).append(stream.name)

    monkeypatch.setattr(GongStream, "_take_turn", take_turn)
    yield made


@contextmanager
def small_company(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[GongSandbox, dict[str, list[str]]]]:
    """Ten days of 300 calls in pages of 20, and the requests a run makes by thread."""
    with (
        GongSandbox(sandbox_settings(days=10, calls=300, page_size=20)) as sandbox,
        requests_by_thread(monkeypatch) as made,
    ):
        yield sandbox, made


def call_family_messages(sandbox: GongSandbox, in_flight: int) -> list[dict]:
    config = tap_config(sandbox, max_concurrent_requests=in_flight, lookback_window_days=0)
    return sync_in_process(tap_in_process(config, streams=CALL_FAMILY))


def test_a_pages_transcript_request_is_a_job_of_its_own_the_windows_worker_going_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with small_company(monkeypatch) as (sandbox, made):
        call_family_messages(sandbox, IN_FLIGHT)

    # call_details' pages are the workers' alone; a transcript request is made by a
    # worker, or by the main thread when it needs it before any worker took it.
    workers = {thread: streams for thread, streams in made.items() if thread != "MainThread"}
    assert all(thread.startswith("gong-fetch-") for thread in workers)
    assert set(made.get("MainThread", [])) <= {"call_transcripts"}
    # A window's worker goes straight on to its next page: a window's chain is its pages.
    assert any(
        pair == ("call_details", "call_details")
        for streams in workers.values()
        for pair in itertools.pairwise(streams)
    )
    transcripts = sum(streams.count("call_transcripts") for streams in made.values())
    assert transcripts == len([r for r in sandbox.requests if r.path == "/v2/calls/transcript"])
    assert transcripts >= math.ceil(300 / 20)


def child_job_runs(
    workers: int, window_waits_for_job: bool
) -> tuple[list[str], list[str], threading.Thread]:
    """One window of 3 pages, each with a child job: who fetched its pages, its jobs."""
    pacer = RequestPacer(rate=100)
    page_threads: list[str] = []
    job_threads: list[str] = []
    jobs_done = [threading.Event() for _ in range(3)]

    def child(page: int) -> dict[str, ChildAnswers]:
        job_threads.append(threading.current_thread().name)
        jobs_done[page].set()
        return {"child": {str(page): [answer(f"child/{page}")]}}

    def pages(window: Window) -> Iterator[FetchedPage]:
        for page in range(3):
            pacer.wait_turn()
            time.sleep(0.05)  # an answer's latency
            page_threads.append(threading.current_thread().name)
            yield FetchedPage(
                answer(f"w/{page}").answer, [ChildJob(functools.partial(child, page))]
            )
            if window_waits_for_job:
                jobs_done[page].wait(5)  # its worker held up until the job is done

    fetcher = WindowFetcher(pacer, workers=workers)
    stream = StreamWindows("parents", iter([{"name": "w"}]), pages)
    read = []
    for fetched in fetcher.in_order(stream, lambda _: iter(()), lambda: iter(())):
        for page in fetched.answers():
            time.sleep(0.1)  # the main thread reads slowly: an idle worker comes first
            children = page.children_answers()
            read.append(children["child"])
    assert [list(got) for got in read] == [["0"], ["1"], ["2"]]
    return page_threads, job_threads, threading.current_thread()


def test_a_page_childs_job_is_taken_by_an_idle_worker_not_the_windows_own() -> None:
    page_threads, job_threads, _ = child_job_runs(workers=2, window_waits_for_job=False)

    assert len(set(page_threads)) == 1
    assert len(job_threads) == 3
    assert all(thread.startswith("gong-fetch-") for thread in job_threads)
    # Those of the pages before its last come while the window's worker is still paging.
    assert set(job_threads[:2]).isdisjoint(page_threads)


def test_the_main_thread_runs_a_page_childs_job_no_worker_is_free_to_take() -> None:
    # The only worker waits until the job is done: the main thread runs it, no deadlock.
    page_threads, job_threads, main = child_job_runs(workers=1, window_waits_for_job=True)

    assert all(thread.startswith("gong-fetch-") for thread in page_threads)
    assert job_threads == [main.name] * 3


def run_at_slow_answers(
    tmp_path: Path, streams: tuple[str, ...], path_end: str
) -> tuple[GongSandbox, TapRun, list[float]]:
    """A run of `streams`, answers taking 0.2 s, 4 in flight: the arrival of each request
    whose path ends with `path_end`."""
    with GongSandbox(sandbox_settings(latency_seconds=0.2)) as sandbox:
        run = run_tap(tap_config(sandbox, max_concurrent_requests=4), tmp_path, streams=streams)
        assert run.returncode == 0, run.stderr[-2000:]
        arrivals = sorted(r.at for r in sandbox.requests if r.path.endswith(path_end))
    return sandbox, run, arrivals


def made_several_at_once(arrivals: list[float]) -> bool:
    """The first alone (a missing scope is refused once), then several in flight: requests
    arrive while others wait for their answers."""
    return sum(b - a < 0.1 for a, b in itertools.pairwise(arrivals)) >= 3


def test_a_page_childs_request_per_item_is_made_by_several_workers_at_once(
    tmp_path: Path,
) -> None:
    # user_settings_history asks Gong once per user: one at a time, a page of 100 users
    # would wait for 100 answers one after the other.
    sandbox, run, arrivals = run_at_slow_answers(
        tmp_path, ("users", "user_settings_history"), "/settings-history"
    )

    assert len(arrivals) == len(sandbox.users()) > 4
    assert made_several_at_once(arrivals)
    expected = {
        (user["id"], change["setting"], instant(change["time"]))
        for user in sandbox.users()
        for change in sandbox.settings_history(user["id"])
    }
    records = run.records("user_settings_history")
    assert {(r["userId"], r["setting"], instant(r["time"])) for r in records} == expected


def test_a_grandchilds_requests_per_item_are_made_by_several_workers_at_once(
    tmp_path: Path,
) -> None:
    # library_folder_calls asks once per folder of each workspace's folders (a page child
    # of a page child): on the main thread, each would wait for the one before it.
    sandbox, run, arrivals = run_at_slow_answers(
        tmp_path, ("library_folders", "library_folder_calls"), "/folder-content"
    )

    folders = sandbox.library_folders()
    assert len(arrivals) == len(folders) > 4
    assert made_several_at_once(arrivals)
    expected = {(f["id"], c["id"]) for f in folders for c in sandbox.library_folder_calls(f["id"])}
    records = run.records("library_folder_calls")
    assert {(r["folderId"], r["callId"]) for r in records} == expected
    assert len(records) == len(expected)


def test_page_children_emit_the_same_records_whether_workers_or_the_main_thread_request() -> None:
    with GongSandbox(sandbox_settings(days=10, calls=300, page_size=20)) as sandbox:
        one_in_flight = call_family_messages(sandbox, 1)
        several = call_family_messages(sandbox, IN_FLIGHT)
        start = instant(tap_config(sandbox)["start_date"])

        def records(messages: list[dict], stream: str) -> list[str]:
            return sorted(
                json.dumps(m["record"], sort_keys=True)
                for m in messages
                if m["type"] == "RECORD" and m["stream"] == stream
            )

        for stream in CALL_FAMILY:
            assert records(several, stream) == records(one_in_flight, stream), stream
        assert records(several, "call_transcripts")
        # A page's transcripts come out before call_details commits the window holding it.
        arrived: set[str] = set()
        for message in several:
            if message["type"] == "RECORD" and message["stream"] == "call_transcripts":
                arrived.add(message["record"]["callId"])
            bookmarks = message["value"].get("bookmarks", {}) if message["type"] == "STATE" else {}
            if bookmark := bookmarks.get("call_details", {}).get("replication_key_value"):
                transcribed = sandbox.transcripts(start, instant(bookmark))
                assert {t["callId"] for t in transcribed} <= arrived, bookmark


def test_a_list_read_whole_is_fetched_by_a_worker_as_the_stream_before_it_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with small_company(monkeypatch) as (sandbox, made):
        config = tap_config(sandbox, max_concurrent_requests=IN_FLIGHT)
        messages = sync_in_process(tap_in_process(config, streams=("calls", "scorecards", "users")))

    # Not one request on the main thread: the lists' came with the calls' last windows.
    assert "MainThread" not in made
    lists = [stream for streams in made.values() for stream in streams if stream != "calls"]
    assert sorted(lists) == ["scorecards", "users"]
    users = [
        m["record"]["id"] for m in messages if m["type"] == "RECORD" and m["stream"] == "users"
    ]
    assert sorted(users) == sorted(user["id"] for user in sandbox.users())


def test_a_transcript_refusal_a_worker_met_ends_the_call_family_where_the_main_thread_would(
    tmp_path: Path,
) -> None:
    refused = sandbox_settings(
        days=10, calls=300, page_size=20, withheld_scopes=frozenset({"api:calls:read:transcript"})
    )

    def outcome(in_flight: int) -> tuple[int, Counter[str], Any, str]:
        # Windows of a day either way: the same first page.
        settings = {"max_concurrent_requests": in_flight, "calls_window_days": 1}
        run = run_tap(tap_config(sandbox, **settings), tmp_path, streams=CALL_FAMILY)
        records = Counter(m["stream"] for m in run.messages if m["type"] == "RECORD")
        states = [m["value"]["bookmarks"] for m in run.messages if m["type"] == "STATE"]
        failed = next(line for line in run.stderr.splitlines() if "failed: Gong refused" in line)
        bookmark = states[-1].get("call_details", {}).get("replication_key_value")
        return run.returncode, records, bookmark, failed.split(" | ")[-1]

    with GongSandbox(refused) as sandbox:
        one_in_flight, several = outcome(1), outcome(IN_FLIGHT)

    # The first page's transcripts are refused: its participants out, no call_details
    # record, no bookmark, the same line.
    assert several == one_in_flight
    assert several[0] == 1
    assert set(several[1]) == {"call_participants"}
    assert several[2] is None
