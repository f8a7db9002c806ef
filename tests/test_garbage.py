"""A sync runs Python's cycle collector less often, and leaves it as it found it.

Decoded pages of calls are tens of thousands of dicts and lists without cycles: at
Python's default a young-generation collection runs every 700 of them and finds nothing
(benchmarks/scale.py measures what that cost).
"""

from __future__ import annotations

import gc
from typing import Any

import pytest
from singer_sdk import Tap

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
