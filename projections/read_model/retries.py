"""The one retry loop of the processes that follow the log (the embedded projection runner, the
Kafka relay, the Kafka projection runner): a failing step is retried after a delay that
doubles up to a cap, until it works again or the process stops; a step that works resets it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class RetryWithBackoff:
    """Runs `step` until `stopping` is set. A step that raises is reported to `failed` (which
    logs and drops whatever connection broke) and retried after the current delay; a step
    that found nothing to do (answered False) is followed by `idle` (which waits for work)."""

    def __init__(self, stopping: threading.Event, failed: Callable[[Exception], None], *,
                 first_delay: float = 0.5, longest_delay: float = 5.0) -> None:
        self._stopping = stopping
        self._failed = failed
        self._first_delay = first_delay
        self._longest_delay = longest_delay

    def run(self, step: Callable[[], bool], idle: Callable[[], None] = lambda: None) -> None:
        delay = self._first_delay
        while not self._stopping.is_set():
            try:
                worked = step()
            except Exception as error:  # noqa: BLE001 - a service away: retry, never skip
                self._failed(error)
                self._stopping.wait(delay)
                delay = min(delay * 2, self._longest_delay)
                continue
            delay = self._first_delay
            if not worked:
                idle()
