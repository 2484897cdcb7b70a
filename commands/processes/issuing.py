"""Where the commands process managers answer go: the write side, or a port.

Most commands go through the group-commit writer, keyed by the event that caused them (the
writer's idempotency receipts make a repeat answer the first result). A command that asks
the outside world for something (delete bytes from the blob store; later, send a push) is an
*effect*: it goes to the port's handler named for its type, with the same key, and must be
harmless when repeated (deleting a missing blob is not an error; a provider dedupes on the
key).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, Protocol

from event_log.aggregate import Cause

Effect = Callable[[Any, str], object]  # (command, idempotency key) -> anything


class KeyedSubmit(Protocol):
    """`GroupCommitWriter.submit`."""

    def __call__(self, command: Any, cause: Cause, idempotency_key: str | None = None,
                 fingerprint: str = "") -> Future[Any]: ...


class IssueCommands:
    """A `CommandIssuer`: effects to their ports, every other command to the writer."""

    def __init__(self, submit: KeyedSubmit, effects: Mapping[type, Effect] | None = None,
                 timeout: float = 70.0) -> None:
        self._submit = submit
        self._effects = dict(effects or {})
        self._timeout = timeout

    def __call__(self, command: Any, cause: Cause, key: str) -> object:
        return self.later(command, cause, key).result(timeout=self._timeout)

    def later(self, command: Any, cause: Cause, key: str) -> Future[Any]:
        """Issues without waiting for the answer: a command for the writer is queued (so
        several issued at once share its group commits), an effect's port is called (one
        may answer a Future of its own command, submitted the same way)."""
        effect = self._effects.get(type(command))
        if effect is None:
            return self._submit(command, cause, key)
        answered = effect(command, key)
        if isinstance(answered, Future):
            return answered
        done: Future[Any] = Future()
        done.set_result(answered)
        return done
