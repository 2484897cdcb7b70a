"""A unit of work shared by the commands of one group commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate

if TYPE_CHECKING:
    from event_log.aggregate_cache import AggregateCache

A = TypeVar("A", bound=Aggregate)


class Batch:
    """Loads each aggregate once per batch, so commands in one batch see each other's effects.

    The writer's batches take their aggregates from its `AggregateCache`; any other batch
    (a read outside the writer) reads through the repository, as the library does.
    """

    def __init__(self, repository: Repository,  # type: ignore[type-arg]
                 cache: AggregateCache | None = None) -> None:
        self._repository = repository
        self._cache = cache
        self._aggregates: dict[UUID, Aggregate] = {}
        self._missing: set[UUID] = set()  # looked up once per batch, e.g. absent blocklists
        # by the command being decided: each one's pending events when it first saw it
        self._seen: dict[UUID, int] = {}
        self._distrusted: set[UUID] = set()  # seen by a command that failed: not kept

    def find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        aggregate = self._aggregates.get(aggregate_id)
        if aggregate is None:
            self._seen.setdefault(aggregate_id, 0)
            if aggregate_id in self._missing:
                return None
            try:
                aggregate = (self._repository.get(aggregate_id) if self._cache is None
                             else self._cache.take(aggregate_id))
            except AggregateNotFoundError:
                self._missing.add(aggregate_id)
                return None
            self._aggregates[aggregate_id] = aggregate
        elif aggregate_id not in self._seen:
            self._seen[aggregate_id] = len(aggregate.pending_events)
        return aggregate if isinstance(aggregate, kind) else None

    def find_all(self, kind: type[A], aggregate_ids: Iterable[UUID]) -> dict[UUID, A]:
        """`find` for many, reading those the writer's cache lacks in one query; for a kind
        that is never snapshotted (one that is, is read one at a time from its snapshot)."""
        ids = list(dict.fromkeys(aggregate_ids))
        wanted = [i for i in ids if i not in self._aggregates and i not in self._missing]
        if wanted and self._cache is not None and getattr(kind, "snapshot_every", None) is None:
            taken = self._cache.take_all(wanted)
            self._aggregates.update(taken)
            self._missing.update(i for i in wanted if i not in taken)
        found = {i: self.find(kind, i) for i in ids}
        return {i: a for i, a in found.items() if a is not None}

    def add(self, aggregate: Aggregate) -> None:
        if aggregate.id not in self._seen:
            same = self._aggregates.get(aggregate.id) is aggregate
            self._seen[aggregate.id] = len(aggregate.pending_events) if same else 0
        self._missing.discard(aggregate.id)
        self._aggregates[aggregate.id] = aggregate

    def begin_command(self) -> None:
        """The next command starts: what it reads and the events it adds are counted apart."""
        self._seen = {}

    def distrust_command(self) -> None:
        """The command failed: what it read may have been changed without an event, so
        none of it goes back to the writer's cache."""
        self._distrusted.update(self._seen)

    def kept(self) -> list[Aggregate]:
        """The aggregates that may go back to the writer's cache once the batch committed."""
        return [a for i, a in self._aggregates.items() if i not in self._distrusted]

    def pending_event_count(self) -> int:
        return sum(len(a.pending_events) for a in self._aggregates.values())

    def command_event_keys(self) -> set[tuple[UUID, int]]:
        """Where the events the current command added will sit: only the aggregates it saw
        (found or added) can hold any, so the rest of the batch is not walked."""
        return {(e.originator_id, e.originator_version)
                for aggregate_id, before in self._seen.items()
                if (a := self._aggregates.get(aggregate_id)) is not None
                for e in a.pending_events[before:]}

    def command_added_events(self) -> bool:
        return any(len(a.pending_events) > before for aggregate_id, before in self._seen.items()
                   if (a := self._aggregates.get(aggregate_id)) is not None)

    def touched(self) -> list[Aggregate]:
        return [a for a in self._aggregates.values() if a.pending_events]
