"""The base of every Parley aggregate and event: each event records what caused it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

EVENT_ID_NAMESPACE = UUID("6f1c3a52-7b0e-4d55-9a51-0b8f3f6e2c11")
SNAPSHOT_EVERY = 500


@dataclass(frozen=True)
class Cause:
    """Why an event happened: the acting user and the request chain it belongs to."""

    actor_id: UUID
    correlation_id: UUID
    causation_id: UUID | None = None

    def as_event_fields(self) -> dict[str, Any]:
        return {
            "actor_id": self.actor_id,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }


class ParleyAggregate(Aggregate):
    """An aggregate whose events all carry their cause.

    One that grows with use says how often the event log snapshots it (`snapshot_every`), so
    loading it reads a snapshot and at most that many events, however long it has lived.
    """

    snapshot_every: ClassVar[int | None] = None  # None: never snapshotted

    class Event(Aggregate.Event):
        """An event that only records new values declares them rather than writing `apply`:
        `copies` (aggregate attribute -> event field) and `sets` (aggregate attribute ->
        value). One with any other effect overrides `apply`. Declarations are class
        attributes, never stored: an event's topic, fields and state stay as they were."""

        actor_id: UUID
        correlation_id: UUID
        causation_id: UUID | None
        copies: ClassVar[Mapping[str, str]] = MappingProxyType({})
        sets: ClassVar[Mapping[str, object]] = MappingProxyType({})

        def apply(self, aggregate: Any) -> None:
            for attribute, field in self.copies.items():
                setattr(aggregate, attribute, getattr(self, field))
            for attribute, value in self.sets.items():
                setattr(aggregate, attribute, value)

        @property
        def event_id(self) -> UUID:
            """Stable id of this event, derived from its place in its aggregate's history."""
            return uuid5(EVENT_ID_NAMESPACE, f"{self.originator_id}/{self.originator_version}")

    class Created(Event, Aggregate.Created):
        pass


def copied(*same_name: str, **renamed: str) -> Mapping[str, str]:
    """An event's `copies`: `copied("title")` sets the aggregate's `title` from the event's,
    `copied(last_seq="seq")` the aggregate's `last_seq` from the event's `seq`."""
    return MappingProxyType({name: name for name in same_name} | renamed)


def values(**attributes: object) -> Mapping[str, object]:
    """An event's `sets`: `values(revoked=True)` sets the aggregate's `revoked` to True."""
    return MappingProxyType(attributes)
