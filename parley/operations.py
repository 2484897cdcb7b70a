"""Operators' tools over a profile: replay, projection status and parked-event retry.

Built for the command line (`parley replay`, `parley projections ...`) and for the admin HTTP
routes of a serving process, from the same settings, so both act on the same stores (by
parley/operations_wiring.py, for each profile).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from adapters.event_log.log_reader import LogReader
from event_log.log import EventLog
from projections.messaging.cache_invalidation import hot_path_keys
from projections.read_model.documents import ReadStore
from projections.read_model.events import PositionedEvent
from projections.read_model.health import ProjectionHealth, ProjectionLocks
from projections.read_model.maintenance import (
    ProjectionStatus,
    RetryOutcome,
    projection_status,
    retry_parked,
)
from projections.read_model.replay import Generations, Replayer
from projections.read_model.runner import Cache, Projector


class UnknownProjection(ValueError):
    """A name that is not one of Parley's projections."""


@dataclass
class Operations:
    projectors: list[Projector]
    event_log: EventLog
    store: ReadStore
    cache: Cache
    generations: Generations
    health: ProjectionHealth
    locks: ProjectionLocks
    lag: Callable[[int], dict[str, int]]
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def read_log(self) -> LogReader:
        return LogReader(self.event_log)

    def head(self) -> int:
        return self.read_log.head()

    def select(self, names: Sequence[str], everything: bool = False) -> list[Projector]:
        if everything or not names:
            return list(self.projectors)
        by_name = {p.name: p for p in self.projectors}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise UnknownProjection(f"unknown projection(s): {', '.join(unknown)}; known: "
                                    f"{', '.join(sorted(by_name))}")
        return [by_name[n] for n in dict.fromkeys(names)]

    def replayer(self) -> Replayer:
        return Replayer(self.read_log, self.head, self.generations, self.health)

    def status(self) -> list[ProjectionStatus]:
        head = self.head()
        return projection_status(self.projectors, self.store, head, self.lag(head),
                                 self.health, self.generations.locations, self._event_at)

    def retry(self, projection: str | None = None) -> list[RetryOutcome]:
        if projection is not None:
            self.select([projection])
        return retry_parked(self.projectors, self.read_log, self.store, self.cache,
                            self.health, self.locks, projection, hot_paths=hot_path_keys)

    def _event_at(self, position: int) -> PositionedEvent | None:
        found = self.read_log(position, 1)
        return found[0] if found else None

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
