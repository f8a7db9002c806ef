"""A simulated fortnight of scheduled runs: what Gong publishes late, when it arrives, the cost.

Every simulated hour the sandbox's clock moves on and Gong publishes: calls that started
3 hours before, a call that started 2 to 7 days before (every 4 hours) and new answers to
a review whose review day was 3 to 6 days before (every 6 hours). Every `run_every` hours
the tap runs in this process with every stream selected, from the state the run before
left, its clock (`end_date`) the sandbox's. A backfill first, and a day of runs after the
last publication, which the figures leave out.

Used by tests/test_late_data.py and benchmarks/late_data.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from gong_sandbox import GongSandbox, SandboxSettings
from tap_gong.late_data import LateDataRereads
from tap_gong.tap import TapGong
from tests.support import sync_in_process

UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)
START = dt.datetime(2024, 3, 4, 0, 0, tzinfo=UTC)
HISTORY_DAYS = 20
CALLS_PER_DAY = 48
# Calls Gong publishes 2 to 7 days after they started, and the answers reviewers change
# 3 to 6 days after the review day.
LATE_CALL_EVERY_HOURS = 4
LATE_ANSWERS_EVERY_HOURS = 6
LATE_CALL_HOURS = (48, 7 * 24 - 1)
LATE_ANSWERS_DAYS = (3, 6)


@dataclass
class Publication:
    """Something Gong published late: a call, or a review's new answers."""

    stream: str
    key: str
    at: dt.datetime
    answers: list[tuple[Any, ...]] | None = None
    has_transcript: bool = False
    arrived_at: dt.datetime | None = None


@dataclass
class Fortnight:
    """What the runs of one schedule cost, and when what Gong published late arrived."""

    run_every_hours: int
    days: int
    runs: int = 0
    requests: int = 0
    publications: list[Publication] = field(default_factory=list)

    @property
    def requests_per_day(self) -> float:
        return self.requests / self.days

    def late(self, stream: str) -> list[Publication]:
        return [p for p in self.publications if p.stream == stream]

    def arrived_within(self, stream: str, delay: dt.timedelta) -> int:
        return sum(
            1
            for p in self.late(stream)
            if p.arrived_at is not None and p.arrived_at - p.at <= delay
        )


def answers_of(review: dict[str, Any]) -> list[tuple[Any, ...]]:
    """A review's answers, comparable between Gong's JSON and the tap's records."""
    return [
        (str(a["questionId"]), a["score"], a["answerText"], a["selectedOptions"])
        for a in review["answers"]
    ]


def run_in_process(config: dict[str, Any], state: dict | None) -> list[dict]:
    """One run of the tap, every stream selected: the Singer messages it wrote."""
    return sync_in_process(TapGong(config=config, state=state, parse_env_config=False))


@contextlib.contextmanager
def late_data_rereads(enabled: bool) -> Iterator[None]:
    """With `enabled` False, runs behave as before late-data re-reads (the cost's baseline)."""
    if enabled:
        yield
        return
    with mock.patch.object(LateDataRereads, "is_due", return_value=False):
        yield


def simulate(run_every_hours: int, days: int = 14, *, rereads: bool = True) -> Fortnight:
    """The fortnight (or `days`) with runs every `run_every_hours` hours."""
    fortnight = Fortnight(run_every_hours, days)
    settings = SandboxSettings(
        seed=11, users=8, calls=CALLS_PER_DAY * HISTORY_DAYS, days=HISTORY_DAYS, now=START
    )
    rng = random.Random(5)
    with GongSandbox(settings) as sandbox, late_data_rereads(rereads):
        config = sandbox.tap_config(
            start_date=(START - dt.timedelta(days=HISTORY_DAYS)).isoformat(),
            max_requests_per_second=100,
            max_concurrent_requests=1,  # in process: no worker threads left behind per run
        )
        state = final_state(run_in_process({**config, "end_date": START.isoformat()}, None))
        sandbox.reset_log()
        # The runs go on a day after the last publication, for it to arrive; the figures
        # count the fortnight's runs only.
        for hour in range(1, (days + 1) * 24 + 1):
            sandbox.advance_clock(HOUR)
            in_fortnight = hour <= days * 24
            if in_fortnight:
                publish(sandbox, rng, hour, fortnight)
            if hour % run_every_hours:
                continue
            now = sandbox.now()
            messages = run_in_process({**config, "end_date": now.isoformat()}, state)
            state = final_state(messages)
            note_arrivals(fortnight, messages, now)
            if in_fortnight:
                fortnight.runs += 1
                fortnight.requests += len(sandbox.requests)
            sandbox.reset_log()
    return fortnight


def publish(sandbox: GongSandbox, rng: random.Random, hour: int, fortnight: Fortnight) -> None:
    """What Gong publishes in this hour: calls on time, and now and then something late."""
    now = sandbox.now()
    sandbox.add_calls(CALLS_PER_DAY // 24, start=now - 4 * HOUR, end=now - 3 * HOUR)
    if hour % LATE_CALL_EVERY_HOURS == 0:
        started = now - rng.randint(*LATE_CALL_HOURS) * HOUR
        (call,) = sandbox.add_calls(1, start=started, end=started + HOUR)
        # Calls too short or without speech have no transcript.
        transcripts = sandbox.transcripts(started - HOUR, started + 2 * HOUR)
        has_transcript = any(t["callId"] == call["id"] for t in transcripts)
        fortnight.publications.append(
            Publication("calls", call["id"], now, has_transcript=has_transcript)
        )
    if hour % LATE_ANSWERS_EVERY_HOURS == 0:
        today = sandbox.company_today()
        first, last = (today - dt.timedelta(days=n) for n in reversed(LATE_ANSWERS_DAYS))
        reviews = sandbox.answered_scorecards(review_from=first, review_to=last + dt.timedelta(1))
        # One change per review: a second would hide the first's answers.
        changed = {p.key for p in fortnight.publications}
        review = rng.choice([r for r in reviews if str(r["answeredScorecardId"]) not in changed])
        edited = review
        while answers_of(edited) == answers_of(review):  # new answers, not the same drawn again
            edited = sandbox.edit_answered_scorecard(review["answeredScorecardId"])
        fortnight.publications.append(
            Publication(
                "answered_scorecards",
                str(edited["answeredScorecardId"]),
                now,
                answers_of(edited),
            )
        )


def note_arrivals(fortnight: Fortnight, messages: list[dict], now: dt.datetime) -> None:
    """Mark what this run delivered: a call with its details, parties and transcript (if it
    has them), or a review's new answers."""
    records: dict[str, list[dict]] = {}
    for message in messages:
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    call_ids = {r["id"] for r in records.get("calls", [])}
    transcript_ids = {r["callId"] for r in records.get("call_transcripts", [])}
    participant_ids = {r["callId"] for r in records.get("call_participants", [])}
    # A call's details, with its participants if it has any (imported calls have none).
    complete_ids = {
        r["id"]
        for r in records.get("call_details", [])
        if not r.get("parties") or r["id"] in participant_ids
    }
    answers = {
        r["answeredScorecardId"]: answers_of(r) for r in records.get("answered_scorecards", [])
    }
    for publication in fortnight.publications:
        if publication.arrived_at is not None:
            continue
        if publication.stream == "calls":
            arrived = publication.key in call_ids & complete_ids and (
                publication.key in transcript_ids or not publication.has_transcript
            )
        else:
            arrived = answers.get(publication.key) == publication.answers
        if arrived:
            publication.arrived_at = now


def final_state(messages: list[dict]) -> dict:
    return next(m["value"] for m in reversed(messages) if m["type"] == "STATE")
