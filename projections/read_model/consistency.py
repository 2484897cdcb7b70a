"""Read-your-writes: a query may wait, bounded, until projections reach a log position."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol


class Progress(Protocol):
    def reached(self, position: int, projections: Sequence[str]) -> bool: ...


class ConsistencyGate:
    def __init__(self, progress: Progress, timeout_seconds: float) -> None:
        self._progress = progress
        self._timeout = timeout_seconds

    def wait(self, position: int | None, projections: Sequence[str]) -> bool:
        """True once every named projection has processed `position`; False on timeout."""
        if not position:
            return True
        deadline = time.monotonic() + self._timeout
        pause = 0.002
        while not self._progress.reached(position, projections):
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        return True
