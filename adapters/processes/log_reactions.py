"""The event log as a process manager reads it: only the events of the types it reacts to.

The recorder filters by topic, so a manager of one event type decodes nothing else. A type
stored before its module moved (issue 10) is matched under its former topics too.
"""

from __future__ import annotations

from collections.abc import Iterable

from eventsourcing.utils import get_topic

from event_log.log import EventLog
from event_log.moved_topics import former_topics
from projections.read_model.events import PositionedEvent


def topics_of(event_types: Iterable[type]) -> list[str]:
    """Every topic events of these types are stored under, the current ones first."""
    current = [get_topic(t) for t in event_types]
    return current + [old for topic in current for old in former_topics(topic)]


class ReactionsReader:
    """A `ReactionLog`: the events of `event_types` after a position, and how far it read."""

    def __init__(self, log: EventLog, event_types: Iterable[type]) -> None:
        self._log = log
        self._topics = topics_of(event_types)

    def __call__(self, after: int, limit: int) -> tuple[list[PositionedEvent], int]:
        recorder = self._log.recorder
        # The head first: everything up to it is read, whether or not any of it matched.
        head = recorder.max_notification_id() or 0
        if head <= after:
            return [], after
        notifications = recorder.select_notifications(
            start=after + 1, limit=limit, stop=head, topics=self._topics)
        events = [PositionedEvent(n.id, self._log.mapper.to_domain_event(n))
                  for n in notifications]
        upto = events[-1].position if len(events) == limit else head
        return events, upto
