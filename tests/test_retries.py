"""Retries on the pacer's clock: Gong's Retry-After exactly, backoff otherwise, bounded.

These run in process with a fake clock: the waits are checked, never slept.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError

from gong_sandbox import GongSandbox
from tap_gong.errors import GongRetriesExhausted
from tap_gong.pacing import RequestPacer
from tap_gong.retries import RetryPolicy
from tests.support import FakeClock, sync_in_process, tap_config, tap_in_process


def fault(status: int, retry_after: str | None = None) -> RetriableAPIError:
    response = requests.Response()
    response.status_code = status
    response.request = requests.Request("GET", "https://us-1.api.gong.io/v2/calls").prepare()
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return RetriableAPIError(f"HTTP {status}", response)


def policy(clock: FakeClock, max_retry_time_seconds: int = 900) -> RetryPolicy:
    return RetryPolicy(
        max_retries=8,
        max_retry_wait_seconds=300,
        max_retry_time_seconds=max_retry_time_seconds,
        clock=clock,
        jitter=lambda: 1.0,  # the longest backoff, so the bounds are exact
    )


def waits_for(faults: list[RetriableAPIError], retry_policy: RetryPolicy) -> list[float]:
    """The waits the policy hands to the pacer for these faults, in order."""
    held: list[float] = []
    waits = retry_policy.waits(hold=held.append)
    next(waits)
    for each in faults:
        assert waits.send(each) == 0.0  # the retry loop itself never sleeps
    return held


def test_a_429_waits_exactly_gongs_retry_after_never_jittered() -> None:
    assert waits_for([fault(429, "7"), fault(429, "2")], policy(FakeClock())) == [7.0, 2.0]


def test_other_faults_back_off_exponentially_up_to_a_minute() -> None:
    held = waits_for([fault(503)] * 8, policy(FakeClock()))

    assert held == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_an_expired_oauth_token_is_retried_at_once() -> None:
    assert waits_for([fault(401)], policy(FakeClock())) == [0.0]


def test_retries_stop_once_their_waits_would_pass_max_retry_time() -> None:
    clock = FakeClock()
    waits = policy(clock, max_retry_time_seconds=10).waits(hold=clock.sleep)
    next(waits)
    waits.send(fault(500))  # 2 s
    waits.send(fault(500))  # 4 s: 6 s spent

    with pytest.raises(GongRetriesExhausted, match="max_retry_time_seconds=10"):
        waits.send(fault(500))  # 8 s more would make 14


def test_a_hold_delays_every_later_request_of_the_run() -> None:
    clock = FakeClock()
    pacer = RequestPacer(rate=3, clock=clock, sleep=clock.sleep)
    pacer.wait_turn()

    pacer.hold(5.0)
    pacer.wait_turn()

    assert clock.slept == [5.0]
    assert pacer.requests_started == 2


@pytest.mark.parametrize("kind", ["500", "503", "html500", "drop", "truncate", "429"])
def test_a_transient_fault_is_retried_on_the_pacers_clock_and_nothing_is_lost(
    kind: str, sandbox: GongSandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.configure(retry_after_seconds=30)
    sandbox.fail_next(kind, count=2)
    # One request in flight: the waits of one request's retries, counted exactly.
    clock = FakeClock()
    pacer = RequestPacer(rate=100, clock=clock, sleep=clock.sleep)
    tap = tap_in_process(tap_config(sandbox, max_concurrent_requests=1), pacer=pacer)

    with caplog.at_level(logging.WARNING):
        messages = sync_in_process(tap)

    calls = [m["record"]["id"] for m in messages if m.get("stream") == "calls" and "record" in m]
    assert sorted(calls) == sorted(c["id"] for c in sandbox.calls())
    assert len([r for r in caplog.records if "Retrying in" in r.getMessage()]) == 2
    expected = [30.0, 30.0] if kind == "429" else None
    if expected:
        assert clock.slept == expected
    else:
        assert len(clock.slept) == 2
        assert 1.0 <= clock.slept[0] <= 2.0
        assert 2.0 <= clock.slept[1] <= 4.0
