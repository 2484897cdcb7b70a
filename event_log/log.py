"""The event log: an `eventsourcing` application whose recorder is the append-only store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Recording, StoredEvent

from event_log.aggregate import SNAPSHOT_EVERY

__all__ = ["SNAPSHOT_EVERY", "EventKey", "EventLog", "EventsOfMany", "RecentWrites",
           "RecordedEvents"]

EventKey = tuple[UUID, int]  # an aggregate id and version: where an event sits in the log


@runtime_checkable
class RecordedEvents(Protocol):
    """A recorder that can say, on a connection of its own and within `timeout` seconds, which
    of these aggregate versions it holds and at which positions (to resolve an in-doubt commit).
    """

    def recorded(self, keys: Sequence[EventKey],
                 timeout: float) -> dict[EventKey, tuple[int, StoredEvent]]: ...


@runtime_checkable
class RecentWrites(Protocol):
    """A recorder that says, in one try each (the writer bounds and answers failures itself),
    how far the log reaches and whose events lie between two positions."""

    def head_position(self) -> int: ...

    def originators_between(self, after: int, until: int,
                            limit: int) -> list[tuple[int, UUID]]: ...


@runtime_checkable
class EventsOfMany(Protocol):
    """A recorder that reads the events of many aggregates in one query, in one try."""

    def events_of(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]: ...



class DeclaredSnapshotIntervals(dict[type[Any], int]):
    """The snapshot interval each aggregate class declares itself (`snapshot_every`), so the
    log names no context's aggregate. The library asks it `.get(type(aggregate))` as it saves,
    and whether it is empty as the log opens (never: snapshotting is on)."""

    def get(self, aggregate_type: type[Any], default: Any = None) -> Any:
        every = getattr(aggregate_type, "snapshot_every", None)
        return default if every is None else every

    def __bool__(self) -> bool:
        return True


class EventLog(Application):  # type: ignore[type-arg]
    """Parley's single event log; every aggregate of every context is stored here.

    An aggregate that grows with use (a conversation with every message, a device with every
    token refresh, a person's pending uploads with every upload) declares `snapshot_every`
    (`SNAPSHOT_EVERY`): loading one (after a restart, or in another process) reads a snapshot
    and at most that many events, however long it has lived.
    """

    name = "Parley"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = DeclaredSnapshotIntervals()

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, with aggregates' events collected without its two
        `runtime_checkable` Protocol checks per aggregate (each walks the protocol's members:
        about 10 us, and a trigger saves one aggregate or more per recipient); anything else
        (events, after a save failed in doubt) goes through the library's own collecting."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, BaseAggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def committed_positions(self, events: Sequence[DomainEventProtocol[UUID]],
                            timeout: float) -> dict[EventKey, int] | None:
        """Where `events` are if a save that failed in doubt did commit them; None if it did not;
        `IntegrityError` if it did not because another writer holds one of their versions.

        A transaction is all or nothing, so the save committed only if every one of its events is
        in the log, each the same event (type and moment), not one another writer put there since.
        Another writer's event at one of these versions is a conflict, whatever error the failed
        save raised (psycopg's pipeline can report a unique violation as "pipeline aborted"):
        the command is to be decided again on fresh state, not saved again as it was.
        """
        keys = [(e.originator_id, e.originator_version) for e in events]
        found = self._recorded(keys, timeout)
        positions: dict[EventKey, int] = {}
        missing = False
        for key, event in zip(keys, events, strict=True):
            if key not in found:
                missing = True
                continue
            position, stored = found[key]
            again = self.mapper.to_domain_event(stored)
            moment = getattr(again, "timestamp", None)
            if type(again) is not type(event) or moment != getattr(event, "timestamp", None):
                raise IntegrityError(f"version {key[1]} of {key[0]} holds another writer's event")
            positions[key] = position
        return None if missing else positions

    def head_position(self) -> int:
        """The position of the newest event in the log (0 when it is empty)."""
        recorder = self.recorder
        if isinstance(recorder, RecentWrites):
            return recorder.head_position()
        return recorder.max_notification_id() or 0

    def originators_between(self, after: int, until: int,
                            limit: int) -> list[tuple[int, UUID]]:
        """The position and aggregate of at most `limit` events in (`after`, `until`]."""
        recorder = self.recorder
        if isinstance(recorder, RecentWrites):
            return recorder.originators_between(after, until, limit)
        return [(n.id, UUID(str(n.originator_id))) for n in recorder.select_notifications(
            after, limit, until, inclusive_of_start=False)]

    def events_of(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Every event of each of these aggregates, oldest first; none for one not in the log."""
        recorder = self.recorder
        if isinstance(recorder, EventsOfMany):
            return recorder.events_of(originator_ids)
        found = {i: list(recorder.select_events(i)) for i in originator_ids}
        return {i: events for i, events in found.items() if events}

    def _recorded(self, keys: Sequence[EventKey],
                  timeout: float) -> dict[EventKey, tuple[int, StoredEvent]]:
        recorder = self.recorder
        if isinstance(recorder, RecordedEvents):
            return recorder.recorded(keys, timeout)
        # A recorder of the library's own (tests): its reads, and the head as each position.
        head = recorder.max_notification_id() or 0
        return {(i, v): (head, stored[0]) for i, v in keys
                if (stored := recorder.select_events(i, gt=v - 1, lte=v))}
