"""Runs a process manager: reads the log by position, issues what it answers, records where.

Process managers tail the event log itself in both profiles (not Kafka, as production's
projectors do): the log is the one place every context's events are in one order with one
position, so a manager reacting to several contexts has a single position to record, and it
runs in the processes that hold the writer without waiting for the relay.

Each round, under the manager's lock (only one process handles a manager's events at a time,
however many run it), reads its recorded position, the next events of the types it reacts to,
issues their commands one by one, and only then records the position reached. A crash
between issuing and recording re-reads those events after the restart and issues their
commands again under the same idempotency keys, which the writer answers from the first
command's receipt: nothing happens twice in effect. A command the write side refuses (a
`DomainError`) is a decision, not a failure: it is logged and the manager goes on. Anything
else (the database away, the writer stopping or answering "conflicted, retry", a manager
failing on an event) stops the round
before its position is recorded; the next round retries it, the outage logged once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol

from commands.processes.following import LogFollower
from commands.processes.reactions import ProcessManager, cause_of, idempotency_key
from domain.errors import Conflict, DomainError
from event_log.aggregate import Cause

log = logging.getLogger(__name__)


class Positioned(Protocol):
    """An event read from the log, at its position."""

    @property
    def position(self) -> int: ...

    @property
    def event(self) -> Any: ...


class ReactionLog(Protocol):
    """The log as one manager reads it: the events of its types after `after` (at most
    `limit`), and the position read up to (past events of other types too)."""

    def __call__(self, after: int, limit: int) -> tuple[Sequence[Positioned], int]: ...


class ProcessPositions(Protocol):
    """How far each process manager has handled the log, kept where a restart finds it."""

    def position(self, manager: str) -> int: ...

    def record(self, manager: str, position: int) -> None:
        """Never moves a manager's position back."""


class ProcessLocks(Protocol):
    """Mutual exclusion between processes (the projection locks satisfy it)."""

    def hold(self, name: str) -> contextlib.AbstractContextManager[None]: ...


# Issues one command, keyed: the write side (through the group-commit writer) or a port.
CommandIssuer = Callable[[Any, Cause, str], object]


def lock_name(manager: str) -> str:
    return f"process-{manager}"


class ProcessManagerRunner:
    """One process manager, fed from the log on a daemon thread of its own until stopped."""

    def __init__(self, manager: ProcessManager, read: ReactionLog, positions: ProcessPositions,
                 issue: CommandIssuer, locks: ProcessLocks, *, batch_size: int = 500,
                 poll_seconds: float = 0.5, retry_seconds: float = 1.0,
                 answer_timeout: float = 70.0) -> None:
        self._manager = manager
        self._read = read
        self._positions = positions
        self._issue = issue
        self._locks = locks
        self._batch_size = batch_size
        self._answer_timeout = answer_timeout
        self._follower = LogFollower(f"process-{manager.name}", self.run_once, log,
                                     f"process manager {manager.name}",
                                     poll_seconds=poll_seconds, retry_seconds=retry_seconds)

    @property
    def name(self) -> str:
        return self._manager.name

    def start(self) -> None:
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def wake(self, position: int = 0) -> None:
        self._follower.wake(position)

    def run_once(self) -> bool:
        """Handle the next batch of the log; returns whether the recorded position moved."""
        name = self._manager.name
        with self._locks.hold(lock_name(name)):
            done = self._positions.position(name)
            events, upto = self._read(done, self._batch_size)
            if upto <= done:
                return False
            fresh = [p.event for p in events if p.position > done]
            if getattr(self._manager, "pipelined", False) and hasattr(self._issue, "later"):
                self._handle_pipelined(fresh)
            else:
                for event in fresh:
                    self._handle(event)
            self._positions.record(name, upto)
        return True

    def _handle_pipelined(self, events: Sequence[Any]) -> None:
        """A pipelined manager's commands for a whole batch of events are issued at once and
        their answers awaited together (the writer takes them in issue order, so a command
        sees what those before it did): one round trip per batch, not per command."""
        issued: list[tuple[Any, Future[Any]]] = []
        for event in events:
            if not isinstance(event, self._manager.reacts_to):
                continue
            cause = cause_of(self._manager, event)
            for index, command in enumerate(self._manager.react(event)):
                key = idempotency_key(self._manager.name, event, index)
                issued.append((command, self._issue.later(command, cause, key)))  # type: ignore[attr-defined]
        failure: BaseException | None = None
        for command, answer in issued:
            try:
                answer.result(timeout=self._answer_timeout)
            except DomainError as refused:
                if type(refused) is Conflict:
                    failure = failure or refused
                    continue
                log.info("process manager %s: %s refused (%s)", self._manager.name,
                         type(command).__name__, type(refused).__name__)
            except Exception as error:  # noqa: BLE001 - every answer is awaited, then raised
                failure = failure or error
        if failure is not None:
            raise failure

    def _handle(self, event: Any) -> None:
        if not isinstance(event, self._manager.reacts_to):
            return
        cause = cause_of(self._manager, event)
        for index, command in enumerate(self._manager.react(event)):
            try:
                self._issue(command, cause, idempotency_key(self._manager.name, event, index))
            except DomainError as refused:
                if type(refused) is Conflict:  # the writer's "conflicted; retry": not a decision
                    raise
                log.info("process manager %s: %s refused (%s)", self._manager.name,
                         type(command).__name__, type(refused).__name__)
