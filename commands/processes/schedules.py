"""Work done every so many seconds on a daemon thread of its own, until stopped."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Every:
    """Calls `work` every `seconds` (first after one interval) until `stop`; `work` handles
    its own failures, so one bad round never ends the schedule."""

    def __init__(self, seconds: float, work: Callable[[], object], name: str) -> None:
        self._seconds = seconds
        self._work = work
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.wait(self._seconds):
            self._work()
