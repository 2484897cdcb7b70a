"""What a handled command answers: its typed result and the log position of its events.

A handler returns a result of its own context (a frozen dataclass in its command module, such
as `MessageAccepted`), which says what the command did in the language of that context and
nothing about HTTP: the API alone turns results into status codes and bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from event_log.aggregate import Cause
from event_log.batch import Batch

ResultT = TypeVar("ResultT")


@dataclass
class Outcome(Generic[ResultT]):
    """A command's result; `position` is set once the batch holding it is committed, and
    `replayed` says the result is the first one of a keyed command, answered again."""

    result: ResultT
    position: int = 0
    replayed: bool = field(default=False)


Handler = Callable[[Batch, Any, Cause], object]
"""Decides a command on the batch's aggregates and returns its typed result."""
