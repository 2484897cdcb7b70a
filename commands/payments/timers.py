"""Holds not settled by their end are expired (H4 fills this in)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.processes.schedules import Schedule
from event_log.aggregate import Cause


class HoldExpiry:
    def __init__(self, index: Any, execute: Callable[[Any, Cause], Any],
                 clock: Callable[[], datetime]) -> None:
        self._index = index
        self._execute = execute
        self._clock = clock

    def schedule(self, every_seconds: float) -> Schedule | None:
        return None
