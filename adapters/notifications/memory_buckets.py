"""The notification throttles' token buckets in this process (the embedded default): one lock
around the pure math (domain/notifications/throttles.py), so threads never over-grant.

A bucket that has filled up again, with no token promised, is the same as no bucket, so once
more than `sweep_above` are kept those are forgotten: many recipients never grow memory beyond
those whose buckets are still refilling."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from domain.notifications.throttles import (
    Ask,
    BucketRule,
    BucketState,
    Shortfall,
    refilled,
    take_all,
)


class MemoryThrottleBuckets:
    def __init__(self, *, sweep_above: int = 100_000) -> None:
        self._states: dict[str, BucketState] = {}
        self._rules: dict[str, BucketRule] = {}
        self._lock = threading.Lock()
        self._sweep_base = self._sweep_above = sweep_above

    def __len__(self) -> int:
        return len(self._states)

    def take(self, groups: Sequence[Sequence[Ask]], now: float) -> list[Shortfall | None]:
        with self._lock:
            if len(self._states) > self._sweep_above:
                self._forget_full(now)
            for asks in groups:
                for ask in asks:
                    self._rules[ask.key] = ask.rule
            return take_all(self._states, groups, now)

    def _forget_full(self, now: float) -> None:
        self._states = {key: state for key, state in self._states.items()
                        if refilled(state, self._rules[key], now).tokens
                        < self._rules[key].capacity or state.promised > now}
        self._rules = {key: self._rules[key] for key in self._states}
        # sweep again once as many more keys have come as are still refilling
        self._sweep_above = max(self._sweep_base, 2 * len(self._states))
