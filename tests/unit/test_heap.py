"""A long-running process settles its heap once started (parley/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from parley import heap
from parley.settings import Settings


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_a_settled_process_collects_its_young_less_often_and_skips_what_start_up_made(
        collector: None) -> None:
    _, middle, oldest = gc.get_threshold()
    made_at_start_up = [[n] for n in range(1000)]

    heap.settle(50_000)

    assert gc.get_threshold() == (50_000, middle, oldest)
    assert gc.get_freeze_count() >= len(made_at_start_up)


def test_zero_keeps_pythons_defaults(collector: None) -> None:
    before = gc.get_threshold()
    heap.settle(0)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_default_is_50000_and_a_negative_threshold_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.model_fields["gc_young_threshold"].default == 50_000
    monkeypatch.setenv("PARLEY_GC_YOUNG_THRESHOLD", "-1")
    with pytest.raises(ValueError, match="gc_young_threshold"):
        Settings()
