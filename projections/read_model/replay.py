"""Rebuilding read models from the event log while the current ones keep serving.

A replay projects the log into a fresh generation of a projection's collections (new
Elasticsearch indices, or a fresh SQLite file), checkpointing as it goes, so an interrupted
replay resumes where it stopped. Once it has caught up with the log, it takes the
projection's lock (the live projector writes only under it), projects what arrived
meanwhile, and switches the projection to the new generation in one atomic step. The old
generation is kept until pruned.

With `--from`/`--until` (a log position or a time) a replay is an inspection instead: it
builds a read model as the log stood then, into a named target, and never switches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from projections.read_model.documents import ReadStore
from projections.read_model.events import PositionedEvent
from projections.read_model.health import ProjectionHealth
from projections.read_model.runner import ProjectionWriter, Projector

ReadLog = Callable[[int, int], list[PositionedEvent]]


@dataclass(frozen=True)
class ReplayTarget:
    """Where one projection is being rebuilt: a store, and the key of its checkpoint there."""

    projector: Projector
    store: ReadStore
    checkpoint_key: str
    generation: int | None = None  # None: a named inspection target
    locations: dict[str, str] = field(default_factory=dict)


class Generations(Protocol):
    """The generations of each projection's read model, in one kind of read store."""

    def serving(self, projector: Projector) -> int: ...

    def unfinished(self, projector: Projector) -> int | None:
        """A generation newer than the serving one, left by an interrupted replay."""

    def target(self, projector: Projector, generation: int) -> ReplayTarget: ...

    def named_target(self, projector: Projector, name: str) -> ReplayTarget: ...

    def switch(self, target: ReplayTarget, catch_up: Callable[[], int]) -> None:
        """Under the projection's lock: `catch_up()`, then serve `target` atomically."""

    def finish(self, target: ReplayTarget) -> None:
        """Makes a named target readable (refreshes; no switch)."""

    def prune(self, projector: Projector) -> list[str]:
        """Deletes generations older than the serving one; returns what was deleted."""

    def locations(self, projector: Projector) -> dict[str, str]:
        """Collection -> where its serving generation lives (index, table or file)."""


class NoCache:
    """Documents being rebuilt are not served yet: nothing to invalidate."""

    def get(self, key: str) -> dict[str, Any] | None:
        return None

    def set(self, key: str, value: dict[str, Any]) -> None:
        return None

    def delete(self, keys: Sequence[str]) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class ReplayRequest:
    projectors: Sequence[Projector]
    from_position: int | None = None
    until_position: int | None = None
    from_time: datetime | None = None
    until_time: datetime | None = None
    into: str | None = None
    batch_size: int = 1000

    @property
    def is_inspection(self) -> bool:
        """Bounded replays build a read model as of a moment; they never replace the live one."""
        return any(b is not None for b in (self.from_position, self.until_position,
                                           self.from_time, self.until_time, self.into))

    def target_name(self) -> str:
        if self.into:
            return self.into
        if self.until_position is not None:
            return f"asof-{self.until_position}"
        if self.until_time is not None:
            return "asof-" + self.until_time.strftime("%Y%m%dt%H%M%S")
        return f"from-{self.from_position or 0}"


@dataclass(frozen=True)
class PlannedRebuild:
    projection: str
    collections: tuple[str, ...]
    serving: int
    target: str
    resume_after: int


@dataclass(frozen=True)
class ReplayPlan:
    rebuilds: list[PlannedRebuild]
    first_position: int
    last_position: int
    switches: bool

    @property
    def events(self) -> int:
        return max(0, self.last_position - self.first_position + 1)


@dataclass
class ReplaySummary:
    projections: list[str]
    events: int = 0
    documents: int = 0
    seconds: float = 0.0
    last_position: int = 0
    switched_to: dict[str, int] = field(default_factory=dict)
    targets: dict[str, dict[str, str]] = field(default_factory=dict)
    parked: int = 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


Progress = Callable[[int, int], None]
"""Called with (events done, events in the plan) as a replay goes."""


