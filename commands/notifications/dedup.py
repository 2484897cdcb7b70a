"""Dedup keys on the write side, as a trigger meets them: what the dedup step looks at (the
key's holder now) and, for a notification that is not a duplicate, claiming the key.

A caller's key is its own, per recipient (domain/notifications/dedup.py). Two equal triggers
at once meet on the key's aggregate: in one batch the second sees the first's claim; from two
processes, the second save is refused by the log and decided again on fresh state by the
writer (event_log/writer.py), where it finds the key held and is suppressed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from domain.notifications.collapsing import DedupFact
from domain.notifications.dedup import DedupKey, dedup_key_id
from domain.notifications.notifications import Notification
from event_log.aggregate import Cause
from event_log.batch import Batch


def read_dedup_keys(batch: Batch, caller: str, recipients: Iterable[UUID],
                    key: str | None) -> None:
    """Every recipient's key read into the batch at once (one query for those the writer's
    cache lacks: a key never used is a miss each), so `dedup_fact` finds them in the batch."""
    if key is not None:
        batch.find_all(DedupKey, [dedup_key_id(caller, r, key) for r in recipients])


def dedup_fact(batch: Batch, caller: str, recipient_id: UUID, key: str | None,
               window_seconds: int, at: datetime) -> DedupFact | None:
    """None for a request without a key; else the key and who holds it at `at`."""
    if key is None:
        return None
    held = batch.find(DedupKey, dedup_key_id(caller, recipient_id, key))
    return DedupFact(key, window_seconds) if held is None else held.fact(window_seconds, at)


def claim_dedup_key(batch: Batch, fact: DedupFact | None, notification: Notification,
                    at: datetime, cause: Cause) -> None:
    """The notification holds the key for its window, unless it is a duplicate (whatever
    else the pipeline decided for it: the key is about the request, not its delivery)."""
    if fact is None or fact.held_by is not None:
        return
    held = batch.find(DedupKey, dedup_key_id(notification.caller, notification.recipient_id,
                                             fact.key))
    if held is None:
        batch.add(DedupKey.claim(notification.caller, notification.recipient_id, fact.key,
                                 notification.id, at, fact.window_seconds, cause))
    else:
        held.reclaim(notification.id, at, fact.window_seconds, cause)
