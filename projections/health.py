"""How projections are doing: events they could not project (parked), and their last error.

A projector that fails on one event must not stall the others. Under the default policy
(`park`) the event is recorded here with its error and the projector goes on; `halt` stops
that projector's process at the event instead. `parley projections retry` re-projects parked
events once the projector is fixed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

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

    def last_errors(self) -> dict[str, ProjectionError]: ...

    def close(self) -> None: ...


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

