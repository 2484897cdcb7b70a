"""The durable timers: a schedule that turns due entries of the due-time index
(projections/notifications/schedule.py) into commands, and queues again what a lost job left.

Releasing is at least once and never early: the index may show a timer twice or late (it is a
read model), and `Notification.release` acts only on its current timer and only once it is
due. The sweep finds notifications queued, or dispatched and unanswered, for longer than a
dispatcher would take, and queues jobs for them again; its first round (at start) takes every
queued one, whatever its age, since an embedded process's in-memory queue began empty.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from commands.notifications.dispatch import ReleaseDue
from commands.notifications.dispatcher import DISPATCHER_ACTOR, DispatchJob, DispatchQueue
from commands.processes.schedules import Schedule
from domain.notifications.notifications import DISPATCHING, QUEUED
from event_log.aggregate import Cause


class DueIndex(Protocol):
    """projections.notifications.schedule.ScheduleQueries."""

    def due_timers(self, now: datetime, limit: int) -> list[tuple[UUID, int]]: ...

    def waiting_too_long(self, states: tuple[str, ...], since_before: datetime,
                         limit: int) -> list[tuple[UUID, str]]: ...

    def due_digests(self, now: datetime, limit: int) -> list[UUID]: ...


# the command that flushes these digests at that time (commands/notifications/digest_flush.py)
DigestFlush = Callable[[tuple[UUID, ...], datetime], Any]


class NotificationTimers:
    def __init__(self, index: DueIndex, execute: Callable[[Any, Cause], Any],
                 queue: DispatchQueue, clock: Callable[[], datetime], *,
                 requeue_after_seconds: float, stale_after_seconds: float,
                 flush: DigestFlush | None = None) -> None:
        self._index = index
        self._execute = execute
        self._queue = queue
        self._clock = clock
        self._requeue_after = timedelta(seconds=requeue_after_seconds)
        self._stale_after = timedelta(seconds=stale_after_seconds)
        self._first_sweep = True
        self._flush = flush

    def release(self, bound: int) -> int:
        now = self._clock()
        due = self._index.due_timers(now, bound)
        if not due:
            return 0
        outcome = self._execute(ReleaseDue(tuple(due), now), Cause(DISPATCHER_ACTOR, uuid.uuid4()))
        return len(getattr(outcome.result, "released", ()))

    def flush_digests(self, bound: int) -> int:
        """Flush the digests whose windows ended (each once: `Digest.flush`)."""
        if self._flush is None:
            return 0
        now = self._clock()
        due = self._index.due_digests(now, bound)
        if not due:
            return 0
        outcome = self._execute(self._flush(tuple(due), now),
                                Cause(DISPATCHER_ACTOR, uuid.uuid4()))
        return len(getattr(outcome.result, "digest_ids", ()))

    def sweep(self, bound: int) -> int:
        now = self._clock()
        queued_before = now if self._first_sweep else now - self._requeue_after
        lost = self._index.waiting_too_long((QUEUED,), queued_before, bound)
        lost += self._index.waiting_too_long((DISPATCHING,), now - self._stale_after, bound)
        if lost:
            self._queue.put([DispatchJob(nid, priority) for nid, priority in lost])
        self._first_sweep = False
        return len(lost)

    def schedules(self, every_seconds: float, sweep_every_seconds: float) -> tuple[Schedule, ...]:
        return (Schedule("notification-timers", every_seconds, self.release, bound=500,
                         doing="releasing due notification timers"),
                Schedule("notification-digests", every_seconds, self.flush_digests,
                         bound=100, doing="flushing due notification digests"),
                Schedule("notification-sweep", sweep_every_seconds, self.sweep, bound=1000,
                         doing="queueing lost notification jobs again"))
