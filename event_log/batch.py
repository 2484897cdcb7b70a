"""A unit of work shared by the commands of one group commit."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate

A = TypeVar("A", bound=Aggregate)


class Batch:
    """Loads each aggregate once per batch, so commands in one batch see each other's effects."""

    def __init__(self, repository: Repository) -> None:  # type: ignore[type-arg]
        self._repository = repository
        self._aggregates: dict[UUID, Aggregate] = {}
        self._missing: set[UUID] = set()  # looked up once per batch, e.g. absent blocklists

    def find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        aggregate = self._aggregates.get(aggregate_id)
        if aggregate is None:
            if aggregate_id in self._missing:
                return None
            try:
                aggregate = self._repository.get(aggregate_id)
            except AggregateNotFoundError:
                self._missing.add(aggregate_id)
                return None
            self._aggregates[aggregate_id] = aggregate
        return aggregate if isinstance(aggregate, kind) else None

    def add(self, aggregate: Aggregate) -> None:
        self._missing.discard(aggregate.id)
        self._aggregates[aggregate.id] = aggregate

    def pending_event_count(self) -> int:
        return sum(len(a.pending_events) for a in self._aggregates.values())

    def pending_event_keys(self) -> set[tuple[UUID, int]]:
        return {
            (e.originator_id, e.originator_version)
            for a in self._aggregates.values()
            for e in a.pending_events
        }

    def touched(self) -> list[Aggregate]:
        return [a for a in self._aggregates.values() if a.pending_events]
