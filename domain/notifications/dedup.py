"""Dedup keys: a caller's key per recipient that makes the same notification within a window
one notification.

A `DedupKey` is a write-side index (log-only, like the cancellation keys): keyed by the
caller, the recipient and the key (uuid5), it holds the notification that claimed the key and
until when. A trigger that finds it held is suppressed by the `dedup` decision step, with the
first notification's id in the step's inputs and the reason; one that finds it free (never
used, or its window over) claims it. Two equal triggers at once both try to create (or
advance) the same aggregate: in one writer's batch the second sees the first's claim; across
processes the event log's optimistic concurrency refuses the second save and the writer
decides it again on fresh state (event_log/writer.py), so exactly one of them is sent.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID, uuid5

from domain.notifications.collapsing import DedupFact
from domain.notifications.decisions import Decision, RecipientFacts, RoutingRequest
from domain.notifications.notifications import NOTIFICATION_NAMESPACE
from event_log.aggregate import Cause, ParleyAggregate, copied

DEDUP: Final = "dedup"
MAX_KEY_LENGTH: Final = 200


@functools.lru_cache(maxsize=4096)  # a trigger asks each recipient's id four times
def dedup_key_id(caller: str, recipient_id: UUID, key: str) -> UUID:
    """A caller's keys are its own: another API key using the same key dedups nothing of it."""
    return uuid5(NOTIFICATION_NAMESPACE, f"dedup/{caller}/{recipient_id}/{key}")


class DedupKey(ParleyAggregate):
    def __init__(self, caller: str, recipient_id: UUID, key: str, notification_id: UUID,
                 at: datetime, until: datetime) -> None:
        self.caller = caller
        self.recipient_id = recipient_id
        self.key = key
        self.notification_id = notification_id
        self.claimed_at = at
        self.until = until

    class Claimed(ParleyAggregate.Created):
        caller: str
        recipient_id: UUID
        key: str
        notification_id: UUID
        at: datetime
        until: datetime

    class Reclaimed(ParleyAggregate.Event):
        """The window of the earlier claim was over: this notification holds the key now."""

        notification_id: UUID
        at: datetime
        until: datetime
        copies = copied("notification_id", "until", claimed_at="at")

    @classmethod
    def claim(cls, caller: str, recipient_id: UUID, key: str, notification_id: UUID,
              at: datetime, window_seconds: int, cause: Cause) -> DedupKey:
        return cls._create(cls.Claimed, id=dedup_key_id(caller, recipient_id, key),
                           caller=caller, recipient_id=recipient_id, key=key,
                           notification_id=notification_id, at=at,
                           until=at + timedelta(seconds=window_seconds),
                           **cause.as_event_fields())

    def held_at(self, now: datetime) -> bool:
        return now < self.until

    def fact(self, window_seconds: int, now: datetime) -> DedupFact:
        if not self.held_at(now):
            return DedupFact(self.key, window_seconds)
        return DedupFact(self.key, window_seconds, self.notification_id, self.claimed_at,
                         self.until)

    def reclaim(self, notification_id: UUID, at: datetime, window_seconds: int,
                cause: Cause) -> bool:
        """Claim the key again once its window is over (a held key is not taken over)."""
        if self.held_at(at):
            return False
        self.trigger_event(self.Reclaimed, notification_id=notification_id, at=at,
                           until=at + timedelta(seconds=window_seconds),
                           **cause.as_event_fields())
        return True


class DuplicateWithinWindow:
    """A decision step: a notification whose dedup key another notification of the same
    caller and recipient holds within its window is suppressed as a duplicate of it."""

    name = DEDUP

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        fact = facts.dedup
        if fact is None:
            return Decision(self.name)
        if fact.held_by is None:
            return Decision(self.name, inputs=fact.inputs())
        return Decision(self.name, inputs=fact.inputs(),
                        suppress=f"a duplicate of notification {fact.held_by} (the same "
                                 f"dedup key within its window)")
