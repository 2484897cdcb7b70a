"""Work done every so many seconds on a daemon thread of its own, until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from commands.processes.outages import Outage

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Schedule:
    """Periodic work a context declares (its manifest's `schedules`): `work` runs every
    `every_seconds` and handles at most `bound` items a round (what is left waits for the
    next), returning how many it handled. `doing` says what it does, as the log tells of an
    outage ("sweeping expired uploads failed ...") to `logger` (this module's by default);
    `after` is told how many a working round handled, once the end of an outage is logged."""

    name: str
    every_seconds: float
    work: Callable[[int], int]
    bound: int = 200
    doing: str = ""
    logger: logging.Logger | None = None
    after: Callable[[int], object] | None = None


class ScheduledJob:
    """A `Schedule` on a daemon thread of its own: a failing round is logged once per outage
    (a WARNING when the failures start, an INFO when a round works again), and the next round
    retries; one bad round never ends the schedule."""

    def __init__(self, schedule: Schedule, logger: logging.Logger | None = None) -> None:
        self.schedule = schedule
        self._outage = Outage(logger or schedule.logger or log, schedule.doing or schedule.name)
        self._every = Every(schedule.every_seconds, self.run_once, name=schedule.name)

    def start(self) -> None:
        self._every.start()

    def stop(self) -> None:
        self._every.stop()

    def run_once(self) -> int | None:
        """One round now: how many items it handled, or None if it failed."""
        try:
            handled = self.schedule.work(self.schedule.bound)
        except Exception as error:  # noqa: BLE001 - logged once per outage; the next retries
            self._outage.failed(error)
            return None
        self._outage.recovered()
        if self.schedule.after is not None:
            self.schedule.after(handled)
        return handled
