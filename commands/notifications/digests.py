"""Digests on the write side, as a trigger meets them: which digest a notification would
join (the digest step's fact) and joining it. Flushing is commands/notifications/
digest_flush.py.

Members join and digests flush in the writer's batches: in one batch the commands see each
other's effects; across processes the log refuses the second of two writes to one aggregate
version and the writer decides that command again on fresh state, so every member lands in
exactly one flushed digest (domain/notifications/digests.py).

The operator's bounds (`CategoryPolicy.digests`) are read here into the step's fact: the
member that fills a digest is recorded as filling it (and the digest closes in the caller's
open-digest index), and one that would open a digest beyond the caller's open digests for the
recipient is told so and sent on its own (domain/notifications/digest_bounds.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from domain.notifications.collapsing import (
    DEFAULT_DIGEST_LIMITS,
    MEMBERS_LIMIT,
    OPEN_DIGESTS_LIMIT,
    DigestLimits,
    DigestTarget,
)
from domain.notifications.digest_bounds import FILLED, OpenDigests, open_digests_id
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
    slot_ids = {r: digest_slot_id(caller, r, category, ask.key) for r in recipients}
    slots = batch.find_all(DigestSlot, slot_ids.values())
    currents = batch.find_all(Digest, [slot.current for slot in slots.values()])
    joining = {slot.recipient_id for slot in slots.values()
               if (current := currents.get(slot.current)) is not None and current.collecting}
    # the open-digest index of those who would open a digest (joining one opens none)
    batch.find_all(OpenDigests, [open_digests_id(caller, r) for r in slot_ids
                                 if r not in joining])


def digest_target(batch: Batch, caller: str, recipient_id: UUID, category: str,
                  ask: DigestAsk | None, at: datetime,
                  limits: DigestLimits = DEFAULT_DIGEST_LIMITS) -> DigestTarget | None:
    """None for a request not asked to be digested; else the digest a member of (caller,
    recipient, category, key) joins now: the slot's open one, or the next (opened by this
    member, flushing `ask.window_seconds` from now) unless the caller has `limits.max_open`
    digests open for the recipient already (then the target says so: it is sent alone)."""
    if ask is None:
        return None
    slot_id = digest_slot_id(caller, recipient_id, category, ask.key)
    slot = batch.find(DigestSlot, slot_id)
    current = None if slot is None else batch.find(Digest, slot.current)
    if current is not None and current.collecting:
        fills = current.count + 1 >= limits.max_members
        return DigestTarget(current.id, ask.key, current.window_seconds, False,
                            current.flush_at, current.title, ask.position, limits,
                            current.count, None, MEMBERS_LIMIT if fills else None)
    opens = (digest_id(slot_id, 1) if slot is None
             else slot.current if current is None else slot.following)
    index = batch.find(OpenDigests, open_digests_id(caller, recipient_id))
    open_now = 0 if index is None else index.open_at(at)
    full = current is not None and current.filled
    limit = (OPEN_DIGESTS_LIMIT if open_now >= limits.max_open
             else MEMBERS_LIMIT if full or limits.max_members <= 1 else None)
    return DigestTarget(opens, ask.key, ask.window_seconds, True,
                        at + timedelta(seconds=ask.window_seconds), ask.title or DEFAULT_TITLE,
                        ask.position, limits, 0, open_now, limit)


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
        open_digests(batch, member.caller, member.recipient_id, cause).add(
            digest.id, digest.flush_at, at, target.limits.max_open, cause)
    if digest.collect(member.id, member.priority, member.requested_channels, member.content,
                      at, cause, target.position, target.limits.max_members):
        # filled: it flushes at once, so it is open no longer (an index from before the
        # limits never listed it)
        index = batch.find(OpenDigests, open_digests_id(member.caller, member.recipient_id))
        if index is not None:
            index.close(digest.id, FILLED, at, cause)


def open_digests(batch: Batch, caller: str, recipient_id: UUID, cause: Cause) -> OpenDigests:
    """The caller's open-digest index for the recipient (started on first use)."""
    index = batch.find(OpenDigests, open_digests_id(caller, recipient_id))
    if index is None:
        index = OpenDigests.start(caller, recipient_id, cause)
        batch.add(index)
    return index
