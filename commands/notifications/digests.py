"""Digests on the write side, as a trigger meets them: which digest a notification would
join (the digest step's fact) and joining it. Flushing is commands/notifications/
digest_flush.py.

Members join and digests flush in the writer's batches: in one batch the commands see each
other's effects; across processes the log refuses the second of two writes to one aggregate
version and the writer decides that command again on fresh state, so every member lands in
exactly one flushed digest (domain/notifications/digests.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from domain.notifications.collapsing import DigestTarget
from domain.notifications.digests import (
    DEFAULT_TITLE,
    Digest,
    DigestAsk,
    DigestSlot,
    digest_id,
    digest_slot_id,
)
from domain.notifications.notifications import DIGESTED, Notification
from event_log.aggregate import Cause
from event_log.batch import Batch


def read_digest_slots(batch: Batch, caller: str, recipients: Iterable[UUID], category: str,
                      ask: DigestAsk | None) -> None:
    """Every recipient's digest slot for the request (one query for those the writer's cache
    lacks: a slot never used is a miss each) and their current digests read into the batch,
    so `digest_target` finds them there."""
    if ask is None:
        return
    slots = batch.find_all(DigestSlot, [digest_slot_id(caller, r, category, ask.key)
                                        for r in recipients])
    batch.find_all(Digest, [slot.current for slot in slots.values()])


def digest_target(batch: Batch, caller: str, recipient_id: UUID, category: str,
                  ask: DigestAsk | None, at: datetime) -> DigestTarget | None:
    """None for a request not asked to be digested; else the digest a member of (caller,
    recipient, category, key) joins now: the slot's open one, or the next (opened by this
    member, flushing `ask.window_seconds` from now)."""
    if ask is None:
        return None
    slot_id = digest_slot_id(caller, recipient_id, category, ask.key)
    slot = batch.find(DigestSlot, slot_id)
    title = ask.title or DEFAULT_TITLE
    flush_at = at + timedelta(seconds=ask.window_seconds)
    if slot is None:
        return DigestTarget(digest_id(slot_id, 1), ask.key, ask.window_seconds, True, flush_at,
                            title, ask.position)
    current = batch.find(Digest, slot.current)
    if current is None:
        return DigestTarget(slot.current, ask.key, ask.window_seconds, True, flush_at, title,
                            ask.position)
    if current.collecting:
        return DigestTarget(current.id, ask.key, current.window_seconds, False,
                            current.flush_at, current.title, ask.position)
    return DigestTarget(slot.following, ask.key, ask.window_seconds, True, flush_at, title,
                        ask.position)


def join_digest(batch: Batch, target: DigestTarget | None, member: Notification,
                at: datetime, cause: Cause) -> None:
    """A member the pipeline digested goes into `target` (opening it, and its slot, if it is
    new); one it did not digest goes nowhere."""
    if target is None or member.state != DIGESTED:
        return
    slot_id = digest_slot_id(member.caller, member.recipient_id, member.category, target.key)
    slot = batch.find(DigestSlot, slot_id)
    if slot is None:
        slot = DigestSlot.open(member.caller, member.recipient_id, member.category, target.key,
                               cause)
        batch.add(slot)
    digest = batch.find(Digest, target.digest_id)
    if digest is None:
        if batch.find(Digest, slot.current) is not None:
            slot.advance(cause)
        digest = Digest.open(slot, target.window_seconds, target.title, at,
                             member.fallback_after_seconds, member.deep_link, cause)
        batch.add(digest)
    digest.collect(member.id, member.priority, member.requested_channels, member.content, at,
                   cause, target.position)
