"""The embedded default's dispatch queue: one FIFO per priority in this process's memory."""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence

from commands.notifications.dispatcher import DispatchJob
from domain.notifications.channels import PRIORITIES


class PriorityQueues:
    """A `DispatchQueue`. `take` serves the most urgent of the asked priorities that has jobs;
    a job already waiting is not queued twice."""

    def __init__(self) -> None:
        self._queues: dict[str, collections.deque[DispatchJob]] = {
            p: collections.deque() for p in PRIORITIES}
        self._waiting: set[DispatchJob] = set()
        self._ready = threading.Condition()
        self._closed = False

    def put(self, jobs: Sequence[DispatchJob]) -> None:
        with self._ready:
            for job in jobs:
                if job not in self._waiting:
                    self._waiting.add(job)
                    self._queues.get(job.priority, self._queues["bulk"]).append(job)
            self._ready.notify_all()

    def take(self, priorities: Sequence[str], max_jobs: int,
             timeout: float) -> list[DispatchJob]:
        with self._ready:
            if not self._ready.wait_for(
                    lambda: self._closed or any(self._queues[p] for p in priorities),
                    timeout=timeout):
                return []
            for priority in PRIORITIES:
                queue = self._queues[priority]
                if priority in priorities and queue:
                    taken = [queue.popleft() for _ in range(min(max_jobs, len(queue)))]
                    self._waiting.difference_update(taken)
                    return taken
            return []

    def depth(self) -> dict[str, int]:
        with self._ready:
            return {p: len(q) for p, q in self._queues.items()}

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()
