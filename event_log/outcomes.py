"""What a handled command answers: an HTTP-like status, a body and the log position."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from event_log.aggregate import Cause
from event_log.batch import Batch


@dataclass
class Outcome:
    """The result of one command; `position` is set once the batch holding it is committed."""

    status: int
    body: dict[str, Any]
    position: int = 0
    replayed: bool = field(default=False)


Handler = Callable[[Batch, Any, Cause], Outcome]
