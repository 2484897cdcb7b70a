"""The thread of a loop that follows the log: runs a step until stopped, waking early when told
the log has grown, retrying a failing step after a pause with the outage logged once.

Process managers (commands/processes/runner.py) and the notification dispatch feeder
(commands/notifications/feeder.py) each tail the log with a step "handle the next batch;
answer whether the recorded position moved"; this is the loop around that step.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from commands.processes.outages import Outage


class LogFollower:
    """Runs `step` on a daemon thread named `name` until `stop()`. After a step that moved
    nothing it waits for `wake()` or `poll_seconds`; after one that raised, `retry_seconds`
    (the failure told to `logger` once per outage, as "`doing` failed")."""

    def __init__(self, name: str, step: Callable[[], bool], logger: logging.Logger, doing: str,
                 *, poll_seconds: float, retry_seconds: float) -> None:
        self._step = step
        self._outage = Outage(logger, doing)
        self._poll_seconds = poll_seconds
        self._retry_seconds = retry_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def wake(self, _position: int = 0) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                moved = self._step()
            except Exception as error:  # noqa: BLE001 - logged once per outage; retried
                self._outage.failed(error)
                self._stopping.wait(self._retry_seconds)
                continue
            self._outage.recovered()
            if not moved:
                self._wake.wait(timeout=self._poll_seconds)
                self._wake.clear()
