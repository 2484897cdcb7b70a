"""How projections are doing: events they could not project (parked), and their last error.

A projector that fails on one event must not stall the others. Under the default policy
(`park`) the event is recorded here with its error and the projector goes on; `halt` stops
that projector's process at the event instead. `parley projections retry` re-projects parked
events once the projector is fixed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

log = logging.getLogger(__name__)

FailurePolicy = Literal["park", "halt"]
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class ParkedEvent:
    projection: str
    position: int
    event_type: str
    error: str
    parked_at: datetime
    attempts: int = 1


@dataclass(frozen=True)
class ProjectionError:
    projection: str
    error: str
    at: datetime


def describe(error: BaseException) -> str:
    """An error as recorded: its type and message, bounded (never a whole payload)."""
    return f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]


class ProjectionHealth(Protocol):
    def park(self, projection: str, position: int, event_type: str, error: str) -> None:
        """Record (or re-record, counting attempts) an event the projector failed on."""

    def parked(self, projection: str | None = None, limit: int = 1000) -> list[ParkedEvent]:
        """Parked events in log order, of one projection or all."""

    def unpark(self, projection: str, position: int) -> None: ...

    def record_error(self, projection: str, error: str) -> None: ...

    def clear_error(self, projection: str) -> None:
        """The projection works again: it has no last error (until the next)."""

    def last_errors(self) -> dict[str, ProjectionError]: ...

    def close(self) -> None: ...


class Recovery:
    """Clears a projection's last error once it writes again after an error: `parley
    projections status` shows what a projector is stuck on, not an outage long over.

    A projection with parked events keeps its error (theirs, until they are retried); one
    this process has not yet seen write has it cleared at its first write, in case a process
    before it stopped during an outage.
    """

    def __init__(self, health: ProjectionHealth | None) -> None:
        self._health = health
        self._failing: set[str] = set()
        self._seen: set[str] = set()

    def failed(self, projection: str, error: str) -> None:
        if self._health is not None:
            self._health.record_error(projection, error)
            self._failing.add(projection)

    def wrote(self, projections: Iterable[str]) -> None:
        if self._health is None:
            return
        for name in projections:
            try:
                if name in self._failing or (name not in self._seen
                                             and not self._health.parked(name, limit=1)):
                    self._health.clear_error(name)
            except Exception as error:  # noqa: BLE001 - the write stands; try at the next one
                log.debug("could not clear the last error of %s (%s)", name,
                          type(error).__name__)
                continue
            self._seen.add(name)
            self._failing.discard(name)


class ProjectionHalted(Exception):
    """The `halt` policy stopped a projector at an event it could not project."""

    def __init__(self, projection: str, position: int, error: str) -> None:
        super().__init__(f"projection {projection} halted at position {position}: {error}")
        self.projection = projection
        self.position = position


class ProjectionLocks(Protocol):
    """Mutual exclusion per projection between its live projector and a replay's switch."""

    def hold(self, projection: str) -> contextlib.AbstractContextManager[None]: ...

    def hold_all(self, projections: Sequence[str]) -> contextlib.AbstractContextManager[None]:
        """Several at once (in name order), for a batch that writes them together."""


class NoLocks:
    """For read stores nobody else switches under (tests, in-memory)."""

    @contextlib.contextmanager
    def hold(self, projection: str) -> Iterator[None]:
        yield

    @contextlib.contextmanager
    def hold_all(self, projections: Sequence[str]) -> Iterator[None]:
        yield

