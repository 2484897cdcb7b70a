"""Events as the read side sees them: a domain event at a position in the log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PositionedEvent:
    position: int
    event: Any
