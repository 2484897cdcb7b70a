"""The writer's aggregates: each one it saved or read, known current up to a log position.

`eventsourcing` caches an aggregate when it is read, not when it is saved (while
`AGGREGATE_CACHE_FASTFORWARD` is on), and asks the log for newer events on every read of a
cached one, one query per aggregate. The writer keeps its own cache instead: what it saved
is kept as saved, and before deciding each batch it asks the log once how far it reaches.
Events at positions it did not write itself (another process's) are read, and the aggregates
they belong to forgotten; so every aggregate kept reflects every event up to the position it
knows, with one query a batch, and none beyond it when this process is the only writer.

An aggregate is handed out, not copied: while a batch has it, it is out of the cache, and
only what a batch saved (or read and left unchanged) comes back, so a command that failed
half-way, a conflict or a failed save leaves nothing it touched behind. A save that conflicts
(another process wrote first) is caught by the log's optimistic concurrency as before, and
the writer's retry reads the aggregate afresh, since the failed batch kept nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Final
from uuid import UUID

from eventsourcing.application import Repository, project_aggregate
from eventsourcing.domain import Aggregate

from event_log.log import EventKey, EventLog

WRITER_CACHE_SIZE: Final = 20_000  # aggregates, least recently used forgotten first
SCAN_LIMIT: Final = 5_000  # others' events read at once; beyond, everything is forgotten


class AggregateCache:
    """The group-commit writer's aggregates; used by its thread only."""

    def __init__(self, log: EventLog, *, max_size: int = WRITER_CACHE_SIZE,
                 scan_limit: int = SCAN_LIMIT) -> None:
        self._log = log
        # Rebuilds from the log (snapshot first, where there is one) without the library's
        # cache, which stays for other threads' reads.
        self._rebuild: Repository = Repository(  # type: ignore[type-arg]
            event_store=log.events, snapshot_store=log.snapshots)
        self._max_size = max_size
        self._scan_limit = scan_limit
        self._aggregates: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._current_up_to: int | None = None  # every kept aggregate reflects the log to here
        self._own: set[int] = set()  # positions beyond it that this writer saved
        self.rebuilt = 0  # aggregates read from the log (tests, benchmarks)

    @property
    def current_up_to(self) -> int | None:
        return self._current_up_to

    def __contains__(self, aggregate_id: object) -> bool:
        return aggregate_id in self._aggregates

    def __len__(self) -> int:
        return len(self._aggregates)

    def catch_up(self) -> None:
        """Forgets the aggregates another process wrote to since the position known: one
        query for the log's head, and, if others wrote, one for their events."""
        head = self._log.head_position()
        known = self._current_up_to
        if known is None or head < known:
            self._forget_all(head)
            return
        self._own = {p for p in self._own if p > known}
        others = head - known - sum(1 for p in self._own if p <= head)
        if others <= 0:
            self._settle(head)
            return
        if others > self._scan_limit:
            self._forget_all(head)
            return
        for position, aggregate_id in self._log.originators_between(known, head, head - known):
            if position not in self._own:
                self._aggregates.pop(aggregate_id, None)
        self._settle(head)

    def take(self, aggregate_id: UUID) -> Aggregate:
        """The aggregate, out of the cache until it is kept again; raises the library's
        `AggregateNotFoundError` if the log has none."""
        aggregate = self._aggregates.pop(aggregate_id, None)
        if aggregate is None:
            aggregate = self._rebuild.get(aggregate_id)
            self.rebuilt += 1
        return aggregate

    def take_all(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, Aggregate]:
        """`take` for many: those not cached are read from the log in one query, and rebuilt
        from all their events (so for aggregates that are never snapshotted)."""
        taken: dict[UUID, Aggregate] = {}
        for aggregate_id in aggregate_ids:
            if (aggregate := self._aggregates.pop(aggregate_id, None)) is not None:
                taken[aggregate_id] = aggregate
        missing = [i for i in dict.fromkeys(aggregate_ids) if i not in taken]
        if missing:
            for aggregate_id, stored in self._log.events_of(missing).items():
                rebuilt = project_aggregate(None, map(self._log.mapper.to_domain_event, stored))
                if isinstance(rebuilt, Aggregate):
                    taken[aggregate_id] = rebuilt
                    self.rebuilt += 1
        return taken

    def keep(self, aggregates: Iterable[Aggregate], saved: Mapping[EventKey, int]) -> None:
        """After a batch committed: its aggregates as they are now, and where its events are."""
        for aggregate in aggregates:
            self._aggregates[aggregate.id] = aggregate
            self._aggregates.move_to_end(aggregate.id)
        while len(self._aggregates) > self._max_size:
            self._aggregates.popitem(last=False)
        if self._current_up_to is not None:
            self._own.update(p for p in saved.values() if p > self._current_up_to)
            self._settle(self._current_up_to)

    def _settle(self, position: int) -> None:
        """Known to `position`, and past it over this writer's own positions that follow."""
        while position + 1 in self._own:
            position += 1
            self._own.discard(position)
        self._current_up_to = position

    def _forget_all(self, head: int) -> None:
        self._aggregates.clear()
        self._own.clear()
        self._current_up_to = head


__all__ = ["SCAN_LIMIT", "WRITER_CACHE_SIZE", "AggregateCache"]