class Replayer:
    def __init__(self, read_log: ReadLog, head: Callable[[], int], generations: Generations,
                 health: ProjectionHealth | None = None) -> None:
        self._read_log = read_log
        self._head = head
        self._generations = generations
        self._health = health

    def _targets(self, request: ReplayRequest) -> list[ReplayTarget]:
        if request.is_inspection:
            name = request.target_name()
            return [self._generations.named_target(p, name) for p in request.projectors]
        targets = []
        for projector in request.projectors:
            generation = (self._generations.unfinished(projector)
                          or self._generations.serving(projector) + 1)
            targets.append(self._generations.target(projector, generation))
        return targets

    def plan(self, request: ReplayRequest) -> ReplayPlan:
        """What `run` would do, without writing anything."""
        rebuilds = []
        for projector in request.projectors:
            serving = self._generations.serving(projector)
            if request.is_inspection:
                target, resume = request.target_name(), 0
            else:
                unfinished = self._generations.unfinished(projector)
                target = f"generation {unfinished or serving + 1}"
                resume = 0
                if unfinished:
                    resumed = self._generations.target(projector, unfinished)
                    resume = resumed.store.position(resumed.checkpoint_key)
            rebuilds.append(PlannedRebuild(projector.name, tuple(getattr(
                projector, "collections", ())), serving, target, resume))
        first = max(request.from_position or 1, min((r.resume_after for r in rebuilds),
                                                    default=0) + 1)
        last = request.until_position if request.until_position is not None else self._head()
        return ReplayPlan(rebuilds, first, min(last, self._head()), not request.is_inspection)

    def run(self, request: ReplayRequest, progress: Progress | None = None,
            stopping: Callable[[], bool] = lambda: False) -> ReplaySummary:
        started = time.monotonic()
        targets = self._targets(request)
        summary = ReplaySummary([t.projector.name for t in targets])
        writers = {t.checkpoint_key: ProjectionWriter(t.store, NoCache(), health=self._health)
                   for t in targets}
        end = self._head() if request.until_position is None else request.until_position
        first = self._resume_position(targets, request)
        total = max(0, end - first + 1)
        report = progress or (lambda done, of: None)

        def advance(until: int, targets: Sequence[ReplayTarget]) -> int:
            """Projects the log into `targets` up to `until`; returns the last position."""
            position = self._resume_position(targets, request) - 1
            while position < until and not stopping():
                events = self._read_log(position + 1, request.batch_size)
                if not events:
                    break
                within = [e for e in events if e.position <= until]
                position = within[-1].position if within else until
                chosen = [e for e in within if self._in_time(e, request)]
                if request.until_time is not None and len(chosen) < len(within) and any(
                        _timestamp(e) > request.until_time for e in within):
                    until = position  # nothing later can be within the bound
                for target in targets:
                    done = target.store.position(target.checkpoint_key)
                    pending = [e for e in chosen if e.position > done]
                    if position > done:
                        written = writers[target.checkpoint_key].project(
                            target.projector, pending, position,
                            progress_key=target.checkpoint_key)
                        summary.documents += len(written)
                summary.events += len(within)
                summary.last_position = position
                report(summary.events, total)
            return position

        advance(end, targets)
        if stopping():
            summary.seconds = time.monotonic() - started
            return summary
        for target in targets:
            if request.is_inspection:
                self._generations.finish(target)
                summary.targets[target.projector.name] = target.locations
            else:
                self._generations.switch(target, _catching_up(advance, self._head, target))
                assert target.generation is not None
                summary.switched_to[target.projector.name] = target.generation
                summary.targets[target.projector.name] = self._generations.locations(
                    target.projector)
        if self._health is not None:
            names = set(summary.projections)
            summary.parked = sum(1 for p in self._health.parked() if p.projection in names)
        summary.seconds = time.monotonic() - started
        return summary

    def _resume_position(self, targets: Sequence[ReplayTarget], request: ReplayRequest) -> int:
        done = min(t.store.position(t.checkpoint_key) for t in targets)
        return max(request.from_position or 1, done + 1)

    @staticmethod
    def _in_time(positioned: PositionedEvent, request: ReplayRequest) -> bool:
        stamp = _timestamp(positioned)
        if request.from_time is not None and stamp < request.from_time:
            return False
        return request.until_time is None or stamp <= request.until_time


def _catching_up(advance: Callable[[int, Sequence[ReplayTarget]], int],
                 head: Callable[[], int], target: ReplayTarget) -> Callable[[], int]:
    """What a switch runs under the projection's lock: everything up to the head, now."""
    def catch_up() -> int:
        return advance(head(), [target])

    return catch_up


def _timestamp(positioned: PositionedEvent) -> datetime:
    stamp: datetime = positioned.event.timestamp
    return stamp
