"""Dedup keys: a caller's key per recipient that makes the same notification within a window
one notification.

`DedupKeyHolders` is a write-side index (log-only, like the cancellation keys), one per
caller and key (uuid5): for each recipient, the notification that holds the key and until
when. A trigger reads the one aggregate, whatever its number of recipients; a recipient whose
key is held is suppressed by the `dedup` decision step, with the first notification's id in
the step's inputs and the reason; the others claim it, all in one event (`Claimed`, then
`ClaimedAgain`), which names the request (each notification's id follows from it and the
recipient). Holders whose window is over are dropped as later claims are applied, so the
aggregate holds only live claims (and is snapshotted as it grows). Two equal triggers at once
meet on the same aggregate: in one writer's batch the second sees the first's claim; across
processes the event log's optimistic concurrency refuses the second save and the writer
decides it again on fresh state (event_log/writer.py), so exactly one of them is sent.

`DedupKey` (one per caller, recipient and key, one event per recipient) is how versions
before it recorded claims: kept so those logs still load, and read while an operator says
claims of it may still be within their windows (PARLEY_NOTIFICATION_DEDUP_LEGACY_KEYS).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID, uuid5

from domain.notifications.collapsing import DedupFact
from domain.notifications.decisions import Decision, RecipientFacts, RoutingRequest
from domain.notifications.notifications import NOTIFICATION_NAMESPACE, notification_id
from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate, copied

DEDUP: Final = "dedup"
MAX_KEY_LENGTH: Final = 200


@functools.lru_cache(maxsize=4096)  # a trigger asks each recipient's id four times
def dedup_key_id(caller: str, recipient_id: UUID, key: str) -> UUID:
    """A caller's keys are its own: another API key using the same key dedups nothing of it."""
    return uuid5(NOTIFICATION_NAMESPACE, f"dedup/{caller}/{recipient_id}/{key}")


def dedup_holders_id(caller: str, key: str) -> UUID:
    """A caller's keys are its own: another API key using the same key dedups nothing of it."""
    return uuid5(NOTIFICATION_NAMESPACE, f"dedup-holders/{caller}/{key}")


class DedupKeyHolders(ParleyAggregate):
    """Who holds one caller's dedup key, per recipient, and until when (live claims only)."""

    snapshot_every = SNAPSHOT_EVERY  # a key reused for months keeps claiming

    def __init__(self, caller: str, key: str) -> None:
        self.caller = caller
        self.key = key
        # str(recipient id) -> [the request whose notification holds it, claimed at, until]
        self.holders: dict[str, list[Any]] = {}

    def _hold(self, request_id: UUID, recipients: list[UUID], at: datetime,
              until: datetime) -> None:
        self.holders = {r: held for r, held in self.holders.items() if at < held[2]}
        for recipient in recipients:
            self.holders[str(recipient)] = [request_id, at, until]

    class Claimed(ParleyAggregate.Created):
        """The key's first claims: each of `recipients`' notifications of `request_id` holds
        it until `until`."""

        caller: str
        key: str
        request_id: UUID
        recipients: list[UUID]
        at: datetime
        until: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate._hold(self.request_id, self.recipients, self.at, self.until)

    class ClaimedAgain(ParleyAggregate.Event):
        """More claims: recipients who never held the key, or whose window was over."""

        request_id: UUID
        recipients: list[UUID]
        at: datetime
        until: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate._hold(self.request_id, self.recipients, self.at, self.until)

    @classmethod
    def claim_first(cls, caller: str, key: str, request_id: UUID, recipients: list[UUID],
                    at: datetime, window_seconds: int, cause: Cause) -> DedupKeyHolders:
        return cls._create(cls.Claimed, id=dedup_holders_id(caller, key), caller=caller,
                           key=key, request_id=request_id, recipients=list(recipients), at=at,
                           until=at + timedelta(seconds=window_seconds),
                           **cause.as_event_fields())

    def claim(self, request_id: UUID, recipients: list[UUID], at: datetime,
              window_seconds: int, cause: Cause) -> None:
        """`recipients` hold the key from `at`: the caller checked that none of them does."""
        if recipients:
            self.trigger_event(self.ClaimedAgain, request_id=request_id,
                               recipients=list(recipients), at=at,
                               until=at + timedelta(seconds=window_seconds),
                               **cause.as_event_fields())

    def fact(self, recipient_id: UUID, window_seconds: int, now: datetime) -> DedupFact:
        held = self.holders.get(str(recipient_id))
        if held is None or not now < held[2]:
            return DedupFact(self.key, window_seconds)
        return DedupFact(self.key, window_seconds, notification_id(held[0], recipient_id),
                         held[1], held[2])


class DedupKey(ParleyAggregate):
    """Before `DedupKeyHolders`: one per caller, recipient and key (read, never written)."""

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
