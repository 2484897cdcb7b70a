"""Reads the event log by position, as domain events."""

from __future__ import annotations

from event_log.log import EventLog
from projections.read_model.events import PositionedEvent


class LogReader:
    def __init__(self, log: EventLog) -> None:
        self._log = log

    def __call__(self, start: int, limit: int) -> list[PositionedEvent]:
        notifications = self._log.recorder.select_notifications(start=start, limit=limit)
        return [
            PositionedEvent(n.id, self._log.mapper.to_domain_event(n)) for n in notifications
        ]

    def head(self) -> int:
        return self._log.recorder.max_notification_id() or 0
