"""A sync runs Python's cycle collector less often, and leaves it as it found it; the
command leaves its objects out of the collection at exit.

Decoded pages of calls are tens of thousands of dicts and lists without cycles: at
Python's default a young-generation collection runs every 700 of them and finds nothing
(benchmarks/scale.py measures what that cost).
"""

from __future__ import annotations

import gc
import signal
from typing import Any

import pytest
from singer_sdk import Tap

from tap_gong import cli
from tap_gong.garbage import YOUNG_COLLECTION_THRESHOLD
from tap_gong.tap import TapGong


def test_a_sync_collects_the_young_generation_less_often_and_restores_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thresholds_during_sync = []

    def sdk_invoke(cls: type[Tap], **kwargs: Any) -> None:
        thresholds_during_sync.append(gc.get_threshold())

    before = gc.get_threshold()
    monkeypatch.setattr(Tap, "invoke", classmethod(sdk_invoke))
    TapGong.invoke(state=None)
    assert thresholds_during_sync == [(YOUNG_COLLECTION_THRESHOLD, *before[1:])]
    assert gc.get_threshold() == before


def test_a_failed_sync_restores_the_collector_too(monkeypatch: pytest.MonkeyPatch) -> None:
    def sdk_invoke(cls: type[Tap], **kwargs: Any) -> None:
        raise KeyboardInterrupt

    before = gc.get_threshold()
    monkeypatch.setattr(Tap, "invoke", classmethod(sdk_invoke))
    with pytest.raises(KeyboardInterrupt):
        TapGong.invoke(state=None)
    assert gc.get_threshold() == before


@pytest.mark.parametrize("host_threshold", [0, 2 * YOUNG_COLLECTION_THRESHOLD])
def test_a_host_that_collects_less_often_or_never_keeps_its_choice(
    monkeypatch: pytest.MonkeyPatch, host_threshold: int
) -> None:
    thresholds_during_sync = []

    def sdk_invoke(cls: type[Tap], **kwargs: Any) -> None:
        thresholds_during_sync.append(gc.get_threshold()[0])

    before = gc.get_threshold()
    monkeypatch.setattr(Tap, "invoke", classmethod(sdk_invoke))
    gc.set_threshold(host_threshold, *before[1:])
    try:
        TapGong.invoke(state=None)
    finally:
        gc.set_threshold(*before)
    assert thresholds_during_sync == [host_threshold]


@pytest.mark.parametrize("ending", [SystemExit(0), SystemExit(1), KeyboardInterrupt()])
def test_the_command_leaves_its_objects_out_of_the_collection_python_makes_as_it_exits(
    monkeypatch: pytest.MonkeyPatch, ending: BaseException
) -> None:
    # That last collection traverses the whole heap only to free what the process frees
    # anyway: 0.16 s of every run's end (benchmarks/latency_sweep.py).
    def sdk_cli() -> None:
        raise ending

    monkeypatch.setattr(TapGong, "cli", sdk_cli)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # this process keeps its own
    try:
        with pytest.raises(type(ending)):
            cli.main()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
