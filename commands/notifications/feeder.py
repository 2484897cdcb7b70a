"""Feeds dispatchers: reads `Notification.Queued` events from the log by position and puts a
job for each on the dispatch queue, then records the position reached.

Like a process manager's runner (commands/processes/runner.py) it reads the log itself, in the
same loop (commands/processes/following.py), under its lock, so one process feeds at a time;
unlike one it issues no command: a job is a request to a dispatcher, and a job put twice is
harmless (`StartDispatches` leaves a notification that is no longer queued alone). In
production the queue is Kafka and the position is kept in PostgreSQL, recorded only once the
jobs are acknowledged. In the embedded default the queue is in memory and so is the position,
which starts at the log's head: what was queued before a restart is queued again by the
schedule's sweep (commands/notifications/timers.py).
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from commands.notifications.dispatcher import DispatchJob, DispatchQueue
from commands.processes.following import LogFollower
from commands.processes.runner import ProcessLocks, ProcessPositions, ReactionLog, lock_name

log = logging.getLogger(__name__)

FEEDER_NAME: Final = "notification-dispatch-feeder"


class DispatchFeeder:
    def __init__(self, read: ReactionLog, positions: ProcessPositions, locks: ProcessLocks,
                 queue: DispatchQueue, *, batch_size: int = 1000,
                 poll_seconds: float = 0.25, retry_seconds: float = 1.0) -> None:
        self._read = read
        self._positions = positions
        self._locks = locks
        self._queue = queue
        self._batch_size = batch_size
        self._follower = LogFollower(FEEDER_NAME, self.run_once, log,
                                     "feeding the dispatch queue",
                                     poll_seconds=poll_seconds, retry_seconds=retry_seconds)

    def start(self) -> None:
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def wake(self, position: int = 0) -> None:
        self._follower.wake(position)

    def run_once(self) -> bool:
        """Feed the next batch; whether the recorded position moved."""
        with self._locks.hold(lock_name(FEEDER_NAME)):
            done = self._positions.position(FEEDER_NAME)
            events, upto = self._read(done, self._batch_size)
            if upto <= done:
                return False
            jobs = [DispatchJob(e.event.originator_id, e.event.priority)
                    for e in events if e.position > done]
            if jobs:
                self._queue.put(jobs)
            self._positions.record(FEEDER_NAME, upto)
        return True


class PositionsFrom:
    """Positions kept in memory, each starting where it is first asked (the embedded feeder:
    the log's head at start)."""

    def __init__(self, start: int) -> None:
        self._start = start
        self._positions: dict[str, int] = {}
        self._lock = threading.Lock()

    def position(self, manager: str) -> int:
        with self._lock:
            return self._positions.setdefault(manager, self._start)

    def record(self, manager: str, position: int) -> None:
        with self._lock:
            self._positions[manager] = max(position, self._positions.get(manager, 0))
