"""Flushing digests: each digest whose timer came due becomes one new notification (its own
Requested, with the digest's id as its request id), routed through the decision pipeline
again without a digest ask (a digest is never digested), and takes no more members.

The scheduler (commands/notifications/timers.py) finds due digests in the due-time index and
submits `FlushDigests`; a repeat, or an index that shows a digest late or twice, flushes
nothing more: `Digest.flush` acts once, and only once it is due.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from commands.notifications.trigger import TriggerNotifications, trigger_notifications
from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.channels import INBOX
from domain.notifications.content import Content
from domain.notifications.digest_bounds import summary_within
from domain.notifications.digests import Digest
from domain.notifications.notifications import notification_id
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class FlushDigests:
    """Digests the scheduler found due, and what routing needs to know of the deployment."""

    digest_ids: tuple[UUID, ...]
    at: datetime
    provided_kinds: frozenset[str] = frozenset({INBOX})
    policy: CategoryPolicy = field(default_factory=CategoryPolicy)


@dataclass(frozen=True)
class DigestsFlushed:
    digest_ids: tuple[UUID, ...]
    notification_ids: tuple[UUID, ...]  # each digest's own notification, in the same order


def fitting_content(digest: Digest) -> Content:
    """The digest's content as every channel of it can carry, however many members
    (domain/notifications/digest_bounds.py)."""
    return summary_within(digest, digest.channels)


def flush_digests(batch: Batch, command: FlushDigests, cause: Cause) -> DigestsFlushed:
    flushed: list[UUID] = []
    made: list[UUID] = []
    for did in dict.fromkeys(command.digest_ids):
        digest = batch.find(Digest, did)
        if digest is None or not digest.due(command.at):
            continue  # flushed already (a repeated timer), or not due yet
        into = notification_id(digest.id, digest.recipient_id)
        content = fitting_content(digest)
        digest.flush(into, command.at, cause)
        trigger_notifications(batch, TriggerNotifications(
            digest.id, digest.caller, (digest.recipient_id,), digest.category,
            digest.priority, tuple(digest.channels), content, command.at,
            fallback_after_seconds=digest.fallback_after_seconds,
            provided_kinds=command.provided_kinds, categories=frozenset({digest.category}),
            policy=command.policy), cause)
        flushed.append(did)
        made.append(into)
    return DigestsFlushed(tuple(flushed), tuple(made))


DIGEST_HANDLERS: Mapping[type, Handler] = {FlushDigests: flush_digests}
