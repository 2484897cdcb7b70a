"""Dedup keys on the write side, as a trigger meets them: what the dedup step looks at (the
key's holder now, per recipient) and, for the recipients whose notification is not a
duplicate, claiming the key, in one event for the whole trigger.

A caller's key is its own, one aggregate per caller and key (domain/notifications/dedup.py).
Two equal triggers at once meet on it: in one batch the second sees the first's claims; from
two processes, the second save is refused by the log and decided again on fresh state by the
writer (event_log/writer.py), where it finds the key held and is suppressed. With
`legacy=True` each recipient's `DedupKey` of the versions before is read too (one query for
all of them), for the claims they made that are still within their windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from domain.notifications.collapsing import DedupFact
from domain.notifications.dedup import (
    DedupKey,
    DedupKeyHolders,
    dedup_holders_id,
    dedup_key_id,
)
from event_log.aggregate import Cause
from event_log.batch import Batch


def read_dedup_keys(batch: Batch, caller: str, recipients: Iterable[UUID],
                    key: str | None, legacy: bool = False) -> None:
    """The key's holders read into the batch (one aggregate, whatever the recipients), so
    `dedup_fact` finds them there; with `legacy`, every recipient's old key at once too."""
    if key is None:
        return
    batch.find(DedupKeyHolders, dedup_holders_id(caller, key))
    if legacy:
        batch.find_all(DedupKey, [dedup_key_id(caller, r, key) for r in recipients])


def dedup_fact(batch: Batch, caller: str, recipient_id: UUID, key: str | None,
               window_seconds: int, at: datetime, legacy: bool = False) -> DedupFact | None:
    """None for a request without a key; else the key and who holds it at `at`."""
    if key is None:
        return None
    holders = batch.find(DedupKeyHolders, dedup_holders_id(caller, key))
    fact = (DedupFact(key, window_seconds) if holders is None
            else holders.fact(recipient_id, window_seconds, at))
    if fact.held_by is None and legacy:
        old = batch.find(DedupKey, dedup_key_id(caller, recipient_id, key))
        if old is not None:
            fact = old.fact(window_seconds, at)
    return fact


def claim_dedup_key(batch: Batch, caller: str, key: str | None, window_seconds: int,
                    request_id: UUID, claiming: Sequence[UUID], at: datetime,
                    cause: Cause) -> None:
    """The notifications of `request_id` to `claiming` (the recipients whose notification is
    not a duplicate, whatever else the pipeline decided for it: the key is about the request,
    not its delivery) hold the key for its window."""
    if key is None or not claiming:
        return
    holders = batch.find(DedupKeyHolders, dedup_holders_id(caller, key))
    if holders is None:
        batch.add(DedupKeyHolders.claim_first(caller, key, request_id, list(claiming), at,
                                              window_seconds, cause))
    else:
        holders.claim(request_id, list(claiming), at, window_seconds, cause)
