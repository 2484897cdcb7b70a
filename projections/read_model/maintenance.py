"""What operators ask of projections: how each is doing, and re-projecting parked events."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from projections.read_model.documents import ReadStore
from projections.read_model.events import PositionedEvent
from projections.read_model.health import ProjectionHealth, ProjectionLocks, describe
from projections.read_model.runner import Cache, HotPathKeys, Projector, no_hot_paths, stale_keys


@dataclass(frozen=True)
class ProjectionStatus:
    projection: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    locations: Mapping[str, str]
    parked: int
    last_error: str | None
    last_error_at: datetime | None


def projection_status(
    projectors: Sequence[Projector], store: ReadStore, head: int, lag: Mapping[str, int],
    health: ProjectionHealth, locations: Callable[[Projector], Mapping[str, str]],
    event_at: Callable[[int], PositionedEvent | None],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[ProjectionStatus]:
    """Lag in seconds is the age of the oldest event a projection has not processed yet."""
    parked: dict[str, int] = {}
    for event in health.parked(limit=100_000):
        parked[event.projection] = parked.get(event.projection, 0) + 1
    errors = health.last_errors()
    statuses = []
    for projector in projectors:
        position = store.position(projector.name)
        behind = lag.get(projector.name, max(0, head - position))
        seconds = 0.0
        if behind:
            oldest = event_at(position + 1)
            if oldest is not None:
                seconds = max(0.0, (now() - oldest.event.timestamp).total_seconds())
        error = errors.get(projector.name)
        statuses.append(ProjectionStatus(
            projector.name, position, head, behind, round(seconds, 3), locations(projector),
            parked.get(projector.name, 0), error.error if error else None,
            error.at if error else None))
    return statuses


@dataclass(frozen=True)
class RetryOutcome:
    projection: str
    position: int
    event_type: str
    resolved: bool
    error: str | None = None


def retry_parked(
    projectors: Sequence[Projector], read_log: Callable[[int, int], list[PositionedEvent]],
    store: ReadStore, cache: Cache, health: ProjectionHealth, locks: ProjectionLocks,
    projection: str | None = None, hot_paths: HotPathKeys = no_hot_paths,
) -> list[RetryOutcome]:
    """Re-projects parked events in log order. One that now succeeds is merged late (it fills
    in what later events left missing, never overwriting what they set) and unparked; one that
    fails again stays parked with the new error."""
    by_name = {p.name: p for p in projectors}
    outcomes = []
    for parked in health.parked(projection):
        projector = by_name.get(parked.projection)
        found = read_log(parked.position, 1)
        if projector is None or not found or found[0].position != parked.position:
            outcomes.append(RetryOutcome(parked.projection, parked.position, parked.event_type,
                                         False, "the projection or the event no longer exists"))
            continue
        try:
            changes = projector.changes(found[0].event, parked.position)
        except Exception as error:  # noqa: BLE001 - whatever the projector raises keeps it parked
            health.park(parked.projection, parked.position, parked.event_type, describe(error))
            outcomes.append(RetryOutcome(parked.projection, parked.position, parked.event_type,
                                         False, describe(error)))
            continue
        with locks.hold(projector.name):
            store.apply_late(changes)
        cache.delete(stale_keys(changes, store, hot_paths))
        health.unpark(parked.projection, parked.position)
        outcomes.append(RetryOutcome(parked.projection, parked.position, parked.event_type,
                                     True))
    return outcomes
