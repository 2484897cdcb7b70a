"""The write side as command routes see it: submit a command, hear its outcome later."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Protocol

from event_log.aggregate import Cause
from event_log.outcomes import Outcome


class CommandWriter(Protocol):
    """What the group-commit writer (event_log/writer.py) offers the API."""

    def submit(self, command: Any, cause: Cause, idempotency_key: str | None = None,
               fingerprint: str = "") -> Future[Outcome[Any]]: ...

    @property
    def longest_answer_seconds(self) -> float: ...
